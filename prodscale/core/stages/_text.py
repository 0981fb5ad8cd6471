"""Text helpers shared by the stages: folding, whole-word matching, spans, diagnostics.

Matching is the one rule every stage follows (see rules/README.md): text is NFC-normalized and
case-folded, and a term matches only as a whole word or phrase: no letter or digit may touch
either end of the match ("Scunthorpe", "assassin", "class", "therapist" and "Sussex" contain
listed words but never match them). An exception phrase that covers a match removes it.
Positions found in the folded text are mapped back to the original text character by character
(case folding can change lengths: "ß" folds to "ss").
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar, cast
from collections.abc import Callable, Iterable, Sequence

from prodscale.core.canon import canonical_json
from prodscale.core.diagnostics import Diagnostic
from prodscale.core.model import Span

# a match may not be preceded or followed by a letter or digit (underscore and punctuation are fine)
_B_BEFORE = r"(?<![^\W_])"
_B_AFTER = r"(?![^\W_])"

T = TypeVar("T")

NOTE_RE = re.compile(r"\[\[.*?\]\]", re.S)
BONEYARD_RE = re.compile(r"/\*.*?\*/", re.S)

_strip_emphasis: Callable[[str], str] | None
try:  # the parser's rule when it is there (one definition of emphasis for the whole project)
    from prodscale.core.fountain import strip_emphasis as _strip_emphasis
except Exception:  # pragma: no cover - only before the parser lands
    _strip_emphasis = None

_EMPH = re.compile(r"(\*{1,3}|_)(?=\S)(.+?)(?<=\S)\1")



def per_rule_data(build: Callable[[Any], T]) -> Callable[[Any], T]:
    """Memoize ``build(data)`` per rule-data object, by identity (holding a reference, so the id
    cannot be reused): rule data is loaded once per process and read again for every scene, so
    what is derived from it (sets, parsed templates, unions) is derived once."""
    memo: dict[int, tuple[object, T]] = {}

    @functools.wraps(build)
    def get(data: Any) -> T:
        hit = memo.get(id(data))
        if hit is not None and hit[0] is data:
            return hit[1]
        value = build(data)
        if len(memo) < 256:
            memo[id(data)] = (data, value)
        return value
    return get

def strip_emphasis(text: str) -> str:
    if _strip_emphasis is not None:
        return str(_strip_emphasis(text))
    prev = None
    while prev != text:
        prev, text = text, _EMPH.sub(r"\2", text)
    return text


def blank_notes(text: str) -> str:
    """Notes and boneyard replaced by spaces of the same length (positions are kept)."""
    if "[[" in text:
        text = NOTE_RE.sub(lambda m: " " * len(m.group(0)), text)
    if "/*" in text:
        text = BONEYARD_RE.sub(lambda m: " " * len(m.group(0)), text)
    return text


def clean(text: str) -> str:
    """What a prompt may read of an element: no notes, no boneyard, no emphasis, single spaces."""
    text = NOTE_RE.sub(" ", text)
    text = BONEYARD_RE.sub(" ", text)
    text = strip_emphasis(text)
    return " ".join(text.split())


@lru_cache(maxsize=8192)
def fold(text: str) -> tuple[str, Sequence[int]]:
    """NFC + casefold, with a map from each folded character to its original index.

    Memoized: every gate rule scans the same element text, so each text is folded once. When
    folding keeps the length (almost always), the map is the identity ``range``.
    """
    text = unicodedata.normalize("NFC", text)
    folded = text.casefold()
    if len(folded) == len(text):  # casefold never shortens, so equal length means 1:1
        return folded, range(len(text))
    out: list[str] = []
    idx: list[int] = []
    for i, ch in enumerate(text):
        f = ch.casefold()
        out.append(f)
        idx.extend([i] * len(f))
    return "".join(out), idx


def fold_term(term: str) -> str:
    return " ".join(unicodedata.normalize("NFC", term).casefold().split())


def _term_pattern(term: str) -> str:
    # inner whitespace matches any run of whitespace (a phrase may wrap across lines)
    return r"\s+".join(re.escape(w) for w in fold_term(term).split(" "))


_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class TermSet:
    """A term list ready to match: one pattern for all its terms, and the first word of each.

    A term can only match where its first word is a whole word of the text (a match may not touch
    a letter or digit on either side, so the text's word at the match starts and ends exactly
    where the term's first word does). Checking the text's words against that set is a set
    intersection; most texts share no word with a gate's list, and skip the pattern entirely.
    ``first_words`` is None when a term starts with neither a letter nor a digit: then only the
    pattern can tell."""

    pattern: re.Pattern[str] | None
    first_words: frozenset[str] | None

    def search(self, folded: str) -> bool:
        if self.pattern is None:
            return False
        if self.first_words is not None and self.first_words.isdisjoint(words_of(folded)):
            return False
        return self.pattern.search(folded) is not None


@lru_cache(maxsize=512)
def term_set(terms: tuple[str, ...]) -> TermSet:
    folded = sorted({fold_term(t) for t in terms if t.strip()}, key=lambda t: (-len(t), t))
    if not folded:
        return TermSet(None, frozenset())
    body = "|".join(_term_pattern(t) for t in folded)
    firsts: set[str] | None = set()
    for t in folded:
        m = _WORD.match(t)
        if m is None:
            firsts = None
            break
        cast(set[str], firsts).add(m.group(0))  # never None here: a None ends the loop
    return TermSet(re.compile(f"{_B_BEFORE}(?:{body}){_B_AFTER}"), None if firsts is None else frozenset(firsts))


@lru_cache(maxsize=8192)
def words_of(folded: str) -> frozenset[str]:
    """The whole words (runs of letters and digits) of a folded text; memoized, as every gate
    rule looks at the same texts."""
    return frozenset(_WORD.findall(folded))


@dataclass(frozen=True)
class Hit:
    start: int   # in the original text
    end: int
    text: str    # as written in the original text


@per_rule_data
def _compiled(terms: Iterable[str]) -> TermSet:
    """The term set of a rule-data list, compiled once per process."""
    return term_set(tuple(terms))


def find_terms(text: str, terms: Iterable[str], exceptions: Iterable[str] = ()) -> list[Hit]:
    """Whole-word/phrase matches of ``terms`` in ``text`` not covered by an exception phrase."""
    if not text or not terms:  # an absent list is a fresh [] per call: never worth memoizing
        return []
    ts = _compiled(terms) if isinstance(terms, list) else term_set(tuple(terms))
    pat = ts.pattern
    if pat is None:
        return []
    folded, idx = fold(text)
    if not ts.search(folded):
        return []
    covered: list[tuple[int, int]] = []
    exc = None
    if exceptions:
        exc = (_compiled(exceptions) if isinstance(exceptions, list) else term_set(tuple(exceptions))).pattern
    if exc is not None:
        covered = [(m.start(), m.end()) for m in exc.finditer(folded)]
    hits: list[Hit] = []
    for m in pat.finditer(folded):
        if any(a <= m.start() and m.end() <= b for a, b in covered):
            continue
        s, e = idx[m.start()], idx[m.end() - 1] + 1
        hits.append(Hit(s, e, text[s:e]))
    return hits


def find_pattern(text: str, pattern: str) -> list[Hit]:
    folded, idx = fold(text)
    hits: list[Hit] = []
    for m in _compile_raw(pattern).finditer(folded):
        if m.end() == m.start():
            continue
        s, e = idx[m.start()], idx[m.end() - 1] + 1
        hits.append(Hit(s, e, text[s:e]))
    return hits


@lru_cache(maxsize=64)
def _compile_raw(pattern: str) -> re.Pattern[str]:
    return re.compile(f"{_B_BEFORE}(?:{pattern}){_B_AFTER}")


def has_term(text: str, terms: Iterable[str], exceptions: Iterable[str] = ()) -> bool:
    return bool(find_terms(text, terms, exceptions))


# ---------------------------------------------------------------------------------------------
# Spans
# ---------------------------------------------------------------------------------------------

def sub_span(span: dict[str, int], text: str, start: int, end: int) -> dict[str, int]:
    """The span of ``text[start:end]`` inside an element whose text starts at ``span``'s start.

    Columns are exact when the element's text is its source line as written (action, dialogue);
    for kinds whose markup was removed (forced ``!``, ``>``/``<``, ``~``) they may be off by the
    markup's width. Lines are always exact.
    """
    def pos(offset: int) -> tuple[int, int]:
        line = span["start_line"] + text.count("\n", 0, offset)
        nl = text.rfind("\n", 0, offset)
        col = (span["start_col"] + offset) if nl < 0 else (offset - nl)
        return line, col

    sl, sc = pos(start)
    el, ec = pos(end)
    return {"start_line": sl, "start_col": sc, "end_line": el, "end_col": ec}


def spans_overlap(a: dict[str, int] | None, b: dict[str, int] | None) -> bool:
    if a is None or b is None:
        return False
    return not (a["end_line"] < b["start_line"] or b["end_line"] < a["start_line"])


# ---------------------------------------------------------------------------------------------
# Rules and diagnostics
# ---------------------------------------------------------------------------------------------

class _Keep(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fmt(template: str, **values: Any) -> str:
    return template.format_map(_Keep(**values))


def rules_by_code(data: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    return {r["code"]: r for r in (data or {}).get("rule", [])}


def diag(rule: dict[str, Any], span: dict[str, int] | None, extra: dict[str, Any] | None = None,
         **values: Any) -> dict[str, Any]:
    """A diagnostic dict for ``rule`` with its message and help formatted from ``values``."""
    d = Diagnostic(severity=rule["level"], code=rule["code"], message=fmt(rule["message"], **values),
                   span=Span.from_dict(span) if span else None, help=fmt(rule.get("help", ""), **values) or None,
                   extra=dict(extra or {}))
    return d.to_dict()


def sort_diags(diags: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def key(d: dict[str, Any]) -> tuple[int, int, str, str, bytes]:
        s = d.get("span")
        line, col = (s["start_line"], s["start_col"]) if s else (0, 0)
        return (line, col, d["code"], d["message"], canonical_json(d))
    return sorted(diags, key=key)


# ---------------------------------------------------------------------------------------------
# Words in capitals, names
# ---------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"[^\W_][\w'’.\-]*", re.U)


def _is_caps(tok: str) -> bool:
    letters = [c for c in tok if c.isalpha()]
    if not letters:
        return False
    upper = sum(1 for c in letters if c.isupper())
    lower = len(letters) - upper
    if lower == 0:
        return len(letters) >= 1
    # a forced mixed-case name such as MacBRIDE counts as capitals; McCoy does not
    return upper >= 2 and upper > lower


def _norm_caps(word: str) -> str:
    return word.upper().replace(".", "").replace("'", "").replace("’", "")


@per_rule_data
def _ignore_set(ignore: Iterable[str]) -> frozenset[str]:
    """The normalized ignore list."""
    return frozenset(_norm_caps(w) for w in ignore)


@per_rule_data
def folded_set(terms: Iterable[str]) -> frozenset[str]:
    """The terms of a rule-data list, folded (NFC, casefolded, single spaces)."""
    return frozenset(fold_term(t) for t in terms)


def caps_runs(text: str, ignore: Iterable[str] = ()) -> list[Hit]:
    """Maximal runs of words in CAPITALS separated by single spaces, without punctuation between
    them. Ignore-listed words and words of fewer than two letters are never part of a run."""
    ign = _ignore_set(ignore)
    runs: list[Hit] = []
    cur: list[tuple[int, int, bool]] = []  # (start, end of word, punctuation after it)

    def flush() -> None:
        if cur:
            s, e = cur[0][0], cur[-1][1]
            runs.append(Hit(s, e, text[s:e]))
        cur.clear()

    for m in _TOKEN.finditer(text):
        tok = m.group(0)
        if tok.islower():  # most words: no capital at all, never part of a run
            flush()
            continue
        core = tok.rstrip(".,;:!?'’-")
        if core.endswith(("'S", "’S", "'s", "’s")) and len(core) > 2:
            core, punct = core[:-2], True   # possessive: JOHN'S POV -> JOHN
        else:
            punct = len(core) != len(tok)
        alpha = sum(1 for c in core if c.isalpha())
        is_caps = alpha >= 2 and _is_caps(core) and _norm_caps(core) not in ign
        if not is_caps:
            flush()
            continue
        if cur and not (text[cur[-1][1]:m.start()] == " " and not cur[-1][2]):
            flush()
        cur.append((m.start(), m.start() + len(core), punct))
    flush()
    return runs


def name_key(name: str) -> str:
    return fold_term(name)


def name_in_run(name: str, run: str) -> bool:
    """True when the character name's words appear, in order and together, among the phrase's
    words ("WINIFRED" in "WINIFRED ASH", "PIKE" in "ALDOUS PIKE")."""
    n = name_key(name).split()
    r = name_key(run).split()
    return bool(n) and any(r[i:i + len(n)] == n for i in range(len(r) - len(n) + 1))


def word_count(text: str) -> int:
    return len(_TOKEN.findall(text))
