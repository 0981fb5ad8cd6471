"""The one diagnostic type shared by the parser, the gates and the Scene Reality Check.

A diagnostic is data (severity, stable ``PS###`` code, message, span, help); rendering happens
at the edges (``render_text`` here for terminals, ``to_dict`` for ``--json``). Codes are grouped
by stage: PS0xx parser and acknowledgements, PS1xx sanitize, PS2xx prompts, PS3xx shot specs,
PS4xx SRC. A code is never reused.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, cast

from prodscale.core.model import Span
from prodscale.core.vocab import Severity

SEVERITIES: tuple[Severity, ...] = ("error", "warning", "note")


@dataclass(frozen=True, slots=True)
class Diagnostic:
    severity: Severity
    code: str
    message: str
    span: Span | None = None
    help: str | None = None
    # set when a writer acknowledged this (warning-only) finding; holds the reason
    acknowledged: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # set when a producer waived this error (engine 2.0.0 and later); holds the reason
    waived: str | None = None

    def shifted(self, lines: int) -> Diagnostic:
        """The same diagnostic with its span moved down by ``lines`` (scene-relative -> file)."""
        if self.span is None or lines == 0:
            return self
        return replace(self, span=self.span.shifted(lines))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "span": self.span.to_dict() if self.span else None,
            "help": self.help,
        }
        if self.acknowledged is not None:
            out["acknowledged"] = self.acknowledged
        if self.waived is not None:
            out["waived"] = self.waived
        if self.extra:
            out["extra"] = self.extra
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Diagnostic:
        span = Span.from_dict(data["span"]) if data.get("span") else None
        return cls(severity=_severity(data["severity"]), code=data["code"], message=data["message"], span=span,
                   help=data.get("help"), acknowledged=data.get("acknowledged"), extra=data.get("extra") or {},
                   waived=data.get("waived"))


def _severity(value: Any) -> Severity:
    if value not in SEVERITIES:
        raise ValueError(f"not a severity: {value!r}")
    return cast(Severity, value)


def render_text(diag: Diagnostic, path: str, source_lines: list[str] | None = None) -> str:
    """rustc-style text: ``path:line:col: severity[CODE]: message``, source line, carets, help."""
    if diag.span is not None:
        head = f"{path}:{diag.span.start_line}:{diag.span.start_col}: {diag.severity}[{diag.code}]: {diag.message}"
    else:
        head = f"{path}: {diag.severity}[{diag.code}]: {diag.message}"
    lines = [head]
    if diag.span is not None and source_lines is not None and 1 <= diag.span.start_line <= len(source_lines):
        src = source_lines[diag.span.start_line - 1]
        gutter = str(diag.span.start_line)
        pad = " " * len(gutter)
        if diag.span.end_line == diag.span.start_line:
            width = max(1, diag.span.end_col - diag.span.start_col)
        else:
            width = max(1, len(src) - diag.span.start_col + 1)
        start = diag.span.start_col - 1
        shown, offset = _window(src, start, width)
        width = max(1, min(width, len(shown) - (start - offset)))
        lines.append(f"{pad} |")
        lines.append(f"{gutter} | {shown}")
        lines.append(f"{pad} | {' ' * (start - offset)}{'^' * width}")
    if diag.acknowledged is not None:
        lines.append(f"  = note: acknowledged: {diag.acknowledged}")
    if diag.waived is not None:
        lines.append(f"  = note: waived by the producer: {diag.waived} (it does not block)")
    if diag.help:
        lines.append(f"  = help: {diag.help}")
    if diag.code.startswith("PS"):
        lines.append(f"  = note: run `prodscale explain {diag.code}` for details")
    return "\n".join(lines)


MAX_SOURCE_WIDTH = 100


def _window(src: str, start: int, width: int) -> tuple[str, int]:
    """At most MAX_SOURCE_WIDTH characters of a long source line around the span, with '...' marks;
    returns the text shown and the column offset it starts at (so carets stay under the span)."""
    if len(src) <= MAX_SOURCE_WIDTH:
        return src, 0
    begin = max(0, min(start - 20, len(src) - MAX_SOURCE_WIDTH))
    text = src[begin:begin + MAX_SOURCE_WIDTH]
    if begin > 0:
        text = "..." + text[3:]
    if begin + MAX_SOURCE_WIDTH < len(src):
        text = text[:-3] + "..."
    return text, begin


def sort_key(diag: Diagnostic) -> tuple[int, int, str, str]:
    """Stable order for reporting: by position, then code, then message."""
    if diag.span is None:
        return (0, 0, diag.code, diag.message)
    return (diag.span.start_line, diag.span.start_col, diag.code, diag.message)
