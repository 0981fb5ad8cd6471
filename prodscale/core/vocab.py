"""The closed vocabularies of prodscale's outputs and reports, as types (one place, so a new word is a
decision, and mypy finds a misspelled one). The JSON Schemas in docs/schemas/ list the same words.

``Literal`` rather than ``Enum``: the words are what the JSON files and ``--json`` outputs carry, and a
``Literal`` is a plain ``str`` at run time, so nothing about the bytes written changes.
"""

from __future__ import annotations

from typing import Literal, TypedDict, get_args

Severity = Literal["error", "warning", "note"]
#: what a compiled story is, in its manifest and build report (its aggregation decides complete/blocked)
CompilationStatus = Literal["complete", "blocked"]
#: a story in a build report: its compilation status, or what stopped it
StoryStatus = Literal["complete", "blocked", "failed", "error", "partial", "stale", "staged"]
#: a clip of prompts.json
ClipStatus = Literal["ready", "blocked"]
#: a row of `prodscale status`
StatusState = Literal["up-to-date", "stale", "error", "deleted"]
#: a finding of `prodscale verify`
FindingLevel = Literal["error", "note"]
#: a row of the credits ledger
RequestState = Literal["reserved", "submitted", "completed", "failed", "released"]
#: a background job
JobState = Literal["queued", "running", "done", "failed", "cancelled", "dead"]


class SpanDict(TypedDict):
    start_line: int
    start_col: int
    end_line: int
    end_col: int


class DiagnosticDict(TypedDict, total=False):
    """A diagnostic as diagnostics.json, build --json and SARIF conversion read it (``span``, ``help`` and
    ``extra`` may be absent)."""

    severity: Severity
    code: str
    message: str
    span: SpanDict | None
    help: str | None
    extra: dict[str, object]


class ReasonDict(TypedDict):
    kind: str
    detail: str


class StatusRow(TypedDict, total=False):
    """A row of `prodscale status --json` (docs/schemas/status.schema.json)."""

    story: str
    path: str             # error rows: the story file
    state: StatusState
    reasons: list[str]
    why: list[ReasonDict]
    status: StoryStatus   # up-to-date rows: the last build's outcome


class StoryReport(TypedDict):
    status: StoryStatus
    engine: str
    counts: dict[str, int]
    diagnostics: list[dict[str, object]]
    why: list[ReasonDict]


class BuildReportDict(TypedDict):
    """`prodscale build --json` (docs/schemas/build-report.schema.json)."""

    ok: bool
    executed: list[str]
    cached: int
    failed: list[str]
    stories: dict[str, StoryReport]
    seconds: float          # the one float of any output: wall time, outside every hash
    errors: list[str]
    problems: list[str]
    removed: list[str]


def words(vocabulary: object) -> tuple[str, ...]:
    """The words of a vocabulary (for tests and schemas)."""
    return tuple(str(w) for w in get_args(vocabulary))
