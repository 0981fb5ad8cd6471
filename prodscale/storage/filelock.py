"""One exclusive file lock behind every flock prodscale takes: the project lock, a generate run's identity,
the cache's writer turn and the writer of the generation outputs.

Why ``flock``: the kernel drops the lock when the last descriptor of the open file is closed, and a
process that dies, even by ``kill -9``, closes all of its descriptors. A lock can therefore never go
stale: there is no pid file to trust or to clean up, and a lock that is free has no holder, alive or dead.

Two consequences of flock are handled here once, so no caller has to know them:

- A forked child shares its parent's open files, and unlocking a shared descriptor would release the
  parent's lock. A ``FileLock`` therefore acts only in the process that opened its file: in a child it
  is simply not open (``release`` and ``close`` leave the parent's lock alone, ``acquire`` opens a file
  of the child's own), and ``release_inherited`` closes the child's copies, so a worker orphaned by a
  killed build can never keep a lock held.
- flock belongs to an open file, not to a process: two ``FileLock`` on one path exclude each other even
  in one process, and ``is_held_elsewhere`` answers True for a lock this process holds through another.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from prodscale.storage.fs import FILE_MODE, fix_mode, make_dirs

POLL_SECONDS = 0.05  # how often a wait with a timeout tries again (flock itself cannot time out)

# descriptors of the lock files this process has open: a forked worker closes its copies (release_inherited)
_OPEN_FDS: set[int] = set()


def release_inherited() -> None:
    """In a forked child: close the lock files inherited from the parent (the parent keeps its locks)."""
    for fd in list(_OPEN_FDS):
        try:
            os.close(fd)
        except OSError:
            pass
    _OPEN_FDS.clear()


class FileLock:
    """An exclusive flock on ``path`` (created 0644 with its folders on first use).

    ``release`` unlocks and closes the file; with ``keep_open`` it only unlocks, so a lock taken over and
    over (the cache's writer turn) opens its file once, and ``close`` closes it."""

    def __init__(self, path: Path, *, keep_open: bool = False) -> None:
        self.path = Path(path)
        self.keep_open = keep_open
        self._fd: int | None = None
        self._pid = 0  # the process that opened _fd: in any other (a fork) the descriptor is not ours
        self._held = False

    @property
    def fd(self) -> int | None:
        """The lock file open in this process (the project lock writes its holder into it), else None."""
        if self._fd is not None and self._pid != os.getpid():
            self._fd, self._held = None, False  # inherited through fork: never ours to unlock or close
        return self._fd

    @property
    def held(self) -> bool:
        return self.fd is not None and self._held

    def try_acquire(self) -> bool:
        """Take the lock if it is free; False at once if it is held elsewhere."""
        try:
            return self._flock(fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            self._close_unless_held()

    def acquire(self, timeout: float | None = None) -> bool:
        """Wait for the lock: True once held, False if ``timeout`` seconds passed first (None: no limit)."""
        try:
            if timeout is None:
                return self._flock(fcntl.LOCK_EX)
            deadline = time.monotonic() + timeout
            while not self._flock(fcntl.LOCK_EX | fcntl.LOCK_NB):
                if time.monotonic() > deadline:
                    return False
                time.sleep(POLL_SECONDS)
            return True
        finally:
            self._close_unless_held()

    def release(self) -> None:
        """Unlock, and close the file unless ``keep_open``. Nothing to do where the lock is not held."""
        if self.keep_open:
            self._unlock()
        else:
            self.close()

    def close(self) -> None:
        """Unlock and close the file (in a fork the inherited copy is forgotten, never closed)."""
        self._unlock()
        fd = self.fd
        self._fd = None
        if fd is not None:
            _OPEN_FDS.discard(fd)
            os.close(fd)

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _unlock(self) -> None:
        fd = self.fd
        if fd is not None and self._held:
            self._held = False
            fcntl.flock(fd, fcntl.LOCK_UN)

    def _flock(self, flags: int) -> bool:
        fd = self._open()
        try:
            fcntl.flock(fd, flags)
        except BlockingIOError:
            return False
        self._held = True
        return True

    def _open(self) -> int:
        fd = self.fd
        if fd is None:
            make_dirs(self.path.parent)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
            self._fd, self._pid = fd, os.getpid()
            _OPEN_FDS.add(fd)
            fix_mode(self.path)
        return fd

    def _close_unless_held(self) -> None:
        if not self._held and not self.keep_open:
            self.close()


def is_held_elsewhere(path: Path) -> bool:
    """True while another open of ``path`` holds its lock (another process, or another ``FileLock`` in this
    one); False when the lock is free or there is no such file. Never creates the file; a free lock is
    taken for an instant to find out."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
