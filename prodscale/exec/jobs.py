"""Background builds: start one, follow its progress, cancel it, resume it after a crash.

A job is a detached ``python -m prodscale build --job-id ID ...`` process in its own session
(process group), with its output in ``.prodscale/jobs/<id>.log`` and its record in the job store.
The job process writes its progress to the store as it goes and its end state (done, failed,
cancelled) with the exit code when it ends, whatever ends it. A process killed without a word is
found ``dead`` by ``refresh()``; ``resume`` runs the same build again under the same id, and the
cache makes everything the dead process finished free.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from typing import Any
from collections.abc import Callable

from prodscale.errors import UsageError
from prodscale.exec.progress import ProgressState
from prodscale.storage.jobs import ACTIVE, CANCELLED, DEAD, DONE, FAILED, RESUMABLE, Job, JobStore, \
    process_start_time
from prodscale.storage.project import Project
from prodscale.storage.fs import make_dirs

CANCEL_EXIT = 128 + signal.SIGTERM  # the exit code of a cancelled job, as a shell would report it
FLUSH_EVERY_S = 0.5

# Popen objects of jobs this process spawned: kept so they are reaped (poll) rather than left as
# zombies, and so Python does not warn that a still-running child was dropped.
_SPAWNED: dict[str, subprocess.Popen[bytes]] = {}


class JobCancelled(BaseException):
    """Raised in a job's main thread by SIGTERM; a BaseException so no ``except Exception`` eats it."""


def open_store(project: Project) -> JobStore:
    return JobStore(project.state_dir)


def get_job(store: JobStore, job_id: str) -> Job:
    job = store.get(job_id)
    if job is None:
        known = [j.id for j in store.jobs()][-5:]
        latest = f" (latest: {', '.join(known)})" if known else ""
        raise UsageError(f"no job with id '{job_id}'", hint=f"`prodscale jobs` lists the jobs{latest}")
    return job


def _reap() -> None:
    for job_id, proc in list(_SPAWNED.items()):
        if proc.poll() is not None:
            del _SPAWNED[job_id]


def _spawn(project: Project, store: JobStore, job: Job) -> None:
    log_path = project.root / job.log
    make_dirs(log_path.parent)
    argv = [sys.executable, "-m", "prodscale", "build", "--job-id", job.id, "-C", str(project.root), *job.argv]
    with open(log_path, "ab") as log:
        log.write(f"== job {job.id} starting: prodscale build {' '.join(job.argv)}\n".encode())
        log.flush()
        proc = subprocess.Popen(argv, cwd=project.root, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
    # the child is ours and not yet reaped, so its /proc entry is there to read
    store.set_process(job.id, proc.pid, process_start_time(proc.pid))
    _reap()
    _SPAWNED[job.id] = proc


def start_background(project: Project, build_args: list[str]) -> str:
    """Record a job for ``prodscale build <build_args>``, start it detached, return its id at once."""
    with open_store(project) as store:
        job = store.create(list(build_args))
        _spawn(project, store, job)
        return job.id


def resume(project: Project, job_id: str) -> Job:
    """Start a dead, failed or cancelled job again: same id, same arguments."""
    with open_store(project) as store:
        store.refresh()
        job = get_job(store, job_id)
        if job.state not in RESUMABLE:
            what = "still running" if job.state in ACTIVE else "done"
            raise UsageError(f"job {job_id} is {what}; only a dead, failed or cancelled job can be resumed",
                             hint=f"follow it with `prodscale jobs wait {job_id}`" if job.state in ACTIVE else None)
        if not store.requeue(job_id):
            raise UsageError(f"job {job_id} changed state meanwhile; look at `prodscale jobs show {job_id}`")
        job = get_job(store, job_id)
        _spawn(project, store, job)
        return get_job(store, job_id)


def cancel(project: Project, job_id: str) -> Job:
    """Mark a job cancelled and send SIGTERM to its process group; returns the job as it was."""
    with open_store(project) as store:
        store.refresh()
        before = get_job(store, job_id)
        was = store.mark_cancelled(job_id)
        if was is None:
            raise UsageError(f"job {job_id} is {before.state}; there is nothing to cancel")
    if was.state in ACTIVE and was.pid is not None and process_start_time(was.pid) == was.pid_start:
        try:
            os.killpg(was.pid, signal.SIGTERM)  # start_new_session: the job leads its own group
        except ProcessLookupError:
            pass
    _reap()
    return was


def wait(project: Project, job_id: str, timeout: float | None = None, *, poll: float = 0.1) -> Job | None:
    """Poll until the job reaches an end state (done, failed, cancelled, dead); None on timeout."""
    deadline = None if timeout is None else time.monotonic() + timeout
    with open_store(project) as store:
        get_job(store, job_id)
        while True:
            _reap()
            store.refresh()
            job = get_job(store, job_id)
            if job.terminal and job.state == CANCELLED and job.exit_code is None:
                # cancelled, but its process may still be writing its end: its exit code is the answer
                if job.pid is not None and process_start_time(job.pid) == job.pid_start:
                    if deadline is not None and time.monotonic() >= deadline:
                        return None
                    time.sleep(poll)
                    continue
                job = replace(job, exit_code=CANCEL_EXIT)  # it ended (or never started) without a word
            if job.terminal:
                proc = _SPAWNED.pop(job_id, None)
                if proc is not None:  # ours: it has written its end, let it exit and reap it
                    try:
                        proc.wait(timeout=5)
                    except subprocess.TimeoutExpired:
                        _SPAWNED[job_id] = proc
                return job
            if deadline is not None and time.monotonic() >= deadline:
                return None
            time.sleep(poll)


def list_jobs(project: Project) -> list[Job]:
    with open_store(project) as store:
        _reap()
        store.refresh()
        return store.jobs()


def show_job(project: Project, job_id: str) -> Job:
    with open_store(project) as store:
        _reap()
        store.refresh()
        return get_job(store, job_id)


class JobProgress:
    """The running job's ``on_progress``: tallies the Builder's events and writes them to the store
    at most every ``every`` seconds, and always on the ``done`` event and on ``flush()``."""

    def __init__(self, store: JobStore, job_id: str, *, every: float = FLUSH_EVERY_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.job_id = job_id
        self.every = every
        self.clock = clock
        self.state = ProgressState()
        self._last = float("-inf")
        self._dirty = False
        self.writes = 0

    def __call__(self, event: Any) -> None:
        kind = self.state.feed(event)
        if kind is None:
            return
        self._dirty = True
        if kind == "done" or self.clock() - self._last >= self.every:
            self.flush()

    def flush(self) -> None:
        if not self._dirty:
            return
        s = self.state
        self.store.update_progress(self.job_id, stories_done=s.stories_done, stories_total=s.stories_total,
                                   actions_done=s.actions_done, actions_total=s.actions_total,
                                   stages=s.stages, current=list(s.current))
        self._last = self.clock()
        self._dirty = False
        self.writes += 1


class JobRun:
    """The job process's side: ``start()`` marks the job running and turns SIGTERM into
    ``JobCancelled``; ``end()`` records how it ended. Use it as ``with JobRun(...) as run:``; an
    exception leaving the block marks the job failed (or cancelled) before it propagates."""

    def __init__(self, project: Project, job_id: str) -> None:
        self.project = project
        self.job_id = job_id
        self.store = open_store(project)
        get_job(self.store, job_id)
        self.progress = JobProgress(self.store, job_id)
        self.ended = False
        self._old_handler: Any = None

    def __enter__(self) -> JobRun:
        pid = os.getpid()
        if not self.store.mark_running(self.job_id, pid, process_start_time(pid)):
            job = get_job(self.store, self.job_id)
            raise UsageError(f"job {self.job_id} is {job.state}; not starting it")
        self._old_handler = signal.signal(signal.SIGTERM, _raise_cancelled)
        print(f"== job {self.job_id} running as pid {pid}", flush=True)
        return self

    def end(self, exit_code: int, result: dict[str, Any] | None = None) -> None:
        if self.ended:
            return
        self.ended = True
        try:
            self.progress.flush()
        finally:
            state = DONE if exit_code == 0 else CANCELLED if exit_code == CANCEL_EXIT else FAILED
            self.store.finish(self.job_id, state, exit_code, result)
            print(f"== job {self.job_id} {state} (exit code {exit_code})", flush=True)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the end is being written: no second interruption
        try:
            if exc_type is None:
                self.end(0)
            elif issubclass(exc_type, JobCancelled):
                self.end(CANCEL_EXIT)
            elif exc_type is not None and not self.ended:
                code = getattr(exc, "exit_code", None)
                self.end(code if isinstance(code, int) and code else 1)
        finally:
            signal.signal(signal.SIGTERM, self._old_handler or signal.SIG_DFL)
            self.store.close()
        if exc_type is not None and issubclass(exc_type, JobCancelled):
            raise SystemExit(CANCEL_EXIT)


def _raise_cancelled(signum: int, frame: Any) -> None:
    raise JobCancelled()


__all__ = ["CANCEL_EXIT", "DEAD", "JobCancelled", "JobProgress", "JobRun", "cancel", "list_jobs", "resume",
           "show_job", "start_background", "wait"]
