"""shot_specs (engine 2.0.0): shots from 2.0.0's scene model (PS3xx).

Engine 1.1.0's coverage (establishing, master, action, dialogue, reactions, transitions; see
:mod:`prodscale.core.stages.shot_specs`), with what 2.0.0's reading knows:

- **Secondary slugs** are shots within the scene: a slug's framing (INSERT, POV, CLOSE ON, WIDE,
  ...; ``[coverage].slug_setups``) sets the set-up of the shot made from the action that follows it,
  whose description it prefixes; a slug with no action after it is a shot of its subject. A slug
  that asks for no framing (``BACK TO SCENE``, a bare name) frames the next action on its subject
  at the scene's default. The shot's notes say ``slug: ...``.
- **Subjects** are the characters the element shows (the reading's per-element cast), speaking or
  not, so the character bible reaches every clip that shows them.
- **Inserts** only for what the action singles out (a prop in capitals after a determiner, as the
  reading found it) and for a writer's INSERT slug; never for a person, a sound or a camera word.
  Sounds in capitals go to the shot's audio (``SFX: BANG``).
- **Cues**: a joint cue (``TROY / ABED``) is one shot of all its speakers; ``BOTH`` and ``ALL``
  speak for the people present; voice over, off screen and device voices are off screen.
- **Light**: every shot carries the scene's resolved light (``time_of_day``) and D/N class.
- **Pace**: action and dialogue are timed at the word rates of ``stats.toml [runtime]``, the ones the
  runtime estimate uses (one pace for the engine; the other timings are ``shot_specs.toml``'s).
- Structure labels make no shot; title cards (``SUPER:``, centered text, an epigraph) are cards.
"""

from __future__ import annotations

import re

from typing import Any

from prodscale.core.stages import StageSpec
from prodscale.core.stages._text import clean, diag, find_terms, fold_term, rules_by_code, sort_diags
from prodscale.core.stages.shot_specs import (_clamp, _is_reaction, _setup, _shot_directives, _span_union, action_ms,
                                              dialogue_ms, shot_letter)

VERSION = 1
_NEVER_FILMED = ("note", "section", "synopsis", "page_break", "structure")


def _first_word(text: str) -> str:
    words = text.split()
    return words[0].casefold().strip(",.:;!?") if words else ""


def _reaction(text: str, cfg: dict[str, Any]) -> bool:
    """A parenthetical that describes a reaction (``(stunned)``, ``(laughs)``): a close-up of it."""
    return _first_word(text) in {w.casefold() for w in cfg.get("reaction_words", [])}


def _is_delivery(text: str, cfg: dict[str, Any]) -> bool:
    """A delivery note (``(whispering)``, ``(beat)``): it travels with the line, no shot of its own."""
    return not _is_reaction(f"({text})", cfg)


def _items(elements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Speech blocks (a cue with its lines) and other elements, in order; never-filmed ones dropped."""
    items: list[dict[str, Any]] = []
    cur: dict[str, Any] | None = None
    for el in elements:
        k = el["kind"]
        if k == "character":
            names = [n.upper() for n in (el.get("names") or [])]
            cur = {"type": "block", "names": names, "group": el.get("group"), "cue": el.get("name") or el["text"],
                   "extension": el.get("extension"), "voice": el.get("voice"), "dual": bool(el.get("dual")),
                   "lines": [], "parentheticals": [], "delivery": {}, "span": el["span"]}
            items.append(cur)
            continue
        if k in ("dialogue", "parenthetical") and cur is not None:
            cur["span"] = _span_union(cur["span"], el["span"])
            (cur["lines"] if k == "dialogue" else cur["parentheticals"]).append(el)
            if k == "parenthetical":
                cur["delivery"][len(cur["lines"])] = clean(el["text"]).strip("() ")   # travels with the next line
            continue
        if k in _NEVER_FILMED:
            continue
        cur = None
        if el.get("intercut") and k == "action":
            continue   # an INTERCUT marker in the action ("WE INTERCUT") tells the editor; no shot shows it
        items.append({"type": k, "el": el})
    return items


_LEFTOVER = re.compile(r"\(?\s*m\s*o\s*r\s*e\s*\)?|[\w’' ]{1,30}\(\s*cont['’]?\s*d\s*\)|\(\s*continued\s*\)",
                       re.I)
_FRAGMENT_END = frozenset({"the", "a", "an", "of", "and", "or", "into", "through", "with", "for", "from"})
_LONE_WORDS = _FRAGMENT_END | {"to", "in", "on", "at", "by"}   # "To." alone is no action ("He gets in." is)


def _no_picture(text: str, cfg: dict[str, Any]) -> bool:
    """An action line that shows nothing: no letter or digit ("!."), a converted page's leftover ("(MO RE)",
    "Cor y (cont'd)"), a broken fragment of three words or fewer ending in a function word ("Cut to: the"), or
    a phrase that only moves the story in time (``[coverage] no_shot``: "Back to the present.")."""
    t = " ".join(text.split()).strip(" .")
    if not any(c.isalnum() for c in t) or _LEFTOVER.fullmatch(t):
        return True
    words = [w.strip(".,;:!?…") for w in t.lower().split()]
    if (len(words) <= 3 and words[-1] in _FRAGMENT_END) or (len(words) == 1 and words[0] in _LONE_WORDS):
        return True
    return t.lower().strip(" .!") in cfg.get("no_shot", ())


def build_shots(scene: dict[str, Any], data: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    timing = data["timing"]
    cfg = {**data["coverage"], "setups": data["setups"]}
    codes = rules_by_code(data)
    diags: list[dict[str, Any]] = []
    elements = scene.get("elements", [])
    items = _items(elements)
    location = scene.get("location")
    int_ext = scene.get("int_ext")
    light = scene.get("light")
    day_night = scene.get("day_night")
    heading_span = scene["heading_span"]
    fps = int(timing["fps"])
    shots: list[dict[str, Any]] = []
    present: list[str] = []
    pending = _shot_directives(elements, data.get("directives"))
    slug_setups = cfg.get("slug_setups", {})

    def add(kind: str, setup: dict[str, Any], span: dict[str, int], description: str, ms: int,
            subjects: list[str], speaking: list[str] | None = None, dialogue: list[dict[str, Any]] | None = None,
            audio: str = "sync", notes: list[str] | None = None) -> dict[str, Any]:
        clamped = _clamp(ms, timing)
        directive = pending.pop(span["start_line"], None)
        if directive is not None:
            setup = {**setup, "size": directive[0], "lens_mm": directive[1]}
            notes = [*(notes or []), f"writer directive: {directive[0]}"]
        shot = {"kind": kind, **setup, "fps": fps, "duration_ms": clamped, "subjects": sorted(set(subjects)),
                "speaking": sorted(set(speaking or [])), "dialogue": dialogue or [], "location": location,
                "int_ext": int_ext, "time_of_day": light, "day_night": day_night, "description": description,
                "audio": audio, "transition": "cut", "notes": list(notes or []), "span": span}
        shots.append(shot)
        if ms > clamped and "PS301" in codes:
            diags.append(diag(codes["PS301"], span, {"shot_index": len(shots)}, shot=f"#{len(shots)}",
                              estimate_ms=ms, clamped_ms=clamped))
        return shot

    def note_present(names: list[str]) -> None:
        for n in names:
            if n not in present:
                present.append(n)

    # 1. establishing: once per set and sequence (the reader decides: a new set, a new day, a time jump)
    if not scene.get("prologue") and scene.get("establish"):
        where = ", ".join(x for x in (location, (light or "").lower()) if x)
        kind = "establishing_interior" if (int_ext or "").upper() == "INT" else "establishing"
        add("establishing", _setup(cfg, kind), heading_span, f"Establishing view of {where}.",
            int(timing["establishing_ms"]), [], audio="ambience")

    cast_on_screen = [c["name"] for c in scene.get("cast", []) if c.get("on_screen")]
    if not any(i["type"] in ("action", "slug") for i in items):
        note_present(cast_on_screen)
        who = ", ".join(cast_on_screen)
        add("master", _setup(cfg, "master"), heading_span,
            f"{location or 'The place'}" + (f", with {who}." if who else "."), int(timing["establishing_ms"]),
            cast_on_screen, audio="ambience")

    first_action = True
    exchange: list[dict[str, Any]] = []
    slug: dict[str, Any] | None = None   # a slug waiting for the action it frames

    def speakers_of(b: dict[str, Any], recent: list[str]) -> list[str]:
        if b["names"]:
            return list(b["names"])
        if b["group"] == "both":
            found = recent[-2:] if len(recent) >= 2 else list(present[:2])
        else:
            found = list(present) or list(recent)
        return found or [str(b["cue"]).upper()]   # ALL with nobody known yet: the cue itself

    intercut = scene.get("intercut") or {}
    parties: dict[str, str] = intercut.get("parties") or {}

    def apart(names: list[str]) -> bool:
        """Speakers of an INTERCUT in different places: never in one frame."""
        return len({parties.get(n, location) for n in names}) > 1

    riding = (int_ext or "").upper() in ("INT", "INT/EXT") and bool(scene.get("vehicle"))

    def flush_exchange() -> None:
        if not exchange:
            return
        recent: list[str] = []
        on_camera: list[str] = []
        for b in exchange:
            for n in speakers_of(b, recent):
                if not b["voice"] and n not in on_camera:
                    on_camera.append(n)
                if n not in recent:
                    recent.append(n)
        spoken: set[str] = set()
        said: dict[str, int] = {}   # lines each speaker has said so far in this exchange
        push_in = int(cfg.get("push_in_after_lines", 0))
        recent = []
        i = 0
        while i < len(exchange):
            b = exchange[i]
            if not b["lines"]:   # a cue with only "(long beat)": nobody speaks, no speaking shot
                i += 1
                continue
            names = speakers_of(b, recent)
            pair = exchange[i + 1] if b["dual"] and i + 1 < len(exchange) and exchange[i + 1]["dual"] else None
            lines = [{"character": b["cue"], "extension": b["extension"], "text": clean(el["text"]),
                      **({"delivery": b["delivery"][k]} if b["delivery"].get(k) else {})}
                     for k, el in enumerate(b["lines"])]
            texts = [el["text"] for el in b["lines"]]
            span = b["span"]
            ms = dialogue_ms(texts, timing)
            if pair is not None:
                pnames = speakers_of(pair, recent)
                lines += [{"character": pair["cue"], "extension": pair["extension"], "text": clean(el["text"])}
                          for el in pair["lines"]]
                span = _span_union(span, pair["span"])
                both = sorted(set(names) | set(pnames))
                note_present(both)
                ms = max(ms, dialogue_ms([el["text"] for el in pair["lines"]], timing))
                add("dialogue", _setup(cfg, "two_shot" if len(both) == 2 else "group"), span,
                    f"{' and '.join(both)} speak at once.", ms, both, both, lines, "dialogue")
                spoken.update(both)
                recent.extend(n for n in both if n not in recent)
                i += 2
                continue
            who = " and ".join(names) if len(names) <= 2 else ", ".join(names)
            if b["voice"] == "vo":
                # narration is heard over the picture: it rides on the shot before it (or opens the scene
                # over a view of the place), never a shot of whoever happens to stand there
                target = next((sh for sh in reversed(shots) if sh["kind"] != "establishing"), None)
                if target is not None:
                    target.setdefault("narration", []).extend(lines)
                    target["audio"] = (target["audio"] + "; " if target["audio"] not in ("sync", "ambience") else "") \
                        + f"V.O.: {who}"
                    target["duration_ms"] = _clamp(int(target["duration_ms"]) + ms, timing)
                else:
                    add("cutaway", _setup(cfg, "cutaway"), span, f"{location or 'The place'}, {who} heard over it (V.O.).",
                        ms, [], [], lines, f"V.O.: {who}")
                    shots[-1]["narration"] = shots[-1].pop("dialogue")
                    shots[-1]["dialogue"] = []
                recent.extend(n for n in names if n not in recent)
                i += 1
                continue
            if b["voice"]:
                listeners = [p for p in present if p not in names]
                tag = b["extension"] or b["voice"]
                if listeners:
                    add("listener", _setup(cfg, "listener" if len(listeners) == 1 else "group"), span,
                        f"{', '.join(listeners)} listening as {who} is heard ({tag}).", ms, listeners, [], lines,
                        f"dialogue ({tag}, off screen)")
                else:
                    add("cutaway", _setup(cfg, "cutaway"), span, f"{location or 'The place'} as {who} is heard ({tag}).",
                        ms, [], [], lines, f"dialogue ({tag})")
            else:
                note_present(names)
                others = [s for s in on_camera if s not in names and not apart([s, *names])]
                if parties and apart([*names, *on_camera]) and len(names) == 1:
                    # INTERCUT: each party in their own place, alternating singles
                    here = parties.get(names[0], location)
                    kind, subjects = "dialogue", names
                    setup = _setup(cfg, "single_first" if names[0] not in spoken else "single")
                    desc = f"{who} speaks, at {here}."
                    shot = add(kind, setup, span, desc, ms, subjects, names, lines, "dialogue",
                               notes=["intercut"])
                    shot["location"] = here
                elif len(names) > 1:
                    kind, setup, subjects = "dialogue", _setup(cfg, "two_shot" if len(names) == 2 else "group"), names
                    desc = f"{who} speak together."
                elif i == 0 and len(on_camera) == 2:
                    kind, setup, subjects = "dialogue", _setup(cfg, "two_shot"), on_camera
                    together = "sit side by side" if riding else "face each other"   # in a car: side by side
                    desc = f"{on_camera[0]} and {on_camera[1]} {together}; {who} speaks."
                elif i == 0 and len(on_camera) >= 3:
                    kind, setup, subjects = "dialogue", _setup(cfg, "group"), on_camera
                    desc = f"{', '.join(on_camera)} together; {who} speaks."
                elif len(on_camera) == 2 and others and (names[0] not in spoken or
                                                         (push_in and said.get(names[0], 0) < push_in)):
                    # two people: each speaker over the other's shoulder, both ways; from their push_in-th
                    # line of the exchange on, the cut moves in to their single
                    kind, setup, subjects = "dialogue", _setup(cfg, "ots"), [*names, *others]
                    desc = f"Over {others[0]}'s shoulder onto {who}, who speaks."
                elif names[0] not in spoken:
                    kind, setup, subjects = "dialogue", _setup(cfg, "single_first"), names
                    desc = f"{who} speaks."
                else:
                    kind, setup, subjects = "dialogue", _setup(cfg, "single"), names
                    desc = f"{who} speaks."
                if not (parties and apart([*names, *on_camera]) and len(names) == 1):
                    add(kind, setup, span, desc, ms, subjects, names, lines, "dialogue")
            spoken.update(names)
            for n in names:
                said[n] = said.get(n, 0) + 1
            recent.extend(n for n in names if n not in recent)
            for par in b["parentheticals"]:
                text = clean(par["text"]).strip("() ")
                if _reaction(text, cfg) and len(names) == 1 and not b["voice"]:
                    add("reaction", _setup(cfg, "reaction"), par["span"], f"{names[0]} reacts: {text}.",
                        int(timing["reaction_ms"]), names, audio="sync")
                elif text and not _is_delivery(text, cfg) and shots and shots[-1]["speaking"] == sorted(set(names)):
                    shots[-1]["notes"].append(f"business: {text}")   # picking up the phone: in the speaking shot
            i += 1
        exchange.clear()

    def slug_shot(s: dict[str, Any], el: dict[str, Any] | None) -> None:
        """The shot a slug asks for: of the action after it (``el``), or of its subject alone."""
        nonlocal first_action
        size = s["el"].get("framing") or ""
        kind_name = slug_setups.get(size) if size else None
        # who the slug frames: the slug's own subject first (.NAK, ON DEXTER), then its action's;
        # an insert or a screen shows no one
        subjects = [] if size == "INSERT" else list(s["el"].get("cast") or (el or {}).get("cast") or [])
        note_present(subjects)
        if kind_name is None:
            kind_name = "master" if first_action else "action"
        setup = _setup(cfg, kind_name)
        if s["el"].get("angle"):
            setup["angle"] = s["el"]["angle"]   # HIGH ANGLE - ..., LOW ANGLE - ...
        text = s["el"]["text"]
        notes = [f"slug: {text}"]
        span = s["el"]["span"] if el is None else _span_union(s["el"]["span"], el["span"])
        if el is None:
            subject = s["el"].get("subject") or text
            desc = f"{subject[:1].upper()}{subject[1:].lower()}." if subject.isupper() else f"{subject}."
            ms = int(timing["insert_ms"]) if size in ("INSERT", "CU", "ECU") else int(timing["establishing_ms"])
            add("insert" if size == "INSERT" else "slug", setup, span, desc, ms, subjects,
                audio="sync", notes=notes)
        else:
            sounds = el.get("sounds") or []
            add("insert" if size == "INSERT" else "slug", setup, span, clean(el["text"]), action_ms(el["text"], timing),
                subjects, audio=("SFX: " + ", ".join(sounds)) if sounds else "sync", notes=notes)
            inserts(el)
        first_action = False

    def inserts(el: dict[str, Any]) -> None:
        for prop in el.get("props") or []:
            add("insert", _setup(cfg, "insert"), el["span"], f"Insert: {prop.lower()}.", int(timing["insert_ms"]), [],
                notes=["prop"])

    directions = data.get("direction", [])
    for item in items:
        t = item["type"]
        if t == "block":
            if slug is not None:
                slug_shot(slug, None)
                slug = None
            exchange.append(item)
            continue
        flush_exchange()
        el = item["el"]
        if t == "slug":
            if slug is not None:
                slug_shot(slug, None)
            slug = item
            continue
        if t == "action" and slug is not None:
            slug_shot(slug, el)
            slug = None
            continue
        if slug is not None:
            slug_shot(slug, None)
            slug = None
        if t == "action" and _no_picture(el["text"], cfg):
            continue   # a stray mark, a page's leftover, a broken fragment: nothing for a camera to show
        if t == "action":
            text = el["text"]
            named = list(el.get("cast") or [])
            note_present(named)
            setup, kind = (_setup(cfg, "master"), "master") if first_action else (_setup(cfg, "action"), "action")
            notes: list[str] = []
            for d in directions:
                hits = find_terms(clean(text), d["terms"])
                if hits:
                    for key in ("size", "angle", "movement", "rig"):
                        if key in d:
                            setup[key] = d[key]
                    if "lens_mm" in d:
                        setup["lens_mm"] = int(d["lens_mm"])
                    if d.get("announce", True) and "PS303" in codes:
                        diags.append(diag(codes["PS303"], el["span"], {"match": hits[0].text}, match=hits[0].text,
                                          shot=f"#{len(shots) + 1}", size=setup["size"], angle=setup["angle"],
                                          movement=setup["movement"]))
                        notes.append(f"camera direction: {hits[0].text}")
                    break
            sounds = el.get("sounds") or []
            add(kind, setup, el["span"], clean(text), action_ms(text, timing), named,
                audio=("SFX: " + ", ".join(sounds)) if sounds else "sync", notes=notes)
            first_action = False
            inserts(el)
        elif t == "transition":
            raw = clean(el["text"])
            key = fold_term(raw).rstrip(":.").strip()
            cut = data.get("transitions", {}).get(key)
            if cut is None:
                cut = "cut"
                if "PS302" in codes:
                    diags.append(diag(codes["PS302"], el["span"], {"match": raw}, match=raw))
            if shots and cut not in ("fade in", "iris in"):
                shots[-1]["transition"] = cut
        elif t in ("centered", "card"):
            text = clean(el["text"])
            add("card", _setup(cfg, "insert"), el["span"], f"Title card: {text}", int(timing["insert_ms"]), [],
                audio="music")
        elif t == "lyrics":
            add("action", _setup(cfg, "master"), el["span"], f"Singing: {clean(el['text'])}",
                dialogue_ms([el["text"]], timing), list(present), audio="singing")
    if slug is not None:
        slug_shot(slug, None)
    flush_exchange()

    in_vehicle = riding
    for sh in shots:
        n = len(sh["subjects"])
        if sh["size"] in ("MCU", "CU", "ECU") and n > 1:   # a close size holds one person
            sh.update(_setup(cfg, "two_shot" if n == 2 else "group"))
            sh["notes"].append(f"{n} people: not a close-up")
        if in_vehicle and sh["kind"] != "establishing" and sh["rig"] in ("tripod", "dolly", "steadicam"):
            sh["rig"] = "car mount"   # inside a car the camera rides with it
    setups: dict[tuple[Any, ...], int] = {}
    for i, s in enumerate(shots):
        # an over-the-shoulder shot is one set-up per direction: who it looks onto is part of the position
        onto = tuple(s["speaking"]) if s["size"] == "OTS" else (s["description"],) if s["kind"] == "insert" else ()
        # (an insert frames its own thing: two props are two set-ups)
        setup_key = (s["size"], s["angle"], s["movement"], s["lens_mm"], tuple(s["subjects"]), onto)
        s["setup"] = setups.setdefault(setup_key, len(setups) + 1)
        s["id"] = shot_letter(i)
        s["index"] = i + 1
    return shots, sort_diags(diags)


def run(inputs: dict[str, Any], rules: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    data = rules["shot_specs.toml"]
    # one pace for the whole engine: shots are timed at the word rates the statistics use
    pace = rules["stats.toml"]["runtime"]
    data = {**data, "timing": {**data["timing"], "dialogue_ms_per_word": pace["dialogue_ms_per_word"],
                               "action_ms_per_word": pace["action_ms_per_word"]}}
    shots, diags = build_shots(inputs["sanitize"]["scene"], data)
    return {"shots": shots, "diagnostics": diags}


SPEC = StageSpec(name="shot_specs", version=VERSION, rule_files=("shot_specs.toml", "stats.toml"), settings=(),
                 inputs=("sanitize",), run=run)
