"""``why``: why a target was (or would be) rebuilt, as data.

The build log holds, per target, the key components of its last computation (and, when it was
re-executed, the components before). Today's components come from a dry plan against the cache.
Comparing the two names the component that changed; for text (a scene, a rule file, a setting)
the old and new text come from the content store and are shown as a unified diff. An input that
is another action's output is followed upstream to the root cause.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

import orjson

from prodscale.core.canon import pretty_json
from prodscale.core.keys import diff_components
from prodscale.core.targets import parse_target
from prodscale.errors import GraphError

AGGREGATE = "aggregate"


def _blob_text(cache: Any, digest: str | None) -> str | None:
    if not digest:
        return None
    data = cache.get_blob(digest)
    return None if data is None else data.decode("utf-8")


def _scene_text(cache: Any, source: dict[str, Any]) -> str | None:
    """A scene's lines, sliced from the story text the build stored (``text``: its digest)."""
    from prodscale.core.scenes import source_lines
    story = _blob_text(cache, source.get("text"))
    if story is None or source.get("first") is None:
        return None
    return source_lines(story, int(source["first"]), int(source["last"]))


def _json_text(cache: Any, digest: str | None) -> str | None:
    text = _blob_text(cache, digest)
    if text is None:
        return None
    return pretty_json(orjson.loads(text)).decode("utf-8")


_HUNK = re.compile(r"^@@ -(\d+)(,\d+)? \+(\d+)(,\d+)? @@")


def _udiff(old: str | None, new: str | None, old_label: str, new_label: str,
           old_first: int = 1, new_first: int = 1) -> str | None:
    """A short unified diff; hunk headers count in file lines when the texts start at line *_first."""
    if old is None or new is None:
        return None
    lines = []
    for line in difflib.unified_diff(old.split("\n"), new.split("\n"), old_label, new_label, lineterm="", n=1):
        m = _HUNK.match(line)
        if m:
            line = (f"@@ -{int(m.group(1)) + old_first - 1}{m.group(2) or ''} "
                    f"+{int(m.group(3)) + new_first - 1}{m.group(4) or ''} @@")
        lines.append(line)
    return "\n".join(lines) or None


class Explainer:
    def __init__(self, builder: Any, story: str) -> None:
        self.builder = builder
        self.story = story
        self.sf, self.plan, _ = builder.plan_story(story)
        self.log = builder.log.load(story)
        self.logged: dict[str, Any] = self.log.get("targets", {})
        self.today: dict[str, Any] = self.plan["targets"]
        self.last_run = self.log.get("run")
        self.explained: set[str] = set()  # upstream targets already explained (shown once)

    def explain(self, target: str, depth: int = 0) -> dict[str, Any]:
        t = parse_target(target)
        if t.story != self.story:
            raise GraphError(f"target '{target}' is not in story '{self.story}'")
        if t.stage is None:
            target = f"{self.story}:{AGGREGATE}"
        elif t.scene is None and t.stage != AGGREGATE:
            return self._explain_group(t.stage)
        if target not in self.today and target not in self.logged:
            raise GraphError(f"unknown target '{target}'", hint="`prodscale graph` lists the targets of a story")
        old = self.logged.get(target)
        new = self.today.get(target)
        out: dict[str, Any] = {"target": target}
        if old is None:
            out.update(state="never-built", reason="no build has computed this target yet")
            return out
        if new is not None and new.get("status") == "cached" and new.get("key") == old.get("key"):
            if old.get("status") == "executed" and old.get("run") == self.last_run and old.get("prev"):
                out.update(state="rebuilt", run=old.get("run"), at=old.get("at"),
                           changes=self._changes(old["prev"], old, target, depth, rebuilt=True))
            else:
                out.update(state="cache-hit", run=new.get("run") or old.get("run"), at=new.get("at") or old.get("at"),
                           key=new["key"])
            return out
        if new is not None and new.get("status") == "cached":
            out.update(state="cache-hit", run=new.get("run"), at=new.get("at"), key=new["key"],
                       note="today's inputs match an earlier computation held in the cache")
            return out
        out.update(state="would-rebuild", changes=self._changes(old, new or {}, target, depth, rebuilt=False))
        return out

    def _explain_group(self, stage: str) -> dict[str, Any]:
        members = sorted((k for k in set(self.today) | set(self.logged)
                          if k.startswith(f"{self.story}#") and k.endswith(f":{stage}")),
                         key=lambda k: int(k.split("#")[1].split(":")[0]))
        if not members:
            raise GraphError(f"unknown target '{self.story}:{stage}'")
        items = [self.explain(m, depth=1) for m in members]
        return {"target": f"{self.story}:{stage}", "state": "group",
                "members": [i for i in items if i["state"] != "cache-hit"],
                "cache_hits": sum(1 for i in items if i["state"] == "cache-hit")}

    def _changes(self, old: dict[str, Any], new: dict[str, Any], target: str, depth: int,
                 *, rebuilt: bool) -> list[dict[str, Any]]:
        cache = self.builder.cache
        old_c, new_c = old.get("components", {}), new.get("components", {})
        out: list[dict[str, Any]] = []
        for kind, name, o, n in diff_components(old_c, new_c):
            change: dict[str, Any] = {"kind": kind, "name": name, "old": o, "new": n}
            if kind == "inputs" and name == "scene":
                src_old, src_new = old.get("source") or {}, new.get("source") or {}
                change["lines"] = [src_new.get("first"), src_new.get("last")]
                old_text = _scene_text(cache, src_old)
                if rebuilt:
                    new_text = _scene_text(cache, src_new)
                else:
                    from prodscale.core.scenes import source_lines
                    new_text = source_lines(self.plan["text"], src_new["first"], src_new["last"]) if src_new else None
                path = self.sf.rel_path
                change["diff"] = _udiff(old_text, new_text,
                                        f"{path} lines {src_old.get('first')}-{src_old.get('last')} (before)",
                                        f"{path} lines {src_new.get('first')}-{src_new.get('last')} (now)",
                                        int(src_old.get("first") or 1), int(src_new.get("first") or 1))
            elif kind == "inputs" and name in ("story", "scenes"):
                change["detail"] = ("the story's title page or parser findings changed" if name == "story"
                                    else "a scene's outputs, position or heading changed")
                if rebuilt:
                    change["executed_with_it"] = sorted(
                        (k for k, v in self.logged.items() if v.get("status") == "executed"
                         and v.get("run") == new.get("run") and k != target),
                        key=_target_order)
            elif kind == "inputs":
                upstream = target.rsplit(":", 1)[0] + f":{name}"
                change["upstream"] = upstream
                if upstream in self.explained:
                    change["cause_above"] = True
                elif depth < 6:
                    self.explained.add(upstream)
                    change["cause"] = self.explain(upstream, depth + 1)
            elif kind == "rules":
                old_t = _blob_text(cache, (old.get("rule_texts") or {}).get(name))
                new_t = (_blob_text(cache, (new.get("rule_texts") or {}).get(name)) if rebuilt
                         else self.plan["rules"].texts.get(name))
                change["diff"] = _udiff(old_t, new_t, f"rules/{name} (before)", f"rules/{name} (now)")
            elif kind == "settings":
                change["diff"] = _udiff(_json_text(cache, o), _json_text(cache, n) if rebuilt else
                                        _current_setting(self.builder, name), f"settings {name} (before)",
                                        f"settings {name} (now)")
            out.append(change)
        if not out and new.get("status") == "would-run":
            out.append({"kind": "cache", "name": "entry", "old": old.get("key"), "new": new.get("key"),
                        "detail": "same inputs, but the cache no longer holds the result (cleared, collected "
                                  "or found corrupt)"})
        return out


def _current_setting(builder: Any, key: str) -> str:
    return pretty_json(builder.project.settings.get(key)).decode("utf-8")


def _target_order(name: str) -> tuple[int, str]:
    if "#" in name:
        return (int(name.split("#")[1].split(":")[0]), name)
    return (10**9, name)


def render(expl: dict[str, Any], indent: str = "") -> list[str]:
    t = expl["target"]
    state = expl["state"]
    lines: list[str] = []
    story = expl.get("story")
    if story is not None:
        name = t.split(":")[0].split("#")[0]
        said = "up to date" if story["state"] == "up-to-date" else f"{story['state']}: {'; '.join(story['reasons'])}"
        lines.append(f"{indent}{name}: {said}")
    if state == "cache-hit":
        lines.append(f"{indent}{t}: up to date (cache hit, computed in run {expl.get('run')} at {expl.get('at')})")
        return lines
    if state == "never-built":
        return [f"{indent}{t}: never built ({expl['reason']})"]
    if state == "group":
        lines.append(f"{indent}{t}: {expl['cache_hits']} scene(s) up to date")
        for m in expl["members"]:
            lines.extend(render(m, indent + "  "))
        return lines
    verb = f"rebuilt in run {expl.get('run')} at {expl.get('at')}" if state == "rebuilt" else "would rebuild"
    lines.append(f"{indent}{t}: {verb} because:")
    for ch in expl.get("changes", []):
        kind, name = ch["kind"], ch["name"]
        def short(d: Any) -> Any:
            if d is None:
                return "(not computed yet)"
            return (d[:10] + "...") if isinstance(d, str) and len(d) > 12 else d
        if kind == "inputs" and name == "scene":
            a, b = ch.get("lines") or [None, None]
            lines.append(f"{indent}  the scene's text changed (now lines {a}-{b}): "
                         f"{short(ch['old'])} -> {short(ch['new'])}")
        elif kind == "inputs" and "upstream" in ch:
            lines.append(f"{indent}  input '{name}' changed: the output of {ch['upstream']} "
                         f"{short(ch['old'])} -> {short(ch['new'])}")
        elif kind == "inputs":
            lines.append(f"{indent}  {ch.get('detail', name)}: {short(ch['old'])} -> {short(ch['new'])}")
            if ch.get("executed_with_it"):
                lines.append(f"{indent}    executed in the same run: {', '.join(ch['executed_with_it'])}")
        elif kind == "rules":
            lines.append(f"{indent}  rule data rules/{name} changed: {short(ch['old'])} -> {short(ch['new'])}")
        elif kind == "settings":
            lines.append(f"{indent}  setting '{name}' changed: {short(ch['old'])} -> {short(ch['new'])}")
        else:
            lines.append(f"{indent}  {kind} {name}: {short(ch['old'])} -> {short(ch['new'])}"
                         + (f" ({ch['detail']})" if ch.get("detail") else ""))
        if ch.get("diff"):
            lines.extend(f"{indent}    {line}" for line in ch["diff"].split("\n"))
        if ch.get("cause"):
            lines.extend(render(ch["cause"], indent + "    "))
        elif ch.get("cause_above"):
            lines.append(f"{indent}    ({ch['upstream']}: explained above)")
    return lines


def explain_target(builder: Any, target: str) -> dict[str, Any]:
    t = parse_target(target)
    if t.stage or t.scene:
        return Explainer(builder, t.story).explain(target)
    from prodscale.exec.status import story_lines
    rows = story_lines(builder, only=t.story)
    expl = Explainer(builder, t.story).explain(t.story)
    if rows:  # the story as a whole, from the planner build and status share; then its targets
        expl["story"] = {k: rows[0][k] for k in ("state", "reasons", "why") if k in rows[0]}
    return expl


__all__ = ["explain_target", "render"]
