"""shot_specs: the coverage rules (PS3xx) that turn one sanitized scene into shots.

The rules, in the order they apply (documented in rules/README.md, data in shot_specs.toml):

1. Establishing shot: opens a scene whose int/ext is exterior (``establishing_int_ext``) or
   whose time of day is not a continuation (``continuation_times``: CONTINUOUS, LATER, ...):
   a new place or a new moment gets a wide look first.
2. Master: the scene's first action paragraph is shot wide (set-up ``master``) with the
   characters it names; a scene without action gets a master of the place and its speakers.
3. Action: every later action paragraph is a ``action`` shot; a camera direction written in it
   (``[[direction]]``, first match wins: POV, CLOSE ON, AERIAL, ...) changes its set-up (PS303).
4. Inserts: words in CAPITALS in an action paragraph that are not characters (not a cue name
   of the scene, not followed by "(" as in "MARY (30s)") are props; a run holding a sound word
   (``sounds``) is a sound insert carrying the sound as audio. One insert per prop per scene.
5. Dialogue: an exchange (consecutive speeches with no action between) with two on-screen
   speakers opens on a two-shot (2S), then each speaker's first speech is an over-the-shoulder
   (OTS) and later speeches are singles (MCU); three or more speakers open on a group WS, then
   MS then MCU singles; one speaker gets MS then MCU. Dual dialogue is one 2S with both
   speaking. An off-screen speech (V.O., O.S., ...) is a listener shot on the characters present,
   or a cutaway of the place when nobody is.
6. Reactions: a parenthetical that is not a delivery note (``reaction_skip_first_words``) adds
   a CU reaction of the speaker after the speech.
7. Transitions: set the cut type (``[transitions]``) from the previous shot into the next;
   unknown transitions are plain cuts (PS302).

Durations come from words and lines at the rates in ``[timing]`` and are clamped (PS301 when an
estimate is cut down). Shot ids are letters in order: the first shot has the empty letter (the
aggregation numbers it with the scene number alone: 12), then A, B, ... (I and O are skipped, as
on set), then AA, AB, ...
"""

from __future__ import annotations

import re

from typing import Any

from prodscale.core.stages import StageSpec
from prodscale.core.stages._text import (caps_runs, clean, diag, find_terms, fold_term, has_term, name_in_run,
                                         rules_by_code, sort_diags, word_count)

VERSION = 1
SIZES = ("EWS", "WS", "MWS", "MS", "MCU", "CU", "ECU", "INSERT", "OTS", "POV", "2S")
_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I, no O


def shot_letter(index: int) -> str:
    """Letter id of the ``index``-th shot (0-based): '', A, B, ..., Z (no I, O), AA, AB, ..."""
    if index == 0:
        return ""
    n = index - 1
    if n < len(_LETTERS):
        return _LETTERS[n]
    n -= len(_LETTERS)
    out = ""
    width = 2
    while n >= len(_LETTERS) ** width:
        n -= len(_LETTERS) ** width
        width += 1
    for _ in range(width):
        out = _LETTERS[n % len(_LETTERS)] + out
        n //= len(_LETTERS)
    return out


def _clamp(ms: int, timing: dict[str, Any]) -> int:
    return max(int(timing["min_ms"]), min(int(timing["max_ms"]), ms))


def action_ms(text: str, timing: dict[str, Any]) -> int:
    lines = max(1, len([ln for ln in text.split("\n") if ln.strip()]))
    return word_count(clean(text)) * int(timing["action_ms_per_word"]) + lines * int(timing["action_ms_per_line"])


def dialogue_ms(texts: list[str], timing: dict[str, Any]) -> int:
    words = sum(word_count(clean(t)) for t in texts)
    lines = sum(max(1, len([ln for ln in t.split("\n") if ln.strip()])) for t in texts)
    return words * int(timing["dialogue_ms_per_word"]) + lines * int(timing["dialogue_ms_per_line"])


def _span_union(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    first = min((a["start_line"], a["start_col"]), (b["start_line"], b["start_col"]))
    last = max((a["end_line"], a["end_col"]), (b["end_line"], b["end_col"]))
    return {"start_line": first[0], "start_col": first[1], "end_line": last[0], "end_col": last[1]}


def dialogue_blocks(elements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Group the elements into items: ``{"type": "block", ...}`` for a cue with its speech, or
    ``{"type": <kind>, "el": element}`` for anything else (notes and sections dropped)."""
    items: list[dict[str, Any]] = []
    cur: dict[str, Any] | None = None
    for el in elements:
        k = el["kind"]
        if k == "character":
            cur = {"type": "block", "name": el.get("name") or el["text"].strip().upper(),
                   "extension": el.get("extension"), "dual": bool(el.get("dual")), "lines": [],
                   "parentheticals": [], "span": el["span"]}
            items.append(cur)
            continue
        if k in ("dialogue", "parenthetical") and cur is not None:
            cur["span"] = _span_union(cur["span"], el["span"])
            if k == "dialogue":
                cur["lines"].append(el)
            else:
                cur["parentheticals"].append(el)
            continue
        if k in ("note", "section", "synopsis", "page_break"):
            continue  # never filmed; they do not end a speech either
        cur = None
        items.append({"type": k, "el": el})
    return items


def _is_offscreen(ext: str | None, cfg: dict[str, Any]) -> bool:
    if not ext:
        return False
    parts = [p.strip().upper() for p in ext.replace(";", ",").split(",")]
    off = {e.upper() for e in cfg["offscreen_extensions"]}
    return any(p in off for p in parts)


def _is_reaction(text: str, cfg: dict[str, Any]) -> bool:
    words = clean(text).strip("() ").split()
    if not words:
        return False
    skip = {w.casefold() for w in cfg["reaction_skip_first_words"]}
    return words[0].casefold().strip(",.:;") not in skip


def _intro_runs(text: str, cue_names: list[str], cfg: dict[str, Any]) -> tuple[list[str], list[tuple[str, bool]]]:
    """(character names introduced or named in capitals, [(prop or sound run, is_sound)])."""
    chars: list[str] = []
    props: list[tuple[str, bool]] = []
    sounds = {s.upper() for s in cfg["sounds"]}
    for run in caps_runs(text, cfg["caps_ignore"]):
        after = text[run.end:run.end + 3].lstrip(" ")
        matched = [n for n in cue_names if name_in_run(n, run.text)]
        if matched:
            chars.extend(matched)
            continue
        if after.startswith("("):
            chars.append(run.text.upper())
            continue
        is_sound = any(w.strip(".,!?").upper() in sounds for w in run.text.split())
        props.append((run.text, is_sound))
    return chars, props


def _mentioned(text: str, names: list[str]) -> list[str]:
    return [n for n in names if has_term(clean(text), [n])]


def _setup(cfg: dict[str, Any], kind: str) -> dict[str, Any]:
    s = cfg["setups"][kind]
    return {"size": s["size"], "angle": s["angle"], "movement": s["movement"], "lens_mm": int(s["lens_mm"]),
            "rig": s["rig"]}


def _shot_directives(elements: list[dict[str, Any]], cfg: dict[str, Any] | None) -> dict[int, tuple[str, int]]:
    """Engine 1.1.0's writer shot directives: a note such as ``[[shot: CU]]`` on its own line sets the
    size of the first shot made from the next element. Returns {start line of that element: (size, lens)}.
    Engines whose rule data has no ``[directives]`` table ignore such notes (they stay writer notes)."""
    if not cfg or not cfg.get("shot_note"):
        return {}
    pattern = re.compile(cfg["shot_note"], re.I)
    lenses = cfg.get("lens_mm", {})
    out: dict[int, tuple[str, int]] = {}
    wanted: tuple[str, int] | None = None
    for el in elements:
        if el["kind"] == "note":
            m = pattern.match(el["text"].strip())
            if m:
                size = m.group("size").upper()
                wanted = (size, int(lenses.get(size, 50)))
            continue
        if wanted is not None and el["kind"] not in ("section", "synopsis", "page_break"):
            out.setdefault(el["span"]["start_line"], wanted)
            wanted = None
    return out


def build_shots(scene: dict[str, Any], data: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    timing = data["timing"]
    cfg = {**data["coverage"], "setups": data["setups"]}
    codes = rules_by_code(data)
    diags: list[dict[str, Any]] = []
    elements = scene.get("elements", [])
    items = dialogue_blocks(elements)
    cue_names = sorted({i["name"] for i in items if i["type"] == "block"})
    onscreen_names = sorted({i["name"] for i in items if i["type"] == "block" and not _is_offscreen(i["extension"], cfg)})
    location = scene.get("location")
    int_ext = scene.get("int_ext")
    tod = scene.get("time_of_day")
    heading_span = scene["heading_span"]
    fps = int(timing["fps"])
    shots: list[dict[str, Any]] = []
    present: list[str] = []

    pending = _shot_directives(elements, data.get("directives"))

    def add(kind: str, setup: dict[str, Any], span: dict[str, int], description: str, ms: int,
            subjects: list[str], speaking: list[str] | None = None, dialogue: list[dict[str, Any]] | None = None,
            audio: str = "sync", notes: list[str] | None = None) -> dict[str, Any]:
        clamped = _clamp(ms, timing)
        directive = pending.pop(span["start_line"], None)
        if directive is not None:  # engine 1.1.0: the writer asked for this size
            setup = {**setup, "size": directive[0], "lens_mm": directive[1]}
            notes = [*(notes or []), f"writer directive: {directive[0]}"]
        shot = {"kind": kind, **setup, "fps": fps, "duration_ms": clamped, "subjects": sorted(set(subjects)),
                "speaking": sorted(set(speaking or [])), "dialogue": dialogue or [], "location": location,
                "int_ext": int_ext, "time_of_day": tod, "description": description, "audio": audio,
                "transition": "cut", "notes": list(notes or []), "span": span}
        shots.append(shot)
        if ms > clamped and "PS301" in codes:
            diags.append(diag(codes["PS301"], span, {"shot_index": len(shots)}, shot=f"#{len(shots)}",
                              estimate_ms=ms, clamped_ms=clamped))
        return shot

    def note_present(names: list[str]) -> None:
        for n in names:
            if n not in present:
                present.append(n)

    # 1. establishing
    is_prologue = bool(scene.get("prologue")) or not scene.get("heading")
    ext_set = {x.upper() for x in cfg["establishing_int_ext"]}
    cont = {x.upper() for x in cfg["continuation_times"]}
    if not is_prologue and ((int_ext or "").upper() in ext_set or (tod or "").upper() not in cont):
        where = ", ".join(x for x in (location, (tod or "").lower()) if x)
        # engine 1.1.0: an interior is established from inside the room, not from a drone
        kind = "establishing_interior" if (int_ext or "").upper() == "INT" and \
            "establishing_interior" in cfg["setups"] else "establishing"
        add("establishing", _setup(cfg, kind), heading_span, f"Establishing view of {where}.",
            int(timing["establishing_ms"]), [], audio="ambience")

    has_action = any(i["type"] == "action" for i in items)
    if not has_action:
        names = onscreen_names
        note_present(names)
        who = ", ".join(names)
        add("master", _setup(cfg, "master"), heading_span,
            f"{location or 'The place'}" + (f", with {who}." if who else "."), int(timing["establishing_ms"]),
            names, audio="ambience")
    seen_props: set[str] = set()
    first_action = True
    exchange: list[dict[str, Any]] = []

    def flush_exchange() -> None:
        if not exchange:
            return
        speakers = []
        for b in exchange:
            if not _is_offscreen(b["extension"], cfg) and b["name"] not in speakers:
                speakers.append(b["name"])
        spoken: set[str] = set()
        i = 0
        while i < len(exchange):
            b = exchange[i]
            pair = None
            if b["dual"] and i + 1 < len(exchange) and exchange[i + 1]["dual"]:
                pair = exchange[i + 1]
            lines = [{"character": b["name"], "extension": b["extension"], "text": clean(el["text"])}
                     for el in b["lines"]]
            texts = [el["text"] for el in b["lines"]]
            span = b["span"]
            if pair is not None:
                lines += [{"character": pair["name"], "extension": pair["extension"], "text": clean(el["text"])}
                          for el in pair["lines"]]
                span = _span_union(span, pair["span"])
                both = [b["name"], pair["name"]]
                note_present(both)
                ms = max(dialogue_ms(texts, timing), dialogue_ms([el["text"] for el in pair["lines"]], timing))
                add("dialogue", _setup(cfg, "two_shot"), span, f"{b['name']} and {pair['name']} speak at once.",
                    ms, both, both, lines, "dialogue")
                spoken.update(both)
                i += 2
                continue
            ms = dialogue_ms(texts, timing)
            name = b["name"]
            if _is_offscreen(b["extension"], cfg):
                listeners = [p for p in present if p != name]
                if listeners:
                    add("listener", _setup(cfg, "listener"), span,
                        f"{', '.join(listeners)} listening as {name} is heard ({b['extension']}).", ms, listeners,
                        [], lines, f"dialogue ({b['extension']})")
                else:
                    add("cutaway", _setup(cfg, "cutaway"), span,
                        f"{location or 'The place'} as {name} is heard ({b['extension']}).", ms, [], [], lines,
                        f"dialogue ({b['extension']})")
            else:
                note_present([name])
                others = [s for s in speakers if s != name]
                if i == 0 and len(speakers) == 2:
                    kind, setup, subjects = "dialogue", _setup(cfg, "two_shot"), speakers
                    desc = f"{speakers[0]} and {speakers[1]} face each other; {name} speaks."
                elif i == 0 and len(speakers) >= 3:
                    kind, setup, subjects = "dialogue", _setup(cfg, "group"), speakers
                    desc = f"{', '.join(speakers)} together; {name} speaks."
                elif name not in spoken and len(speakers) == 2:
                    kind, setup, subjects = "dialogue", _setup(cfg, "ots"), [name, *others]
                    desc = f"Over {others[0]}'s shoulder onto {name}, who speaks."
                elif name not in spoken:
                    kind, setup, subjects = "dialogue", _setup(cfg, "single_first"), [name]
                    desc = f"{name} speaks."
                else:
                    kind, setup, subjects = "dialogue", _setup(cfg, "single"), [name]
                    desc = f"{name} speaks."
                add(kind, setup, span, desc, ms, subjects, [name], lines, "dialogue")
            spoken.add(name)
            for par in b["parentheticals"]:
                if _is_reaction(par["text"], cfg):
                    text = clean(par["text"]).strip("() ")
                    add("reaction", _setup(cfg, "reaction"), par["span"], f"{name} reacts: {text}.",
                        int(timing["reaction_ms"]), [name], audio="sync")
            i += 1
        exchange.clear()

    directions = data.get("direction", [])
    for item in items:
        t = item["type"]
        if t == "block":
            exchange.append(item)
            continue
        flush_exchange()
        el = item["el"]
        if t == "action":
            text = el["text"]
            chars, props = _intro_runs(clean(text), cue_names, cfg)
            named = sorted(set(chars) | set(_mentioned(text, cue_names)))
            note_present(named)
            setup, kind = (_setup(cfg, "master"), "master") if first_action else (_setup(cfg, "action"), "action")
            subjects = named  # who the paragraph names: what the prompt must show
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
                        diags.append(diag(codes["PS303"], el["span"], {"match": hits[0].text},
                                          match=hits[0].text, shot=f"#{len(shots) + 1}", size=setup["size"],
                                          angle=setup["angle"], movement=setup["movement"]))
                        notes.append(f"camera direction: {hits[0].text}")
                    break
            add(kind, setup, el["span"], clean(text), action_ms(text, timing), subjects, notes=notes)
            first_action = False
            for prop, is_sound in props:
                key = fold_term(prop)
                if key in seen_props:
                    continue
                seen_props.add(key)
                add("insert", _setup(cfg, "insert"), el["span"], f"Insert: {prop.lower()}.",
                    int(timing["insert_ms"]), [], audio=f"SFX: {prop}" if is_sound else "sync",
                    notes=["sound" if is_sound else "prop"])
        elif t == "transition":
            raw = clean(el["text"])
            key = fold_term(raw).rstrip(":.").strip()
            cut = data.get("transitions", {}).get(key)
            if cut is None:
                cut = "cut"
                if "PS302" in codes:
                    diags.append(diag(codes["PS302"], el["span"], {"match": raw}, match=raw))
            if shots:
                shots[-1]["transition"] = cut
        elif t in ("centered", "lyrics"):
            text = clean(el["text"])
            if t == "centered":
                add("card", _setup(cfg, "insert"), el["span"], f"Title card: {text}", int(timing["insert_ms"]), [],
                    audio="music")
            else:
                add("action", _setup(cfg, "master"), el["span"], f"Singing: {text}",
                    dialogue_ms([el["text"]], timing), list(present), audio="singing")
    flush_exchange()

    # set-ups: the same camera (size, angle, movement, lens, subjects) is one set-up, numbered by
    # first appearance
    setups: dict[tuple[Any, ...], int] = {}
    for i, s in enumerate(shots):
        setup_key = (s["size"], s["angle"], s["movement"], s["lens_mm"], tuple(s["subjects"]))
        s["setup"] = setups.setdefault(setup_key, len(setups) + 1)
        s["id"] = shot_letter(i)
        s["index"] = i + 1
    return shots, sort_diags(diags)


def run(inputs: dict[str, Any], rules: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    scene = inputs["sanitize"]["scene"]
    shots, diags = build_shots(scene, rules["shot_specs.toml"])
    return {"shots": shots, "diagnostics": diags}


SPEC = StageSpec(name="shot_specs", version=VERSION, rule_files=("shot_specs.toml",), settings=(),
                 inputs=("sanitize",), run=run)
