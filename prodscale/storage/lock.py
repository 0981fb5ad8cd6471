"""The project lock: two builds of one project never interleave.

A ``FileLock`` (flock) on ``.prodscale/lock`` dies with its process, so it can never go stale. The holder
writes its pid and command into the file so a waiting build can say who it waits for, and empties it on
release, so text found in it by the next holder means the last one died holding the lock (``unclean``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from collections.abc import Callable

from prodscale.errors import LockBusy
from prodscale.storage.filelock import FileLock, release_inherited

__all__ = ["ProjectLock", "print_waiting", "release_inherited"]  # release_inherited: what forked workers call


class ProjectLock:
    def __init__(self, state_dir: Path, command: str) -> None:
        self.path = state_dir / "lock"
        self.command = command
        self._lock = FileLock(self.path)
        self.unclean = False  # set by acquire: the previous holder never released the lock

    def holder(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8").strip() or "another prodscale process"
        except OSError:
            return "another prodscale process"

    def acquire(self, *, wait: bool = True, on_wait: Callable[[str], None] | None = None,
                timeout: float | None = None) -> ProjectLock:
        if not self._lock.try_acquire():
            holder = self.holder()
            if not wait:
                raise LockBusy(f"the project is locked by {holder}",
                               hint="wait for it to finish, or run without --no-wait to queue behind it")
            if on_wait is not None:
                on_wait(holder)
            if not self._lock.acquire(timeout=timeout):
                raise LockBusy(f"timed out waiting for the project lock held by {holder}")
        fd = self._lock.fd
        assert fd is not None  # held, so open
        # a clean release empties the file: text left in it means its last holder died holding it
        self.unclean = bool(os.pread(fd, 1, 0))
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} ({self.command})\n".encode(), 0)
        return self

    def release(self) -> None:
        fd = self._lock.fd
        if fd is not None:
            try:
                os.ftruncate(fd, 0)
            except OSError:  # pragma: no cover
                pass
            self._lock.release()

    def __enter__(self) -> ProjectLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def print_waiting(holder: str) -> None:
    print(f"waiting for the project lock held by {holder} ...", file=sys.stderr, flush=True)
