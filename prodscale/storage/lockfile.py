"""``prodscale.lock``: each story's pinned engine and the hashes of its last compilation.

TOML (read with tomllib, written with tomli-w), keys sorted, one table per story, meant to be
committed so a production's pins travel with its stories. A malformed lock is an input error that
names the line and touches nothing; the file is only ever replaced atomically (and fsynced).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar

import msgspec
import tomli_w

from prodscale.core.canon import digest_bytes
from prodscale.core.toml_lines import convert, dotted, line_of, says
from prodscale.errors import InputError
from prodscale.storage.fs import atomic_write

LOCK_NAME = "prodscale.lock"
FORMAT = 1
HEADER = ("# prodscale.lock: written by prodscale, meant to be committed.\n"
          "# Each story's pinned engine and the hashes of its last compilation.\n"
          "# Move a story to another engine with `prodscale reanalyze STORY --engine X`, not by hand.\n\n")
_Version = Annotated[str, says("{name} must be a version like 1.0.0", pattern=r"^\d+\.\d+\.\d+$")]
_Digest = Annotated[str, says("{name} must be a 64-hex-digit digest", pattern=r"^[0-9a-f]{64}$")]


class _Entry(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One story's table of the lock, as this prodscale writes it (in this order)."""

    WORDS: ClassVar[msgspec.Meta] = says("{name} must be a table")
    engine: _Version
    floor: _Version | None = None
    inputs: _Digest | None = None
    story_hash: _Digest | None = None
    shot_specs_hash: _Digest | None = None
    prompts_hash: _Digest | None = None
    compilation_hash: _Digest | None = None


class _Lock(msgspec.Struct):   # other top-level keys are dropped by the next save, as they always were
    stories: Annotated[dict[str, _Entry], says("'stories' must be a table")] = {}


ENTRY_KEYS: tuple[str, ...] = _Entry.__struct_fields__


@dataclass
class LockFile:
    path: Path
    stories: dict[str, dict[str, str]] = field(default_factory=dict)
    loaded_text: str | None = None
    loaded: dict[str, dict[str, str]] | None = None  # what the file held when read (to skip no-op saves)

    @classmethod
    def load(cls, root: Path, snapshot: dict[str, Any] | None = None) -> LockFile:
        """Read the lock. ``snapshot`` ({"stat": [...], "stories": {...}} from the build state) is used
        instead of parsing when the file's bytes still hash to it: a no-op build of a thousand stories
        should not parse a thousand TOML tables. (Hashing the bytes costs well under a millisecond.)"""
        path = root / LOCK_NAME
        if snapshot is not None:
            try:
                raw = path.read_bytes()
                if digest_bytes(raw) == snapshot.get("digest"):
                    stories = {k: dict(v) for k, v in snapshot["stories"].items()}
                    return cls(path, stories, raw.decode("utf-8"), {k: dict(v) for k, v in stories.items()})
            except (OSError, KeyError, AttributeError, UnicodeDecodeError):
                pass
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path)
        except UnicodeDecodeError:
            raise InputError("not valid UTF-8", path=LOCK_NAME, hint="restore it from version control") from None
        try:
            data = tomllib.loads(text)
        except RecursionError:
            raise InputError("malformed lock file: nested too deeply to read", path=LOCK_NAME,
                             hint="restore it from version control; prodscale will not overwrite it") from None
        except tomllib.TOMLDecodeError as exc:
            line = _line_from(str(exc))
            raise InputError(f"malformed lock file: {exc}", path=LOCK_NAME, line=line,
                             hint="restore it from version control; prodscale will not overwrite it") from None
        stories = _validate(data, text)
        return cls(path, stories, text, {k: dict(v) for k, v in stories.items()})

    def pin(self, story: str) -> str | None:
        entry = self.stories.get(story)
        return entry.get("engine") if entry else None

    def render(self) -> str:
        """The file's text: exactly ``tomli_w.dumps`` of the whole document, but an unchanged story's
        table is reused from the text read, so saving one story's change costs one table, not all."""
        reuse = self._chunks() if self.loaded is not None else {}
        parts = [HEADER, tomli_w.dumps({"format": FORMAT})]
        for name in sorted(self.stories):
            entry = {k: self.stories[name][k] for k in ENTRY_KEYS if k in self.stories[name]}
            chunk = reuse.get(name) if self.loaded is not None and self.loaded.get(name) == entry else None
            parts.append("\n" + (chunk if chunk is not None else tomli_w.dumps({"stories": {name: entry}})))
        return "".join(parts)

    def _chunks(self) -> dict[str, str]:
        """story name -> its ``[stories.NAME]`` table as written in the text read."""
        if not self.loaded_text or "\n[stories." not in self.loaded_text:
            return {}
        pieces = self.loaded_text.split("\n[stories.")[1:]
        out: dict[str, str] = {}
        for piece in pieces:
            chunk = "[stories." + piece
            if not chunk.endswith("\n"):
                return {}
            try:   # each table names its own story: pair it by that name, whatever order the file has
                parsed = tomllib.loads(chunk).get("stories", {})
            except tomllib.TOMLDecodeError:
                return {}
            if len(parsed) != 1:
                return {}
            (name, entry), = parsed.items()
            if name in out or (self.loaded or {}).get(name) != entry:
                return {}
            out[name] = chunk[:-1] if chunk.endswith("\n\n") else chunk
        return out

    def save(self) -> bool:
        """Write the lock if its content changed; returns True when it wrote."""
        if self.loaded is not None and self.stories == self.loaded and self.path.exists():
            return False
        text = self.render()
        if text == self.loaded_text:
            return False
        atomic_write(self.path, text.encode("utf-8"), fsync=True)
        self.loaded_text = text
        self.loaded = {k: dict(v) for k, v in self.stories.items()}
        return True

    def snapshot(self) -> dict[str, Any] | None:
        """What the build state keeps so the next build can skip parsing an unchanged lock."""
        try:
            digest = digest_bytes(self.path.read_bytes())
        except OSError:
            return None
        return {"digest": digest, "stories": self.stories}


def _line_from(message: str) -> int | None:
    m = re.search(r"line (\d+)", message)
    return int(m.group(1)) if m else None


def _validate(data: dict[str, Any], text: str) -> dict[str, dict[str, str]]:
    """The stories of a parsed lock, as read (the entries are checked, never rebuilt)."""
    restore = "restore it from version control; prodscale will not overwrite it"
    if data.get("format") != FORMAT:
        raise InputError(f"unsupported lock format {data.get('format')!r} (this prodscale writes format {FORMAT})",
                         path=LOCK_NAME, line=line_of(text, ("format",)), hint=restore)
    convert(data, _Lock, text=text, file=LOCK_NAME, error=InputError, name=lambda path, table: dotted(path),
            hint=restore)
    return {name: dict(entry) for name, entry in data.get("stories", {}).items()}
