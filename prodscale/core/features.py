"""Story features beyond plain Fountain, and the re-analysis floor they imply.

Each engine's ``rules/<version>/index.toml`` lists the features it compiles (``[meta] features``).
A story's re-analysis floor is the oldest shipped engine that compiles every feature the story
uses: compiling it on an older engine would silently ignore what the writer asked for.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from prodscale.core.model import NOTE, Story

# feature -> how to spot it in a parsed story (engine-independent: a feature is what the writer wrote)
_SHOT_DIRECTIVE = re.compile(r"^\s*shot:\s*\S", re.I)


def features_used(story: Story) -> set[str]:
    used: set[str] = set()
    for scene in story.scenes:
        for el in scene.elements:
            if el.kind == NOTE and _SHOT_DIRECTIVE.match(el.text):
                used.add("shot_directives")
    return used


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def floor_for(used: Iterable[str], engine_features: dict[str, set[str]]) -> str | None:
    """The oldest engine whose features cover ``used``; None when no shipped engine does."""
    need = set(used)
    for version in sorted(engine_features, key=version_key):
        if need <= engine_features[version]:
            return version
    return None


@dataclass(frozen=True)
class EngineChoice:
    """The engine a story compiles on, decided once (build and reanalyze read it; neither decides again).

    ``outcome``: ``"default"`` (a new story on the default engine), ``"floor"`` (a new story raised to its
    floor: the default does not compile a feature it uses), ``"kept"`` (the pinned or requested engine
    compiles it), ``"below-floor"`` (it does not: ``missing`` says which features) or ``"no-engine"``
    (no shipped engine compiles ``missing``). ``engine`` is None for the last two."""

    engine: str | None
    floor: str | None
    outcome: Literal["default", "floor", "kept", "below-floor", "no-engine"]
    missing: frozenset[str] = frozenset()


def choose_engine(used: Iterable[str], engine_features: dict[str, set[str]], *, default: str,
                  wanted: str | None = None) -> EngineChoice:
    """``wanted`` is the engine the story is pinned to (or that ``reanalyze`` asks for); None for a new story.
    Plain Fountain compiles on every engine: its floor is the oldest."""
    need = frozenset(used)
    floor = floor_for(need, engine_features)
    if floor is None:
        covered = set().union(*engine_features.values()) if engine_features else set()
        return EngineChoice(None, None, "no-engine", frozenset(need - covered))
    if wanted is None:
        if version_key(floor) > version_key(default):
            return EngineChoice(floor, floor, "floor")
        return EngineChoice(default, floor, "default")
    if version_key(wanted) < version_key(floor):
        return EngineChoice(None, floor, "below-floor", frozenset(need - engine_features.get(wanted, set())))
    return EngineChoice(wanted, floor, "kept")
