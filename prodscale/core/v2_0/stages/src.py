"""src (engine 2.0.0): the per-scene Scene Reality Check over 2.0.0's scene model.

The checks of the action and the profile limits are engine 1.x's
(:mod:`prodscale.core.stages.src`, frozen), run on the scene with its resolved light. The heading
checks are 2.0.0's, because 2.0.0 reads headings differently:

- text before the first heading is a prologue that compiles: PS416 (a warning), never an error;
- PS401: no INT/EXT; PS402: no place (a warning in 2.0.0);
- PS404: no light in the heading (in any segment): a heading that names only places
  (``INT. VICTOR'S FLAT - BASEMENT LAB``) is read with the light of the scene before (the reader's
  ``light_from = "assumed"``), which the warning says; a continuation with nothing to continue
  (CONTINUOUS in the first scene) or a time jump that names no light leaves the scene unlit. 2.0.0 has no "unknown time" (a segment that is
  no time word is part of the place) and does not use PS403.
"""

from __future__ import annotations

from typing import Any

from prodscale.core.stages import StageSpec
from prodscale.core.stages._text import diag, rules_by_code, sort_diags
from prodscale.core.stages.src import run as run_1x

VERSION = 1
_HEADING_CODES = {"PS401", "PS402", "PS403", "PS404"}
# engine 2.0.0 also reports: PS417 (a continuation whose light breaks continuity), PS418 (a minor on set),
# PS420 (a light assumed from the scene before, a note)


def heading_checks(scene: dict[str, Any], codes: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    hspan = scene.get("heading_span")
    heading = scene.get("heading", "")
    out: list[dict[str, Any]] = []
    if scene.get("prologue"):
        out.append(diag(codes["PS416"], hspan, {"match": ""}))
        return out
    if not scene.get("int_ext") and "PS401" in codes:
        out.append(diag(codes["PS401"], hspan, {"match": heading}, heading=heading))
    if not (scene.get("set") or "").strip() and "PS402" in codes:
        out.append(diag(codes["PS402"], hspan, {"match": heading}, heading=heading))
    if scene.get("light_from") == "assumed" and "PS420" in codes:
        out.append(diag(codes["PS420"], hspan, {"match": heading}, heading=heading, light=scene["light"]))
    elif not scene.get("light") and "PS404" in codes:
        if scene.get("continuation"):
            reason = f"{scene['continuation']} continues a scene whose light is unknown"
        elif scene.get("time_jump"):
            reason = f"{scene['time_jump']} starts a new day without saying when"
        else:
            reason = "it names no time of day"
        out.append(diag(codes["PS404"], hspan, {"match": heading}, heading=heading, reason=reason))
    conflict = scene.get("light_conflict")
    if conflict and "PS417" in codes:
        out.append(diag(codes["PS417"], hspan, {"match": heading}, heading=heading,
                        continuation=scene.get("continuation"), light=scene.get("light"), previous=conflict))
    return out


def minors_check(scene: dict[str, Any], codes: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    minors = (scene.get("breakdown") or {}).get("minors") or []
    if not minors or "PS418" not in codes:
        return []
    names = ", ".join(f"{m['item']}" + (f" ({m['age']})" if m.get("age") is not None else "") for m in minors)
    first = min(m["line"] for m in minors)
    span = {"start_line": first, "start_col": 1, "end_line": first, "end_col": 1}
    return [diag(codes["PS418"], span, {"match": names}, minors=names)]


def run(inputs: dict[str, Any], rules: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    scene = inputs["scene"]
    codes = rules_by_code(rules["src.toml"])
    out = run_1x({"scene": {**scene, "prologue": False}}, rules, settings)
    out["facts"]["prologue"] = bool(scene.get("prologue"))
    # the cross-scene checks (PS405-PS409) read continuations: CONTINUOUS, LATER, ... as written
    out["facts"]["time_of_day"] = scene.get("continuation") or scene.get("light")
    diags = [d for d in out["diagnostics"] if d["code"] not in _HEADING_CODES]
    diags = sort_diags(diags + heading_checks(scene, codes) + minors_check(scene, codes))
    status = "failed" if any(d["severity"] == "error" for d in diags) else (
        "warnings" if any(d["severity"] == "warning" for d in diags) else "validated")
    return {"facts": out["facts"], "diagnostics": diags, "status": status}


SPEC = StageSpec(name="src", version=VERSION, rule_files=("src.toml", "prompts.toml"), settings=("project.profile",),
                 inputs=("scene",), run=run)
