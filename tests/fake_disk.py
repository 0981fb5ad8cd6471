"""An in-memory file system with a fake clock (ninja's VirtualFileSystem), behind prodscale's Disk seam.

Paths written here are served from memory; their stats follow a timestamp granularity (1 s by default,
like the coarse file systems that make the racy-timestamp rule necessary), inodes change only when a file
is replaced (rename over), and ``on_read`` lets a test replace a file between its stat and its read."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from prodscale.storage.fs import FileStat


class MemoryDisk:
    def __init__(self, *, granularity_ns: int = 1_000_000_000, start_ns: int = 1_700_000_000_000_000_000) -> None:
        self.granularity_ns = granularity_ns
        self.clock_ns = start_ns
        self.files: dict[Path, tuple[bytes, FileStat]] = {}
        self.reads: list[Path] = []
        self.on_read: Callable[[Path], None] | None = None
        self._next_ino = 1000

    # -- the test's side ------------------------------------------------------------------------
    def tick(self, ns: int) -> None:
        self.clock_ns += ns

    def _stamp(self) -> int:
        return self.clock_ns - self.clock_ns % self.granularity_ns

    def _ino(self) -> int:
        self._next_ino += 1
        return self._next_ino

    def write(self, path: Path, data: bytes) -> None:
        """An edit in place (an editor that writes the file, not a rename): same inode."""
        old = self.files.get(Path(path))
        ino = old[1].ino if old else self._ino()
        self.files[Path(path)] = (data, FileStat(len(data), self._stamp(), ino, self._stamp()))

    def replace(self, path: Path, data: bytes) -> None:
        """A new file renamed over the old one (how most editors save): a new inode."""
        self.files[Path(path)] = (data, FileStat(len(data), self._stamp(), self._ino(), self._stamp()))

    def touch(self, path: Path) -> None:
        data, st = self.files[Path(path)]
        self.files[Path(path)] = (data, FileStat(st.size, self._stamp(), st.ino, self._stamp()))

    # -- the Disk interface ---------------------------------------------------------------------
    def stat(self, path: Path) -> FileStat | None:
        got = self.files.get(Path(path))
        return got[1] if got else None

    def read_bytes(self, path: Path) -> bytes:
        if self.on_read is not None:
            hook, self.on_read = self.on_read, None
            hook(Path(path))
        got = self.files.get(Path(path))
        if got is None:
            raise FileNotFoundError(2, "No such file or directory", str(path))
        self.reads.append(Path(path))
        return got[0]

    def now_ns(self) -> int:
        return self.clock_ns
