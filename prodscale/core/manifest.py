"""Compilation manifests: the deterministic core, its hash, and the text people read.

The core holds only what the compilation produced (engine, story hash, output digests, statuses,
the pin statement and the floor); the compilation hash is the digest of the core. The run record
(compiled at, run id) lives beside the core, outside the hash, so a manifest can be verified by
anyone later and two identical compilations share one compilation hash.
"""

from __future__ import annotations

from typing import Any

from prodscale.core.canon import digest_obj

TITLE = "PRODSCALE — Compilation Manifest"


def build_core(*, story: str, engine: str, floor: str, story_hash: str, files: dict[str, str],
               summary: dict[str, Any]) -> dict[str, Any]:
    src = summary.get("src", {})
    core: dict[str, Any] = {
        "story": story,
        "engine": engine,
        "floor": floor,
        "story_hash": story_hash,
        "shot_specs_hash": files.get("shot_specs.json"),
        "prompt_hash": files.get("prompts.json"),
        "outputs": dict(sorted(files.items())),
        "compilation_status": summary.get("status"),
        "src": {"validated": int(src.get("validated", 0)), "warnings": int(src.get("warnings", 0)),
                "failed": int(src.get("failed", 0))},
        "scenes": int(summary.get("scenes", 0)),
        "shots": int(summary.get("shots", 0)),
        "clips": int(summary.get("clips", 0)),
        "clips_blocked": int(summary.get("clips_blocked", 0)),
        "safety": summary.get("safety", "passed"),
        "pin": pin_statement(engine, floor),
    }
    stats = summary.get("stats")
    if stats:   # engine 2.0.0 and later: the script's length and runtime
        core["stats"] = {k: stats[k] for k in sorted(stats)}
    if summary.get("waived"):   # engine 2.0.0: errors a producer waived, each with a reason
        core["waived"] = int(summary["waived"])
    billing = summary.get("billing")
    if billing:   # engine 2.0.0 and later: the seconds a generator bills for the story's clips
        core["billing"] = {k: billing[k] for k in sorted(billing)}
    return core


def compilation_hash(core: dict[str, Any]) -> str:
    return digest_obj(core)


def pin_statement(engine: str, floor: str) -> str:
    return (f"This story will always compile on Engine {engine}. "
            f"Re-analysis available with any engine version >= {floor}.")


def _short(digest: str | None) -> str:
    return f"{digest[:10]}..." if digest else "(none)"


def _src_status(core: dict[str, Any]) -> str:
    src = core["src"]
    total = src["validated"] + src["warnings"] + src["failed"]
    if src["failed"]:
        return f"Failed ({src['failed']} of {total} scenes failed)"
    if src["warnings"]:
        return f"Complete with warnings ({src['validated']} scenes validated, {src['warnings']} with warnings)"
    return f"Complete ({src['validated']} scenes validated)"


def _prompts_ready(core: dict[str, Any]) -> str:
    clips, blocked = core["clips"], core["clips_blocked"]
    if clips == 0:
        return "No (no clips)"
    if blocked == 0:
        return "Yes (materialized)"
    if blocked == clips:
        return f"No (all {clips} blocked)"
    return f"Partial ({clips - blocked} of {clips} materialized, {blocked} blocked)"


def _minutes(seconds: int) -> str:
    h, rest = divmod(int(seconds), 3600)
    m, s = divmod(rest, 60)
    return f"{h} h {m:02d} min {s:02d} s" if h else f"{m} min {s:02d} s"


def _stats_lines(stats: dict[str, Any]) -> list[str]:
    e8 = int(stats["pages_eighths"])
    pages, rest = divmod(e8, 8)
    length = f"{pages} {rest}/8" if pages and rest else (f"{rest}/8" if rest else str(pages))
    paper = "US Letter" if stats.get("paper") == "letter" else "A4"
    return [f"Script Length: {length} pages ({paper}, {stats['scenes']} scenes)",
            f"Runtime Estimate: {_minutes(stats['runtime_s'])} (a page a minute); "
            f"{_minutes(stats['runtime_words_s'])} (word rates)"]


def render_text(core: dict[str, Any], run: dict[str, Any]) -> str:
    """``manifest.txt``: the layout of the design, one ``Field: value`` per line."""
    safety = "Passed" if core["safety"] == "passed" else "Blocked"
    if core.get("waived"):
        safety += f" ({core['waived']} waived)"
    lines = [
        TITLE,
        f"Engine Version: {core['engine']}",
        f"Compiled At: {run['compiled_at']}",
        f"Run ID: {run['run_id']}",
        f"Story Hash: {_short(core['story_hash'])}",
        f"Shot Specs Hash: {_short(core['shot_specs_hash'])}",
        f"Prompt Hash: {_short(core['prompt_hash'])}",
        f"Compilation Status: {str(core['compilation_status']).capitalize()}",
        f"SRC Status: {_src_status(core)}",
        f"Prompts Ready: {_prompts_ready(core)}",
        f"Platform Safety: {safety}",
        f"Version Pin: {core['pin']}",
    ]
    if "stats" in core:
        lines[-1:-1] = _stats_lines(core["stats"])
    if "billing" in core:
        b = core["billing"]
        lines[-1:-1] = [f"Billed Seconds: {b['billed_s']} s of clips for {b['screen_s']} s on screen ({b['profile']})"]
    return "\n".join(lines) + "\n"


def manifest_document(core: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
    return {"core": core, "compilation_hash": compilation_hash(core), "run": run}
