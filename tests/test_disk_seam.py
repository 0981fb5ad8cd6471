"""The plan's file-system edge cases on the in-memory file system and its fake clock (issue 14: the racy-
timestamp rule had no test): racy timestamps, a same-size edit within the mtime granularity, a touched file,
a file replaced between its stat and its read."""

from __future__ import annotations

from pathlib import Path

from fake_disk import MemoryDisk
from projects import make_project, story

from prodscale.core.canon import digest_bytes
from prodscale.exec.builder import Builder
from prodscale.exec.options import BuildOptions
from prodscale.storage.disk import RACY_WINDOW_NS, read_source, stat_trusted
from prodscale.storage.fs import FileStat
from prodscale.storage.project import Project

SECOND = 1_000_000_000


def _decode(data: bytes, rel: str) -> str:
    return data.decode("utf-8")


def test_a_stat_is_trusted_only_when_equal_and_older_than_the_racy_window() -> None:
    st = FileStat(10, 5 * SECOND, 7, 5 * SECOND)
    assert stat_trusted(st, st, 5 * SECOND + RACY_WINDOW_NS + 1)
    assert not stat_trusted(st, st, 5 * SECOND + RACY_WINDOW_NS)       # within the window: racy
    assert not stat_trusted(st, FileStat(10, 5 * SECOND, 8, 5 * SECOND), 100 * SECOND)  # another inode
    assert not stat_trusted(None, st, 100 * SECOND) and not stat_trusted(st, None, 100 * SECOND)


def test_a_file_replaced_between_stat_and_read_is_read_again_next_time(tmp_path: Path) -> None:
    disk = MemoryDisk()
    path = tmp_path / "s.fountain"
    disk.replace(path, b"old text")
    disk.tick(10 * SECOND)
    disk.on_read = lambda p: disk.replace(p, b"new text!")        # replaced after the stat, before the read
    first = read_source(disk, path, "s.fountain", None, disk.now_ns(), _decode)
    assert first is not None and first.text == "new text!"
    assert first.stat != disk.stat(path)                          # the older stat was recorded with it
    disk.tick(10 * SECOND)
    again = read_source(disk, path, "s.fountain", (first.stat, first.text_digest), disk.now_ns(), _decode)
    assert again is not None and again.text == "new text!"         # not trusted: read again
    assert again.text_digest == digest_bytes(b"new text!")


def _project(tmp_path: Path) -> tuple[Path, MemoryDisk, Path]:
    root = make_project(tmp_path / "p", {"alpha": story(2)})
    disk = MemoryDisk()
    path = root / "stories" / "alpha.fountain"
    disk.replace(path, path.read_bytes())       # the real file only lists the story; its bytes come from here
    return root, disk, path


def _build(root: Path, disk: MemoryDisk) -> list[str]:
    report = Builder(Project(root), BuildOptions(jobs=1), disk=disk).build([])
    assert report.exit_code == 0, [e.render() for e in report.errors]
    return report.executed


def test_a_same_size_edit_in_the_same_tick_as_the_build_is_seen(tmp_path: Path) -> None:
    """The edit keeps size, mtime, ctime and inode (1 s granularity, same second): only the racy rule catches it."""
    root, disk, path = _project(tmp_path)
    disk.tick(SECOND // 10)
    assert _build(root, disk)                                       # first build, state dated now
    text = disk.files[path][0]
    edited = text.replace(b"WORKSHOP 1", b"WORKSHOP X")
    assert len(edited) == len(text) and edited != text
    before = disk.stat(path)
    disk.tick(SECOND // 10)                                         # same second
    disk.write(path, edited)
    assert disk.stat(path) == before                                # the stat cannot tell
    executed = _build(root, disk)
    assert any(t.startswith("alpha#1") for t in executed), executed
    assert "WORKSHOP X" in (root / "build" / "alpha" / "shot_specs.json").read_text(encoding="utf-8")


def test_an_old_unchanged_file_is_not_even_read_and_a_touched_one_is_read_not_recompiled(tmp_path: Path) -> None:
    root, disk, path = _project(tmp_path)
    _build(root, disk)
    disk.tick(10 * SECOND)
    _build(root, disk)                    # racy at first (mtime near the state's date): read, state re-dated
    disk.tick(10 * SECOND)
    disk.reads.clear()
    assert _build(root, disk) == [] and disk.reads == []             # trusted stat: no read at all
    disk.touch(path)
    disk.tick(10 * SECOND)
    assert _build(root, disk) == [] and disk.reads == [path]         # read once, same digest: nothing runs
    disk.reads.clear()
    disk.tick(10 * SECOND)
    assert _build(root, disk) == [] and disk.reads == []             # the new stat was recorded
