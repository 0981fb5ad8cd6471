"""Garbage collection of the action cache and content store: keep what a live story refers to.

What is live is decided once, as data (:class:`LiveSet`), from what the project remembers: each
story's last build log (its action keys, their outputs, the texts `why` diffs against), the state's
output digests, the files of each aggregation, and the compilations whose run records a rebuild
must find again (the state's lock entries and every pin of ``prodscale.lock``, kept even for an
absent story, like the pin itself). Collection deletes the rest and says how much.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from collections.abc import Iterable

import orjson

from prodscale.storage.cache import AC_PREFIX, CAS_PREFIX, META_PREFIX, Cache
from prodscale.storage.state import BuildLog, BuildState

RUN_RECORD = META_PREFIX + "run:"  # action-key prefix of a compilation's run record (put_meta("run:<hash>"))


@dataclass(frozen=True)
class LiveSet:
    keys: set[str] = field(default_factory=set)          # action keys
    blobs: set[str] = field(default_factory=set)         # content digests
    compilations: set[str] = field(default_factory=set)  # compilation hashes whose run record stays


@dataclass(frozen=True)
class GcReport:
    removed: int
    kept: int


def live_set(cache: Cache, state: BuildState, log: BuildLog, pinned: Iterable[str]) -> LiveSet:
    """Everything a current story's last build refers to; ``pinned`` are the lock's compilation hashes."""
    live = LiveSet(compilations={h for h in pinned if h})
    for name, rec in state.stories.items():
        live.blobs.update(rec.outputs.values())
        if rec.lock_entry.get("compilation_hash"):
            live.compilations.add(rec.lock_entry["compilation_hash"])
        for entry in log.load(name).get("targets", {}).values():
            live.keys.add(entry.get("key", ""))
            live.blobs.add(entry.get("out", ""))
            for side in (entry, entry.get("prev") or {}):
                live.blobs.add((side.get("source") or {}).get("text", ""))
                live.blobs.update(v for v in (side.get("rule_texts") or {}).values() if v)
                live.blobs.update((side.get("components") or {}).get("settings", {}).values())
    for key in sorted(live.keys):
        got = cache.get_result(key) if key else None
        if got is None:
            continue
        record, blob = got
        if blob and str(record.get("target", "")).endswith(":aggregate"):
            live.blobs.update(_aggregate_files(blob))
    live.keys.discard("")
    live.blobs.discard("")
    return live


def _aggregate_files(blob: bytes) -> list[str]:
    try:
        files: Any = orjson.loads(blob).get("files", {})
    except (orjson.JSONDecodeError, AttributeError):
        return []
    return [v for v in files.values() if isinstance(v, str)] if isinstance(files, dict) else []


def _is_live(key: str, live: LiveSet) -> bool:
    if key.startswith(AC_PREFIX + RUN_RECORD):
        return key[len(AC_PREFIX + RUN_RECORD):] in live.compilations
    if key.startswith(AC_PREFIX):
        return key[len(AC_PREFIX):] in live.keys
    if key.startswith(CAS_PREFIX):
        return key[len(CAS_PREFIX):] in live.blobs
    return True  # not ours to judge


def collect_garbage(cache: Cache, live: LiveSet) -> GcReport:
    """Delete every entry ``live`` does not hold."""
    removed = kept = 0
    for key in cache.keys():
        if _is_live(key, live):
            kept += 1
        else:
            cache.delete(key)
            removed += 1
    return GcReport(removed=removed, kept=kept)
