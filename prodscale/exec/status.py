"""``status``: what is stale and why, one line per story, without running anything.

Uses the same fast path as ``build`` (state file + stats), and compares the story's recorded key
parts (text, engine, rule files, settings sections, code) with today's to name the cause. For a
changed text it names the scenes whose content is new, from the build log.
"""

from __future__ import annotations

from typing import Any

from prodscale.core.canon import digest_bytes, digest_obj
from prodscale.errors import ProdscaleError
from prodscale.storage.fs import stat_or_none


def story_lines(builder: Any) -> list[dict[str, Any]]:
    project = builder.project
    state = builder.state.load()
    files, errors = project.story_files()
    rows: list[dict[str, Any]] = []
    for err in errors:
        rows.append({"story": err.path, "state": "error", "reasons": [err.message]})
    for sf in files:
        rec = state.stories.get(sf.name)
        engine = builder.engine_for(sf.name)
        try:
            rules = project.rules(engine)
            st = stat_or_none(sf.abs_path)
            if rec is not None and rec.stat == st and not state.is_racy(st):
                text_digest, text = rec.text_digest, None
            else:
                text = builder.read_text(sf)
                text_digest = digest_bytes(text.encode("utf-8"))
        except ProdscaleError as err:
            rows.append({"story": sf.name, "state": "error", "reasons": [err.render()]})
            continue
        parts = builder.story_key_parts(text_digest, engine, rules)
        if rec is None:
            rows.append({"story": sf.name, "state": "stale", "reasons": ["new story: never built"]})
            continue
        reasons: list[str] = []
        old = rec.parts
        if old.get("text") != parts["text"]:
            reasons.append("story text changed" + _scene_detail(builder, sf, text))
        if old.get("engine") != parts["engine"]:
            reasons.append(f"engine {old.get('engine')} -> {parts['engine']}")
        for fname in sorted(set(old.get("rules", {})) | set(parts["rules"])):
            if old.get("rules", {}).get(fname) != parts["rules"].get(fname):
                reasons.append(f"rule data rules/{engine}/{fname} changed")
        for section in sorted(set(old.get("settings", {})) | set(parts["settings"])):
            if old.get("settings", {}).get(section) != parts["settings"].get(section):
                reasons.append(f"settings [{section}] changed")
        if old.get("code") != parts["code"] or old.get("parser") != parts["parser"]:
            reasons.append("prodscale's stage code changed")
        if rec.story_key != digest_obj(parts) and not reasons:
            reasons.append("build record from another version")
        if not reasons and not builder._outputs_intact(sf.name, rec):
            reasons.append(f"outputs under build/{sf.name}/ are missing or were modified")
        if reasons:
            rows.append({"story": sf.name, "state": "stale", "reasons": reasons})
        else:
            rows.append({"story": sf.name, "state": "up-to-date", "status": rec.status, "reasons": []})
    names = {sf.name for sf in files}
    for gone in sorted(set(state.stories) - names):
        rows.append({"story": gone, "state": "deleted", "reasons": ["story file removed: outputs will be deleted"]})
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
