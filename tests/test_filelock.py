"""FileLock, the one flock helper, between real processes: contention, non-blocking tries, timeouts, release
when the holder is killed, the is_held_elsewhere probe, and forked children that must never release (or keep)
their parent's lock. Then the behaviour its users promise: ProjectLock's messages and ``unclean``, RunToken's
liveness after a kill -9."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from prodscale.errors import LockBusy
from prodscale.storage.filelock import FileLock, is_held_elsewhere, release_inherited
from prodscale.storage.ledger import run_alive
from prodscale.storage.lock import ProjectLock

FORK = multiprocessing.get_context("fork")

# a holder in its own process: takes the lock, says "held", releases when told (a line on stdin), says so
HOLDER = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    kind, path = sys.argv[1], Path(sys.argv[2])
    if kind == "file":
        from prodscale.storage.filelock import FileLock
        lock = FileLock(path)
        lock.acquire()
    elif kind == "project":
        from prodscale.storage.lock import ProjectLock
        lock = ProjectLock(path, "test holder").acquire()
    else:
        from prodscale.storage.ledger import RunToken
        lock = RunToken(path)
        lock.release = lock.close
        print(lock.id, flush=True)
    if len(sys.argv) > 3:  # fork a child that outlives us, closing its inherited lock files or not
        ready, tell = os.pipe()
        child = os.fork()
        if child == 0:
            if sys.argv[3] == "close":
                from prodscale.storage.filelock import release_inherited
                release_inherited()
            os.write(tell, b"!")
            time.sleep(60)
            os._exit(0)
        os.read(ready, 1)  # the child has done what it does with its copies
        print(child, flush=True)
    print("held", flush=True)
    sys.stdin.readline()
    lock.release()
    print("released", flush=True)
    sys.stdin.readline()
""")


class Holder:
    def __init__(self, kind: str, path: Path, *extra: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", HOLDER, kind, str(path), *extra], text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.lines: list[str] = []
        while (line := self._line()) != "held":
            self.lines.append(line)

    def _line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        assert line, f"the holder ended early ({self.proc.wait()})"
        return line

    def release(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        assert self._line() == "released"

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def end(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()


@contextmanager
def held(kind: str, path: Path, *extra: str) -> Iterator[Holder]:
    holder = Holder(kind, path, *extra)
    try:
        yield holder
    finally:
        holder.end()


def _after(seconds: float, action: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(seconds), action()))
    thread.start()
    return thread


# ---------------------------------------------------------------------- FileLock between processes

def _count(path: Path, counter: Path, times: int) -> None:
    lock = FileLock(path)
    for _ in range(times):
        with lock:
            n = int(counter.read_text() or "0")
            time.sleep(0.0005)  # widen the read-modify-write window: without the lock updates get lost
            counter.write_text(str(n + 1))
    os._exit(0)


def test_two_processes_take_turns(tmp_path: Path) -> None:
    counter = tmp_path / "counter"
    counter.write_text("0")
    procs = [FORK.Process(target=_count, args=(tmp_path / "l", counter, 150)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    assert counter.read_text() == "300"


def test_a_try_fails_while_held_elsewhere_and_succeeds_once_released(tmp_path: Path) -> None:
    path = tmp_path / "l"
    lock = FileLock(path)
    with held("file", path) as holder:
        assert not lock.try_acquire()
        assert not lock.held and lock.fd is None  # a failed try keeps no file open
        holder.release()
        assert lock.try_acquire() and lock.held
    lock.release()
    assert not lock.held and lock.fd is None


def test_acquire_waits_for_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "l"
    with held("file", path) as holder:
        thread = _after(0.3, holder.release)
        start = time.monotonic()
        with FileLock(path) as lock:
            assert lock.held and time.monotonic() - start >= 0.25
        thread.join()


def test_a_timeout_gives_up_then_a_longer_one_gets_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "l"
    lock = FileLock(path)
    with held("file", path) as holder:
        start = time.monotonic()
        assert lock.acquire(timeout=0.3) is False
        assert 0.3 <= time.monotonic() - start < 3 and lock.fd is None
        assert lock.acquire(timeout=0) is False
        thread = _after(0.3, holder.release)
        assert lock.acquire(timeout=10) is True
        assert time.monotonic() - start < 5
        thread.join()
    lock.release()


def test_kill_9_of_the_holder_frees_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "l"
    with held("file", path) as holder:
        assert is_held_elsewhere(path) and not FileLock(path).try_acquire()
        holder.kill()
        assert not is_held_elsewhere(path)
        lock = FileLock(path)
        assert lock.try_acquire()
        lock.release()


def test_is_held_elsewhere(tmp_path: Path) -> None:
    path = tmp_path / "l"
    assert not is_held_elsewhere(path) and not path.exists()  # the probe never creates the file
    lock = FileLock(path)
    lock.acquire()
    assert is_held_elsewhere(path)  # another open of the file, even in this process
    assert not FileLock(path).try_acquire()
    lock.release()
    assert not is_held_elsewhere(path) and path.exists()
    with held("file", path):
        assert is_held_elsewhere(path)


def test_the_file_is_0644_in_new_folders_whatever_the_umask(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "l"
    old = os.umask(0o077)
    try:
        with FileLock(path):
            pass
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "a" / "b").stat().st_mode) == 0o755


def test_keep_open_unlocks_without_closing(tmp_path: Path) -> None:
    lock = FileLock(tmp_path / "l", keep_open=True)
    lock.acquire()
    fd = lock.fd
    lock.release()
    assert not lock.held and lock.fd == fd and not is_held_elsewhere(lock.path)
    lock.acquire()
    assert lock.fd == fd and is_held_elsewhere(lock.path)  # the same file, taken again
    lock.close()
    assert lock.fd is None and not is_held_elsewhere(lock.path)
    with pytest.raises(OSError):
        os.fstat(fd)


# ---------------------------------------------------------------------- fork

def _another_process_can_take(path: Path) -> bool:
    code = "import sys; from prodscale.storage.filelock import FileLock; print(FileLock(sys.argv[1]).try_acquire())"
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    return out.stdout.strip() == "True"


def _in_child(lock: FileLock, *, release_inherited_first: bool, raw_unlock_fd: int | None = None) -> None:
    if release_inherited_first:
        release_inherited()
    if raw_unlock_fd is not None:  # what a naive child would do with the inherited descriptor
        fcntl.flock(raw_unlock_fd, fcntl.LOCK_UN)
    ok = lock.fd is None and not lock.held
    lock.release()
    lock.close()
    ok = ok and not lock.try_acquire()  # the child's own open of the file: the parent holds the lock
    os._exit(0 if ok else 1)


@pytest.mark.parametrize("release_inherited_first", [True, False])
def test_a_fork_child_never_releases_the_parents_lock(tmp_path: Path, release_inherited_first: bool) -> None:
    lock = FileLock(tmp_path / "l")
    lock.acquire()
    child = FORK.Process(target=_in_child, args=(lock,), kwargs={"release_inherited_first": release_inherited_first})
    child.start()
    child.join(30)
    assert child.exitcode == 0
    assert lock.held and is_held_elsewhere(lock.path)
    assert not _another_process_can_take(lock.path)
    lock.release()
    assert _another_process_can_take(lock.path)
    assert not is_held_elsewhere(lock.path)


def test_the_hazard_is_real_a_raw_unlock_in_a_child_releases_the_parents_lock(tmp_path: Path) -> None:
    """Shows that the test above can fail: unlocking the shared descriptor releases the parent's lock."""
    lock = FileLock(tmp_path / "l")
    lock.acquire()
    child = FORK.Process(target=_in_child, args=(lock,), kwargs={"release_inherited_first": False,
                                                                 "raw_unlock_fd": lock.fd})
    child.start()
    child.join(30)
    assert child.exitcode == 1  # the child could take the lock: its parent no longer held it
    assert not is_held_elsewhere(lock.path)
    lock.close()


@pytest.mark.parametrize(("child_closes", "held_after"), [("close", False), ("keep", True)])
def test_a_killed_holders_surviving_child_keeps_the_lock_only_without_release_inherited(
        tmp_path: Path, child_closes: str, held_after: bool) -> None:
    path = tmp_path / "l"
    with held("file", path, child_closes) as holder:
        grandchild = int(holder.lines[0])
        try:
            holder.kill()
            assert is_held_elsewhere(path) is held_after
        finally:
            os.kill(grandchild, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while is_held_elsewhere(path) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not is_held_elsewhere(path)


# ---------------------------------------------------------------------- its users keep their promises

def test_project_lock_messages_wait_callback_and_timeout(tmp_path: Path) -> None:
    with held("project", tmp_path) as holder:
        text = f"pid {holder.proc.pid} (test holder)"
        with pytest.raises(LockBusy, match=r"the project is locked by pid \d+ \(test holder\)") as busy:
            ProjectLock(tmp_path, "second").acquire(wait=False)
        assert busy.value.hint == "wait for it to finish, or run without --no-wait to queue behind it"
        waited: list[str] = []
        start = time.monotonic()
        with pytest.raises(LockBusy, match=r"^timed out waiting for the project lock held by pid \d+"):
            ProjectLock(tmp_path, "second").acquire(on_wait=waited.append, timeout=0.3)
        assert waited == [text] and time.monotonic() - start >= 0.3
        thread = _after(0.3, holder.release)
        lock = ProjectLock(tmp_path, "second").acquire(on_wait=waited.append)
        thread.join()
        assert waited == [text, text] and not lock.unclean  # the holder released cleanly
        assert lock.holder() == f"pid {os.getpid()} (second)"
        lock.release()
    assert (tmp_path / "lock").read_text() == ""


def test_project_lock_is_unclean_after_its_holder_was_killed(tmp_path: Path) -> None:
    with held("project", tmp_path) as holder:
        holder.kill()
    with ProjectLock(tmp_path, "next").acquire() as lock:
        assert lock.unclean
    with ProjectLock(tmp_path, "after").acquire() as lock:
        assert not lock.unclean


def test_a_killed_runs_token_is_dead_and_its_file_removed(tmp_path: Path) -> None:
    with held("run", tmp_path) as holder:
        run_id = holder.lines[0]
        lock_file = tmp_path / "runs" / f"{run_id}.lock"
        assert run_alive(tmp_path, run_id) and lock_file.exists()
        assert not list((tmp_path / "runs").glob(".*.tmp"))  # visible only under its final name
        holder.kill()
    assert lock_file.exists()  # a crash leaves the file; the next probe finds it free and removes it
    assert not run_alive(tmp_path, run_id) and not lock_file.exists()
