"""File-system helpers: atomic writes and file stats.

Every output reaches its final path by rename from a temp file in the same directory, so an
interrupted build never leaves a half-written file at a final path.
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Iterator


@dataclass(frozen=True, slots=True)
class FileStat:
    """What says a file may have changed without reading it. Size, mtime and inode miss an edit that keeps
    all three (``cp -p`` of a same-size draft writes in place and restores the mtime); the ctime does not: any
    write, and the utime that restores the mtime, set it to now. A stat from before ctime was kept reads as
    changed once (the file is read and its digest compared)."""

    size: int
    mtime_ns: int
    ino: int
    ctime_ns: int = -1

    @classmethod
    def of(cls, st: os.stat_result) -> FileStat:
        return cls(st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)

    def to_list(self) -> list[int]:
        return [self.size, self.mtime_ns, self.ino, self.ctime_ns]

    @classmethod
    def from_list(cls, data: list[int]) -> FileStat:
        return cls(int(data[0]), int(data[1]), int(data[2]), int(data[3]) if len(data) > 3 else -1)


def stat_or_none(path: str | os.PathLike[str]) -> FileStat | None:
    try:
        return FileStat.of(os.stat(path))
    except (FileNotFoundError, NotADirectoryError):
        return None


DIR_MODE = 0o755    # every folder prodscale creates, whatever the umask
FILE_MODE = 0o644   # every file prodscale writes, whatever the umask


def make_dirs(path: str | os.PathLike[str], mode: int = DIR_MODE) -> None:
    """``mkdir -p`` whose new folders get ``mode`` exactly (a plain mkdir gives 0700 under umask 077 and
    0775 under 002: the outputs would be readable or writable by others depending on who built them)."""
    target = Path(path)
    missing: list[Path] = []
    p = target
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    target.mkdir(parents=True, exist_ok=True)
    for d in reversed(missing):
        try:
            os.chmod(d, mode)
        except FileNotFoundError:
            pass


def fix_mode(path: str | os.PathLike[str], mode: int = FILE_MODE) -> None:
    """Set a file prodscale created (a database, a lock file) to ``mode``, whatever the umask gave it."""
    try:
        os.chmod(path, mode)
    except FileNotFoundError:
        pass


def atomic_write(path: str | os.PathLike[str], data: bytes, *, fsync: bool = False, mode: int = FILE_MODE) -> None:
    """Write ``data`` to ``path`` via a temp file and rename. The file mode does not depend on umask."""
    target = Path(path)
    if not target.parent.is_dir():
        make_dirs(target.parent)
    with _signals_deferred():
        _write_replace(target, data, fsync, mode)


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM for the few milliseconds of a write-and-rename, so an interrupt never
    leaves a temp file behind: a signal that arrives meanwhile is recorded and re-delivered right
    after. (Masking is not enough: the kernel may hand the signal to another thread, such as a
    worker pool's, and Python still raises it in the main thread.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    # keyed by int: the signal numbers the handler below records (and looks up) are plain ints
    saved: dict[int, Any] = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in saved:
        signal.signal(sig, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        for sig in caught[:1]:
            handler = saved[sig]
            if callable(handler):
                handler(sig, None)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(sig)


def _write_replace(target: Path, data: bytes, fsync: bool, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    if fsync:
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def remove_stale_temps(directory: Path) -> None:
    """Delete temp files a killed build left behind in ``directory`` and its story folders (they
    never sit at a final path). Called under the project lock, so no live build owns them."""
    if not directory.is_dir():
        return
    for entry in [directory, *(d for d in directory.iterdir() if d.is_dir())]:
        for f in entry.iterdir():
            if f.name.startswith(".") and f.name.endswith(".tmp") and f.is_file():
                try:
                    f.unlink()
                except FileNotFoundError:
                    pass
