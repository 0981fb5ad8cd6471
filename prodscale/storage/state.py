"""All persistent build state but the cache: the stat cache, per-story records and build logs.

``.prodscale/state.json`` is one small file read once per build: for each story its source stat,
text digest, story key and output digests/stats. Deciding "nothing changed" needs only this file
and one ``stat`` per source and output, which is what keeps a no-op fast.

``.prodscale/log/<story>.json`` holds, per target, the components of its last action key, the run
that computed it and the components before that: what ``why`` explains from. It is written when
a story rebuilds and read only by ``why``/``status``.

Both carry a schema version; an old, unreadable or foreign state is discarded with a message and
never trusted (the cache still holds the work, so discarding costs re-hashing, not re-running).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import orjson

from prodscale.core.vocab import StoryStatus, words
from prodscale.storage.fs import FileStat, atomic_write

SCHEMA = 3  # 2: shared key parts stored once ("parts", "parts_ref"); 3: lock entries the records hold are not repeated
LOG_SCHEMA = 1


@dataclass
class StoryRecord:
    path: str
    stat: FileStat
    text_digest: str
    story_key: str
    engine: str
    status: StoryStatus
    outputs: dict[str, str] = field(default_factory=dict)          # file name -> digest
    output_stats: dict[str, FileStat] = field(default_factory=dict)  # file name -> stat after write
    counts: dict[str, int] = field(default_factory=dict)  # actions, scenes, errors, warnings
    parts: dict[str, Any] = field(default_factory=dict)   # the components of story_key (for `status`)
    lock_entry: dict[str, str] = field(default_factory=dict)  # what prodscale.lock must say of the story
    # unacknowledged findings per code ("E:PS101" errors, "W:PS406" warnings): what a build summarises of an
    # up-to-date story without reading its diagnostics.json
    codes: dict[str, int] = field(default_factory=dict)
    # the record as it was read from state.json (with its "parts_ref"), while nothing changed it:
    # saving a thousand records then re-serializes only the few a build touched
    loaded: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    def __setattr__(self, name: str, value: Any) -> None:
        if name != "loaded":
            object.__setattr__(self, "loaded", None)
        object.__setattr__(self, name, value)

    def set_output_stat(self, fname: str, st: FileStat) -> None:
        """Record an output's new stat (its bytes were checked unchanged)."""
        self.output_stats[fname] = st
        self.loaded = None

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "stat": self.stat.to_list(), "text_digest": self.text_digest,
                "story_key": self.story_key, "engine": self.engine, "status": self.status,
                "outputs": self.outputs, "output_stats": {k: v.to_list() for k, v in self.output_stats.items()},
                "counts": self.counts, "parts": self.parts, "lock_entry": self.lock_entry, "codes": self.codes}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StoryRecord:
        return cls(path=d["path"], stat=FileStat.from_list(d["stat"]), text_digest=d["text_digest"],
                   story_key=d["story_key"], engine=d["engine"], status=_status(d["status"]), outputs=dict(d["outputs"]),
                   output_stats={k: FileStat.from_list(v) for k, v in d["output_stats"].items()},
                   counts={k: int(v) for k, v in d.get("counts", {}).items()}, parts=d.get("parts", {}),
                   lock_entry=dict(d.get("lock_entry", {})),
                   codes={str(k): int(v) for k, v in (d.get("codes") or {}).items()})


def _status(value: Any) -> StoryStatus:
    """A recorded story status; another word means a state from elsewhere (the load discards it)."""
    if value not in words(StoryStatus):
        raise ValueError(f"unknown story status {value!r}")
    return cast(StoryStatus, value)


class BuildState:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.path = state_dir / "state.json"
        self.stories: dict[str, StoryRecord] = {}
        self.written_ns = 0
        self.last_run: str | None = None
        self.messages: list[str] = []
        self.lock_snapshot: dict[str, Any] | None = None
        self._loaded_parts: list[dict[str, Any]] = []

    def load(self) -> BuildState:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return self
        try:
            data = orjson.loads(raw)
            if not isinstance(data, dict):
                raise ValueError(f"a {type(data).__name__}, not an object")
            if data.get("schema") != SCHEMA:
                raise ValueError(f"schema {data.get('schema')!r}, expected {SCHEMA}")
            shared = data["parts"]
            stories = {}
            for name, raw in data["stories"].items():
                record = StoryRecord.from_dict({**raw, "parts": {**shared[raw["parts_ref"]], "text": raw["text_digest"]}})
                record.loaded = raw
                stories[name] = record
            self.stories = stories
            self._loaded_parts = shared
            self.written_ns = int(data["written_ns"])
            self.last_run = data.get("last_run")
            self.lock_snapshot = _unpack_lock(data.get("lock"), self.stories)
        except (ValueError, KeyError, TypeError, AttributeError, IndexError, orjson.JSONDecodeError) as exc:
            self.messages.append(f"discarding unreadable build state {self.path.name} ({exc}); re-checking every story")
            self.stories = {}
        return self

    def save(self, run_id: str, now_ns: int | None = None) -> None:
        """Write the state, dated ``now_ns`` (the build's clock: the racy rule compares mtimes with it)."""
        self.written_ns = time.time_ns() if now_ns is None else now_ns
        self.last_run = run_id
        # what a story was compiled with besides its text (engine, rule and settings digests, code)
        # is the same for most stories: stored once and referred to, it is most of the file saved
        shared: dict[bytes, int] = {}
        remap: dict[int, int] = {}  # index in the parts read -> index in the parts written

        def ref(rest: dict[str, Any]) -> int:
            return shared.setdefault(orjson.dumps(rest, option=orjson.OPT_SORT_KEYS), len(shared))

        stories = {}
        for name in sorted(self.stories):
            record = self.stories[name]
            if record.loaded is not None:
                old = int(record.loaded["parts_ref"])
                if old not in remap:
                    remap[old] = ref(self._loaded_parts[old])
                stories[name] = {**record.loaded, "parts_ref": remap[old]}
                continue
            rec = record.to_dict()
            rec["parts_ref"] = ref({k: v for k, v in rec.pop("parts").items() if k != "text"})
            stories[name] = rec
        data = {"schema": SCHEMA, "written_ns": self.written_ns, "last_run": run_id,
                "lock": _pack_lock(self.lock_snapshot, self.stories),
                "parts": [orjson.loads(k) for k in shared], "stories": stories}
        atomic_write(self.path, orjson.dumps(data), fsync=True)


def _pack_lock(snapshot: dict[str, Any] | None, records: dict[str, StoryRecord]) -> dict[str, Any] | None:
    """The lock snapshot without the entries the story records already hold (nearly all of them)."""
    if snapshot is None:
        return None
    stories = snapshot.get("stories", {})
    return {"digest": snapshot.get("digest"),
            "stories": {n: e for n, e in sorted(stories.items()) if n not in records or records[n].lock_entry != e},
            "absent": sorted(n for n in records if n not in stories)}


def _unpack_lock(packed: dict[str, Any] | None, records: dict[str, StoryRecord]) -> dict[str, Any] | None:
    if packed is None:
        return None
    absent = set(packed.get("absent", []))
    stories = {n: dict(r.lock_entry) for n, r in records.items() if n not in absent}
    stories.update(packed.get("stories", {}))
    return {"digest": packed.get("digest"), "stories": stories}


class BuildLog:
    """Per-story log of the last key components of every target (for ``why``)."""

    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir / "log"

    def path(self, story: str) -> Path:
        return self.dir / f"{story}.json"

    def load(self, story: str) -> dict[str, Any]:
        try:
            data: Any = orjson.loads(self.path(story).read_bytes())
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError, orjson.JSONDecodeError):
            return {"schema": LOG_SCHEMA, "targets": {}}
        # a log only explains (`why`): one that is not ours, or damaged, explains nothing and is rewritten
        if not isinstance(data, dict) or data.get("schema") != LOG_SCHEMA or not isinstance(data.get("targets"), dict):
            return {"schema": LOG_SCHEMA, "targets": {}}
        return data

    def save(self, story: str, data: dict[str, Any]) -> None:
        data["schema"] = LOG_SCHEMA
        atomic_write(self.path(story), orjson.dumps(data, option=orjson.OPT_SORT_KEYS))

    def remove(self, story: str) -> None:
        try:
            os.unlink(self.path(story))
        except FileNotFoundError:
            pass
