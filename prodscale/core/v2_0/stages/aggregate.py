"""aggregate (engine 2.0.0): one story's scene results -> its output files, summary and diagnostics.

Engine 1.x's aggregation (:mod:`prodscale.core.stages.aggregate`: spans shifted to file lines,
cross-scene checks PS405-PS409, acknowledgements, the shot list CSV), with 2.0.0's reading:

- **One numbering.** A scene's number is the reader's (the script's ``#12A#`` or its position among
  the scenes; the prologue is 0), in every output and diagnostic. Shot ids are the scene number and
  a letter (12, 12A, 12B, ...; no I or O), skipping any id that is another scene's number, and a
  scene numbered with a letter joins its shots with a hyphen (12A, 12A-A, 12A-B): ids are unique
  within a story even when scenes 12 and 12A both exist. A clip is ``<shot>-<part>``.
- **The scene model** in ``shot_specs.json``: per scene INT/EXT, set, area, light and D/N, modifiers,
  INTERCUT, cast and breakdown elements.
- **Statistics** in ``stats.json``: pages from the line-based pagination of
  :mod:`prodscale.core.v2_0.paginate` in eighths, per scene and in total; runtime estimates (a page
  a minute, and word rates); per character speeches, words, speaking time, scenes and dialogue
  share; INT/EXT and D/N counts; locations with their scenes and lights. A summary reaches
  ``manifest.txt``.
- Reading diagnostics (PS011) join the parser's.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from prodscale.core.canon import digest_obj, pretty_json
from prodscale.core.stages import StageSpec
from prodscale.core.stages._text import diag, rules_by_code, sort_diags
from prodscale.core.stages.aggregate import (CSV_COLUMNS, _seconds, _shift_diag, _shift_span, apply_acknowledgements,
                                             collect_acknowledgements, cross_scene, findings_by_scene,
                                             first_scene_of)
from prodscale.core.v2_0 import paginate as P
from prodscale.core.v2_0.headings import same_site

VERSION = 1
STAGES = ("sanitize", "shot_specs", "prompts", "src", "layout")
_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I, no O
# a character walking through a CONTINUOUS cut is normal; in two places at the SAME TIME is not
_SIMULTANEOUS = frozenset({"SAME TIME", "SAME MOMENT", "MEANWHILE", "SIMULTANEOUS", "SIMULTANEOUSLY", "THAT MOMENT"})


def _letters() -> Any:
    """'', A, B, ..., Z, AA, AB, ...: the letters after a scene number."""
    yield ""
    width = 1
    while True:
        n = len(_LETTERS) ** width
        for k in range(n):
            out, m = "", k
            for _ in range(width):
                out = _LETTERS[m % len(_LETTERS)] + out
                m //= len(_LETTERS)
            yield out
        width += 1


def shot_ids(number: str, count: int, scene_numbers: set[str]) -> list[str]:
    """``count`` unique shot ids for scene ``number`` (see the module docstring)."""
    sep = "-" if number[-1:].isalpha() else ""
    out: list[str] = []
    for letters in _letters():
        if len(out) == count:
            break
        sid = f"{number}{sep}{letters}" if letters else number
        if letters and sid in scene_numbers:
            continue
        out.append(sid)
    return out


SETUP_COLUMNS = ("scene", "setup", "description", "size", "angle", "movement", "lens (mm)", "rig", "cast", "location",
                 "int/ext", "day/night", "estimated seconds", "covers shots", "lines", "audio", "notes")


def setups_of(number: str, shots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The scene's set-ups: each camera position once (size, angle, movement, lens and who is in frame),
    with the shots of the cut it covers, the script lines it spans and its screen time; a dialogue
    set-up covers its part of the exchange."""
    out: dict[int, dict[str, Any]] = {}
    for sh in shots:
        su = out.get(sh["setup"])
        if su is None:
            su = out[sh["setup"]] = {
                "id": f"{number}.{sh['setup']}", "setup": sh["setup"], "size": sh["size"], "angle": sh["angle"],
                "movement": sh["movement"], "lens_mm": sh["lens_mm"], "rig": sh.get("rig", ""),
                "subjects": list(sh["subjects"]), "location": sh.get("location"), "covers": [], "duration_ms": 0,
                "lines": [sh["span"]["start_line"], sh["span"]["end_line"]], "speaking": [], "kinds": [],
                "notes": [], "first": sh["description"]}
        su["covers"].append(sh["number"])
        su["duration_ms"] += int(sh["duration_ms"])
        su["lines"] = [min(su["lines"][0], sh["span"]["start_line"]), max(su["lines"][1], sh["span"]["end_line"])]
        for n in sh.get("speaking", []):
            if n not in su["speaking"]:
                su["speaking"].append(n)
        if sh["kind"] not in su["kinds"]:
            su["kinds"].append(sh["kind"])
        for note in sh.get("notes", []):
            if note not in su["notes"]:
                su["notes"].append(note)
    rows = []
    for su in out.values():
        who = ", ".join(su["subjects"])
        if su["speaking"] and su["size"] == "OTS" and len(su["subjects"]) == 2:
            onto, over = su["subjects"] if su["subjects"][0] in su["speaking"] else su["subjects"][::-1]
            desc = f"OTS over {over} onto {onto}, covering the lines of {', '.join(su['speaking'])} " \
                   f"({len(su['covers'])} in the cut)"
        elif su["speaking"]:
            desc = (f"{su['size']} on {who}" if who else su["size"]) + \
                   f", covering the lines of {', '.join(su['speaking'])} ({len(su['covers'])} in the cut)"
        elif len(su["covers"]) > 1:
            desc = f"{su['size']} on {who or 'the place'} for {len(su['covers'])} shots: {su['first']}"
        else:
            desc = su["first"]
        audio = ("dialogue: " + ", ".join(su["speaking"])) if su["speaking"] else ""
        rows.append({k: v for k, v in su.items() if k not in ("first", "speaking", "kinds")}
                    | {"description": desc, "audio": audio, "kinds": su["kinds"]})
    return rows


def _reading_diags(story: dict[str, Any], codes: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in story.get("reading_diagnostics", []):
        rule = codes.get(r["code"])
        if rule is not None:
            d = diag(rule, r["span"], {"match": r["match"]}, match=r["match"])
            d["extra"] = {**d.get("extra", {}), "stage": "read"}
            out.append(d)
    return out


def _ms_to_s(ms: int) -> int:
    return (ms + 500) // 1000


def _share(part: int, whole: int) -> tuple[int, str]:
    permille = (part * 1000 + whole // 2) // whole if whole else 0
    return permille, f"{permille // 10}.{permille % 10}%"


def statistics(story: dict[str, Any], scenes: list[dict[str, Any]], numbers: list[str],
               data: dict[str, Any]) -> dict[str, Any]:
    """``stats.json``'s content (see the module docstring)."""
    layouts = [s.get("layout") or {} for s in scenes]
    paper = next((lay.get("paper") for lay in layouts if lay.get("paper")), "letter")
    per_page = int(data["paper"][paper]["lines_per_page"])
    rt = data["runtime"]
    tokens = [t for lay in layouts for t in lay.get("tokens", [])]
    length = P.story_length(tokens, per_page)
    sec_per_page = int(rt["seconds_per_page"])
    rows = []
    chars: dict[str, dict[str, Any]] = {}
    counts: dict[str, dict[str, int]] = {"int_ext": {}, "day_night": {}}
    locations: dict[str, dict[str, Any]] = {}
    total_dialogue = 0
    words_ms_total = 0
    for s, lay, number in zip(scenes, layouts, numbers, strict=False):
        sc = s["sanitize"]["scene"]
        lines = int(lay.get("lines", 0))
        e8 = P.eighths(lines, per_page, at_least_one=True)
        words_ms = (int(lay.get("action_words", 0)) * int(rt["action_ms_per_word"])
                    + int(lay.get("dialogue_words", 0)) * int(rt["dialogue_ms_per_word"])
                    + (0 if sc.get("prologue") else int(rt["scene_ms"])))
        words_ms_total += words_ms
        cast = [c["name"] for c in sc.get("cast", [])]
        rows.append({"scene": number, "heading": sc.get("heading", ""), "int_ext": sc.get("int_ext"),
                     "set": sc.get("set"), "light": sc.get("light"), "day_night": sc.get("day_night"),
                     "lines": lines, "eighths": e8, "length": P.show_eighths(e8),
                     "runtime_s": e8 * sec_per_page // 8, "runtime_words_s": _ms_to_s(words_ms),
                     "shots_s": _ms_to_s(sum(int(sh["duration_ms"]) for sh in (s.get("shot_specs") or {}).get("shots", []))),
                     "words": {"action": int(lay.get("action_words", 0)), "dialogue": int(lay.get("dialogue_words", 0))},
                     "cast": cast})
        if not sc.get("prologue"):
            for group, key in (("int_ext", sc.get("int_ext") or "UNKNOWN"), ("day_night", sc.get("day_night") or "UNKNOWN")):
                counts[group][key] = counts[group].get(key, 0) + 1
            where = sc.get("set") or "(no place)"   # a set is an interior or an exterior: EXT and INT apart
            loc = locations.setdefault(f"{sc.get('int_ext') or ''} {where}",
                                       {"set": where, "int_ext": sc.get("int_ext"), "scenes": [], "lights": {}})
            loc["scenes"].append(number)
            dn = sc.get("day_night") or "UNKNOWN"
            loc["lights"][dn] = loc["lights"].get(dn, 0) + 1
        for name, sp in (lay.get("speech") or {}).items():
            c = chars.setdefault(name, {"name": name, "speeches": 0, "words": 0, "scenes": []})
            c["speeches"] += int(sp["speeches"])
            c["words"] += int(sp["words"])
            total_dialogue += int(sp["words"])
        for name in cast:
            c = chars.setdefault(name, {"name": name, "speeches": 0, "words": 0, "scenes": []})
            if number not in c["scenes"]:
                c["scenes"].append(number)
    ms_word = int(rt["dialogue_ms_per_word"])
    characters = []
    for c in sorted(chars.values(), key=lambda c: (-c["words"], -len(c["scenes"]), c["name"])):
        permille, shown = _share(c["words"], total_dialogue)
        characters.append({**c, "speaking_s": _ms_to_s(c["words"] * ms_word), "scene_count": len(c["scenes"]),
                           "dialogue_share_permille": permille, "dialogue_share": shown})
    return {
        "story": story.get("name", ""), "path": story.get("path"), "engine": story.get("engine", ""),
        "paper": paper, "lines_per_page": per_page,
        "pages": length["pages"], "pages_eighths": length["eighths"], "length": P.show_eighths(length["eighths"]),
        "scenes_eighths": sum(r["eighths"] for r in rows),
        "runtime": {"by_pages_s": length["eighths"] * sec_per_page // 8, "by_words_s": _ms_to_s(words_ms_total),
                    "shots_s": _ms_to_s(sum(int(sh["duration_ms"]) for s in scenes
                                            for sh in (s.get("shot_specs") or {}).get("shots", [])))},
        "counts": {g: dict(sorted(c.items())) for g, c in counts.items()},
        "locations": sorted(locations.values(), key=lambda loc: (-len(loc["scenes"]), loc["set"])),
        "characters": characters,
        "scenes": rows,
    }


def _clock(seconds: int) -> str:
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}"


_ASCII_PUNCT = ".,;:!?\"'()[]{}-—–…*_/&#"
_NUMBER = re.compile(r"[0-9]+(?:[.,:][0-9]+)*")


def english_share(texts: list[str], words: frozenset[str]) -> tuple[int, int]:
    """(common English words, all words) of ``texts``: words split at spaces, punctuation stripped, numbers
    left out; no character class of the interpreter's Unicode tables decides what counts."""
    hits = total = 0
    for text in texts:
        for tok in text.split():
            tok = tok.strip(_ASCII_PUNCT)
            if not tok or _NUMBER.fullmatch(tok):
                continue
            total += 1
            hits += tok.lower() in words
    return hits, total


def _language_diags(scenes: list[dict[str, Any]], data: dict[str, Any]) -> list[dict[str, Any]]:
    """PS209 once per story: the script does not read as English and the profile takes English prompts only."""
    codes, lang = rules_by_code(data), data.get("language")
    profile_name = next(((s.get("prompts") or {}).get("profile") for s in scenes if s.get("prompts")), None)
    profile = data.get("profiles", {}).get(profile_name or "", {})
    languages = profile.get("prompt_languages")
    if "PS209" not in codes or not lang or not languages or "en" not in languages or len(languages) != 1:
        return []
    texts = []
    for s in scenes:
        sc = s["sanitize"]["scene"]
        texts.append(sc.get("heading") or "")
        texts.extend(el["text"] for el in sc.get("elements", []) if el["kind"] in ("action", "dialogue"))
    hits, total = english_share(texts, frozenset(lang["english_words"]))
    if total < int(lang["min_words"]) or hits * 100 >= int(lang["min_english_share_pct"]) * total:
        return []
    first = next((s for s in scenes if s["sanitize"]["scene"].get("heading_span")), None)
    span = _shift_span(first["sanitize"]["scene"]["heading_span"], int(first["line_offset"])) if first else None
    d = diag(codes["PS209"], span, {"match": profile_name}, share=hits * 100 // total, words=f"{total} words",
             profile=profile_name, languages=", ".join(languages))
    d["extra"] = {**d.get("extra", {}), "stage": "aggregate"}
    return [d]


def run(story: dict[str, Any], scenes: list[dict[str, Any]], rules: dict[str, Any],
        settings: dict[str, Any]) -> dict[str, Any]:
    data = rules["src.toml"]
    codes = rules_by_code(data)
    lex = data["lexicon"]
    name = story.get("name", "")
    engine = story.get("engine", "")
    cross = cross_scene(scenes, codes, lex)
    for i, s in enumerate(scenes):   # engine 2.0.0: two places at once only across simultaneous scenes
        if (s["src"]["facts"].get("time_of_day") or "").upper() not in _SIMULTANEOUS or \
                (i > 0 and same_site(scenes[i - 1]["src"]["facts"].get("location"), s["src"]["facts"].get("location"))):
            cross[i] = [d for d in cross[i] if d["code"] != "PS409"]
    numbers = [str(s["number"]) for s in scenes]
    number_set = set(numbers)

    diags: list[dict[str, Any]] = []
    for d in story.get("prologue_diagnostics", []):
        diags.append({**d, "extra": {**(d.get("extra") or {}), "stage": "parse"}})
    diags.extend(_reading_diags(story, rules_by_code(rules["reading.toml"])))
    diags.extend(_language_diags(scenes, rules["prompts.toml"]))
    for i, s in enumerate(scenes):
        off = int(s["line_offset"])
        for stage in STAGES:
            for d in (s.get(stage) or {}).get("diagnostics", []):
                diags.append(_shift_diag(d, off, numbers[i], stage))
        for d in cross[i]:
            diags.append(_shift_diag(d, off, numbers[i], "src"))
    acks, problems = collect_acknowledgements(story, scenes, settings.get("acknowledge"))
    diags = apply_acknowledgements(diags, acks, problems, codes)
    first_of = first_scene_of(numbers)
    for d in diags:
        extra = dict(d.get("extra") or {})
        heading = ""
        if extra.get("scene") is not None and extra["scene"] in number_set:
            heading = scenes[first_of[extra["scene"]]]["heading"] or ""
        extra["fingerprint"] = digest_obj([d["code"], str(extra.get("match", "")), heading])[:16]
        d["extra"] = extra
    diags = sort_diags(diags)

    shot_scenes: list[dict[str, Any]] = []
    prompt_clips: list[dict[str, Any]] = []
    src_scenes: list[dict[str, Any]] = []
    csv_rows: list[list[str]] = []
    setup_rows: list[list[str]] = []
    src_counts = {"validated": 0, "warnings": 0, "failed": 0}
    n_shots = n_clips = n_blocked = 0
    src_by_scene = findings_by_scene(diags)
    for i, s in enumerate(scenes):
        number = numbers[i]
        off = int(s["line_offset"])
        sc = s["sanitize"]["scene"]
        dn = sc.get("day_night") or ""
        clips_by_shot: dict[int, list[dict[str, Any]]] = {}
        for c in (s.get("prompts") or {}).get("clips", []):
            clips_by_shot.setdefault(c["shot"], []).append(c)
        shots = (s.get("shot_specs") or {}).get("shots", [])
        ids = shot_ids(number, len(shots), number_set - {number})
        number_of = {shot["index"]: shot_no for shot, shot_no in zip(shots, ids, strict=False)}
        packed_in: dict[int, str] = {}   # a shot whose line shares another shot's clip -> that clip, as framed
        size_of = {sh["setup"]: sh["size"] for sh in shots}
        for c in (s.get("prompts") or {}).get("clips", []):
            for index in c.get("packed", [])[1:]:
                packed_in[index] = f"{number_of[c['shot']]}-{c['part']}, framed {size_of.get(c.get('setup'), '')}"
        shots_out = []
        for shot, shot_no in zip(shots, ids, strict=False):
            shots_out.append({**shot, "number": shot_no, "span": _shift_span(shot["span"], off)})
            n_shots += 1
            clips = clips_by_shot.get(shot["index"], [])
            blocked = [c for c in clips if c["status"] != "ready"]
            for c in clips:
                extra = {"packed": [number_of[i] for i in c["packed"]]} if "packed" in c else {}
                prompt_clips.append({**c, **extra, "id": f"{shot_no}-{c['part']}", "scene": number,
                                     "shot_number": shot_no, "span": _shift_span(c["span"], off)})
            n_clips += len(clips)
            n_blocked += len(blocked)
            if shot["index"] in packed_in:
                status = f"in clip {packed_in[shot['index']]}"   # "in clip 6C-1, framed 2S"
            elif not clips:
                status = "not materialized"
            elif blocked:
                status = "blocked (" + ", ".join(sorted({b for c in blocked for b in c["blocked_by"]})) + ")"
            elif "packed" in clips[0]:
                status = f"ready (clip with {', '.join(number_of[i] for i in clips[0]['packed'][1:])}, framed " \
                         f"{size_of.get(clips[0].get('setup'), '')})"
            else:
                status = "ready" if len(clips) == 1 else f"ready ({len(clips)} clips)"
            notes = list(shot.get("notes", []))
            if shot.get("transition") and shot["transition"] != "cut":
                notes.append(f"{shot['transition']} out")
            audio = shot.get("audio", "")
            if shot.get("speaking"):
                audio = "dialogue: " + ", ".join(shot["speaking"])
            csv_rows.append([number, shot_no, str(shot.get("setup", "")), shot["description"], shot["size"],
                             shot["angle"], shot["movement"], str(shot["lens_mm"]), shot.get("rig", ""),
                             str(shot.get("fps", "")), ", ".join(shot["subjects"]), shot.get("location") or "",
                             shot.get("int_ext") or "", dn, _seconds(int(shot["duration_ms"])), audio,
                             "; ".join(notes), status])
        scene_setups = setups_of(number, shots_out)
        for su in scene_setups:
            setup_rows.append([number, su["id"], su["description"], su["size"], su["angle"], su["movement"],
                               str(su["lens_mm"]), su["rig"], ", ".join(su["subjects"]), su["location"] or "",
                               sc.get("int_ext") or "", dn, _seconds(su["duration_ms"]), " ".join(su["covers"]),
                               f"{su['lines'][0]}-{su['lines'][1]}", su["audio"], "; ".join(su["notes"])])
        shot_scenes.append({
            "scene": number, "index": s["index"], "heading": s["heading"], "span": _shift_span(sc.get("span"), off),
            "prologue": bool(sc.get("prologue")), "int_ext": sc.get("int_ext"), "set": sc.get("set"),
            "area": sc.get("area"), "light": sc.get("light"), "day_night": sc.get("day_night"),
            "light_from": sc.get("light_from"), "modifiers": sc.get("modifiers", []),
            "continuation": sc.get("continuation"), "time_jump": sc.get("time_jump"), "intercut": sc.get("intercut"),
            "cast": [{**c, "line": c["line"] + off} for c in sc.get("cast", [])],
            "breakdown": {k: [{**x, "line": x["line"] + off} for x in v] for k, v in sc.get("breakdown", {}).items()},
            "setups": scene_setups, "shots": shots_out})
        mine = src_by_scene.get(number, [])
        if any(d["severity"] == "error" for d in mine):
            status = "failed"
        elif any(d["severity"] == "warning" and "acknowledged" not in d for d in mine):
            status = "warnings"
        else:
            status = "validated"
        src_counts[status] += 1
        src_scenes.append({"scene": number, "index": s["index"], "heading": s["heading"], "status": status,
                           "facts": s["src"]["facts"], "diagnostics": mine})

    stats = statistics(story, scenes, numbers, rules["stats.toml"])
    billing: dict[str, Any]
    billing = {"screen_ms": sum(int(((s.get("prompts") or {}).get("billing") or {}).get("screen_ms", 0)) for s in scenes),
               "billed_ms": sum(int(((s.get("prompts") or {}).get("billing") or {}).get("billed_ms", 0)) for s in scenes),
               "profile": next(((s.get("prompts") or {}).get("profile") for s in scenes if s.get("prompts")), "")}
    # waivers: a producer's waiver of one error, reported as waived and counted; an unused one is PS094
    used = {o for s in scenes for o in (s.get("sanitize") or {}).get("waivers_used", [])}
    if "PS094" in codes:
        declared = [*story.get("waivers", []),
                    *[w for s in scenes for w in (s.get("sanitize") or {}).get("inline_waivers", [])]]
        seen: set[str] = set()
        for w in declared:
            if w["origin"] in used or w["origin"] in seen:
                continue
            seen.add(w["origin"])
            span = _shift_span(w.get("span"), int(next((s["line_offset"] for s in scenes
                                                         if w in (s.get("sanitize") or {}).get("inline_waivers", [])),
                                                        0))) if w.get("span") else None
            d = diag(codes["PS094"], span, {"match": w["code"]}, waive_code=w["code"], origin=w["origin"])
            d["extra"] = {**d.get("extra", {}), "stage": "aggregate"}
            diags.append(d)
        diags = sort_diags(diags)
    waived = sum(1 for d in diags if "waived" in d)
    errors = sum(1 for d in diags if d["severity"] == "error" and "waived" not in d)
    warnings = sum(1 for d in diags if d["severity"] == "warning" and "acknowledged" not in d)
    acknowledged = sum(1 for d in diags if "acknowledged" in d)
    safety_blocked = any(d["severity"] == "error" and "waived" not in d
                         and (d["code"].startswith("PS1") or d["code"] == "PS204") for d in diags)
    other_errors = any(d["severity"] == "error" and "waived" not in d and not d["code"].startswith(("PS1", "PS2"))
                       for d in diags)
    if src_counts["failed"] or other_errors:
        status = "failed"
    elif n_blocked or safety_blocked or errors:
        status = "blocked"
    else:
        status = "complete"
    summary = {"status": status, "scenes": len(scenes), "shots": n_shots, "clips": n_clips, "clips_blocked": n_blocked,
               "src": src_counts, "errors": errors, "warnings": warnings, "acknowledged": acknowledged,
               "safety": "blocked" if safety_blocked else "passed", "waived": waived,
               "stats": {"paper": stats["paper"], "pages": stats["pages"], "pages_eighths": stats["pages_eighths"],
                         "runtime_s": stats["runtime"]["by_pages_s"], "runtime_words_s": stats["runtime"]["by_words_s"],
                         "scenes": sum(1 for s in scenes if not s["sanitize"]["scene"].get("prologue"))},
               "billing": {"profile": billing["profile"], "screen_s": _ms_to_s(billing["screen_ms"]),
                           "billed_s": _ms_to_s(billing["billed_ms"])}}
    head = {"story": name, "path": story.get("path"), "engine": engine}
    buf = io.StringIO()   # the cut: every shot in screen order, the order prompts and the edit follow
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    w.writerows(csv_rows)
    setups_buf = io.StringIO()   # the shot list a DP plans the day with: one row per set-up
    w = csv.writer(setups_buf, lineterminator="\n")
    w.writerow(SETUP_COLUMNS)
    w.writerows(setup_rows)
    files = {
        "shot_specs.json": pretty_json({**head, "title_page": story.get("title_page", {}),
                                        "characters": story.get("characters", []), "scenes": shot_scenes}),
        "prompts.json": pretty_json({**head, "clips": prompt_clips}),
        "src.json": pretty_json({**head, "summary": {"status": status, **src_counts}, "scenes": src_scenes}),
        "diagnostics.json": pretty_json({**head, "summary": summary, "diagnostics": diags}),
        "stats.json": pretty_json(stats),
        "shot_list.csv": setups_buf.getvalue().encode("utf-8"),
        "cut.csv": buf.getvalue().encode("utf-8"),
    }
    return {"files": files, "summary": summary, "diagnostics": diags}


SPEC = StageSpec(name="aggregate", version=VERSION, rule_files=("src.toml", "reading.toml", "stats.toml", "prompts.toml"),
                 settings=("acknowledge",), inputs=(), run=run)  # type: ignore[arg-type]
