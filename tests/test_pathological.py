"""Issue 14: inputs that made prodscale quadratic. The fixes keep every output byte (freeze goldens); the
times are measured in benchmarks/pathological.py, not asserted here."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from prodscale.core.fountain import _NOTE_RE, note_spans

PIECES = st.sampled_from(["[", "]", "[[", "]]", "\n", "\n\n", "a", " ", "x", "\n \n", "[[[", "]]]"])


@settings(max_examples=3000, deadline=None)
@given(st.lists(PIECES, max_size=40).map("".join))
def test_note_spans_are_the_regexs_matches(text: str) -> None:
    assert note_spans(text) == [m.span() for m in _NOTE_RE.finditer(text)]


def test_unclosed_notes_are_found_in_one_pass() -> None:
    text = "A [[ b " * 20000 + "\n\nC [[ d ]] e\n"
    assert note_spans(text) == [(len("A [[ b " * 20000) + 4, len("A [[ b " * 20000) + 11)]
