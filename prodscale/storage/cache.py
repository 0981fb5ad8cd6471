"""Action cache and content store, both in one diskcache under ``.prodscale/cache/``.

- Content store (CAS): ``c:<sha256>`` -> bytes. Every read re-hashes the bytes; a mismatch is a
  miss, reported in ``problems`` and deleted so the next write heals it.
- Action cache (AC): ``a:<action key>`` -> a record ``{"out": digest, "target": ..., "run": ...}``
  and the action's output bytes, in one entry with its own checksum, verified the same way.
  Outputs sit with their actions (one row each: an action's record is never without its output);
  the content store holds what is addressed by content alone: story files, manifests, texts.

diskcache is opened with ``eviction_policy="none"``: nothing disappears behind our back, and
``prodscale cache gc`` is the only thing that deletes. A database so damaged that SQLite refuses
it is moved aside and replaced by an empty cache: a cache may always be rebuilt from sources.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from collections.abc import Iterator

import diskcache
import orjson

from prodscale.core.canon import canonical_json, digest_bytes
from prodscale.errors import ProdscaleError
from prodscale.storage.filelock import FileLock
from prodscale.storage.fs import fix_mode, make_dirs

AC_PREFIX = "a:"
CAS_PREFIX = "c:"
META_PREFIX = "m:"  # small records kept under an action key of their own (the run records of compilations)


class CacheDamaged(Exception):
    """Raised in a worker (which must not replace a cache others use): the build process heals it."""


def proven_corrupt(exc: BaseException) -> bool:
    """Only a database SQLite itself calls damaged may be discarded ("malformed", "not a database"); a lock
    held by another process, a full disk or an I/O hiccup is trouble to report, never a reason to delete."""
    if isinstance(exc, sqlite3.OperationalError) or not isinstance(exc, sqlite3.DatabaseError):
        text = str(exc).lower()
        return "malformed" in text or "not a database" in text
    return True


def unavailable(exc: BaseException, directory: Path) -> ProdscaleError:
    if directory.exists() and not directory.is_dir():
        return ProdscaleError(f"the cache folder {directory.name}/ is a file here; nothing was discarded",
                              path=f".prodscale/{directory.name}",
                              hint="move that file away: the next build makes a new cache there")
    return ProdscaleError(f"the cache in {directory.name}/ cannot be used now ({exc}); nothing was discarded",
                          path=f".prodscale/{directory.name}",
                          hint="free disk space, or wait for the other prodscale process, then run again")


# no memory-mapped reads: a damaged or truncated database must raise an error, never SIGBUS a worker
# Values up to 1 MiB stay inside SQLite (diskcache's default of 32 KiB puts every story's output
# files in side files, and creating a file costs ~0.5 ms on CI's disk, more than the write itself).
# Nothing expires and nothing is evicted, so culling (a SELECT on every set) is switched off.
# synchronous=OFF: no fdatasync at each WAL checkpoint (about 2 ms each, 170 in a cold build of
# 200 stories). A process crash loses nothing; an OS crash or power cut may lose the last
# transactions or damage the file, which a cache survives by design: every read is verified
# and a database SQLite refuses is replaced by an empty one.
_SETTINGS = {"eviction_policy": "none", "size_limit": 2**62, "statistics": 0, "tag_index": 0,
             "sqlite_mmap_size": 0, "disk_min_file_size": 2**20, "cull_limit": 0, "sqlite_synchronous": 0}
WRITER_LOCK = "writer.lock"


class Cache:
    def __init__(self, directory: Path, *, shared: bool = False) -> None:
        self.directory = directory
        self.shared = shared  # True in workers: damage is reported (CacheDamaged), not healed here
        self.problems: list[str] = []
        self._buffer: dict[str, bytes] | None = None
        # opened once per process (a fork opens its own), locked for each write
        self._writer = FileLock(directory / WRITER_LOCK, keep_open=True)
        self._cache = self._open()

    def _open(self) -> diskcache.Cache:
        try:
            make_dirs(self.directory)
            cache = diskcache.Cache(str(self.directory), **_SETTINGS)
            cache.get("probe")
            fix_mode(self.directory / "cache.db")
            return cache
        except (sqlite3.DatabaseError, OSError) as exc:
            if not proven_corrupt(exc):
                raise unavailable(exc, self.directory) from None
            if self.shared:
                raise CacheDamaged(str(exc)) from None
            self.problems.append(f"cache database unreadable ({exc}); starting an empty cache")
            self._discard()
            return diskcache.Cache(str(self.directory), **_SETTINGS)

    def heal(self, reason: str) -> None:
        """Replace a damaged database by an empty cache (the build process only, under the lock)."""
        self.problems.append(f"cache database damaged ({reason}); starting an empty cache")
        try:
            self._cache.close()
        except Exception:  # pragma: no cover - closing a broken db
            pass
        self._discard()
        self._writer.close()  # the lock file went with the old folder
        self._cache = diskcache.Cache(str(self.directory), **_SETTINGS)

    def _discard(self) -> None:
        aside = self.directory.with_name(f"{self.directory.name}.corrupt-{time.time_ns()}")
        try:
            self.directory.rename(aside)
            shutil.rmtree(aside, ignore_errors=True)
        except OSError:
            shutil.rmtree(self.directory, ignore_errors=True)

    def _guard(self, fn: Any, *args: Any, default: Any = None) -> Any:
        try:
            return fn(*args)
        except sqlite3.DatabaseError as exc:
            if not proven_corrupt(exc):
                raise unavailable(exc, self.directory) from None
            if self.shared:
                raise CacheDamaged(str(exc)) from None
            self.heal(str(exc))
            return default

    def close(self) -> None:
        self._cache.close()
        self._writer.close()

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Writers of one cache take turns through a file lock before they ask for SQLite's: the
        kernel hands a released flock to the next waiter at once, where SQLite's busy handler
        polls with sleeps of 1 to 25 ms (about 300 such sleeps in a two-worker cold build of 200
        stories, most of the workers' idle time). SQLite's own locking still guards correctness
        for any writer that does not take this lock, so a lock file that cannot be opened is no error."""
        try:
            self._writer.acquire()
        except OSError:
            pass  # the write goes on under SQLite's locking alone
        try:
            yield
        finally:
            self._writer.release()  # nothing to do if never taken, or closed by a heal meanwhile

    # -- content store -------------------------------------------------------------------------
    def get_blob(self, digest: str) -> bytes | None:
        if self._buffer is not None and CAS_PREFIX + digest in self._buffer:
            return self._buffer[CAS_PREFIX + digest]
        data = self._guard(self._cache.get, CAS_PREFIX + digest)
        if data is None:
            return None
        if not isinstance(data, bytes) or hashlib.sha256(data).hexdigest() != digest:
            self.problems.append(f"corrupt content entry {digest[:12]} (digest mismatch): recomputing")
            self._guard(self._cache.delete, CAS_PREFIX + digest)
            return None
        return data

    def has_valid_blob(self, digest: str) -> bool:
        """True when the blob is present and its bytes still hash to ``digest``."""
        return self.get_blob(digest) is not None

    def put_blob(self, data: bytes) -> str:
        """Store bytes under their digest. Always written (a present entry may be corrupt: writing
        again is what heals it), except twice within one batch."""
        digest = digest_bytes(data)
        key = CAS_PREFIX + digest
        if self._buffer is not None:
            self._buffer[key] = data
        else:
            with self._writing():
                self._guard(self._cache.set, key, data)
        return digest

    # -- action cache --------------------------------------------------------------------------
    def get_action(self, key: str) -> dict[str, Any] | None:
        got = self.get_result(key)
        return None if got is None else got[0]

    def get_result(self, key: str) -> tuple[dict[str, Any], bytes | None] | None:
        """An action's record and the output stored with it (None for a record without one)."""
        if self._buffer is not None and AC_PREFIX + key in self._buffer:
            raw: Any = self._buffer[AC_PREFIX + key]
        else:
            raw = self._guard(self._cache.get, AC_PREFIX + key)
        if raw is None:
            return None
        if not isinstance(raw, bytes) or len(raw) < 65 or hashlib.sha256(raw[65:]).hexdigest().encode() != raw[:64]:
            self.problems.append(f"corrupt action entry {key[:12]} (checksum mismatch): recomputing")
            self._guard(self._cache.delete, AC_PREFIX + key)
            return None
        cut = raw.find(b"\n", 65)
        if cut < 0:
            return orjson.loads(raw[65:]), None
        return orjson.loads(raw[65:cut]), raw[cut + 1:]

    def put_action(self, key: str, record: dict[str, Any], output: bytes | None = None) -> None:
        """One entry per action: ``<sha256 of the rest>\\n<record>[\\n<output>]``. The output lives in
        the action's own entry (one SQLite row per action, not two); the record's JSON has no
        raw newline, so the first one after it starts the output."""
        payload = canonical_json(record)
        if output is not None:
            payload = payload + b"\n" + output
        value = hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload
        if self._buffer is not None:
            self._buffer[AC_PREFIX + key] = value
        else:
            with self._writing():
                self._guard(self._cache.set, AC_PREFIX + key, value)

    # -- small records (run records of compilations) -------------------------------------------
    def get_meta(self, name: str) -> dict[str, Any] | None:
        return self.get_action(META_PREFIX + name)

    def put_meta(self, name: str, record: dict[str, Any]) -> None:
        self.put_action(META_PREFIX + name, record)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Buffer writes and store them in one short SQLite transaction at the end.

        Holding a transaction open while stages compute would serialize every worker on SQLite's
        single writer lock; buffering keeps the lock for milliseconds. Reads see buffered writes. A
        crash before the flush loses only cache entries, never correctness."""
        if self._buffer is not None:  # nested: the outer batch flushes
            yield
            return
        self._buffer = {}
        try:
            yield
            items = sorted(self._buffer.items())
            self._buffer = None
            if items:
                with self._writing():
                    self._guard(self._flush, items)
        finally:
            self._buffer = None

    def _flush(self, items: list[tuple[str, bytes]]) -> None:
        with self._cache.transact():
            for key, value in items:
                self._cache.set(key, value)

    # -- maintenance ---------------------------------------------------------------------------
    def keys(self) -> list[str]:
        return sorted(self._guard(lambda: list(self._cache.iterkeys()), default=[]))

    def delete(self, key: str) -> None:
        self._guard(self._cache.delete, key)

    def clear(self) -> int:
        return int(self._guard(self._cache.clear, default=0))

    def volume(self) -> int:
        return int(self._guard(self._cache.volume, default=0))

    def verify(self) -> tuple[int, list[str]]:
        """Check every entry; delete and report the bad ones. Returns (checked, problems)."""
        bad: list[str] = []
        checked = 0
        for key in self.keys():
            checked += 1
            if key.startswith(CAS_PREFIX):
                if self.get_blob(key[len(CAS_PREFIX):]) is None:
                    bad.append(key)
            elif key.startswith(AC_PREFIX):
                if self.get_action(key[len(AC_PREFIX):]) is None:
                    bad.append(key)
        return checked, bad
