"""Source normalization: strict UTF-8, BOM, line endings, NFC (prodscale.core.text)."""

from __future__ import annotations

import unicodedata

import pytest

from prodscale.core.text import normalize_source, normalize_text
from prodscale.errors import DecodeError, InputError


def test_plain_utf8_passes_through() -> None:
    assert normalize_source("INT. CAFÉ - DAY\n".encode()) == "INT. CAFÉ - DAY\n"


def test_bom_is_stripped_once() -> None:
    assert normalize_source(b"\xef\xbb\xbfTitle: X\n") == "Title: X\n"
    # only a leading BOM is an encoding mark; one later in the text is content
    assert normalize_source(b"a\xef\xbb\xbfb") == "a\ufeffb"


@pytest.mark.parametrize("raw", [b"a\r\nb\r\n", b"a\rb\r", b"a\nb\n", b"a\r\nb\r"])
def test_line_endings_become_lf(raw: bytes) -> None:
    assert normalize_source(raw) == "a\nb\n"


def test_cr_lf_keeps_line_count() -> None:
    # "\r\r\n" is a lone CR then a CRLF: two line breaks, as an editor shows them
    assert normalize_source(b"a\r\r\nb") == "a\n\nb"


def test_nfd_becomes_nfc() -> None:
    nfd = unicodedata.normalize("NFD", "JOSÉ\nÅngström")
    assert nfd != "JOSÉ\nÅngström"
    assert normalize_source(nfd.encode()) == "JOSÉ\nÅngström"
    assert normalize_text(nfd) == "JOSÉ\nÅngström"


def test_tabs_are_content_here() -> None:
    assert normalize_source(b"\tJOHN\n") == "\tJOHN\n"


def test_invalid_utf8_names_line_column_and_offset() -> None:
    data = "INT. HOUSE\r\n\r\nJosé said \xff".encode().replace(b"\xc3\xbf", b"\xff")
    with pytest.raises(DecodeError) as info:
        normalize_source(data, path="s.fountain")
    err = info.value
    assert isinstance(err, InputError)
    assert err.byte_offset == data.index(b"\xff")
    assert (err.line, err.column) == (3, 11)  # "José said " is 10 characters (é counts once)
    assert err.path == "s.fountain"
    assert "0xff" in err.message and f"byte offset {err.byte_offset}" in err.message
    assert err.render().startswith("s.fountain:3:11: error: not valid UTF-8")
    assert err.exit_code == 2


def test_decode_error_column_after_bom_and_lone_cr() -> None:
    with pytest.raises(DecodeError) as info:
        normalize_source(b"\xef\xbb\xbfab\rcd\x80")
    assert (info.value.line, info.value.column, info.value.byte_offset) == (2, 3, 8)


def test_truncated_multibyte_sequence_at_end() -> None:
    with pytest.raises(DecodeError) as info:
        normalize_source("ok é".encode()[:-1])
    assert (info.value.line, info.value.column) == (1, 4)


def test_utf16_is_refused() -> None:
    with pytest.raises(DecodeError):
        normalize_source("INT. HOUSE".encode("utf-16"))
