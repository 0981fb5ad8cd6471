"""The project lock: two builds of one project never interleave.

``flock`` on ``.prodscale/lock`` dies with its process, so it can never go stale. The holder
writes its pid and command into the file so a waiting build can say who it waits for.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from pathlib import Path
from collections.abc import Callable

from prodscale.errors import LockBusy
from prodscale.storage.fs import fix_mode, make_dirs


# fds of locks this process holds: forked workers close their copies (see release_inherited), so a
# killed build's orphaned workers can never keep the project locked
HELD_FDS: set[int] = set()


def release_inherited() -> None:
    """In a forked child: close the inherited lock fds (the parent keeps the lock)."""
    for fd in list(HELD_FDS):
        try:
            os.close(fd)
        except OSError:
            pass
    HELD_FDS.clear()


class ProjectLock:
    def __init__(self, state_dir: Path, command: str) -> None:
        self.path = state_dir / "lock"
        self.command = command
        self._fd: int | None = None
        self.unclean = False  # set by acquire: the previous holder never released the lock

    def holder(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8").strip() or "another prodscale process"
        except OSError:
            return "another prodscale process"

    def acquire(self, *, wait: bool = True, on_wait: Callable[[str], None] | None = None,
                timeout: float | None = None) -> ProjectLock:
        make_dirs(self.path.parent)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fix_mode(self.path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self.holder()
            if not wait:
                os.close(fd)
                raise LockBusy(f"the project is locked by {holder}",
                               hint="wait for it to finish, or run without --no-wait to queue behind it") from None
            if on_wait is not None:
                on_wait(holder)
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if deadline is not None and time.monotonic() > deadline:
                        os.close(fd)
                        raise LockBusy(f"timed out waiting for the project lock held by {holder}") from None
                    time.sleep(0.05)
        # a clean release empties the file: text left in it means its last holder died holding it
        self.unclean = bool(os.pread(fd, 1, 0))
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} ({self.command})\n".encode(), 0)
        self._fd = fd
        HELD_FDS.add(fd)
        return self

    def release(self) -> None:
        if self._fd is not None:
            try:
                os.ftruncate(self._fd, 0)
            except OSError:  # pragma: no cover
                pass
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            HELD_FDS.discard(self._fd)
            self._fd = None

    def __enter__(self) -> ProjectLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def print_waiting(holder: str) -> None:
    print(f"waiting for the project lock held by {holder} ...", file=sys.stderr, flush=True)
