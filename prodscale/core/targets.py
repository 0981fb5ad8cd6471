"""Target names: ``STORY``, ``STORY:STAGE`` and ``STORY#SCENE:STAGE`` (scene = 1-based position).

Positions name scenes for people; action keys, not names, decide what is cached, so inserting a
scene renames the targets below it without re-running them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from prodscale.errors import GraphError

_TARGET = re.compile(r"^(?P<story>[A-Za-z0-9][A-Za-z0-9._-]*?)(?:#(?P<scene>\d+))?(?::(?P<stage>[a-z_]+))?$")


@dataclass(frozen=True, order=True)
class Target:
    story: str
    scene: int | None = None
    stage: str | None = None

    def __str__(self) -> str:
        text = self.story
        if self.scene is not None:
            text += f"#{self.scene}"
        if self.stage is not None:
            text += f":{self.stage}"
        return text


def parse_target(text: str) -> Target:
    m = _TARGET.match(text.strip())
    if not m:
        raise GraphError(f"'{text}' is not a target name",
                         hint="targets look like STORY, STORY:STAGE or STORY#SCENE:STAGE (e.g. pilot#12:prompts)")
    scene = int(m["scene"]) if m["scene"] else None
    if scene is not None and scene < 1:
        raise GraphError(f"scene numbers start at 1 in '{text}'")
    return Target(m["story"], scene, m["stage"])


def scene_target(story: str, index: int, stage: str) -> str:
    return f"{story}#{index}:{stage}"


def story_target(story: str, stage: str | None = None) -> str:
    return story if stage is None else f"{story}:{stage}"
