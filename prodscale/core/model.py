"""The story model that the Fountain parser produces and every stage reads.

Plain frozen dataclasses with ``to_dict``/``from_dict`` so a model crosses process boundaries
and hashes as canonical JSON. Spans are 1-based lines and columns in the original file; columns
count characters of the normalized (NFC) text; ``end_col`` is exclusive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Element kinds. Every element of a scene (or of the prologue) has one of these.
ACTION = "action"
CHARACTER = "character"
DIALOGUE = "dialogue"
PARENTHETICAL = "parenthetical"
TRANSITION = "transition"
CENTERED = "centered"
LYRICS = "lyrics"
PAGE_BREAK = "page_break"
NOTE = "note"
SECTION = "section"
SYNOPSIS = "synopsis"

@dataclass(frozen=True, slots=True)
class Span:
    start_line: int
    start_col: int
    end_line: int
    end_col: int

    def shifted(self, lines: int) -> Span:
        return Span(self.start_line + lines, self.start_col, self.end_line + lines, self.end_col)

    def to_dict(self) -> dict[str, int]:
        return {"start_line": self.start_line, "start_col": self.start_col,
                "end_line": self.end_line, "end_col": self.end_col}

    @classmethod
    def from_dict(cls, d: dict[str, int]) -> Span:
        return cls(d["start_line"], d["start_col"], d["end_line"], d["end_col"])


@dataclass(frozen=True, slots=True)
class Element:
    """One Fountain element.

    ``text`` is the element's text with Fountain markup for the element kind removed (forcing
    characters, ``>`` ``<`` of centered text, ``~`` of lyrics, ``#``/``=`` of sections/synopses,
    ``[[ ]]`` of notes) but emphasis markers kept (see ``prodscale.core.fountain`` for the rule).
    For a CHARACTER element ``name`` is the normalized character name and ``extension`` the
    extension text such as ``V.O.``; ``dual`` is True for the right-hand side of dual dialogue
    (the cue carried ``^``) and for its left-hand partner ``dual`` is also True.
    ``level`` is the depth of a SECTION (number of ``#``).
    """

    kind: str
    text: str
    span: Span
    name: str | None = None
    extension: str | None = None
    dual: bool = False
    level: int | None = None
    forced: bool = False

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "text": self.text, "span": self.span.to_dict()}
        if self.name is not None:
            d["name"] = self.name
        if self.extension is not None:
            d["extension"] = self.extension
        if self.dual:
            d["dual"] = True
        if self.level is not None:
            d["level"] = self.level
        if self.forced:
            d["forced"] = True
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Element:
        return cls(kind=d["kind"], text=d["text"], span=Span.from_dict(d["span"]), name=d.get("name"),
                   extension=d.get("extension"), dual=bool(d.get("dual", False)), level=d.get("level"),
                   forced=bool(d.get("forced", False)))


@dataclass(frozen=True, slots=True)
class Scene:
    """A scene: its heading (parsed) and its elements in order.

    ``heading`` is the heading text without forcing ``.`` and without the ``#n#`` scene number.
    ``int_ext`` is one of "INT", "EXT", "INT/EXT", "EST" or None when unknown (forced heading
    without a prefix). ``location`` and ``time_of_day`` are split at the last " - " (time
    of day upper-cased) or None when absent. ``number`` is the explicit ``#n#`` number or None.
    ``span`` covers the heading line through the last line of the scene.
    """

    heading: str
    heading_span: Span
    span: Span
    int_ext: str | None
    location: str | None
    time_of_day: str | None
    number: str | None
    elements: tuple[Element, ...] = ()
    forced: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"heading": self.heading, "heading_span": self.heading_span.to_dict(), "span": self.span.to_dict(),
                "int_ext": self.int_ext, "location": self.location, "time_of_day": self.time_of_day,
                "number": self.number, "forced": self.forced, "elements": [e.to_dict() for e in self.elements]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Scene:
        return cls(heading=d["heading"], heading_span=Span.from_dict(d["heading_span"]),
                   span=Span.from_dict(d["span"]), int_ext=d.get("int_ext"), location=d.get("location"),
                   time_of_day=d.get("time_of_day"), number=d.get("number"), forced=bool(d.get("forced", False)),
                   elements=tuple(Element.from_dict(e) for e in d["elements"]))


@dataclass(frozen=True, slots=True)
class TitleField:
    key: str          # as written, e.g. "Title", "Draft date"
    value: str        # multi-line values joined with "\n", indentation stripped
    span: Span

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "value": self.value, "span": self.span.to_dict()}


@dataclass(frozen=True, slots=True)
class Story:
    """A parsed screenplay.

    ``text`` is the normalized source (what gets hashed); ``prologue`` the elements before the
    first heading; ``characters`` the sorted set of normalized character names; ``warnings``
    parser diagnostics (``prodscale.core.diagnostics.Diagnostic``).
    """

    text: str
    title_page: tuple[TitleField, ...]
    prologue: tuple[Element, ...]
    scenes: tuple[Scene, ...]
    characters: tuple[str, ...]
    warnings: tuple[Any, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "title_page": {f.key: f.value for f in self.title_page},
            "title_page_fields": [f.to_dict() for f in self.title_page],
            "prologue": [e.to_dict() for e in self.prologue],
            "scenes": [s.to_dict() for s in self.scenes],
            "characters": list(self.characters),
            "warnings": [w.to_dict() for w in self.warnings],
        }
