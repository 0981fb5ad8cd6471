"""The Fountain parser: bytes (or text) in, a :class:`~prodscale.core.model.Story` out.

Pure: no file system, clock or environment; the same input always gives the same model. The only
exception it raises for any input is :class:`~prodscale.errors.DecodeError` (bytes that are not
UTF-8); everything the Fountain spec tolerates (unclosed notes or boneyard, an empty file, a file
of only a title page, a script with no scene heading) parses to a model plus warnings.

How prodscale reads Fountain (fountain.io 1.1), where the spec leaves a choice:

- **Source.** The text is normalized first (:mod:`prodscale.core.text`). Spans are 1-based lines
  and columns of that text, which are the original file's lines; ``end_col`` is exclusive.
- **Boneyard** ``/* ... */`` (may span lines) is dropped before anything else. A line that held
  nothing but boneyard reads as a blank line, so boneyarding a whole scene between ``CUT TO:`` and
  the next heading keeps both. An unclosed ``/*`` stays text (nothing is silently dropped), PS005.
- **Notes** ``[[ ... ]]`` (may span lines but not an empty line; a line of spaces joins) are taken
  out of the text they sit in and emitted as separate NOTE elements with their exact spans, in
  position order among the other elements: notes are writer-only and never reach a prompt, and
  acknowledgements such as ``[[prodscale: allow PS203 ...]]`` are found by position. A line that
  held nothing but notes vanishes (it is neither text nor a blank line), so a note between a cue
  and its dialogue changes nothing. An unclosed ``[[`` stays text, PS004.
- **Element text** has the markup of its kind removed (forcing ``!``/``@``/``.``/``>``, ``>`` ``<``
  of centered text, ``~`` of lyrics, ``#``/``=`` of sections and synopses, the brackets of notes)
  but keeps emphasis markers (``*``, ``**``, ``***``, ``_``, ``\\`` escapes); use
  :func:`strip_emphasis` for prompts. Parentheticals keep their parentheses.
- **Action** is one ACTION element per paragraph (lines up to a blank line); line breaks and
  indentation are kept, tabs become four spaces (the spec's rule). ``!`` at the start of a line
  forces action and is removed.
- **Scene headings** need a blank line (or the start of the body) before them; the blank line
  after, which the spec asks for, is not required (``INT. HOUSE - DAY`` followed directly by action
  is read as a heading, never as a character named "INT. HOUSE - DAY").
- **Characters**: a line with no lowercase letter and at least one uppercase one (before any
  parenthesized extension), after a blank line and followed by a non-blank line; ``@`` forces;
  ``^`` at the end marks the right side of dual dialogue, pairing with the dialogue block just
  before (PS006 when there is none). Scripts without letter case (Chinese, Japanese) force cues
  with ``@``. Names are normalized by :func:`normalize_character`.
- **Dialogue** runs to the next blank line; a line of two or more spaces keeps it going (an empty
  line in the dialogue text). A parenthetical follows a character cue or dialogue; ``~`` lines
  inside are lyrics.
- **Transitions**: an uppercase line ending in ``TO:`` (exactly: trailing spaces break it) with
  blank lines around it, a standard end transition (``FADE OUT.``, ``FADE TO BLACK.``,
  ``CUT TO BLACK.``, ...), or ``>`` forced.
- **Line-level elements** (recognized anywhere outside dialogue): page break (a line of 3+ ``=``),
  section (``#``), synopsis (``=``), centered (``> ... <``), lyrics (``~``). Consecutive centered or
  lyric lines form one element.
- **Title page**: ``Key: value`` lines from the first line of the file, values continued on
  indented lines (a key is one to four words); it ends at a blank line or at the first line that
  is neither. A first line
  with a key but no value and no indented continuation (``CUT TO:``) does not start a title page.
- **Scenes**: the elements from a heading to the next; before the first heading is the prologue.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from prodscale.core.diagnostics import Diagnostic, sort_key
from prodscale.core.fountain_inline import (
    HTML_MARKERS,
    Heading,
    match_prefix,
    normalize_character,
    parse_heading,
    render_emphasis,
    strip_emphasis,
)
from prodscale.core.model import (
    ACTION,
    CENTERED,
    CHARACTER,
    DIALOGUE,
    LYRICS,
    NOTE,
    PAGE_BREAK,
    PARENTHETICAL,
    SECTION,
    SYNOPSIS,
    TRANSITION,
    Element,
    Scene,
    Span,
    Story,
    TitleField,
)
from prodscale.core.text import normalize_source, normalize_text

__all__ = [
    "HTML_MARKERS",
    "PARSER_CODES",
    "Heading",
    "normalize_character",
    "parse",
    "parse_heading",
    "render_emphasis",
    "strip_emphasis",
]

PARSER_CODES: dict[str, dict[str, str]] = {
    "PS001": {
        "name": "empty-story",
        "summary": "the story file is empty",
        "explain": ("The file holds no text at all (or only whitespace). prodscale parses it to an empty story "
                    "so a build can report it, but there is nothing to compile: no scene, no shot, no prompt. "
                    "Write the screenplay, or remove the file from stories/ if it was created by mistake."),
        "example": "",
    },
    "PS002": {
        "name": "title-page-only",
        "summary": "the story has a title page and nothing else",
        "explain": ("The file holds a Fountain title page (Key: value lines) but no screenplay after it. "
                    "This is valid Fountain and parses to a story with a title page and no scenes, but "
                    "nothing gets compiled. Add the screenplay after a blank line following the title page."),
        "example": "Title: Big Fish\nAuthor: John August\n",
    },
    "PS003": {
        "name": "no-scene-headings",
        "summary": "no scene heading found: the whole script is a prologue",
        "explain": ("A scene heading is a line starting with INT, EXT, EST, INT./EXT, INT/EXT or I/E "
                    "followed by a dot or a space, or a line forced with a single leading '.', with a blank "
                    "line before it. Without any, every element lands in the prologue and the build has no "
                    "scene to compile. Scripts in other languages often use their own prefixes (Russian "
                    "ИНТ./НАТ., INT。 in Japanese or Chinese scripts), which the Fountain spec does not "
                    "know: declare them with heading_prefixes = [...] under [project] in prodscale.toml, "
                    "or force each heading with a leading '.'."),
        "example": "ИНТ. КВАРТИРА - ДЕНЬ\n\nАнна читает.\n",
    },
    "PS004": {
        "name": "unclosed-note",
        "summary": "a note opened with [[ is never closed with ]]",
        "explain": ("Notes are written [[like this]] and may span lines, but not an empty line (put two "
                    "spaces on a line to keep a note going). This [[ has no matching ]] before an empty line "
                    "or the end of the file, so it is read as plain text and will reach prompts. Close the "
                    "note, or escape the brackets if they are meant literally."),
        "example": "He opens the door. [[check the lock\n\nShe waits.\n",
    },
    "PS005": {
        "name": "unclosed-boneyard",
        "summary": "a boneyard opened with /* is never closed with */",
        "explain": ("Boneyard /* ... */ hides text from the script. This /* has no matching */ before the end "
                    "of the file. prodscale does not drop the rest of the script silently: the text is kept "
                    "as written (the /* included). Add */ where the hidden text should end."),
        "example": "He leaves.\n\n/*\nINT. OLD SCENE - DAY\n\nCut material.\n",
    },
    "PS006": {
        "name": "dual-dialogue-without-partner",
        "summary": "a cue marked ^ for dual dialogue does not follow another character's dialogue",
        "explain": ("Dual dialogue pairs two speeches side by side: the second cue ends with ^ and must come "
                    "right after the first speech (only blank lines between). Here the ^ cue follows "
                    "something else, so it is read as ordinary dialogue. Move it under the speech it "
                    "answers, or remove the ^."),
        "example": "He waits.\n\nBRICK ^\nScrew retirement.\n",
    },
}

# a title page key: one to four words ("Title", "Draft date"), then a colon
_TITLE_KEY_RE = re.compile(r"([^\W\d_][\w.'’&/-]*(?: [\w.'’&/-]+){0,3})[ \t]*:(.*)")
_PAGE_BREAK_RE = re.compile(r"={3,}")
_SECTION_RE = re.compile(r"(#+)(.*)")
_CUE_RE = re.compile(r"([^(^]*?)[ \t]*((?:\([^()]*\)[ \t]*)*)")
_NOTE_RE = re.compile(r"\[\[((?:[^\n]|\n(?!\n))*?)\]\]")   # the definition; note_spans finds the same, in linear time


def note_spans(text: str) -> list[tuple[int, int]]:
    """The spans ``_NOTE_RE.finditer`` gives, found in linear time: from each ``[[`` the first ``]]`` after it,
    unless an empty line (``\n\n``) comes first. The regex retried every ``[[`` of an unclosed paragraph
    up to its end (200 KB of them took 111 s); here a failed ``[[`` skips to that paragraph's end, since
    every later ``[[`` before it fails the same way."""
    out: list[tuple[int, int]] = []
    pos = 0
    n = len(text)
    while True:
        p = text.find("[[", pos)
        if p < 0:
            return out
        q = text.find("]]", p + 2)
        blank = text.find("\n\n", p + 2)
        if q >= 0 and (blank < 0 or blank + 2 > q):   # no empty line between the [[ and its ]]
            out.append((p, q + 2))
            pos = q + 2
            continue
        if blank < 0:
            return out
        pos = blank + 1 if blank + 1 < n else n

_END_TRANSITIONS = frozenset({
    "FADE OUT.", "FADE OUT", "FADE TO BLACK.", "FADE TO BLACK", "FADE TO WHITE.", "CUT TO BLACK.",
    "CUT TO BLACK", "SMASH TO BLACK.", "FADE IN:", "THE END.",
})
_LINE_LEVEL_FIRST = frozenset("=#~>")
_HEADING_FIRST = frozenset(".IiEe")


def parse(source: bytes | str, *, path: str = "<story>", heading_prefixes: Sequence[str] = ()) -> Story:
    """Parse a Fountain screenplay into a :class:`Story` (see the module docstring for the rules).

    ``source`` is the file's bytes (decoded as strict UTF-8; :class:`DecodeError` otherwise) or text
    (normalized the same way). ``heading_prefixes`` are extra scene-heading prefixes declared by the
    project (``heading_prefixes`` under ``[project]`` in prodscale.toml), e.g. ``["ИНТ", "НАТ"]``.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        text = normalize_source(bytes(source), path)
    elif isinstance(source, str):
        text = normalize_text(source)
    else:
        raise TypeError(f"parse() takes bytes or str, not {type(source).__name__}")
    if isinstance(heading_prefixes, str):  # one prefix passed bare: not a sequence of letters
        heading_prefixes = (heading_prefixes,)
    return _Parser(text, tuple(p for p in heading_prefixes if p.strip())).run()


def _blank(s: str) -> bool:
    return not s or s.isspace()


class _Parser:
    """One parse. Works on *logical lines*: the file's lines with boneyard and notes removed."""

    def __init__(self, text: str, prefixes: tuple[str, ...]) -> None:
        self.text = text
        self.prefixes = prefixes
        self.heading_first = _HEADING_FIRST | {p.strip()[0].lower() for p in prefixes} | {
            p.strip()[0].upper() for p in prefixes}
        self.warnings: list[Diagnostic] = []
        self.notes: list[Element] = []
        raw = text.split("\n")
        self.raw = raw
        # logical lines: text, original 1-based number, column map (None = identity)
        self.lines: list[str] = raw
        self.numbers: list[int] | None = None  # None = identity (index + 1)
        self.colmaps: dict[int, list[tuple[int, int]]] = {}
        if "/*" in text or "[[" in text:
            self._remove_inline()
        self.blank = [_blank(s) for s in self.lines]
        self.items: list[Element | tuple[Heading, Span]] = []

    # -- positions --------------------------------------------------------------------------

    def _col(self, i: int, c: int) -> int:
        """1-based original column of the character at clean index ``c`` of logical line ``i``."""
        bp = self.colmaps.get(i)
        if bp is None:
            return c + 1
        k = bisect.bisect_right(bp, (c, 1 << 62)) - 1
        return bp[k][1] + (c - bp[k][0]) + 1

    def _span(self, first: int, last: int) -> Span:
        """Span from the first non-space character of line ``first`` to the end of line ``last``."""
        s = self.lines[first]
        start = len(s) - len(s.lstrip())
        e = self.lines[last]
        end = len(e.rstrip())
        nums, cm = self.numbers, self.colmaps
        return Span(first + 1 if nums is None else nums[first],
                    self._col(first, start) if first in cm else start + 1,
                    last + 1 if nums is None else nums[last],
                    self._col(last, end - 1) + 1 if last in cm else end + 1)

    def _offset_pos(self, starts: list[int], off: int) -> tuple[int, int]:
        line = bisect.bisect_right(starts, off) - 1
        return line + 1, off - starts[line] + 1

    # -- boneyard and notes -----------------------------------------------------------------

    def _remove_inline(self) -> None:
        text = self.text
        starts = [0, *itertools.accumulate(len(s) + 1 for s in self.raw[:-1])]
        cuts: list[tuple[int, int, str]] = []
        masked = text
        if "/*" in text:
            pos = 0
            pieces: list[str] = []
            last = 0
            while True:
                i = text.find("/*", pos)
                if i < 0:
                    break
                j = text.find("*/", i + 2)
                if j < 0:
                    line, col = self._offset_pos(starts, i)
                    self.warnings.append(Diagnostic(
                        "warning", "PS005", "boneyard opened with /* is never closed; kept as text",
                        Span(line, col, line, col + 2), help="add */ where the hidden text should end"))
                    break
                cuts.append((i, j + 2, "bone"))
                pieces.append(text[last:i])
                pieces.append(re.sub(r"[^\n]", "\x00", text[i:j + 2]))
                last = pos = j + 2
            if cuts:
                pieces.append(text[last:])
                masked = "".join(pieces)
        if "[[" in masked:
            covered: list[tuple[int, int]] = []
            for a, b in note_spans(masked):
                cuts.append((a, b, "note"))
                covered.append((a, b))
                sl, sc = self._offset_pos(starts, a)
                el, ec = self._offset_pos(starts, b - 1)
                self.notes.append(Element(NOTE, text[a + 2:b - 2].strip(), Span(sl, sc, el, ec + 1)))
            pos = 0
            while True:
                i = masked.find("[[", pos)
                if i < 0:
                    break
                k = bisect.bisect_right(covered, (i, 1 << 62)) - 1
                if k >= 0 and covered[k][0] <= i < covered[k][1]:
                    pos = covered[k][1]
                    continue
                line, col = self._offset_pos(starts, i)
                self.warnings.append(Diagnostic(
                    "warning", "PS004", "note opened with [[ is never closed; kept as text",
                    Span(line, col, line, col + 2),
                    help="close it with ]] (a note cannot span an empty line: put two spaces on it)"))
                pos = i + 2
        if not cuts:
            return
        # per-line cut intervals (line-local, 0-based, half-open)
        per_line: dict[int, list[tuple[int, int, str]]] = {}
        for a, b, kind in cuts:
            la = bisect.bisect_right(starts, a) - 1
            lb = bisect.bisect_right(starts, b - 1) - 1
            for ln in range(la, lb + 1):
                s0 = starts[ln]
                lo = max(a, s0) - s0
                hi = min(b, s0 + len(self.raw[ln])) - s0
                per_line.setdefault(ln, []).append((lo, hi, kind))
        lines = list(self.raw)
        colmaps: dict[int, list[tuple[int, int]]] = {}
        vanished: list[int] = []
        for ln in sorted(per_line):
            s = lines[ln]
            ivs = sorted(per_line[ln])
            out: list[str] = []
            bp: list[tuple[int, int]] = [(0, 0)]
            prev = 0
            size = 0
            for lo, hi, _ in ivs:
                if lo > prev:
                    out.append(s[prev:lo])
                    size += lo - prev
                prev = max(prev, hi)
                bp.append((size, prev))
            out.append(s[prev:])
            clean = "".join(out)
            if _blank(clean):
                if all(kind == "note" for _, _, kind in ivs):
                    vanished.append(ln)  # a line of nothing but notes (or inside one) vanishes
                    continue
                clean = ""  # a line of boneyard reads as a blank line
            colmaps[ln] = bp
            lines[ln] = clean
        if vanished:
            gone = set(vanished)
            keep = [ln for ln in range(len(lines)) if ln not in gone]
            self.lines = [lines[ln] for ln in keep]
            self.numbers = [ln + 1 for ln in keep]
            # re-key the column maps by logical line: each loses the vanished lines before it
            self.colmaps = {ln - bisect.bisect_left(vanished, ln): bp for ln, bp in colmaps.items()}
        else:
            self.lines = lines
            self.colmaps = colmaps

    # -- main pass --------------------------------------------------------------------------

    def run(self) -> Story:
        lines, blank = self.lines, self.blank
        n = len(lines)
        title, i = self._title_page()
        block_start = True
        last_block: tuple[int, int] | None = None  # (index of the cue in items, len(items) at block end)
        items = self.items
        while i < n:
            if blank[i]:
                block_start = True
                i += 1
                continue
            s = lines[i]
            st = s.strip()
            c0 = st[0]
            if c0 == "!":
                i = self._action(i)
                block_start = False
                continue
            if c0 in _LINE_LEVEL_FIRST:
                j = self._line_level(i, st)
                if j is not None:
                    block_start = self._last_kind() in (PAGE_BREAK, SECTION, SYNOPSIS)
                    i = j
                    continue
            if block_start:
                if c0 == "@":
                    i, last_block = self._dialogue(i, st[1:], True, last_block)
                    block_start = False
                    continue
                if c0 in self.heading_first or c0 == ".":
                    h = parse_heading(st, self.prefixes)
                    if h is not None:
                        items.append((h, self._span(i, i)))
                        i += 1
                        continue  # block_start stays True: a heading ends a block
                if c0 == ">":
                    items.append(Element(TRANSITION, st[1:].strip(), self._span(i, i), forced=True))
                    i += 1
                    block_start = False
                    continue
                next_blank = i + 1 >= n or blank[i + 1]
                if next_blank:
                    sl = s.lstrip()
                    if (sl.endswith("TO:") or st in _END_TRANSITIONS) and sl == sl.upper():
                        items.append(Element(TRANSITION, st, self._span(i, i)))
                        i += 1
                        continue
                elif _is_cue(st):
                    i, last_block = self._dialogue(i, st, False, last_block)
                    block_start = False
                    continue
            i = self._action(i)
            block_start = False
        return self._finish(title)

    def _last_kind(self) -> str | None:
        last = self.items[-1] if self.items else None
        return last.kind if isinstance(last, Element) else None

    def _title_page(self) -> tuple[tuple[TitleField, ...], int]:
        lines, blank = self.lines, self.blank
        if not lines or blank[0]:
            return (), 0
        first = lines[0]
        m0 = _TITLE_KEY_RE.fullmatch(first)
        if first[0] in " \t" or m0 is None or match_prefix(first, self.prefixes):
            return (), 0
        if not m0.group(2).strip() and (len(lines) < 2 or blank[1] or lines[1][0] not in " \t"):
            return (), 0  # "CUT TO:" alone on the first line is a transition, not a field without a value
        fields: list[tuple[str, list[str], int, int]] = []  # key, value lines, first, last line index
        i = 0
        n = len(lines)
        while i < n and not blank[i]:
            s = lines[i]
            if s[0] in " \t":
                if not fields:
                    break
                fields[-1][1].append(s.strip())
                fields[-1] = (fields[-1][0], fields[-1][1], fields[-1][2], i)
            else:
                m = _TITLE_KEY_RE.fullmatch(s)
                if m is None:
                    break
                value = m.group(2).strip()
                fields.append((m.group(1).strip(), [value] if value else [], i, i))
            i += 1
        out = tuple(TitleField(k, "\n".join(v), self._span(a, b)) for k, v, a, b in fields)
        return out, i

    def _line_level(self, i: int, st: str) -> int | None:
        """Emit a page break, section, synopsis, centered text or lyrics starting at line ``i``."""
        c0 = st[0]
        items = self.items
        if c0 == "=":
            if _PAGE_BREAK_RE.fullmatch(st):
                items.append(Element(PAGE_BREAK, "", self._span(i, i)))
            else:
                items.append(Element(SYNOPSIS, st[1:].strip(), self._span(i, i)))
            return i + 1
        if c0 == "#":
            m = _SECTION_RE.fullmatch(st)
            assert m is not None  # st starts with "#"
            items.append(Element(SECTION, m.group(2).strip(), self._span(i, i), level=len(m.group(1))))
            return i + 1
        if c0 == "~":
            return self._run(i, LYRICS)
        if c0 == ">" and len(st) > 1 and st.endswith("<"):
            return self._run(i, CENTERED)
        return None

    def _run(self, i: int, kind: str) -> int:
        """Consecutive lyric (``~``) or centered (``> <``) lines as one element."""
        lines, blank = self.lines, self.blank
        parts: list[str] = []
        j = i
        while j < len(lines) and not blank[j]:
            st = lines[j].strip()
            if kind == LYRICS:
                if not st.startswith("~"):
                    break
                parts.append(st[1:].strip())
            else:
                if not (st.startswith(">") and st.endswith("<") and len(st) > 1):
                    break
                parts.append(st[1:-1].strip())
            j += 1
        self.items.append(Element(kind, "\n".join(parts), self._span(i, j - 1)))
        return j

    def _action(self, i: int) -> int:
        lines, blank = self.lines, self.blank
        n = len(lines)
        j = i
        parts: list[str] = []
        while j < n and not blank[j]:
            s = lines[j]
            st = s.lstrip()
            c0 = st[0]
            if j > i and c0 in _LINE_LEVEL_FIRST and self._is_line_level(st):
                break
            if s[:1] == "!":
                s = s[1:]
            if "\t" in s:
                s = s.replace("\t", "    ")
            parts.append(s)
            j += 1
        self.items.append(Element(ACTION, "\n".join(parts), self._span(i, j - 1), forced=lines[i][:1] == "!"))
        return j

    @staticmethod
    def _is_line_level(st: str) -> bool:
        c0 = st[0]
        if c0 in "=#~":
            return True
        st = st.rstrip()
        return c0 == ">" and len(st) > 1 and st.endswith("<")

    def _dialogue(self, i: int, cue: str, forced: bool,
                  last_block: tuple[int, int] | None) -> tuple[int, tuple[int, int] | None]:
        lines, blank = self.lines, self.blank
        items = self.items
        n = len(lines)
        cue = cue.strip()
        dual = cue.endswith("^")
        shown = cue[:-1].rstrip() if dual else cue
        name, ext = normalize_character(shown)
        span = self._span(i, i)
        if dual:
            if last_block is not None and last_block[1] == len(items):
                partner = items[last_block[0]]
                assert isinstance(partner, Element)
                items[last_block[0]] = replace(partner, dual=True)
            else:
                dual = False
                self.warnings.append(Diagnostic(
                    "warning", "PS006", f"dual dialogue cue '{shown}' does not follow another character's dialogue",
                    span, help="move it right under the speech it answers, or remove the ^"))
        cue_index = len(items)
        items.append(Element(CHARACTER, shown, span, name=name, extension=ext, dual=dual, forced=forced))
        prev = CHARACTER
        pending: list[int] = []  # logical lines of the dialogue being gathered (spacers included)

        def flush() -> None:
            first, last = 0, len(pending) - 1
            while last >= 0 and blank[pending[last]]:
                last -= 1
            while first <= last and blank[pending[first]]:
                first += 1
            if first <= last:
                used = pending[first:last + 1]
                text = "\n".join("" if blank[k] else lines[k].strip() for k in used)
                items.append(Element(DIALOGUE, text, self._span(used[0], used[-1])))
            pending.clear()

        j = i + 1
        while j < n:
            s = lines[j]
            if blank[j]:
                # "two spaces" on a line keep the dialogue going
                if len(s) >= 2 and j + 1 < n and not blank[j + 1]:
                    pending.append(j)
                    j += 1
                    continue
                break
            st = s.strip()
            c0 = st[0]
            if c0 == "=" and _PAGE_BREAK_RE.fullmatch(st):
                break  # only a page break interrupts a speech; "#1" or "= 5" in dialogue are words
            if c0 == "~":
                flush()
                j = self._run(j, LYRICS)
                prev = LYRICS
                continue
            if c0 == "(" and st.endswith(")") and prev != PARENTHETICAL:
                flush()
                items.append(Element(PARENTHETICAL, st, self._span(j, j)))
                prev = PARENTHETICAL
                j += 1
                continue
            pending.append(j)
            prev = DIALOGUE
            j += 1
        flush()
        return j, (cue_index, len(items))

    # -- assembly ---------------------------------------------------------------------------

    def _finish(self, title: tuple[TitleField, ...]) -> Story:
        items: list[Any] = self.items
        if self.notes:
            merged = items + self.notes
            merged.sort(key=lambda it: _start(it))
            items = merged
        prologue: list[Element] = []
        scenes: list[Scene] = []
        current: tuple[Heading, Span] | None = None
        body: list[Element] = []

        def close() -> None:
            if current is None:
                return
            h, hspan = current
            end = (hspan.end_line, hspan.end_col)
            for e in body:
                end = max(end, (e.span.end_line, e.span.end_col))
            span = Span(hspan.start_line, hspan.start_col, end[0], end[1])
            scenes.append(Scene(heading=h.text, heading_span=hspan, span=span, int_ext=h.int_ext,
                                location=h.location, time_of_day=h.time_of_day, number=h.number,
                                elements=tuple(body), forced=h.forced))

        for it in items:
            if isinstance(it, Element):
                (body if current is not None else prologue).append(it)
            else:
                close()
                current = it
                body = []
        close()
        characters = sorted({e.name for e in _all_elements(prologue, scenes)
                             if e.kind == CHARACTER and e.name})
        self._story_warnings(title, prologue, scenes)
        warnings = tuple(sorted(self.warnings, key=sort_key))
        return Story(text=self.text, title_page=title, prologue=tuple(prologue), scenes=tuple(scenes),
                     characters=tuple(characters), warnings=warnings)

    def _story_warnings(self, title: tuple[TitleField, ...], prologue: list[Element], scenes: list[Scene]) -> None:
        if scenes:
            return
        if not self.text.strip():
            self.warnings.append(Diagnostic("warning", "PS001", "the story is empty", Span(1, 1, 1, 1),
                                            help="write the screenplay, or remove the file"))
            return
        content = [e for e in prologue if e.kind != NOTE]
        if not content:
            if title:
                span = Span(title[0].span.start_line, title[0].span.start_col,
                            title[-1].span.end_line, title[-1].span.end_col)
                self.warnings.append(Diagnostic(
                    "warning", "PS002", "the story has a title page and nothing else", span,
                    help="add the screenplay after a blank line following the title page"))
            return
        guess = _guess_prefixes(content)
        example = ("[" + ", ".join(f'"{g}"' for g in guess) + "]") if guess else '["ИНТ", "НАТ"] (for example)'
        first = content[0].span
        self.warnings.append(Diagnostic(
            "warning", "PS003", "no scene heading found: the whole script is read as a prologue", first,
            help=(f"if the script's headings use other prefixes, declare them under [project] in prodscale.toml: "
                  f"heading_prefixes = {example}; or force each heading with a leading '.'"),
            extra={"suggested_prefixes": guess} if guess else {}))


def _start(it: Element | tuple[Heading, Span]) -> tuple[int, int]:
    span = it.span if isinstance(it, Element) else it[1]
    return span.start_line, span.start_col


def _all_elements(prologue: list[Element], scenes: list[Scene]) -> list[Element]:
    out = list(prologue)
    for sc in scenes:
        out.extend(sc.elements)
    return out


def _is_cue(st: str) -> bool:
    """A natural character cue (see the module docstring); ``st`` is the stripped line."""
    head = st.split("(", 1)[0]
    if head.upper() != head:  # fast refusal of ordinary mixed-case lines
        return False
    s = st[:-1].rstrip() if st.endswith("^") else st
    m = _CUE_RE.fullmatch(s)
    if m is None:
        return False
    name = m.group(1)
    return bool(name) and name.upper() == name and any(ch.isupper() for ch in name)


_PREFIX_GUESS_RE = re.compile(r"([^\W\d_]{1,10}(?:[./][^\W\d_]{1,10})?)[.。．][ \t]*\S")


def _guess_prefixes(elements: list[Element]) -> list[str]:
    """Words that start action paragraphs like a heading prefix would ("ИНТ. ДОМ - ДЕНЬ")."""
    counts: dict[str, int] = {}
    for e in elements:
        if e.kind != ACTION:
            continue
        first = e.text.split("\n", 1)[0].strip()
        m = _PREFIX_GUESS_RE.match(first)
        if m is None:
            continue
        word = m.group(1)
        if word.upper() != word or len(word) > 12:
            continue
        counts[word] = counts.get(word, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [w for w, _ in ranked[:4]]
