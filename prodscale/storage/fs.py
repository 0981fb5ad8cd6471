"""File-system helpers: atomic writes and file stats.

Every output reaches its final path by rename from a temp file in the same directory, so an
interrupted build never leaves a half-written file at a final path.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class FileStat:
    size: int
    mtime_ns: int
    ino: int

    @classmethod
    def of(cls, st: os.stat_result) -> "FileStat":
        return cls(st.st_size, st.st_mtime_ns, st.st_ino)

    def to_list(self) -> list[int]:
        return [self.size, self.mtime_ns, self.ino]

    @classmethod
    def from_list(cls, data: list[int]) -> "FileStat":
        return cls(int(data[0]), int(data[1]), int(data[2]))


def stat_or_none(path: str | os.PathLike[str]) -> FileStat | None:
    try:
        return FileStat.of(os.stat(path))
    except (FileNotFoundError, NotADirectoryError):
        return None


def atomic_write(path: str | os.PathLike[str], data: bytes, *, fsync: bool = False, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` via a temp file and rename. The file mode does not depend on umask."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
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
    """Delete temp files a killed build left behind (they never sit at a final path)."""
    if not directory.is_dir():
        return
    for entry in directory.iterdir():
        if entry.name.startswith(".") and entry.name.endswith(".tmp") and entry.is_file():
            try:
                entry.unlink()
            except FileNotFoundError:
                pass
