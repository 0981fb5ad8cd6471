"""Source text normalization: the one way a story's bytes become the text prodscale reads and hashes.

The same screenplay saved by two editors must give the same model and the same hashes, so every
difference an editor can introduce without the writer meaning it is removed here and nowhere else:

- strict UTF-8 (anything else is a :class:`~prodscale.errors.DecodeError` naming the first bad byte);
- a leading byte-order mark is dropped;
- CRLF and lone CR become LF (line numbers stay those of the original file: every kind of line break
  counts as one line, before and after);
- the text is NFC-normalized (so NFD and NFC spellings of "é" are the same story).

Tabs are *not* touched here: they are content, and the Fountain rule (tabs in action become four
spaces) belongs to the parser. Columns in spans count characters of this normalized text.
"""

from __future__ import annotations

import unicodedata

from prodscale.errors import DecodeError

BOM = "\ufeff"


def normalize_text(text: str) -> str:
    """Normalize already-decoded text: drop a leading BOM, CRLF/CR -> LF, NFC."""
    if text.startswith(BOM):
        text = text[1:]
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return text


def normalize_source(data: bytes, path: str | None = None) -> str:
    """Decode ``data`` as strict UTF-8 and normalize it (see the module docstring).

    On invalid UTF-8 raises :class:`DecodeError` with the 1-based line and column (in characters,
    counted as the normalized text would count them) and the byte offset of the first bad byte.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise _decode_error(data, err.start, err.reason, path) from None
    return normalize_text(text)


def _decode_error(data: bytes, offset: int, reason: str, path: str | None) -> DecodeError:
    # Everything before the first bad byte decodes cleanly by definition.
    before = normalize_text(data[:offset].decode("utf-8"))
    line = before.count("\n") + 1
    column = len(before) - (before.rfind("\n") + 1) + 1
    bad = data[offset:offset + 1].hex()
    return DecodeError(
        f"not valid UTF-8: byte 0x{bad} at byte offset {offset} (line {line}, column {column}): {reason}",
        byte_offset=offset, line=line, column=column, path=path)
