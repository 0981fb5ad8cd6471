"""Story features beyond plain Fountain, and the re-analysis floor they imply.

Each engine's ``rules/<version>/index.toml`` lists the features it compiles (``[meta] features``).
A story's re-analysis floor is the oldest shipped engine that compiles every feature the story
uses: compiling it on an older engine would silently ignore what the writer asked for.
"""

from __future__ import annotations

import re
from typing import Iterable

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
