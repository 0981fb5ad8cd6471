"""Fountain rules that read one line or one name: emphasis, character names, scene headings.

Split out of :mod:`prodscale.core.fountain` (which re-exports everything public here) so the
line-by-line parser stays readable. Everything here is pure and deterministic.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

# ---------------------------------------------------------------------------------------------
# Emphasis
# ---------------------------------------------------------------------------------------------

# Fountain emphasis (fountain.io "Emphasis"): *italic*, **bold**, ***bold italic***, _underline_.
# A marker opens only before a non-space character and closes only after one, and emphasis never
# crosses a line break ("*69 and then *23" and "_a _" are plain text). A backslash escapes a marker
# ("\*" is a literal star). Markers nest ("_a *b* c_" is underlined with an italic word).
_EMPHASIS_PASSES = (
    ("bi", re.compile(r"\*\*\*(?=\S)([^\n]+?)(?<=\S)\*\*\*")),
    ("b", re.compile(r"\*\*(?=\S)([^\n]+?)(?<=\S)\*\*")),
    ("i", re.compile(r"\*(?=\S)([^\n]+?)(?<=\S)\*")),
    ("u", re.compile(r"_(?=\S)([^\n]+?)(?<=\S)_")),
)
_ESCAPE_RE = re.compile(r"\\([*_\\])")
# Noncharacters stand in for escaped markers while the passes run; one absent from the text is used.
_SENTINELS = tuple(chr(c) for c in range(0xFDD0, 0xFDF0))

STRIP_MARKERS: dict[str, tuple[str, str]] = {"b": ("", ""), "i": ("", ""), "u": ("", "")}
HTML_MARKERS: dict[str, tuple[str, str]] = {"b": ("<b>", "</b>"), "i": ("<i>", "</i>"), "u": ("<u>", "</u>")}


def render_emphasis(text: str, markers: dict[str, tuple[str, str]]) -> str:
    """Replace Fountain emphasis with ``markers[style] = (open, close)`` for styles b, i, u.

    Escapes (``\\*``, ``\\_``, ``\\\\``) become the literal character. ``***x***`` renders as bold
    around italic. Unpaired markers stay as written.
    """
    if "*" not in text and "_" not in text and "\\" not in text:
        return text
    escaped: dict[str, str] = {}
    if "\\" in text:
        free = [s for s in _SENTINELS if s not in text]

        def _protect(m: re.Match[str]) -> str:
            ch = m.group(1)
            for key, value in escaped.items():
                if value == ch:
                    return key
            key = free[len(escaped)]
            escaped[key] = ch
            return key

        text = _ESCAPE_RE.sub(_protect, text)
    for style, pattern in _EMPHASIS_PASSES:
        if style == "bi":
            o = markers["b"][0] + markers["i"][0]
            c = markers["i"][1] + markers["b"][1]
        else:
            o, c = markers[style]
        text = pattern.sub(_wrap(o, c), text)
    for key, ch in escaped.items():
        text = text.replace(key, ch)
    return text


def _wrap(opening: str, closing: str) -> Callable[[re.Match[str]], str]:
    def repl(m: re.Match[str]) -> str:
        return opening + m.group(1) + closing
    return repl


def strip_emphasis(text: str) -> str:
    """``text`` without emphasis markers and with escapes resolved: what prompts should read.

    ``"He is *very* _late_ \\*sic\\*"`` -> ``"He is very late *sic*"``. Unpaired markers (``"*69"``)
    are kept because they are text, not emphasis.
    """
    return render_emphasis(text, STRIP_MARKERS)


# ---------------------------------------------------------------------------------------------
# Character names
# ---------------------------------------------------------------------------------------------

_TRAILING_PAREN_RE = re.compile(r"\s*\(([^()]*)\)\s*$")
_CONTD_RE = re.compile(r"^(?:CONT(?:['’]?D|\.|INUED|INUING)?|CONTD\.?|CONT'D\.?)$", re.IGNORECASE)
_SPACES_RE = re.compile(r"\s+")


@lru_cache(maxsize=4096)
def normalize_character(cue: str) -> tuple[str, str | None]:
    """Split a character cue into ``(name, extension)``: the one rule for character names.

    1. Surrounding whitespace, a forcing ``@`` in front and a dual-dialogue ``^`` at the end are
       dropped.
    2. Parenthesized groups at the end are extensions. Continuation markers (``CONT'D``,
       ``CONT’D``, ``CONTD``, ``CONT.``, ``CONTINUED``, any case) are dropped; the other groups
       are kept, without their parentheses, joined by ``", "``: ``"V.O."``, ``"O. S."``,
       ``"on the radio"``. No group left gives ``None``.
    3. The name is what comes before: runs of whitespace become one space, then it is
       case-folded and upper-cased (``str.casefold().upper()``) and NFC-normalized, so ``McCLANE``
       and ``MCCLANE`` (and ``STRASSE`` / ``Straße``) are one character.

    ``"STEEL"``, ``"STEEL (V.O.)"`` and ``"STEEL (CONT'D)"`` all give name ``"STEEL"``.
    """
    s = cue.strip()
    if s.startswith("@"):
        s = s[1:].lstrip()
    if s.endswith("^"):
        s = s[:-1].rstrip()
    groups: list[str] = []
    while True:
        m = _TRAILING_PAREN_RE.search(s)
        if m is None or not s[:m.start()].strip():
            break  # no group, or only "(...)" left: that stays the name rather than an empty one
        groups.append(m.group(1).strip())
        s = s[:m.start()]
    groups.reverse()
    kept = [g for g in groups if g and not _CONTD_RE.match(g.replace(" ", ""))]
    name = unicodedata.normalize("NFC", _SPACES_RE.sub(" ", s.strip()).casefold().upper())
    return name, (", ".join(kept) if kept else None)


# ---------------------------------------------------------------------------------------------
# Scene headings
# ---------------------------------------------------------------------------------------------

# fountain.io: a heading starts with INT, EXT, EST, INT./EXT, INT/EXT or I/E followed by a dot or
# a space (any case). EXT/INT and E/I are read as INT/EXT too (they mean the same thing).
_BUILTIN_PREFIX_RE = re.compile(r"(int\.?/ext|ext\.?/int|i\.?/e|e\.?/i|int|ext|est)(?:\.[ \t]*|[ \t]+)", re.IGNORECASE)
_NUMBER_RE = re.compile(r"[ \t]*#([0-9A-Za-z.\-]+)#[ \t]*$")
_TOD_SPLIT_RE = re.compile(r"[ \t]*(?:--|–|—)[ \t]*|[ \t]+-[ \t]+")

# Caller-declared prefixes in other languages: what they mean, when we know.
_KNOWN_INT_EXT = {
    "INT": "INT", "EXT": "EXT", "EST": "EST", "INT/EXT": "INT/EXT", "I/E": "INT/EXT", "EXT/INT": "INT/EXT",
    "E/I": "INT/EXT",
    "ИНТ": "INT", "НАТ": "EXT", "ИНТ/НАТ": "INT/EXT", "НАТ/ИНТ": "INT/EXT",
    "INNEN": "INT", "AUSSEN": "EXT", "AUẞEN": "EXT", "INNEN/AUSSEN": "INT/EXT",
    "内": "INT", "外": "EXT", "内景": "INT", "外景": "EXT", "室内": "INT", "室外": "EXT",
}


@dataclass(frozen=True, slots=True)
class Heading:
    """A scene heading split into its parts (see :class:`prodscale.core.model.Scene`)."""

    text: str                 # without the forcing "." and without the "#n#" scene number
    int_ext: str | None       # "INT", "EXT", "INT/EXT", "EST" or None
    location: str | None
    time_of_day: str | None   # upper-cased
    number: str | None
    forced: bool


def _int_ext_of(prefix: str) -> str | None:
    key = prefix.upper().replace(".", "").replace("。", "").replace(" ", "").strip()
    return _KNOWN_INT_EXT.get(key)


@lru_cache(maxsize=64)
def _custom_prefix_re(prefixes: tuple[str, ...]) -> re.Pattern[str] | None:
    alts = []
    for p in sorted({p.strip() for p in prefixes if p.strip()}, key=lambda p: (-len(p), p)):
        # A prefix that ends in punctuation ("ИНТ.", "INT。") may be followed by anything; a bare
        # word ("ИНТ") must be followed by a dot (any script's full stop) or whitespace.
        tail = r"[ \t]*" if unicodedata.category(p[-1]).startswith("P") else r"(?:[.。．][ \t]*|[ \t]+)"
        alts.append(f"({re.escape(p)}){tail}")
    if not alts:
        return None
    return re.compile("|".join(f"(?:{a})" for a in alts), re.IGNORECASE)


def match_prefix(text: str, prefixes: Sequence[str] = ()) -> tuple[str, int] | None:
    """``(prefix as written, end offset)`` when ``text`` starts with a heading prefix, else None."""
    m = _BUILTIN_PREFIX_RE.match(text)
    if m is not None:
        return m.group(1), m.end()
    if prefixes:
        rx = _custom_prefix_re(tuple(prefixes))
        if rx is not None:
            m = rx.match(text)
            if m is not None:
                group = next(g for g in m.groups() if g is not None)
                return group, m.end()
    return None


def parse_heading(text: str, prefixes: Sequence[str] = ()) -> Heading | None:
    """Read one line as a scene heading; None when it is not one.

    A heading is a line starting with a standard prefix (INT, EXT, EST, INT./EXT, INT/EXT, I/E,
    EXT/INT, E/I; any case; then a dot or a space) or with one of ``prefixes`` (declared by the
    project for scripts in other languages), or a forced heading: one ``.`` followed by a letter or
    digit (``...`` is not a heading). A trailing ``#1A#`` is the scene number. The rest is split
    at the last dash separator (``" - "``, ``"--"``, an en or em dash) into location and time of
    day (upper-cased). Blank-line context is the parser's business, not this function's.
    """
    s = text.strip()
    forced = False
    if s.startswith("."):
        if len(s) < 2 or not s[1].isalnum():
            return None
        forced = True
        s = s[1:]
        pm = match_prefix(s, prefixes)
    else:
        pm = match_prefix(s, prefixes)
        if pm is None:
            return None
    number = None
    nm = _NUMBER_RE.search(s)
    if nm is not None:
        number = nm.group(1)
        s = s[:nm.start()]
    s = s.rstrip()
    if pm is not None and pm[1] <= len(s):
        int_ext = _int_ext_of(pm[0])
        rest = s[pm[1]:]
    else:
        int_ext = None
        rest = s
    location: str | None
    time_of_day: str | None = None
    parts = list(_TOD_SPLIT_RE.finditer(rest))
    if parts:
        last = parts[-1]
        location = rest[:last.start()].strip() or None
        time_of_day = rest[last.end():].strip().upper() or None
    else:
        location = rest.strip() or None
    return Heading(text=s, int_ext=int_ext, location=location, time_of_day=time_of_day, number=number,
                   forced=forced)
