"""``status``: what is stale and why, one line per story, without running anything.

Uses the same fast path as ``build`` (state file + stats) and the same planner
(:func:`prodscale.core.plan.plan_story`), whose typed reasons each row carries (``why``) beside their
sentences (``reasons``). For a changed text it names the scenes whose content is new, from the build log.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from prodscale.core.canon import digest_bytes, digest_obj
from prodscale.core.plan import Reason
from prodscale.core.vocab import StatusRow
from prodscale.errors import ProdscaleError


def story_lines(builder: Any, only: str | None = None) -> list[StatusRow]:
    """One row per story (or only the story named ``only``): its state and the planner's reasons."""
    project = builder.project
    state = builder.state.load()
    files, errors = project.story_files()
    if only is not None:
        files, errors = [sf for sf in files if sf.name == only], []
    rows: list[StatusRow] = []
    for err in errors:
        # a file that is no story (a refused name): named by its stem, as build --json's "failed" names it
        stem = PurePosixPath(err.path or "?").name.removesuffix(".fountain")
        rows.append({"story": stem, "path": err.path or "?", "state": "error", "reasons": [err.message], "why": []})
    for sf in files:
        rec = state.stories.get(sf.name)
        engine = builder.engine_for(sf.name)
        try:
            rules = project.rules(engine)
            source = builder.read_source(sf, rec)
            text_digest, text = source.text_digest, source.text
        except ProdscaleError as err:
            rows.append({"story": sf.name, "path": sf.rel_path, "state": "error", "reasons": [err.message],
                         "why": []})
            continue
        parts = builder.story_key_parts(text_digest, engine, rules)
        reasons = builder.plan(sf, rec, parts, digest_obj(parts))
        if any(r.kind == "text" for r in reasons):  # the scenes whose content is new, from the build log
            detail = _scene_detail(builder, sf, text)
            reasons = [Reason("text", detail) if r.kind == "text" else r for r in reasons]
        row: StatusRow = {"story": sf.name, "state": "stale" if reasons else "up-to-date",
                               "reasons": [r.text(sf.name, engine) for r in reasons],
                               "why": [r.to_json() for r in reasons]}
        if not reasons:
            assert rec is not None
            row["status"] = rec.status
        rows.append(row)
    names = {sf.name for sf in files} if only is None else {only}
    for gone in sorted(set(state.stories) - names):
        rows.append({"story": gone, "state": "deleted", "reasons": ["story file removed: outputs will be deleted"],
                     "why": []})
    return rows


def _scene_detail(builder: Any, sf: Any, text: str | None) -> str:
    if text is None:
        return ""
    from prodscale.core.canon import canonical_json
    from prodscale.core.engines import get_engine
    from prodscale.core.fountain import parse

    prefixes = tuple(builder.project.settings.heading_prefixes)
    story = parse(text, path=sf.rel_path, heading_prefixes=prefixes)
    version = builder.engine_for(sf.name)
    units = get_engine(version).read(story, builder.project.rules(version).data, prefixes).units
    log = builder.log.load(sf.name).get("targets", {})
    known = {e["components"]["inputs"].get("scene") for e in log.values()
             if e.get("components", {}).get("inputs", {}).get("scene")}
    changed = [u for u in units if digest_bytes(canonical_json(u.payload)) not in known]
    if not changed:
        return " (no scene content changed)"
    desc = ", ".join(f"#{u.index} (lines {u.first_line}-{u.last_line})" for u in changed[:8])
    more = f" and {len(changed) - 8} more" if len(changed) > 8 else ""
    return f": scene(s) {desc}{more} new or edited"
