"""What a scene's actions see: the scene made position-independent.

A scene's stage inputs are its model with every span made scene-relative (line 1 = the heading
line). The offset to file lines travels beside the key, not in it, so inserting or deleting a
scene above leaves the keys of the scenes below unchanged; the aggregation shifts spans back.

Text before the first heading (the prologue) becomes a pseudo-scene when it holds anything to
film (action or dialogue), so a draft without headings still compiles what is there; its
heading is empty and ``prologue`` is true, and the Scene Reality Check says what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prodscale.core.model import ACTION, CHARACTER, DIALOGUE, Element, Scene, Span, Story

_FILMABLE = {ACTION, CHARACTER, DIALOGUE}


@dataclass(frozen=True)
class SceneUnit:
    index: int            # 1-based position in the story (names targets)
    line_offset: int      # add to scene-relative lines to get file lines
    payload: dict[str, Any]
    heading: str
    number: str | None
    first_line: int
    last_line: int


def _relative(span: Span, offset: int) -> dict[str, int]:
    return span.shifted(-offset).to_dict()


def _element_dict(el: Element, offset: int) -> dict[str, Any]:
    d = el.to_dict()
    d["span"] = _relative(el.span, offset)
    return d


def scene_payload(scene: Scene, offset: int, *, prologue: bool = False) -> dict[str, Any]:
    return {
        "heading": scene.heading,
        "heading_span": _relative(scene.heading_span, offset),
        "span": _relative(scene.span, offset),
        "int_ext": scene.int_ext,
        "location": scene.location,
        "time_of_day": scene.time_of_day,
        "number": scene.number,
        "forced": scene.forced,
        "prologue": prologue,
        "elements": [_element_dict(e, offset) for e in scene.elements],
    }


def scene_units(story: Story) -> list[SceneUnit]:
    units: list[SceneUnit] = []
    filmable = [e for e in story.prologue if e.kind in _FILMABLE]
    if filmable:
        first = story.prologue[0].span.start_line
        last = max(e.span.end_line for e in story.prologue)
        span = Span(first, 1, last, 1)
        pseudo = Scene(heading="", heading_span=Span(first, 1, first, 1), span=span, int_ext=None, location=None,
                       time_of_day=None, number=None, elements=story.prologue)
        offset = first - 1
        units.append(SceneUnit(1, offset, scene_payload(pseudo, offset, prologue=True), "", None, first, last))
    for scene in story.scenes:
        offset = scene.heading_span.start_line - 1
        units.append(SceneUnit(len(units) + 1, offset, scene_payload(scene, offset), scene.heading, scene.number,
                               scene.span.start_line, scene.span.end_line))
    return units


def source_lines(text: str, first: int, last: int) -> str:
    """Lines ``first``..``last`` (1-based, inclusive) of the normalized text."""
    lines = text.split("\n")
    return "\n".join(lines[first - 1:last])
