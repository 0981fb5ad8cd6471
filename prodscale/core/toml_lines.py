"""Where a key is written in a TOML text: the 1-based line of a key path, found inside its own table.

tomllib gives values but no positions, so an error about ``providers.b.endpoint`` has to find the line
again in the text. Searching the text for the first ``endpoint =`` named ``[providers.a]``'s key when
``[providers.b]``'s was wrong (issue 14). :func:`line_of` reads the text the way TOML nests it instead:
table headers ``[a.b]`` and arrays of tables ``[[a]]`` (an index in the path), bare, quoted and dotted
keys, inline tables and arrays (each element has its line), comments, and strings over several lines
(a key-like line inside a string is text, not a key). Pure and total: a text that is not valid TOML
gives the lines of what could be read, never an exception.
"""

from __future__ import annotations

import bisect
import functools
import re
import tomllib
from collections.abc import Mapping, Sequence
from types import MappingProxyType

KeyPath = tuple[str | int, ...]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SCALAR_END = re.compile(r"[,\]}#\n]")


def line_of(text: str, path: Sequence[str | int]) -> int | None:
    """The line where ``path`` is written, e.g. ``("providers", "b", "endpoint")``, ``("stories", "alpha",
    "floor")`` or ``("acknowledge", 1, "code")`` (the second ``[[acknowledge]]``). A key inside an inline
    table or array that is not written on its own line gives the line of its element or key; a key that
    is not written gives the line of its table (the header, or the key holding it inline); neither is
    written, None (never the line of some other table)."""
    explicit, implicit = _lines(text)
    key = tuple(path)
    for n in (len(key), len(key) - 1):
        line = explicit.get(key[:n], implicit.get(key[:n])) if n > 0 else None
        if line is not None:
            return line
    return None


@functools.lru_cache(maxsize=8)
def _lines(text: str) -> tuple[Mapping[KeyPath, int], Mapping[KeyPath, int]]:
    """Every key path of the text and its line (one scan; an error's fallbacks ask again)."""
    explicit, implicit = _Scanner(text).scan()
    return MappingProxyType(explicit), MappingProxyType(implicit)


class _Scanner:
    """One pass over the text, recording the line of every key path it defines. ``explicit`` holds what
    is written (a key, a table header, an array element), ``implicit`` the tables a header or a dotted key
    creates on the way (``[a.b.c]`` creates ``a`` and ``a.b``), each at its first line."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.newlines = [i for i, c in enumerate(text) if c == "\n"]
        self.explicit: dict[KeyPath, int] = {}
        self.implicit: dict[KeyPath, int] = {}
        self.arrays: dict[KeyPath, int] = {}   # array of tables -> how many [[...]] so far

    def line(self, pos: int) -> int:
        return bisect.bisect_right(self.newlines, pos - 1) + 1

    def peek(self, n: int = 1) -> str:
        return self.text[self.pos:self.pos + n]

    def scan(self) -> tuple[dict[KeyPath, int], dict[KeyPath, int]]:
        table: KeyPath = ()
        while self.pos < len(self.text):
            self.skip(" \t\r")
            start = self.pos
            char = self.peek()
            if char == "[":
                table = self.header(table)
            elif char and char not in "#\n":
                self.key_value(table)
            self.skip(" \t\r")
            if self.peek() == "#" or self.pos == start or self.peek() not in ("\n", ""):
                self.to_line_end()   # a comment, or what cannot be read: the rest of the line
            self.pos += 1
        return self.explicit, self.implicit

    def skip(self, chars: str) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in chars:
            self.pos += 1

    def skip_blank(self) -> None:
        """Blanks, line breaks and comments: what may come between the elements of an array."""
        while True:
            self.skip(" \t\r\n")
            if self.peek() != "#":
                return
            self.to_line_end()

    def to_line_end(self) -> None:
        end = self.text.find("\n", self.pos)
        self.pos = len(self.text) if end < 0 else end

    def define(self, path: KeyPath, line: int) -> None:
        self.explicit.setdefault(path, line)
        for n in range(1, len(path)):
            self.implicit.setdefault(path[:n], line)

    def header(self, table: KeyPath) -> KeyPath:
        line = self.line(self.pos)
        many = self.peek(2) == "[["
        self.pos += 2 if many else 1
        self.skip(" \t")
        keys = self.key()
        self.skip(" \t")
        closing = "]]" if many else "]"
        if not keys or self.peek(len(closing)) != closing:
            return table
        self.pos += len(closing)
        resolved: KeyPath = ()
        for part in keys[:-1]:   # [a.b] after [[a]] is b of the last a
            resolved += (part,)
            if resolved in self.arrays:
                resolved += (self.arrays[resolved] - 1,)
        resolved += (keys[-1],)
        if many:
            index = self.arrays.get(resolved, 0)
            self.arrays[resolved] = index + 1
            self.define(resolved, line)
            resolved += (index,)
        self.define(resolved, line)
        return resolved

    def key(self) -> list[str]:
        """A dotted key (``a."b.c".d``) as its parts; [] when none is there."""
        parts: list[str] = []
        while True:
            self.skip(" \t")
            char = self.peek()
            if char in ('"', "'"):
                start = self.pos
                self.string()
                parts.append(_unquote(self.text[start:self.pos]))
            else:
                m = _BARE_KEY.match(self.text, self.pos)
                if not m:
                    return parts
                parts.append(m.group())
                self.pos = m.end()
            self.skip(" \t")
            if self.peek() != ".":
                return parts
            self.pos += 1

    def key_value(self, table: KeyPath) -> None:
        line = self.line(self.pos)
        keys = self.key()
        self.skip(" \t")
        if not keys or self.peek() != "=":
            return
        self.pos += 1
        path = table + tuple(keys)
        self.define(path, line)
        self.skip(" \t")
        self.value(path)

    def value(self, path: KeyPath) -> None:
        char = self.peek()
        if char in ('"', "'"):
            self.string()
        elif char == "[":
            self.array(path)
        elif char == "{":
            self.inline_table(path)
        else:
            m = _SCALAR_END.search(self.text, self.pos)
            self.pos = len(self.text) if m is None else m.start()

    def string(self) -> None:
        quote = self.peek()
        if self.peek(3) == quote * 3:   # over several lines: up to two more quotes belong to the text
            end = self._find_close(quote * 3, self.pos + 3, escapes=quote == '"', multiline=True)
            self.pos = end + 3
            extra = 0
            while extra < 2 and self.peek() == quote:
                self.pos += 1
                extra += 1
        else:
            self.pos = self._find_close(quote, self.pos + 1, escapes=quote == '"', multiline=False) + 1

    def _find_close(self, closing: str, pos: int, *, escapes: bool, multiline: bool) -> int:
        text = self.text
        while pos < len(text):
            if escapes and text[pos] == "\\":
                pos += 2
                continue
            if text.startswith(closing, pos) or (not multiline and text[pos] == "\n"):
                return pos if text.startswith(closing, pos) else pos - 1
            pos += 1
        return len(text)

    def array(self, path: KeyPath) -> None:
        self.pos += 1
        index = 0
        while self.pos < len(self.text):
            self.skip_blank()
            if self.peek() in ("]", ""):
                break
            start = self.pos
            self.define(path + (index,), self.line(start))
            self.value(path + (index,))
            self.skip_blank()
            if self.peek() == "," or self.pos == start:   # the separator, or what is no value: step over it
                self.pos += 1
            index += 1
        self.pos += 1

    def inline_table(self, path: KeyPath) -> None:
        self.pos += 1
        while self.pos < len(self.text):
            self.skip_blank()
            char = self.peek()
            if char in ("}", ""):
                break
            if char == ",":
                self.pos += 1
                continue
            start = self.pos
            line = self.line(start)
            keys = self.key()
            self.skip(" \t")
            if keys and self.peek() == "=":
                self.pos += 1
                self.define(path + tuple(keys), line)
                self.skip(" \t")
                self.value(path + tuple(keys))
            elif self.pos == start:
                self.pos += 1
        self.pos += 1


def _unquote(raw: str) -> str:
    """A quoted key's text: a literal key as written, a basic key with its escapes read by tomllib."""
    if raw.startswith("'"):
        return raw[1:-1]
    try:
        value = tomllib.loads(f"k = {raw}")["k"]
    except tomllib.TOMLDecodeError:
        return raw[1:-1]
    return value if isinstance(value, str) else raw[1:-1]
