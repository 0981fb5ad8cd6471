"""``reanalyze STORY --engine X``: move a story to another engine on purpose, showing what changes.

The story is compiled under X (actions cached as usual, nothing written), its shot specs and
prompts compared with the current outputs, and, unless ``dry_run``, the pin moved and the story
built for real so outputs, manifest and lock all say X. Refused below the story's floor.
"""

from __future__ import annotations

from typing import Any

import orjson

from prodscale.core import engines as engines_mod
from prodscale.core.features import choose_engine, features_used, version_key
from prodscale.exec.options import BuildOptions
from prodscale.core.manifest import compilation_hash
from prodscale.errors import GraphError, UsageError


def _shots(data: bytes | None) -> dict[str, dict[str, Any]]:
    if not data:
        return {}
    doc = orjson.loads(data)
    out: dict[str, dict[str, Any]] = {}
    for scene in doc.get("scenes", []):
        for shot in scene.get("shots", []):
            sid = str(shot.get("number") or f"{scene.get('number')}{shot.get('id', '')}")
            out[sid] = {k: v for k, v in shot.items() if k != "span"}
    return out


def _clips(data: bytes | None) -> dict[str, str]:
    if not data:
        return {}
    return {str(c["id"]): str(c.get("prompt_hash")) for c in orjson.loads(data).get("clips", [])}


def _diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[str]]:
    key = lambda k: (len(k), k)
    return {"added": sorted(set(new) - set(old), key=key), "removed": sorted(set(old) - set(new), key=key),
            "changed": sorted((k for k in set(old) & set(new) if old[k] != new[k]), key=key)}


def reanalyze(project: Any, story: str, engine: str, *, dry_run: bool) -> dict[str, Any]:
    """Compile ``story`` on ``engine`` without writing (a preview), then, unless ``dry_run``, for real."""
    from prodscale.core.fountain import parse
    from prodscale.exec.builder import Builder

    builder = Builder(project)
    if engine not in engines_mod.ENGINES:
        raise UsageError(f"unknown engine version '{engine}'",
                         hint=f"shipped engines: {', '.join(sorted(engines_mod.ENGINES, key=version_key))}")
    files, _ = project.story_files()
    by_name = {sf.name: sf for sf in files}
    if story not in by_name:
        raise GraphError(f"no story named '{story}'", hint=f"stories: {', '.join(sorted(by_name)) or '(none)'}")
    sf = by_name[story]
    text = builder.read_text(sf)
    parsed = parse(text, path=sf.rel_path, heading_prefixes=project.settings.heading_prefixes)
    choice = choose_engine(features_used(parsed), builder.engine_features(), default=engines_mod.newest(),
                           wanted=engine)
    if choice.outcome == "no-engine":
        raise UsageError(f"refused: '{story}' uses {', '.join(sorted(choice.missing))}, which no shipped engine "
                         "compiles", hint="upgrade prodscale")
    if choice.outcome == "below-floor":
        raise UsageError(f"refused: '{story}' uses {', '.join(sorted(choice.missing))}, which engine {engine} does "
                         f"not compile; its re-analysis floor is {choice.floor}",
                         hint=f"choose an engine >= {choice.floor}")
    floor = choice.floor
    current = builder.engine_for(story)
    out_dir = project.build_dir / story
    old_specs = _read(out_dir / "shot_specs.json")
    old_prompts = _read(out_dir / "prompts.json")

    preview = Builder(project, BuildOptions(commit=False, check_drift=False, engine_overrides={story: engine}))
    report = preview.build([story])
    if report.errors:
        raise report.errors[0]
    staged = preview.staged[story]
    new_specs = staged["files"].get("shot_specs.json")
    new_prompts = staged["files"].get("prompts.json")
    old_shots, new_shots = _shots(old_specs), _shots(new_specs)
    old_clips, new_clips = _clips(old_prompts), _clips(new_prompts)
    result: dict[str, Any] = {
        "story": story, "from": current, "to": engine, "floor": floor, "dry_run": dry_run,
        "counts": {"shots": [len(old_shots), len(new_shots)], "clips": [len(old_clips), len(new_clips)]},
        "shots": _diff(old_shots, new_shots), "prompts": _diff(old_clips, new_clips),
        "compilation_hash": compilation_hash(staged["core"]),
    }
    if dry_run:
        return result
    final = Builder(project, BuildOptions(engine_overrides={story: engine})).build([story])
    if final.errors:
        raise final.errors[0]
    result["status"] = final.stories[story].status
    return result


def _read(path: Any) -> bytes | None:
    try:
        data: bytes = path.read_bytes()
        return data
    except OSError:
        return None


def render(result: dict[str, Any]) -> list[str]:
    verb = "would move" if result["dry_run"] else "moved"
    lines = [f"{result['story']}: {verb} from engine {result['from']} to {result['to']} "
             f"(re-analysis floor {result['floor']})"]
    for kind in ("shots", "clips"):
        a, b = result["counts"][kind]
        lines.append(f"  {kind}: {a} -> {b}")
    for label, key in (("shots", "shots"), ("prompts", "prompts")):
        d = result[key]
        for what in ("changed", "added", "removed"):
            if d[what]:
                shown = ", ".join(d[what][:20]) + (f" and {len(d[what]) - 20} more" if len(d[what]) > 20 else "")
                lines.append(f"  {label} {what} ({len(d[what])}): {shown}")
    if not any(result[k][w] for k in ("shots", "prompts") for w in ("changed", "added", "removed")):
        lines.append("  no shot or prompt differs")
    return lines
