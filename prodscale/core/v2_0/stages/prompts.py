"""prompts (engine 2.0.0): clips that fit each generator, from 2.0.0's shots (PS2xx).

Engine 1.x's rendering (template, gates on the materialized prompt, trimming, seeds, hashes; see
:mod:`prodscale.core.stages.prompts`), with what part 2 of engine 2.0.0 asks for:

- **Profiles** hold each generator's published limits (``rules/2.0.0/prompts.toml``, sources in
  ``rules/README.md``): clip durations, aspect ratios, prompt length, whether it takes a negative prompt
  (``negative_prompt``), an input image (``image_input``: ``required`` for image-to-video such as Runway
  Gen-4, whose clips get a start-frame reference slot and motion-first wording from
  ``[template.image_to_video]``), and how speech is written (``dialogue``: ``colon``, ``NAME says: words``,
  as Google's Veo guide advises, quotes making the model draw text; ``quotes``; ``none``).
- **Splitting**: a shot longer than the profile's longest clip is cut into consecutive beats, at
  sentence ends (or, inside a long sentence, at a breath: a comma), each clip carrying its own beat of the
  action or the speech, never the same text twice; each clip is as long as its beat needs (the shortest
  allowed duration that holds it), so billed seconds stay close to screen time.
- **Light**: the resolved light, never CONTINUOUS; **cast**: every character the shot shows (the bible
  reaches silent characters too); narration rides as audio on the picture (``narration``).
- **Real people**: the sourced list of PS107 (kind ``names``) reaches the prompt gate through the names
  it finds in the style and the character bible; in a prompt a comparison is a likeness request.

Output: ``{"clips", "diagnostics", "profile", "billing": {"screen_ms", "billed_ms"}}``.
"""

from __future__ import annotations

import re
from typing import Any

from prodscale.core.canon import digest_obj
from prodscale.core.stages import StageSpec
from prodscale.core.stages._text import clean, diag, rules_by_code, sort_diags, spans_overlap
from prodscale.core.stages.prompts import SCENE_PARTS, _char_lookup, _render, _trim
from prodscale.core.stages.sanitize import apply_rewrites, gate_rules, rules_for, scan, terms_may_match
from prodscale.core.v2_0.people import find_people

VERSION = 1
_SENTENCE = re.compile(r"(?<=[.!?…])[\"”’)]*\s+")
_BREATH = re.compile(r"(?<=[,;:—–])\s+|\s+(?=--)")


def _settings_texts(settings: dict[str, Any]) -> list[str]:
    style = settings.get("style") or {}
    texts = [str(v) for v in style.values() if isinstance(v, str)] if isinstance(style, dict) else []
    for entry in (settings.get("characters") or {}).values():
        desc = entry.get("description", "") if isinstance(entry, dict) else str(entry)
        texts.append(str(desc))
    return texts


_GATES: dict[tuple[int, int, tuple[str, ...]], tuple[object, object, list[dict[str, Any]]]] = {}


def prompt_gates(rules: dict[str, Any], settings: dict[str, Any]) -> list[dict[str, Any]]:
    """The sanitize rules as the prompt gate runs them: each ``names`` rule an ``existence`` rule of the
    real names the style and the character bible hold (a comparison there is a likeness request).

    Built once per rule data and settings texts (the same list object each time, so what the scanners
    derive from it per rule-data identity is derived once too)."""
    data = rules["sanitize.toml"]
    texts = _settings_texts(settings)
    people = rules.get("lists/real_people.tsv")
    key = (id(data), id(people), tuple(texts))
    hit = _GATES.get(key)
    if hit is not None and hit[0] is data and hit[1] is people:
        return hit[2]
    out = _prompt_gates(rules, data, texts)
    if len(_GATES) < 64:
        _GATES[key] = (data, people, out)
    return out


def _prompt_gates(rules: dict[str, Any], data: dict[str, Any], texts: list[str]) -> list[dict[str, Any]]:
    out = []
    for rule in gate_rules(data):
        if rule["kind"] != "names":
            out.append(rule)
            continue
        as_prompt = {**rule, "not_before": []}
        found = sorted({hit.text for t in texts for hit, _ in find_people(t, as_prompt, rules[rule["list"]])})
        if found:
            out.append({k: v for k, v in rule.items() if k not in ("list", "not_before", "not_after")}
                       | {"kind": "existence", "terms": found, "exceptions": []})
    return out


def _pieces(text: str) -> list[str]:
    """Sentences, and a long sentence's breaths: the places a clip may end."""
    out: list[str] = []
    for sentence in _SENTENCE.split(text.strip()):
        if not sentence:
            continue
        if len(sentence.split()) > 24:
            out.extend(p for p in _BREATH.split(sentence) if p.strip())
        else:
            out.append(sentence)
    return out


def clip_plan(items: list[tuple[str, str]], duration: int,
              allowed: list[int]) -> list[tuple[list[tuple[str, str]], int]]:
    """``items`` ([(who, text)], who "" for action) as consecutive clips: [(pieces, content ms)]. The shot's
    time runs through its words; sentences (a long sentence's breaths) fill a clip in order while they fit
    the profile's longest clip, so a clip ends where a sentence ends, never holds more than it can play and
    never comes out empty; only a piece longer than a clip is cut, at words, into even parts."""
    longest = allowed[-1]
    pieces = [(who, p) for who, text in items for p in _pieces(text)]
    if not pieces or duration <= longest:
        return [(pieces, duration)]
    total = sum(len(p.split()) for _, p in pieces) or 1
    def too_long(text: str) -> bool:
        return duration * len(text.split()) > longest * total

    fitting: list[tuple[str, str, int]] = []   # (who, text, words), each short enough for one clip
    for who, piece in pieces:
        # a piece too long for a clip breaks at its breaths (commas, dashes) first, at words only after that
        breaths = [b for b in _BREATH.split(piece) if b.strip()] if too_long(piece) else [piece]
        for p in breaths:
            ws = p.split()
            parts = max(1, -(-(duration * len(ws)) // (longest * total)))
            for k in range(parts):
                chunk = ws[k * len(ws) // parts:(k + 1) * len(ws) // parts]
                if chunk:
                    fitting.append((who, " ".join(chunk), len(chunk)))
    groups: list[tuple[list[tuple[str, str]], int]] = []
    cur: list[tuple[str, str]] = []
    cur_words = 0
    for who, text, n in fitting:
        if cur and (cur_words + n) * duration > longest * total:
            groups.append((cur, cur_words))
            cur, cur_words = [], 0
        cur.append((who, text))
        cur_words += n
    groups.append((cur, cur_words))
    out: list[tuple[list[tuple[str, str]], int]] = []
    done_words = done_ms = 0
    for group, n in groups:   # each clip's share of the shot's time, in whole milliseconds that add up
        done_words += n
        until = duration * done_words // total
        out.append((group, max(1, until - done_ms)))
        done_ms = until
    return out


def _joined(group: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Consecutive pieces of one speaker (or of the action) joined back into one text."""
    out: list[tuple[str, str]] = []
    for who, p in group:
        if out and out[-1][0] == who:
            out[-1] = (who, f"{out[-1][1]} {p}")
        else:
            out.append((who, p))
    return out


_VOICE_OVER = "V.O. "   # the mark of a narrator among a clip's speakers
_HOW = "\x1f"          # between a speaker and the delivery of their line ("NELL\x1fquietly")


_ASIDE = re.compile(r"\s*\([^()]*\)\s*")


def _said(text: str) -> str:
    """A line as it is spoken: a direction in brackets inside it ("(listening)") is not said aloud."""
    return " ".join(_ASIDE.sub(" ", text).split())


def _who(line: dict[str, Any]) -> str:
    """A line's speaker, with its delivery note when it has one (it travels with the line)."""
    return f"{line['character']}{_HOW}{clean(line['delivery'])}" if line.get("delivery") else line["character"]


def _speech(lines: list[tuple[str, str]], style: str) -> str:
    """The clip's speech as the profile writes it: ``NAME says: words`` (or quoted), narration as
    ``NAME (voice-over): words``."""
    if style == "none":
        return ""
    out = []
    for who, text in lines:
        name, _, how = who.partition(_HOW)
        if name.startswith(_VOICE_OVER):
            verb = f"{name[len(_VOICE_OVER):]} (voice-over):"
        else:
            verb = f"{name} says ({how}):" if how else f"{name} says:"
        out.append(f'{verb} "{text}"' if style == "quotes" else f"{verb} {text.rstrip()}")   # colon, no quotes
    return " ".join(out)


_GROUP_SIZES = ("2S", "3S", "MS", "MWS", "WS")


def _cover_for(group: list[dict[str, Any]], speakers: list[str], shots: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The set-up a packed clip is framed from: a two-shot or group shot of the exchange holding every
    speaker, one of the group's own shots first, then the scene's other dialogue or master shots at the
    same place (a two-shot before a wide); None when the scene has none (the lines stay apart)."""
    place = (group[0].get("int_ext"), group[0].get("location"))
    def holds(sh: dict[str, Any]) -> bool:
        return sh["size"] in _GROUP_SIZES and set(speakers) <= set(sh["subjects"]) \
            and (sh.get("int_ext"), sh.get("location")) == place
    for sh in group:
        if holds(sh):
            return sh
    others = [sh for sh in shots if sh["kind"] in ("dialogue", "master") and holds(sh)]
    return min(others, key=lambda sh: (_GROUP_SIZES.index(sh["size"]), sh["index"])) if others else None


def pack_exchanges(shots: list[dict[str, Any]], profile: dict[str, Any],
                   blocked: dict[int, set[str]]) -> list[list[dict[str, Any]]]:
    """The scene's shots in cut order as clip units: one shot each, or consecutive short lines of one
    exchange sharing a clip (``[profile].pack_dialogue``) when one clip of the profile holds them all and
    costs less than a clip each: same place, at most the profile's speakers (two where it sends no speech),
    nothing blocked, no narration, each line shorter than the longest clip."""
    allowed = sorted(int(d) for d in profile["clip_durations_ms"])
    longest = allowed[-1]
    cap = int(profile.get("max_speaking_characters", 0)) or 2

    def billed(ms: int) -> int:
        return -(-ms // longest) * longest if ms > longest else next(a for a in allowed if a >= ms)

    def packable(sh: dict[str, Any]) -> bool:
        return sh["kind"] == "dialogue" and bool(sh.get("dialogue")) and not sh.get("narration") \
            and not blocked.get(sh["index"]) and int(sh["duration_ms"]) < longest

    units: list[list[dict[str, Any]]] = []
    run: list[dict[str, Any]] = []

    def close() -> None:
        if len(run) > 1:
            speakers = list(dict.fromkeys(ln["character"] for sh in run for ln in sh["dialogue"]))
            total = sum(int(sh["duration_ms"]) for sh in run)
            if billed(total) < sum(billed(int(sh["duration_ms"])) for sh in run) and _cover_for(run, speakers, shots):
                units.append(list(run))
                run.clear()
                return
        units.extend([sh] for sh in run)
        run.clear()

    for sh in shots:
        if not profile.get("pack_dialogue", False) or not packable(sh):
            close()
            units.append([sh])
            continue
        if run:
            speakers = {ln["character"] for x in [*run, sh] for ln in x["dialogue"]}
            same_place = (sh.get("int_ext"), sh.get("location")) == (run[0].get("int_ext"), run[0].get("location"))
            if not same_place or len(speakers) > cap or \
                    sum(int(x["duration_ms"]) for x in run) + int(sh["duration_ms"]) > longest:
                close()
        run.append(sh)
    close()
    return units


def _packed_shot(group: list[dict[str, Any]], shots: list[dict[str, Any]], tpl: dict[str, Any]) -> dict[str, Any]:
    """One shot standing for a packed group: framed from its cover set-up, its lines in order, as long as
    they all are, spanning their script lines."""
    lines = [ln for sh in group for ln in sh["dialogue"]]
    speakers = list(dict.fromkeys(ln["character"] for ln in lines))
    cover = _cover_for(group, speakers, shots)
    assert cover is not None   # pack_exchanges packs only what a set-up covers
    names = " and ".join([", ".join(speakers[:-1]), speakers[-1]]) if len(speakers) > 1 else speakers[0]
    first, last = group[0]["span"], group[-1]["span"]
    return {**group[0], **{k: cover[k] for k in ("size", "angle", "movement", "lens_mm", "subjects", "setup")},
            "dialogue": lines, "speaking": speakers, "narration": [],
            "description": str(tpl.get("packed_description_riding" if cover.get("rig") == "car mount"
                                       else "packed_description", "{names} talk.")).format(names=names),
            "duration_ms": sum(int(sh["duration_ms"]) for sh in group),
            "span": {"start_line": first["start_line"], "start_col": first["start_col"],
                     "end_line": last["end_line"], "end_col": last["end_col"]},
            "packed": [sh["index"] for sh in group]}


def run(inputs: dict[str, Any], rules: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    san = inputs["sanitize"]
    scene = san["scene"]
    shots = inputs["shot_specs"]["shots"]
    data = rules["prompts.toml"]
    gates = prompt_gates(rules, settings)
    codes = rules_by_code(data)
    diags: list[dict[str, Any]] = []
    profiles = data.get("profiles", {})
    profile_name = settings.get("project.profile") or "generic"
    if profile_name not in profiles:
        diags.append(diag(codes["PS207"], scene.get("heading_span"), {"match": profile_name}, profile=profile_name,
                          allowed=", ".join(sorted(profiles))))
        return {"clips": [], "diagnostics": sort_diags(diags), "profile": profile_name,
                "billing": {"screen_ms": 0, "billed_ms": 0}}
    profile = profiles[profile_name]
    image_to_video = profile.get("image_input") == "required"
    tpl = {**data["template"], **(data["template"].get("image_to_video", {}) if image_to_video else {})}
    style = settings.get("style") or {}
    bible = _char_lookup(settings.get("characters"))
    aspect = style.get("aspect") or profile["aspects"][0]
    if aspect not in profile["aspects"]:
        fallback = profile["aspects"][0]
        diags.append(diag(codes["PS206"], scene.get("heading_span"), {"match": aspect}, aspect=aspect,
                          profile=profile_name, fallback=fallback, allowed=", ".join(profile["aspects"])))
        aspect = fallback
    negative = ""
    if profile.get("negative_prompt", True):
        terms = [t.strip() for part in (tpl.get("base_negative", ""), profile.get("negative", ""),
                                        style.get("negative") or "") for t in (part or "").split(",") if t.strip()]
        negative = ", ".join(dict.fromkeys({t.casefold(): t for t in reversed(terms)}[t.casefold()] for t in terms))
    limit = int(profile["max_prompt_chars"])
    allowed = sorted(int(d) for d in profile["clip_durations_ms"])
    longest = allowed[-1]
    speech_style = profile.get("dialogue", "quotes") if profile.get("audio", True) else "none"

    errors = [d for d in san.get("diagnostics", []) if d["severity"] == "error" and "waived" not in d]
    heading_errors = sorted({d["code"] for d in errors if d.get("span") and spans_overlap(d["span"], scene["heading_span"])})
    missing_bible: dict[str, dict[str, int]] = {}
    gate_reports: dict[tuple[str, str], dict[str, Any]] = {}
    clips: list[dict[str, Any]] = []
    int_ext_words = tpl.get("int_ext_words", {})
    screen_ms = billed_ms = 0
    shot_blocks = {sh["index"]: set(heading_errors) | {d["code"] for d in errors
                                                       if spans_overlap(d.get("span"), sh["span"])} for sh in shots}
    for unit in pack_exchanges(shots, profile, shot_blocks):
        shot = unit[0] if len(unit) == 1 else _packed_shot(unit, shots, tpl)
        duration = int(shot["duration_ms"])
        screen_ms += duration
        blocked_by = set(shot_blocks[shot["index"]])
        # what runs in time: the speech (lines with their delivery, then narration over the picture), where
        # the profile voices it; else the action. A profile that sends no speech gets one clip of a talking
        # shot (the edit holds it): splitting would send the same words twice.
        spoken = [(_who(ln), _said(ln["text"])) for ln in shot.get("dialogue", []) if _said(ln["text"])]
        narrated = [(_VOICE_OVER + ln["character"], _said(ln["text"])) for ln in shot.get("narration", [])
                    if _said(ln["text"])]
        timed = [*spoken, *narrated] if speech_style != "none" else []
        if timed:
            parts = clip_plan(timed, duration, allowed)
            fixed_description = clean(shot["description"])
        elif spoken or narrated:
            parts = [([], min(duration, longest))]
            fixed_description = clean(shot["description"])
        else:
            parts = clip_plan([("", clean(shot["description"]))], duration, allowed)
            fixed_description = ""
        n = len(parts)
        if n > 1 and "PS203" in codes:
            diags.append(diag(codes["PS203"], shot["span"], {"shot_index": shot["index"]},
                              shot=shot["id"] or f"#{shot['index']}", duration_ms=duration,
                              profile=profile_name, limit=longest, clips=n))
        cast_bits = []
        for name in shot["subjects"]:
            desc = bible.get(" ".join(name.casefold().split()))
            if desc:
                cast_bits.append(f"{name}: {clean(desc)}.")
            else:
                cast_bits.append(f"{name}.")
                missing_bible.setdefault(name, shot["span"])
        place = " ".join(x for x in (int_ext_words.get(shot.get("int_ext") or "", ""),
                                     clean(shot.get("location") or "")) if x)
        if shot.get("time_of_day"):
            place = f"{place}, {clean(shot['time_of_day']).lower()}" if place else clean(shot["time_of_day"]).lower()
        audio = ""
        if profile.get("audio", True) and str(shot.get("audio", "")).startswith("SFX:"):
            audio = f"Sound: {shot['audio'][4:].strip().lower()}."
        for k, (group, content_ms) in enumerate(parts, start=1):
            lines = _joined(group)
            clip_ms = next((a for a in allowed if a >= content_ms), longest)
            billed_ms += clip_ms
            if spoken or narrated:
                description, dialogue = fixed_description, _speech(lines, speech_style)
            else:
                description, dialogue = " ".join(p for _, p in lines), ""
            values = {
                "size_name": tpl.get("size_names", {}).get(shot["size"], shot["size"]),
                "angle": shot["angle"], "movement": shot["movement"], "lens_mm": str(shot["lens_mm"]),
                "place": place, "cast": " ".join(cast_bits), "description": description,
                "dialogue": dialogue, "audio": audio, "part": "",
                "look": clean(style.get("look") or ""),
            }
            clip: dict[str, Any] = {
                "shot": shot["index"], "shot_id": shot["id"], "part": k, "parts": n, "content_ms": content_ms,
                "duration_ms": clip_ms, "aspect": aspect, "profile": profile_name, "negative_prompt": negative,
                "span": shot["span"],
                # the script's own rewrites this shot's text carries (sanitize), then the prompt gate's
                "rewrites": [{"from": r["from"], "to": r["to"], "code": r["code"]}
                             for r in san.get("rewrites", []) if spans_overlap(r.get("span"), shot["span"])],
            }
            if "packed" in shot:   # the lines of several shots of the cut, in one clip
                clip["packed"] = shot["packed"]
                clip["setup"] = shot["setup"]
            if image_to_video:   # the generator starts from a still: a slot for it, described
                clip["start_frame"] = {"slot": f"{shot['id'] or shot['index']}-{k}", "describe": " ".join(
                    x for x in (values["size_name"] + ".", place + "." if place else "", values["cast"]) if x)}
            voiced = [{"character": w[len(_VOICE_OVER):], "text": t} for w, t in lines if w.startswith(_VOICE_OVER)]
            if voiced:   # the narration this clip carries (in its prompt, and here for the edit)
                clip["narration"] = voiced
            prompt = None
            clip_blocked = sorted(blocked_by)
            if not clip_blocked:
                prompt, where = _render(tpl["parts"], values)
                scene_ranges = [(s, e) for name, s, e in where if name in SCENE_PARTS]
                subs: list[tuple[Any, str]] = []
                may = terms_may_match(gates, prompt)
                for rule in rules_for(gates, may):
                    for hit, vals in scan(rule, prompt, may):
                        if any(s <= hit.start and hit.end <= e for s, e in scene_ranges):
                            continue
                        if rule["kind"] == "substitution":
                            subs.append((hit, str(vals["replacement"])))
                            clip["rewrites"].append({"from": hit.text, "to": str(vals["replacement"]),
                                                     "code": rule["code"]})
                            continue
                        if rule["level"] == "note":
                            continue
                        code = "PS204" if rule["level"] == "error" else "PS205"
                        key = (code, rule["code"] + ":" + hit.text.casefold())
                        rep = gate_reports.setdefault(key, {"rule": codes[code], "gate": rule, "match": hit.text,
                                                            "span": shot["span"], "clips": []})
                        rep["clips"].append(f"{shot['id'] or '#' + str(shot['index'])}/{k}")
                        if rule["level"] == "error":
                            clip_blocked = sorted(set(clip_blocked) | {code})
                if subs:
                    for name in ("cast", "look"):
                        values[name] = apply_rewrites(values[name], [
                            (h, r) for rule in gates if rule["kind"] == "substitution"
                            for h, v in scan(rule, values[name]) for r in [str(v["replacement"])]])
                    prompt, where = _render(tpl["parts"], values)
                if len(prompt) > limit:
                    over = len(prompt) - limit
                    trim_key = tpl.get("trim", "description")
                    desc = values[trim_key]
                    room = len(desc) - over
                    original = len(prompt)
                    if room >= int(tpl.get("min_description_chars", 0)):
                        values[trim_key] = _trim(desc, room, tpl.get("trim_marker", "..."))
                        prompt, where = _render(tpl["parts"], values)
                    if len(prompt) <= limit:
                        diags.append(diag(codes["PS202"], shot["span"], {"shot_index": shot["index"]},
                                          clip=f"{shot['id'] or '#' + str(shot['index'])}/{k}", length=original,
                                          limit=limit, profile=profile_name))
                    else:
                        diags.append(diag(codes["PS201"], shot["span"], {"shot_index": shot["index"]},
                                          clip=f"{shot['id'] or '#' + str(shot['index'])}/{k}", length=len(prompt),
                                          limit=limit, profile=profile_name))
                        clip_blocked = sorted(set(clip_blocked) | {"PS201"})
            if clip_blocked:
                prompt = None
            clip["status"] = "blocked" if clip_blocked else "ready"
            clip["blocked_by"] = clip_blocked
            clip["prompt"] = prompt
            seed_basis = {k2: v for k2, v in clip.items() if k2 not in ("span",)}
            clip["seed"] = int(digest_obj(seed_basis, check=False)[:16], 16) % int(tpl.get("seed_modulus", 2 ** 32))
            clip["prompt_hash"] = None if prompt is None else digest_obj(
                {"prompt": prompt, "negative_prompt": negative, "duration_ms": clip_ms, "aspect": aspect,
                 "seed": clip["seed"], "profile": profile_name}, check=False)
            clips.append(clip)
    for (_code, _), rep in sorted(gate_reports.items()):
        gate = rep["gate"]
        diags.append(diag(rep["rule"], rep["span"], {"match": rep["match"], "gate": gate["code"],
                                                      "clips": rep["clips"]},
                          clip=", ".join(rep["clips"]), gate=gate["code"], gate_name=gate["name"], match=rep["match"]))
    if "PS208" in codes:
        for name in sorted(missing_bible):
            diags.append(diag(codes["PS208"], missing_bible[name], {"match": name}, character=name))
    return {"clips": clips, "diagnostics": sort_diags(diags), "profile": profile_name,
            "billing": {"screen_ms": screen_ms, "billed_ms": billed_ms}}


SPEC = StageSpec(name="prompts", version=VERSION, rule_files=("prompts.toml", "sanitize.toml", "lists/real_people.tsv"),
                 settings=("project.profile", "style", "characters"), inputs=("sanitize", "shot_specs"), run=run)
