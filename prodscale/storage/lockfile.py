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
from typing import Any

import tomli_w

from prodscale.core.canon import digest_bytes
from prodscale.core.toml_lines import KeyPath, line_of
from prodscale.errors import InputError
from prodscale.storage.fs import atomic_write

LOCK_NAME = "prodscale.lock"
FORMAT = 1
HEADER = ("# prodscale.lock: written by prodscale, meant to be committed.\n"
          "# Each story's pinned engine and the hashes of its last compilation.\n"
          "# Move a story to another engine with `prodscale reanalyze STORY --engine X`, not by hand.\n\n")
ENTRY_KEYS = ("engine", "floor", "inputs", "story_hash", "shot_specs_hash", "prompts_hash", "compilation_hash")
_HEX = re.compile(r"^[0-9a-f]{64}$")
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


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
    def fail(msg: str, where: KeyPath) -> InputError:
        return InputError(msg, path=LOCK_NAME, line=line_of(text, where),
                          hint="restore it from version control; prodscale will not overwrite it")

    if data.get("format") != FORMAT:
        raise fail(f"unsupported lock format {data.get('format')!r} (this prodscale writes format {FORMAT})",
                   ("format",))
    stories = data.get("stories", {})
    if not isinstance(stories, dict):
        raise fail("'stories' must be a table", ("stories",))
    out: dict[str, dict[str, str]] = {}
    for name, entry in stories.items():
        if not isinstance(entry, dict):
            raise fail(f"stories.{name} must be a table", ("stories", name))
        unknown = set(entry) - set(ENTRY_KEYS)
        if unknown:
            raise fail(f"unknown key(s) {', '.join(sorted(unknown))} in stories.{name}",
                       ("stories", name, sorted(unknown)[0]))
        for key in ("engine", "floor"):
            if key in entry and not (isinstance(entry[key], str) and _VERSION.match(entry[key])):
                raise fail(f"stories.{name}.{key} must be a version like 1.0.0", ("stories", name, key))
        if "engine" not in entry:
            raise fail(f"stories.{name} has no engine", ("stories", name))
        for key in ENTRY_KEYS[2:]:
            if key in entry and not (isinstance(entry[key], str) and _HEX.match(entry[key])):
                raise fail(f"stories.{name}.{key} must be a 64-hex-digit digest", ("stories", name, key))
        out[name] = dict(entry)
    return out
