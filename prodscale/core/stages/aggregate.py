"""aggregate: one story's scene results -> its output files, summary and diagnostics.

Run once per story over every scene's stage outputs (see ``prodscale.core.stages``), it

- shifts every scene-relative span to file lines (``line_offset``);
- numbers scenes (the explicit ``#n#`` number, else the 1-based position) and shots: the first
  shot of scene 12 is ``12``, the next ``12A``, ``12B``, ... (I and O skipped, then ``12AA``);
  a clip is ``<shot>-<part>`` (``12A-1``);
- runs the cross-scene Scene Reality Checks: PS405 (CONTINUOUS/LATER in the first scene), PS406
  (LATER at another place), PS407 (CONTINUOUS at the same place), PS408 (a character speaks
  before being introduced in capitals or having spoken), PS409 (a character in two places in
  consecutive continuous scenes without leaving);
- applies acknowledgements (``[[acknowledge]]`` in prodscale.toml and inline
  ``[[prodscale: allow PS### reason]]`` notes, see :func:`collect_acknowledgements`);
- renders shot_specs.json, prompts.json, src.json, diagnostics.json and shot_list.csv.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from prodscale.core.canon import digest_obj, pretty_json
from prodscale.core.stages import StageSpec
from prodscale.core.stages._text import diag, fold_term, name_in_run, rules_by_code, sort_diags
from prodscale.core.stages.shot_specs import shot_letter

VERSION = 1
CSV_COLUMNS = ("scene", "shot", "setup", "description", "size", "angle", "movement", "lens (mm)", "rig", "fps", "cast",
               "location", "int/ext", "day/night", "estimated seconds", "audio", "notes", "status")
STAGES = ("sanitize", "shot_specs", "prompts", "src")
ACK_RE = re.compile(r"^\s*prodscale\s*:\s*allow\b\s*(.*)$", re.I | re.S)
INLINE_ACK_RE = re.compile(r"\[\[\s*(prodscale\s*:\s*allow\b[^\]]*)\]\]", re.I)
CODE_RE = re.compile(r"^(PS\d{3})\b[\s,:;-]*(.*)$", re.S)


def _shift_span(span: dict[str, int] | None, offset: int) -> dict[str, int] | None:
    if span is None:
        return None
    return {**span, "start_line": span["start_line"] + offset, "end_line": span["end_line"] + offset}


def _shift_diag(d: dict[str, Any], offset: int, scene_no: str | None, stage: str) -> dict[str, Any]:
    out = dict(d)
    out["span"] = _shift_span(d.get("span"), offset)
    extra = dict(d.get("extra") or {})
    if scene_no is not None:
        extra["scene"] = scene_no
    extra["stage"] = stage
    extra.pop("shot_index", None)
    out["extra"] = extra
    return out


def _norm_loc(loc: str | None) -> str:
    """The place a location names: its first part ("CAFE - KITCHEN" -> "cafe"); rooms of one
    place count as the same place for LATER and CONTINUOUS."""
    return fold_term((loc or "").split(" - ")[0])


def _seconds(ms: int) -> str:
    return f"{ms // 1000}.{(ms % 1000) // 100}"


# ---------------------------------------------------------------------------------------------
# Cross-scene Scene Reality Checks
# ---------------------------------------------------------------------------------------------

def _present(facts: dict[str, Any], story_chars: list[str]) -> list[str]:
    out = {s["name"] for s in facts.get("speakers", []) if s.get("onscreen")}
    for c in story_chars:
        key = fold_term(c)
        if any(key == p or f" {key} " in f" {p} " for p in facts.get("named", [])) \
                or any(name_in_run(c, i["text"]) for i in facts.get("introduced", [])):
            out.add(c)
    return sorted(out)



def first_scene_of(numbers: list[str]) -> dict[str, int]:
    """A scene number -> the position of its first scene (``list.index`` once per finding was quadratic)."""
    out: dict[str, int] = {}
    for k, no in enumerate(numbers):
        out.setdefault(no, k)
    return out


def findings_by_scene(diags: list[dict[str, Any]], prefix: str = "PS4") -> dict[str, list[dict[str, Any]]]:
    """Each scene's findings whose code starts with ``prefix``, in order, grouped once (a scan of every
    finding per scene was quadratic)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for d in diags:
        if d["code"].startswith(prefix):
            scene_no = (d.get("extra") or {}).get("scene")
            if scene_no is not None:
                out.setdefault(scene_no, []).append(d)
    return out

def cross_scene(scenes: list[dict[str, Any]], codes: dict[str, dict[str, Any]],
                lex: dict[str, Any]) -> dict[int, list[dict[str, Any]]]:
    """Cross-scene findings by scene position (0-based), spans scene-relative to that scene."""
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in range(len(scenes))}
    cont = {fold_term(t) for t in lex["continuous_times"]}
    simul = {fold_term(t) for t in lex["simultaneous_times"]}
    later = {fold_term(t) for t in lex["later_times"]}
    facts = [s["src"]["facts"] for s in scenes]
    story_chars = sorted({sp["name"] for f in facts for sp in f.get("speakers", []) if sp.get("onscreen")})
    introduced: list[str] = []   # case-folded capital runs seen so far
    spoken: set[str] = set()
    prev_heading_idx: int | None = None
    for i, f in enumerate(facts):
        hspan = scenes[i]["sanitize"]["scene"]["heading_span"]
        tod = fold_term(f.get("time_of_day") or "")
        real = not f.get("prologue")
        prev = facts[prev_heading_idx] if prev_heading_idx is not None else None
        if real and tod in cont | later and prev is None and "PS405" in codes:
            out[i].append(diag(codes["PS405"], hspan, {"match": f["time_of_day"]}, match=f["time_of_day"]))
        if real and prev is not None:
            same_place = _norm_loc(prev.get("location")) == _norm_loc(f.get("location"))
            same_room = fold_term(prev.get("location") or "") == fold_term(f.get("location") or "")
            prev_where = " ".join(x for x in (prev.get("int_ext"), prev.get("location")) if x) or "(unknown)"
            if tod in later and not same_place and "PS406" in codes:
                out[i].append(diag(codes["PS406"], hspan, {"match": f["time_of_day"]}, match=f["time_of_day"],
                                   previous=prev_where))
            if tod in cont - simul and same_room and prev.get("int_ext") == f.get("int_ext") and "PS407" in codes:
                out[i].append(diag(codes["PS407"], hspan, {"match": f["time_of_day"]}, match=f["time_of_day"],
                                   previous=prev_where))
            if tod in cont and not same_room and "PS409" in codes:
                here = _present(f, story_chars)
                before = _present(prev, story_chars)
                for c in sorted(set(here) & set(before)):
                    moved = (prev.get("last_action_moves") or f.get("first_action_moves")
                             or any(w in prev.get("movers", []) for w in fold_term(c).split()))
                    if tod in simul or not moved:
                        out[i].append(diag(codes["PS409"], hspan, {"match": c}, character=c, previous=prev_where,
                                           location=" ".join(x for x in (f.get("int_ext"), f.get("location")) if x),
                                           match=f["time_of_day"]))
        # introductions, in line order within the scene
        events: list[tuple[int, int, str, Any]] = []
        for intro in f.get("introduced", []):
            events.append((intro["line"], 0, "intro", intro["text"]))
        for sp in f.get("speakers", []):
            events.append((sp["line"], 1, "speak", sp))
        for line, _, kind, val in sorted(events, key=lambda e: (e[0], e[1])):
            if kind == "intro":
                introduced.append(val)
                continue
            name = val["name"]
            if name in spoken:
                continue
            known = any(name_in_run(name, run) for run in introduced)
            if not known and not val.get("voice") and "PS408" in codes:
                sc = scenes[i]["sanitize"]["scene"]
                el = next((e for e in sc["elements"] if e["kind"] == "character" and e["span"]["start_line"] == line),
                          None)
                span = el["span"] if el else hspan
                out[i].append(diag(codes["PS408"], span, {"match": name}, character=name))
            spoken.add(name)
        if real:
            prev_heading_idx = i
    return out


# ---------------------------------------------------------------------------------------------
# Acknowledgements
# ---------------------------------------------------------------------------------------------

def _flat_elements(scenes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every element of the story in order with file lines, headings included as elements."""
    flat: list[dict[str, Any]] = []
    for s in scenes:
        sc = s["sanitize"]["scene"]
        off = s["line_offset"]
        if sc.get("heading"):
            flat.append({"kind": "heading", "text": sc["heading"], "span": _shift_span(sc["heading_span"], off)})
        for el in sc.get("elements", []):
            flat.append({"kind": el["kind"], "text": el["text"], "span": _shift_span(el["span"], off)})
    return flat


def collect_acknowledgements(story: dict[str, Any], scenes: list[dict[str, Any]],
                             settings_acks: list[dict[str, Any]] | None) -> tuple[list[dict[str, Any]],
                                                                                  list[dict[str, Any]]]:
    """(acknowledgements, problems). An acknowledgement is
    ``{"code", "reason", "origin", "lines": (first, last) or None (whole story), "span", "scene"}``.

    - An inline note ``[[prodscale: allow PS203 reason]]`` that shares its line with other text
      covers that line; a note on its own line covers the next element (a heading counts as an
      element, so a note at the end of a scene covers the next scene's heading).
    - ``[[acknowledge]]`` in prodscale.toml (``story``, ``code``, ``reason``, optional ``scene``)
      covers every finding of that code in the story (or scene); no ``story`` means every story.
    Problems are ``(kind, details)`` dicts for PS092/PS093.
    """
    acks: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    flat = _flat_elements(scenes)

    def parse(body: str, span: dict[str, int], lines: tuple[int, int], origin: str) -> None:
        m = CODE_RE.match(body.strip())
        if not m:
            problems.append({"code": "PS093", "span": span, "match": body.strip(), "origin": origin})
            return
        code, reason = m.group(1).upper(), " ".join(m.group(2).split())
        if not reason:
            problems.append({"code": "PS092", "span": span, "ack_code": code, "origin": origin})
            return
        acks.append({"code": code, "reason": reason, "origin": origin, "lines": lines, "span": span, "scene": None})

    for idx, el in enumerate(flat):
        span = el["span"]
        if el["kind"] == "note":
            m = ACK_RE.match(el["text"])
            if not m:
                continue
            prev = flat[idx - 1] if idx > 0 else None
            trailing = prev is not None and prev["kind"] != "note" and prev["span"]["end_line"] == span["start_line"]
            if trailing:
                lines = (span["start_line"], span["start_line"])
            else:
                nxt = next((e for e in flat[idx + 1:] if e["kind"] != "note"), None)
                lines = (nxt["span"]["start_line"], nxt["span"]["end_line"]) if nxt else (0, -1)
            parse(m.group(1), span, lines, f"note at line {span['start_line']}")
            continue
        for m in INLINE_ACK_RE.finditer(el["text"]):
            line = span["start_line"] + el["text"].count("\n", 0, m.start())
            body = ACK_RE.match(m.group(1))
            nspan = {"start_line": line, "start_col": 1, "end_line": line, "end_col": 1}
            rest = (el["text"][:m.start()] + el["text"][m.end():]).strip()
            if rest:
                lines = (line, line)
            else:
                nxt = next((e for e in flat[idx + 1:] if e["kind"] != "note"), None)
                lines = (nxt["span"]["start_line"], nxt["span"]["end_line"]) if nxt else (0, -1)
            parse(body.group(1) if body else m.group(1), nspan, lines, f"note at line {line}")
    for n, entry in enumerate(settings_acks or [], start=1):
        if not isinstance(entry, dict):
            continue
        st = entry.get("story")
        if st not in (None, "", story.get("name")) and st != story.get("path"):
            continue
        origin = f"prodscale.toml [[acknowledge]] #{n}"
        code = str(entry.get("code", "")).strip().upper()
        reason = " ".join(str(entry.get("reason", "")).split())
        if not re.fullmatch(r"PS\d{3}", code):
            problems.append({"code": "PS093", "span": None, "match": code, "origin": origin})
            continue
        if not reason:
            problems.append({"code": "PS092", "span": None, "ack_code": code, "origin": origin})
            continue
        scene = entry.get("scene")
        acks.append({"code": code, "reason": reason, "origin": origin, "lines": None, "span": None,
                     "scene": None if scene is None else str(scene)})
    return acks, problems


def apply_acknowledgements(diags: list[dict[str, Any]], acks: list[dict[str, Any]], problems: list[dict[str, Any]],
                           codes: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Mark acknowledged warnings (and notes); report what could not be acknowledged."""
    out = [dict(d) for d in diags]
    error_codes = {d["code"] for d in out if d["severity"] == "error"}
    extra_diags: list[dict[str, Any]] = []
    for ack in acks:
        used = False
        refused = ack["code"] in error_codes
        for d in out:
            if d["code"] != ack["code"] or d["code"].startswith("PS09"):
                continue
            if ack["lines"] is not None:
                s = d.get("span")
                if s is None or not (ack["lines"][0] <= s["start_line"] <= ack["lines"][1]):
                    continue
            if ack["scene"] is not None and (d.get("extra") or {}).get("scene") != ack["scene"]:
                continue
            if d["severity"] == "error":
                refused = True
                continue
            used = True
            if "acknowledged" not in d:
                d["acknowledged"] = ack["reason"]
        if refused and "PS091" in codes:
            extra_diags.append(diag(codes["PS091"], ack["span"], {"match": ack["code"]}, ack_code=ack["code"],
                                    origin=ack["origin"]))
        elif not used and "PS090" in codes:
            extra_diags.append(diag(codes["PS090"], ack["span"], {"match": ack["code"]}, ack_code=ack["code"],
                                    origin=ack["origin"]))
    for p in problems:
        if p["code"] in codes:
            extra_diags.append(diag(codes[p["code"]], p["span"], {"match": p.get("match", p.get("ack_code", ""))},
                                    ack_code=p.get("ack_code", ""), origin=p["origin"], match=p.get("match", "")))
    for d in extra_diags:
        d["extra"] = {**(d.get("extra") or {}), "stage": "aggregate"}
    return out + extra_diags


# ---------------------------------------------------------------------------------------------
# The aggregation
# ---------------------------------------------------------------------------------------------

def _day_night(tod: str | None, prev: str, lex: dict[str, Any]) -> str:
    t = fold_term(tod or "")
    if not t:
        return ""
    if t in {fold_term(x) for x in lex["continuous_times"] + lex["later_times"]}:
        return prev
    if t in {fold_term(x) for x in lex["day_times"]}:
        return "DAY"
    if t in {fold_term(x) for x in lex["night_times"]}:
        return "NIGHT"
    return (tod or "").upper()


def run(story: dict[str, Any], scenes: list[dict[str, Any]], rules: dict[str, Any],
        settings: dict[str, Any]) -> dict[str, Any]:
    data = rules["src.toml"]
    codes = rules_by_code(data)
    lex = data["lexicon"]
    name = story.get("name", "")
    engine = story.get("engine", "")
    cross = cross_scene(scenes, codes, lex)

    diags: list[dict[str, Any]] = []
    for d in story.get("prologue_diagnostics", []):
        diags.append({**d, "extra": {**(d.get("extra") or {}), "stage": "parse"}})
    scene_numbers: list[str] = []
    for i, s in enumerate(scenes):
        number = str(s["number"]) if s.get("number") else str(s["index"])
        scene_numbers.append(number)
        off = int(s["line_offset"])
        for stage in STAGES:
            for d in (s.get(stage) or {}).get("diagnostics", []):
                diags.append(_shift_diag(d, off, number, stage))
        for d in cross[i]:
            diags.append(_shift_diag(d, off, number, "src"))
    acks, problems = collect_acknowledgements(story, scenes, settings.get("acknowledge"))
    diags = apply_acknowledgements(diags, acks, problems, codes)
    first_of = first_scene_of(scene_numbers)
    for d in diags:
        extra = dict(d.get("extra") or {})
        heading = ""
        if extra.get("scene") is not None:
            heading = scenes[first_of[extra["scene"]]]["heading"] or ""
        extra["fingerprint"] = digest_obj([d["code"], str(extra.get("match", "")), heading])[:16]
        d["extra"] = extra
    diags = sort_diags(diags)

    # per-scene outputs
    shot_scenes: list[dict[str, Any]] = []
    prompt_clips: list[dict[str, Any]] = []
    src_scenes: list[dict[str, Any]] = []
    csv_rows: list[list[str]] = []
    src_counts = {"validated": 0, "warnings": 0, "failed": 0}
    n_shots = n_clips = n_blocked = 0
    prev_dn = ""
    src_by_scene = findings_by_scene(diags)
    for i, s in enumerate(scenes):
        number = scene_numbers[i]
        off = int(s["line_offset"])
        sc = s["sanitize"]["scene"]
        dn = _day_night(sc.get("time_of_day"), prev_dn, lex)
        prev_dn = dn or prev_dn
        clips_by_shot: dict[int, list[dict[str, Any]]] = {}
        for c in (s.get("prompts") or {}).get("clips", []):
            clips_by_shot.setdefault(c["shot"], []).append(c)
        shots_out = []
        for j, shot in enumerate((s.get("shot_specs") or {}).get("shots", [])):
            shot_no = f"{number}{shot_letter(j)}"
            sh = {**shot, "number": shot_no, "span": _shift_span(shot["span"], off)}
            shots_out.append(sh)
            n_shots += 1
            clips = clips_by_shot.get(shot["index"], [])
            blocked = [c for c in clips if c["status"] != "ready"]
            for c in clips:
                # the scene qualifies the id: scene 3's shot 3A and scene 3A's first shot are both "3A"
                prompt_clips.append({**c, "id": f"{number}:{shot_no}-{c['part']}", "scene": number,
                                     "shot_number": shot_no,
                                     "span": _shift_span(c["span"], off)})
            n_clips += len(clips)
            n_blocked += len(blocked)
            if not clips:
                status = "not materialized"
            elif blocked:
                status = "blocked (" + ", ".join(sorted({b for c in blocked for b in c["blocked_by"]})) + ")"
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
        shot_scenes.append({"scene": number, "index": s["index"], "heading": s["heading"],
                            "span": _shift_span(sc.get("span"), off), "shots": shots_out})
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

    errors = sum(1 for d in diags if d["severity"] == "error")
    warnings = sum(1 for d in diags if d["severity"] == "warning" and "acknowledged" not in d)
    acknowledged = sum(1 for d in diags if "acknowledged" in d)
    safety_blocked = any(d["severity"] == "error" and (d["code"].startswith("PS1") or d["code"] == "PS204")
                         for d in diags)
    other_errors = any(d["severity"] == "error" and not d["code"].startswith(("PS1", "PS2")) for d in diags)
    if src_counts["failed"] or other_errors:
        status = "failed"
    elif n_blocked or safety_blocked or errors:
        status = "blocked"
    else:
        status = "complete"
    summary = {"status": status, "scenes": len(scenes), "shots": n_shots, "clips": n_clips, "clips_blocked": n_blocked,
               "src": src_counts, "errors": errors, "warnings": warnings, "acknowledged": acknowledged,
               "safety": "blocked" if safety_blocked else "passed"}
    head = {"story": name, "path": story.get("path"), "engine": engine}
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    w.writerows(csv_rows)
    files = {
        "shot_specs.json": pretty_json({**head, "title_page": story.get("title_page", {}), "scenes": shot_scenes}),
        "prompts.json": pretty_json({**head, "clips": prompt_clips}),
        "src.json": pretty_json({**head, "summary": {"status": status, **src_counts}, "scenes": src_scenes}),
        "diagnostics.json": pretty_json({**head, "summary": summary, "diagnostics": diags}),
        "shot_list.csv": buf.getvalue().encode("utf-8"),
    }
    return {"files": files, "summary": summary, "diagnostics": diags}



SPEC = StageSpec(name="aggregate", version=VERSION, rule_files=("src.toml",), settings=("acknowledge",), inputs=(),
                 run=run)  # type: ignore[arg-type]
