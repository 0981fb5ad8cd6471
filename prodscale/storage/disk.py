"""The file-system reads a plan depends on, behind one small interface (ninja's ``DiskInterface``).

Whether a story changed is decided from a stat and, when the stat cannot be trusted, its bytes. Both
go through a :class:`Disk`, with the clock that dates the build state, so the decisions (the racy-
timestamp rule, a same-size edit within the mtime granularity, a touched file, a file replaced
between its stat and its read) can be tested on an in-memory file system with a fake clock
(``tests/fake_disk.py``) instead of waiting on a real one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable
from typing import Protocol

from prodscale.core.canon import digest_bytes
from prodscale.storage.fs import FileStat, stat_or_none


class Disk(Protocol):
    def stat(self, path: Path) -> FileStat | None:
        """The file's stat, or None when it does not exist."""

    def read_bytes(self, path: Path) -> bytes:
        """The file's bytes (raises OSError like ``Path.read_bytes``)."""

    def now_ns(self) -> int:
        """The clock the build state is dated with (nanoseconds, as ``time.time_ns``)."""


class RealDisk:
    """The machine's file system and clock."""

    def stat(self, path: Path) -> FileStat | None:
        return stat_or_none(path)

    def read_bytes(self, path: Path) -> bytes:
        return Path(path).read_bytes()

    def now_ns(self) -> int:
        return time.time_ns()


REAL_DISK = RealDisk()

# A source whose mtime is this close to the last state write may have changed within the same
# timestamp tick after it was hashed ("racy", as git calls it): hash it again instead of trusting
# the stat. Two seconds covers the coarsest common granularity (FAT's 2 s; ext4 and APFS are finer).
RACY_WINDOW_NS = 2_000_000_000


def stat_trusted(recorded: FileStat | None, current: FileStat | None, state_written_ns: int) -> bool:
    """Whether ``current`` proves the file still holds what was hashed when ``recorded`` was taken: the same
    stat, and not racy (modified so close to the state's write that an edit in the same tick would keep
    every field of the stat)."""
    if recorded is None or current is None or recorded != current:
        return False
    return current.mtime_ns < state_written_ns - RACY_WINDOW_NS


Decoder = Callable[[bytes, str], str]  # a source's bytes (and its path, for errors) -> normalized text


@dataclass(frozen=True)
class SourceRead:
    stat: FileStat
    text_digest: str
    text: str | None       # None: the recorded digest was trusted, the file was not read


def read_source(disk: Disk, path: Path, rel_path: str, recorded: tuple[FileStat, str] | None,
                state_written_ns: int, decode: Decoder) -> SourceRead | None:
    """A story's digest: the recorded one when its stat can be trusted, else from reading the file. The stat
    is taken before the read: a file replaced in between is recorded with the older stat, so the next
    build sees a stat that differs and reads it again (the other order would trust stale text). None when
    the file does not exist."""
    st = disk.stat(path)
    if st is None:
        return None
    if recorded is not None and stat_trusted(recorded[0], st, state_written_ns):
        return SourceRead(st, recorded[1], None)
    text = decode(disk.read_bytes(path), rel_path)
    return SourceRead(st, digest_bytes(text.encode("utf-8")), text)
