"""Where a key is written in a TOML text, and typed reading of parsed TOML whose errors name that line.

tomllib gives values but no positions, so an error about ``providers.b.endpoint`` has to find the line
again in the text. Searching the text for the first ``endpoint =`` named ``[providers.a]``'s key when
``[providers.b]``'s was wrong (issue 14). :func:`line_of` reads the text the way TOML nests it instead:
table headers ``[a.b]`` and arrays of tables ``[[a]]`` (an index in the path), bare, quoted and dotted
keys, inline tables and arrays (each element has its line), comments, and strings over several lines
(a key-like line inside a string is text, not a key). Pure and total: a text that is not valid TOML
gives the lines of what could be read, never an exception.

:func:`convert` is the other half of the same question: it checks a parsed table against typed structs
(msgspec, strict: no ``"5"`` for 5, no ``true`` for 1, no unknown keys) and turns the library's error
into prodscale's own (message, hint, file and the line of the key path). The words of an error live next
to the type they are about, in :func:`says`, so a struct reads as the documentation of its table.
"""

from __future__ import annotations

import bisect
import functools
import re
import tomllib
import typing
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType, NoneType, UnionType
from typing import Annotated, Any, TypeVar

import msgspec

from prodscale.errors import ConfigError, InputError

KeyPath = tuple[str | int, ...]
T = TypeVar("T")

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


# --------------------------------------------------------------------------- typed tables

def says(message: str = "", hint: str = "", *, missing: str = "", unknown: str = "", unknown_hint: str = "",
         **constraints: Any) -> msgspec.Meta:
    """A type's constraints (msgspec's ``ge``, ``pattern``, ``min_length``...) with the words of its errors:
    ``message`` and ``hint`` for a wrong value (an error deeper down without words of its own, an element
    of a list or a key of a table, takes these), ``missing`` for a table without a required key (with
    ``hint``), ``unknown`` and ``unknown_hint`` for a key the table does not have. A struct class holds
    its own as ``WORDS: ClassVar[msgspec.Meta]``. The words may hold ``{name}`` (the key or table as the
    file's reader knows it), ``{parent}`` (the table around a key), ``{key}``, ``{value}`` and ``{type}``
    (of the value found) and, for an unknown key, ``{known}`` (the keys the table has) and ``{kind}`` (the
    table without its index: ``[[acknowledge]]``)."""
    words = {"message": message, "hint": hint, "missing": missing, "unknown": unknown, "unknown_hint": unknown_hint}
    return msgspec.Meta(**constraints, extra={k: v for k, v in words.items() if v})


def header(path: Sequence[str | int]) -> str:
    """A table's path as its TOML header, for messages: ``[providers.b.prices."model v2"]``; an element
    of an array of tables reads ``[[acknowledge]] #2`` (1-based, as a writer counts them)."""
    if path and isinstance(path[-1], int):
        return f"[[{dotted(path[:-1])}]] #{path[-1] + 1}"
    return f"[{dotted(path)}]"


def dotted(path: Sequence[str | int]) -> str:
    """A key path as TOML writes a dotted key (``a."b c".d``); an array index as ``#n`` (1-based)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f" #{part + 1}"
        else:
            key = part if _BARE_KEY.fullmatch(part) else '"' + part.replace("\\", "\\\\").replace('"', '\\"') + '"'
            out += f".{key}" if out else key
    return out


def default_name(path: KeyPath, table: bool) -> str:
    """How an error calls a key path: a table by its header (``[style]``), a key by its table's header
    and its name (``[style] look``)."""
    if table or len(path) < 2:
        return header(path) if table else dotted(path)
    return f"{header(path[:-1])} {path[-1]}"


Naming = Callable[[KeyPath, bool], str]


def convert(data: Any, type_: type[T], *, text: str, file: str, at: KeyPath = (),
            error: type[InputError] = ConfigError, name: Naming = default_name, hint: str | None = None) -> T:
    """``data`` (the table at key path ``at`` of the TOML ``text`` read from ``file``) as ``type_``,
    strictly; a mismatch raises ``error`` with the words :func:`says` gave the type, the line of the
    key that is wrong and a hint (``hint`` replaces every hint, for a file the user should not edit)."""
    try:
        return msgspec.convert(data, type_, strict=True)
    except msgspec.ValidationError as exc:
        problem = _Problem.of(str(exc), type_, data)
    message, words_hint = problem.words(at, name)
    raise error(message, hint=hint if hint is not None else words_hint, path=file,
                line=line_of(text, at + problem.line_path)) from None


_MISSING = re.compile(r"^Object missing required field `(?P<key>.*)`$")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<key>.*)`$")
_WHERE = re.compile(r"^(?P<detail>.*?)(?: - at `key` in `(?P<keys_of>\$[^`]*)`| - at `(?P<at>\$[^`]*)`)?$", re.S)
_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[(\.\.\.)\]")
_PLACEHOLDER = re.compile(r"\{(name|parent|key|value|type|known|kind)\}")


class _Problem:
    """One validation error as data: the key path (relative to what was converted) of the value that is
    wrong, or of the table that misses or has an extra key, and the types along that path (for their
    words). msgspec elides table keys from its paths (``$.providers[...].endpoint``): which key it was
    is found by converting each entry of that table again, in order, the first that fails being it."""

    def __init__(self, kind: str, path: KeyPath, key: str | None, types: list[Any], data: list[Any],
                 detail: str) -> None:
        self.kind = kind          # "value" (a wrong value), "key" (a wrong table key), "missing", "unknown"
        self.path = path
        self.key = key            # the missing or unknown key
        self.types = types        # the type at path[:n], n = 0..len(path)
        self.data = data          # the value at path[:n]
        self.detail = detail      # msgspec's words, when a type has none of its own

    @property
    def line_path(self) -> KeyPath:
        return self.path + ((self.key,) if self.key is not None else ())

    @classmethod
    def of(cls, text: str, type_: Any, data: Any) -> _Problem:
        m = _WHERE.match(text)
        detail, where = (m.group("detail"), m.group("at") or m.group("keys_of")) if m else (text, None)
        path: list[str | int] = []
        types, values = [type_], [data]
        for field, index, elided in _STEP.findall(where or ""):
            tp, node = types[-1], values[-1]
            if elided:   # a value of a table: which key it was, and the rest of the path from that value's own error
                value_type = _child(tp, "")
                for k, v in node.items() if isinstance(node, dict) and value_type is not None else ():
                    try:
                        msgspec.convert(v, value_type, strict=True)
                    except msgspec.ValidationError as sub:
                        inner = cls.of(str(sub), value_type, v)
                        return cls(inner.kind, (*path, k, *inner.path), inner.key, types + inner.types,
                                   values + inner.data, inner.detail)
                break
            step: str | int = field or int(index)
            path.append(step)
            types.append(_child(tp, step))
            values.append(node.get(step) if isinstance(node, dict) else
                          node[step] if isinstance(node, list) and isinstance(step, int) else None)
        for kind, pattern in (("missing", _MISSING), ("unknown", _UNKNOWN)):
            km = pattern.match(detail)
            if km:
                return cls(kind, tuple(path), km.group("key"), types, values, detail)
        if m and m.group("keys_of") and isinstance(values[-1], dict):   # a key of that table is wrong
            key_type = _child(types[-1], None)
            for k in values[-1]:
                try:
                    msgspec.convert(k, key_type, strict=True)
                except msgspec.ValidationError:
                    return cls("key", (*path, k), None, [*types, key_type], [*values, k], detail)
        return cls("value", tuple(path), None, types, values, detail)

    def words(self, at: KeyPath, name: Naming) -> tuple[str, str | None]:
        """(message, hint) in the words the types gave, or generic ones."""
        full = at + self.path
        if self.kind in ("missing", "unknown"):
            assert self.key is not None
            table = _words(self.types[-1])
            field_type = _child(self.types[-1], self.key)
            table_name = name(full, True)
            fields = {"name": table_name, "key": self.key, "known": ", ".join(_field_names(self.types[-1])),
                      "kind": re.sub(r" #\d+$", "", table_name)}   # [[acknowledge]], not [[acknowledge]] #2
            if self.kind == "missing":
                own = _words(field_type) if field_type is not None else {}
                said = own if "missing" in own else table if "missing" in table else {**table, **own}
                hint = said.get("hint")   # the hint that goes with the message
                return _fill(said.get("missing", "{name} has no {key}"), fields), _fill(hint, fields) if hint else None
            return (_fill(table.get("unknown", "unknown key '{key}' in {name}"), fields),
                    _fill(table.get("unknown_hint", "known keys in {kind}: {known}"), fields))
        for depth in range(len(self.path), -1, -1):   # the nearest type with words, from the value outwards
            own = _words(self.types[depth])
            if "message" in own:
                break
        else:
            depth, own = len(self.path), {"message": "{name}: " + self.detail}
        where = full[:len(at) + depth]
        value = self.data[depth]
        fields = {"name": name(where, False) if where else "the file", "parent": name(where[:-1], False),
                  "key": str(where[-1]) if where else "", "value": str(value), "type": type(value).__name__}
        return _fill(own["message"], fields), _fill(own["hint"], fields) if "hint" in own else None


def _fill(template: str, fields: Mapping[str, str]) -> str:
    """The template with its placeholders filled in one pass (a value holding ``{name}`` stays as it is)."""
    return _PLACEHOLDER.sub(lambda m: fields.get(m.group(1), m.group()), template)


def _strip(tp: Any) -> tuple[Any, dict[str, str]]:
    """The type under its ``Annotated`` and ``| None`` wrappers, and the words found on the way (the
    outermost win); a struct's own ``WORDS`` come after those of the place it is used."""
    words: dict[str, str] = {}
    while True:
        if typing.get_origin(tp) is Annotated:
            base, *metas = typing.get_args(tp)
            for meta in metas:
                if isinstance(meta, msgspec.Meta) and meta.extra:
                    for k, v in meta.extra.items():
                        words.setdefault(k, v)
            tp = base
            continue
        if typing.get_origin(tp) in (typing.Union, UnionType):
            members = [a for a in typing.get_args(tp) if a is not NoneType]
            if len(members) == 1:
                tp = members[0]
                continue
        own = getattr(tp, "WORDS", None) if isinstance(tp, type) and issubclass(tp, msgspec.Struct) else None
        for k, v in (own.extra or {}).items() if isinstance(own, msgspec.Meta) else ():
            words.setdefault(k, v)
        return tp, words


def _words(tp: Any) -> dict[str, str]:
    return _strip(tp)[1]


def _child(tp: Any, step: str | int | None) -> Any:
    """The type of ``tp``'s field, element or value at ``step`` ("" any value of a table, None its key);
    None when ``tp`` says nothing about it."""
    base, _ = _strip(tp)
    if isinstance(base, type) and issubclass(base, msgspec.Struct):
        hints = {f.encode_name: f.type for f in msgspec.structs.fields(base)}
        return hints.get(step) if isinstance(step, str) else None
    origin, args = typing.get_origin(base), typing.get_args(base)
    if origin is dict and len(args) == 2:
        return args[0] if step is None else args[1]
    if origin is list and args:
        return args[0]
    return None


def _field_names(tp: Any) -> list[str]:
    base, _ = _strip(tp)
    if isinstance(base, type) and issubclass(base, msgspec.Struct):
        return sorted(f.encode_name for f in msgspec.structs.fields(base))
    return []
