"""Engine 2.0.0: line-based pagination of the standard screenplay layout, and lengths in eighths.

Each scene's ``layout`` stage (:mod:`prodscale.core.v2_0.stages.layout`) turns its elements into
*tokens*, one per source line, each ``[type, print lines]`` after wrapping at the element's width
(``stats.toml``). This module lays the story's tokens on pages the way screenplay software does
(the rules of afterwriting's liner, which Final Draft and Movie Magic also follow in spirit):

- a page holds ``lines_per_page`` print lines; blank lines come from the source only (one between
  elements, runs merged) and a blank at the top of a page is dropped;
- a page never ends on a scene heading (unless another follows) nor before a transition;
- an action line wrapped to 1-3 print lines is never split; a longer one leaves 2 lines on each
  side; a cue or parenthetical stays with the line after it; a long speech is split between its
  dialogue lines with ``(MORE)`` at the foot and ``NAME (CONT'D)`` at the top of the next page (one
  line above, two below at least); dual dialogue is never split and counts its left column only;
- a forced page break (``===``) ends the page.

The story's length is ``8 * (pages - 1)`` eighths plus the last page's lines in eighths (rounded
to the nearest, a tie down), the figure afterwriting and Movie Magic print. A scene's length is
the print lines from its heading to the next one in eighths of a page, at least 1/8 (the strip
board's convention). Pure integer arithmetic.
"""

from __future__ import annotations

from typing import Any

# token types
HEADING, ACTION, CUE, PAREN, DIALOGUE, TRANSITION, OTHER, BLANK, BREAK, DUAL = (
    "H", "A", "C", "P", "D", "T", "X", "B", "=", "U")


def eighths(lines: int, per_page: int, *, at_least_one: bool = False) -> int:
    """``lines`` of a page of ``per_page`` lines, in eighths, rounded to the nearest (a tie down)."""
    whole, rem = divmod(lines * 8, per_page)
    n = whole + (1 if rem * 2 > per_page else 0)
    return max(1, n) if at_least_one and lines > 0 else n


def show_eighths(n: int) -> str:
    """``12 3/8`` (``3/8`` below a page, ``12`` on a whole page)."""
    pages, rest = divmod(n, 8)
    if not rest:
        return str(pages)
    return f"{pages} {rest}/8" if pages else f"{rest}/8"


def _lines(tokens: list[list[Any]]) -> list[tuple[str, int, int]]:
    """Print lines as (type, index in token, token's print lines); blank runs merged."""
    out: list[tuple[str, int, int]] = []
    for t in tokens:
        kind, n = t[0], int(t[1])
        if kind == BLANK:
            if out and out[-1][0] != BLANK:
                out.append((BLANK, 0, 1))
            continue
        if kind == BREAK:
            out.append((BREAK, 0, 0))
            continue
        for i in range(n):
            out.append((kind, i, n))
    while out and out[-1][0] == BLANK:
        out.pop()
    return out


def _next_text(lines: list[tuple[str, int, int]], i: int) -> tuple[str, int, int] | None:
    for j in range(i + 1, len(lines)):
        if lines[j][0] != BLANK:
            return lines[j]
    return None


def _prev_text(lines: list[tuple[str, int, int]], i: int) -> tuple[str, int, int] | None:
    for j in range(i - 1, -1, -1):
        if lines[j][0] != BLANK:
            return lines[j]
    return None


def _can_end_after(lines: list[tuple[str, int, int]], e: int) -> str | None:
    """None when a page may not end after line ``e``; "end" when it may; "more" when it may by
    splitting a speech there ((MORE) takes line e's place, which moves down)."""
    kind, i, n = lines[e]
    nxt = _next_text(lines, e)
    if nxt is None:
        return "end"
    direct = e + 1 < len(lines) and lines[e + 1][0] != BLANK   # the next line follows with no blank between
    if kind == HEADING and i == n - 1 and nxt[0] != HEADING:
        return None
    if nxt[0] == TRANSITION and kind != TRANSITION:
        return None
    if kind in (ACTION, OTHER, TRANSITION, HEADING) and direct and lines[e + 1][0] == kind and i < n - 1:
        if n <= 3 or i == 0 or i == n - 2:
            return None
    if kind == DUAL and i < n - 1:
        return None
    if kind in (CUE, PAREN, DIALOGUE) and direct and lines[e + 1][0] in (DIALOGUE, PAREN, CUE, DUAL):
        if lines[e + 1][0] == CUE:
            return "end"
        prev = _prev_text(lines, e)
        if kind == DIALOGUE and prev is not None and prev[0] == DIALOGUE and lines[e + 1][0] == DIALOGUE:
            return "more"
        return None
    return "end"


def paginate(tokens: list[list[Any]], per_page: int) -> tuple[int, int]:
    """(pages, lines on the last page) of a story's tokens."""
    lines = _lines(tokens)
    pos, pages, last = 0, 0, 0
    carry = 0   # a (CONT'D) cue at the top of this page
    while pos < len(lines):
        while pos < len(lines) and lines[pos][0] in (BLANK, BREAK):
            pos += 1
        if pos >= len(lines):
            break
        room = per_page - carry
        window_end = min(len(lines), pos + room)
        forced = [j for j in range(pos, window_end) if lines[j][0] == BREAK]
        if forced:
            body = [ln for ln in lines[pos:forced[-1]] if ln[0] != BREAK]
            pages, last, carry, pos = pages + 1, carry + len(body), 0, forced[-1] + 1
            continue
        if window_end >= len(lines):
            pages, last = pages + 1, carry + len(lines) - pos
            break
        e = window_end - 1
        while e > pos and lines[e][0] == BLANK:
            e -= 1
        verdict = _can_end_after(lines, e)
        while verdict is None and e > pos:
            e -= 1
            while e > pos and lines[e][0] == BLANK:
                e -= 1
            verdict = _can_end_after(lines, e)
        if verdict is None:
            e, verdict = window_end - 1, "end"
        pages += 1
        if verdict == "more":          # (MORE) in e's place; e opens the next page under NAME (CONT'D)
            pos, carry = e, 1
        else:
            pos, carry = e + 1, 0
        last = 0
    return pages, last


def story_length(tokens: list[list[Any]], per_page: int) -> dict[str, int]:
    pages, last = paginate(tokens, per_page)
    total = 0 if pages == 0 else (pages - 1) * 8 + eighths(last, per_page)
    return {"pages": pages, "eighths": total}


def token_lines(tokens: list[list[Any]]) -> int:
    """A scene's print lines before pagination (blank runs merged within the scene)."""
    return sum(1 if kind == "B" else 0 if kind == "=" else n for kind, n, *_ in _merge_blanks(tokens))


def _merge_blanks(tokens: list[list[Any]]) -> list[list[Any]]:
    out: list[list[Any]] = []
    for t in tokens:
        if t[0] == BLANK and (not out or out[-1][0] == BLANK):
            continue
        out.append(t)
    return out
