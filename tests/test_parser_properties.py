"""Properties of the parser that must hold for every input (hypothesis)."""

from __future__ import annotations

import unicodedata

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import any_text, screenplays

from prodscale.core.fountain import normalize_character, parse
from prodscale.core.model import Span, Story
from prodscale.errors import DecodeError

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(any_text)
def test_any_text_parses(text: str) -> None:
    story = parse(text)
    _check_spans(story)


@FAST
@given(screenplays)
def test_screenplay_like_text_parses_with_spans_in_order(text: str) -> None:
    _check_spans(parse(text))


@FAST
@given(st.binary(max_size=400))
def test_any_bytes_parse_or_raise_decode_error(data: bytes) -> None:
    try:
        story = parse(data)
    except DecodeError as err:
        assert err.line >= 1 and err.column >= 1 and 0 <= err.byte_offset < len(data)
    else:
        _check_spans(story)


@FAST
@given(screenplays)
def test_stable_under_editor_normalizations(text: str) -> None:
    base = parse(text)
    variants = [
        text.replace("\n", "\r\n").encode(),
        text.replace("\n", "\r").encode(),
        # a BOM is an encoding mark only once, at the very start (the text may already begin with one)
        b"\xef\xbb\xbf" + text.removeprefix("\ufeff").encode(),
        unicodedata.normalize("NFD", text).encode(),
        unicodedata.normalize("NFC", text),
    ]
    for v in variants:
        assert parse(v) == base


@FAST
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="()^@"), max_size=20))
def test_character_normalization_is_idempotent(name: str) -> None:
    once, _ = normalize_character(name)
    assert normalize_character(once) == (once, None)


def _check_spans(story: Story) -> None:
    lines = story.text.split("\n")

    def inside(span: Span) -> None:
        assert 1 <= span.start_line <= span.end_line <= len(lines), span
        assert 1 <= span.start_col <= len(lines[span.start_line - 1]) + 1, span
        assert 1 <= span.end_col <= len(lines[span.end_line - 1]) + 1, span
        assert (span.start_line, span.start_col) <= (span.end_line, span.end_col), span

    for f in story.title_page:
        inside(f.span)
    previous = (0, 0)
    elements = list(story.prologue)
    for e in story.prologue:
        inside(e.span)
        assert (e.span.start_line, e.span.start_col) >= previous
        previous = (e.span.start_line, e.span.start_col)
    for scene in story.scenes:
        inside(scene.span)
        inside(scene.heading_span)
        assert (scene.heading_span.start_line, scene.heading_span.start_col) >= previous
        previous = (scene.heading_span.start_line, scene.heading_span.start_col)
        for e in scene.elements:
            inside(e.span)
            assert (e.span.start_line, e.span.start_col) >= previous
            assert (e.span.end_line, e.span.end_col) <= (scene.span.end_line, scene.span.end_col)
            previous = (e.span.start_line, e.span.start_col)
            elements.append(e)
    for w in story.warnings:
        assert w.span is not None
        inside(w.span)
    # the title page comes before every element except notes (a line of notes may precede it)
    body = [e for e in elements if e.kind != "note"]
    if story.title_page and body:
        last = story.title_page[-1].span
        assert (last.end_line, last.end_col) <= (body[0].span.start_line, body[0].span.start_col)
    assert story.characters == tuple(sorted(set(story.characters)))
