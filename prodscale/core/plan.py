"""Is a story stale, and why: decided once, as data (ninja's explanations, typed).

``build`` skips a story whose plan has no reasons; ``status`` prints the reasons; ``generate``
refuses to pay for prompts of a story that has any; ``--json`` carries them as ``{"kind",
"detail"}``. The planner is pure: it compares the key parts recorded at the story's last build
with today's, and asks the caller (who owns the disk) whether the outputs are intact only when
nothing else already makes the story stale.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from prodscale.core.vocab import ReasonDict

ReasonKind = Literal["new", "text", "engine", "rules", "settings", "code", "unicode", "record", "path",
                     "outputs"]


@dataclass(frozen=True)
class Reason:
    """One cause of staleness. ``detail`` names what changed (a rule file, a settings section, the engines)."""

    kind: ReasonKind
    detail: str = ""

    def text(self, story: str = "", engine: str = "") -> str:
        """The sentence ``status`` prints."""
        if self.kind == "new":
            return "new story: never built"
        if self.kind == "text":
            return "story text changed" + self.detail
        if self.kind == "engine":
            return f"engine {self.detail}"
        if self.kind == "rules":
            return f"rule data rules/{engine}/{self.detail} changed"
        if self.kind == "settings":
            return f"settings [{self.detail}] changed"
        if self.kind == "code":
            return "prodscale's stage code changed"
        if self.kind == "unicode":
            return f"the interpreter's Unicode version changed ({self.detail})"
        if self.kind == "path":
            return f"the story file moved ({self.detail})"
        if self.kind == "outputs":
            return f"outputs under build/{story}/ are missing or were modified"
        return "build record from another version"

    def to_json(self) -> ReasonDict:
        return {"kind": self.kind, "detail": self.detail}


@dataclass(frozen=True)
class Recorded:
    """What the build state remembers of a story's last build."""

    parts: Mapping[str, Any]
    key: str
    path: str


def _changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    return [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]


def plan_story(recorded: Recorded | None, parts: Mapping[str, Any], key: str, path: str,
               outputs_intact: Callable[[], bool]) -> list[Reason]:
    """Why the story must be compiled again; empty when it is up to date. ``outputs_intact`` is called
    only when nothing else makes it stale (it reads the disk)."""
    if recorded is None:
        return [Reason("new")]
    reasons: list[Reason] = []
    if recorded.key != key:  # the key is the digest of the parts: equal keys, equal parts (the no-op path)
        reasons = _part_reasons(recorded.parts, parts) or [Reason("record")]
    if recorded.path != path:
        reasons.append(Reason("path", f"{recorded.path} -> {path}"))
    if not reasons and not outputs_intact():
        reasons.append(Reason("outputs"))
    return reasons


def _part_reasons(old: Mapping[str, Any], parts: Mapping[str, Any]) -> list[Reason]:
    reasons: list[Reason] = []
    if old.get("text") != parts.get("text"):
        reasons.append(Reason("text"))
    if old.get("engine") != parts.get("engine"):
        reasons.append(Reason("engine", f"{old.get('engine')} -> {parts.get('engine')}"))
    reasons += [Reason("rules", f) for f in _changed(old.get("rules") or {}, parts.get("rules") or {})]
    reasons += [Reason("settings", s) for s in _changed(old.get("settings") or {}, parts.get("settings") or {})]
    if old.get("code") != parts.get("code") or old.get("parser") != parts.get("parser"):
        reasons.append(Reason("code"))
    if old.get("unicode") != parts.get("unicode"):
        reasons.append(Reason("unicode", f"{old.get('unicode')} -> {parts.get('unicode')}"))
    return reasons
