"""The job store: background builds recorded in ``.prodscale/jobs.db`` (SQLite, WAL).

One row per job: the build's arguments, its state, the process running it, times, progress and
exit code. Every change is one transaction, so a process killed at any moment leaves the store as
it was after the last committed change. Times live here and in job logs, never in build outputs.

A job's process is named by its pid *and* its start time (field 22 of ``/proc/<pid>/stat``), so a
pid the kernel has since given to another process is never taken for the job. ``refresh()`` marks
a queued or running job whose process is gone (or became someone else) as ``dead``.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Iterator
from prodscale.storage.fs import fix_mode, make_dirs

SCHEMA = 1
DB_NAME = "jobs.db"
LOG_DIR = "jobs"

QUEUED, RUNNING, DONE, FAILED, CANCELLED, DEAD = "queued", "running", "done", "failed", "cancelled", "dead"
STATES = (QUEUED, RUNNING, DONE, FAILED, CANCELLED, DEAD)
ACTIVE = (QUEUED, RUNNING)             # a process is (or should be) working on it
RESUMABLE = (DEAD, FAILED, CANCELLED)  # may be started again with the same arguments
# A queued job without a pid yet is being spawned; after this long without one its spawner died.
SPAWN_GRACE_S = 60.0

_COLUMNS = ("id", "argv", "state", "pid", "pid_start", "attempts", "created", "started", "finished",
            "stories_done", "stories_total", "actions_done", "actions_total", "stages", "current",
            "exit_code", "log", "result")

_CREATE = """
CREATE TABLE IF NOT EXISTS jobs (
    id            TEXT PRIMARY KEY,
    argv          TEXT NOT NULL,             -- JSON list: the build's targets and options
    state         TEXT NOT NULL,
    pid           INTEGER,
    pid_start     INTEGER,                   -- /proc/<pid>/stat field 22 (clock ticks after boot)
    attempts      INTEGER NOT NULL DEFAULT 0,
    created       REAL NOT NULL,             -- seconds since the epoch
    started       REAL,
    finished      REAL,
    stories_done  INTEGER NOT NULL DEFAULT 0,
    stories_total INTEGER NOT NULL DEFAULT 0,
    actions_done  INTEGER NOT NULL DEFAULT 0,
    actions_total INTEGER NOT NULL DEFAULT 0,
    stages        TEXT NOT NULL DEFAULT '{}', -- JSON: stage -> {"executed": n, "cached": n}
    current       TEXT NOT NULL DEFAULT '[]', -- JSON list: the targets checked last
    exit_code     INTEGER,
    log           TEXT NOT NULL,             -- relative to the project root
    result        TEXT                       -- JSON summary of the finished build
)
"""


def process_start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (start time in clock ticks after boot); None if no live process.

    A zombie (exited, not yet reaped) counts as gone: it will never write to the store again."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # the command name (field 2) is in parentheses and may itself hold spaces or ')'
    rest = raw[raw.rfind(b")") + 2:].split()
    if len(rest) < 20 or rest[0] in (b"Z", b"X"):
        return None
    return int(rest[19])  # fields 3.. are rest[0..]: field 22 is rest[19]


@dataclass
class Job:
    id: str
    argv: list[str]
    state: str
    pid: int | None
    pid_start: int | None
    attempts: int
    created: float
    started: float | None
    finished: float | None
    stories_done: int
    stories_total: int
    actions_done: int
    actions_total: int
    stages: dict[str, dict[str, int]] = field(default_factory=dict)
    current: list[str] = field(default_factory=list)
    exit_code: int | None = None
    log: str = ""
    result: dict[str, Any] | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Job:
        d = dict(zip(_COLUMNS, row, strict=True))
        d["argv"] = json.loads(d["argv"])
        d["stages"] = json.loads(d["stages"] or "{}")
        d["current"] = json.loads(d["current"] or "[]")
        d["result"] = json.loads(d["result"]) if d["result"] else None
        return cls(**d)

    @property
    def terminal(self) -> bool:
        return self.state not in ACTIVE

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "argv": self.argv, "state": self.state, "pid": self.pid,
                "attempts": self.attempts, "created": iso(self.created), "started": iso(self.started),
                "finished": iso(self.finished), "exit_code": self.exit_code, "log": self.log,
                "progress": {"stories": {"done": self.stories_done, "total": self.stories_total},
                             "actions": {"done": self.actions_done, "total": self.actions_total},
                             "stages": self.stages, "current": self.current},
                "result": self.result}


def iso(t: float | None) -> str | None:
    if t is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class JobStore:
    """``.prodscale/jobs.db``; open one per process (connections are not shared across forks)."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.path = state_dir / DB_NAME
        self.messages: list[str] = []
        make_dirs(state_dir)
        self.conn = self._open()

    def _open(self) -> sqlite3.Connection:
        # autocommit mode: every transaction below is explicit (BEGIN IMMEDIATE ... COMMIT)
        conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        fix_mode(self.path)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA):
                raise sqlite3.DatabaseError(f"schema {version}, expected {SCHEMA}")
            with self._tx(conn):
                conn.execute(_CREATE)
                conn.execute(f"PRAGMA user_version={SCHEMA}")
            conn.execute("SELECT count(*) FROM jobs").fetchone()
        except sqlite3.DatabaseError as exc:
            # an old or unreadable store is set aside, never trusted (jobs are records, not work:
            # the cache still holds everything they built)
            conn.close()
            if "locked" in str(exc):
                raise
            aside = self.path.with_name(f"{DB_NAME}.unreadable")
            for suffix in ("", "-wal", "-shm"):
                src = Path(str(self.path) + suffix)
                if src.exists():
                    os.replace(src, Path(str(aside) + suffix))
            self.messages.append(f"set aside an unreadable job store ({exc}) as {aside.name}; starting a new one")
            return self._open()
        return conn

    @staticmethod
    def _tx(conn: sqlite3.Connection) -> _Tx:
        return _Tx(conn)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> JobStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading -------------------------------------------------------------------------------
    def get(self, job_id: str) -> Job | None:
        row = self.conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return Job.from_row(row) if row else None

    def jobs(self) -> list[Job]:
        rows = self.conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM jobs ORDER BY created, id").fetchall()
        return [Job.from_row(r) for r in rows]

    # -- writing -------------------------------------------------------------------------------
    def create(self, argv: list[str]) -> Job:
        with self._tx(self.conn):
            while True:
                job_id = secrets.token_hex(4)
                if self.conn.execute("SELECT 1 FROM jobs WHERE id = ?", (job_id,)).fetchone() is None:
                    break
            self.conn.execute("INSERT INTO jobs (id, argv, state, created, log) VALUES (?, ?, ?, ?, ?)",
                              (job_id, json.dumps(argv), QUEUED, time.time(), f".prodscale/{LOG_DIR}/{job_id}.log"))
        job = self.get(job_id)
        assert job is not None
        return job

    def requeue(self, job_id: str) -> bool:
        """A resumable job back to queued, its process and result forgotten; False if not resumable."""
        with self._tx(self.conn):
            cur = self.conn.execute(
                f"UPDATE jobs SET state = ?, pid = NULL, pid_start = NULL, exit_code = NULL, finished = NULL, "
                f"result = NULL WHERE id = ? AND state IN ({_marks(RESUMABLE)})",
                (QUEUED, job_id, *RESUMABLE))
            return cur.rowcount == 1

    def set_process(self, job_id: str, pid: int, pid_start: int | None) -> None:
        """Record the process working on the job (by its spawner, and again by the process itself)."""
        with self._tx(self.conn):
            self.conn.execute("UPDATE jobs SET pid = ?, pid_start = ? WHERE id = ?", (pid, pid_start, job_id))

    def mark_running(self, job_id: str, pid: int, pid_start: int | None) -> bool:
        """The job's own process says it started; False if the job was cancelled meanwhile."""
        with self._tx(self.conn):
            cur = self.conn.execute(
                "UPDATE jobs SET state = ?, pid = ?, pid_start = ?, started = ?, attempts = attempts + 1, "
                "stories_done = 0, stories_total = 0, actions_done = 0, actions_total = 0, stages = '{}', "
                "current = '[]' WHERE id = ? AND state IN (?, ?)",
                (RUNNING, pid, pid_start, time.time(), job_id, QUEUED, RUNNING))
            return cur.rowcount == 1

    def update_progress(self, job_id: str, *, stories_done: int, stories_total: int, actions_done: int,
                        actions_total: int, stages: dict[str, dict[str, int]], current: list[str]) -> None:
        with self._tx(self.conn):
            self.conn.execute(
                "UPDATE jobs SET stories_done = ?, stories_total = ?, actions_done = ?, actions_total = ?, "
                "stages = ?, current = ? WHERE id = ?",
                (stories_done, stories_total, actions_done, actions_total, json.dumps(stages),
                 json.dumps(current), job_id))

    def finish(self, job_id: str, state: str, exit_code: int, result: dict[str, Any] | None = None) -> None:
        """The job's process ends it. A job cancelled meanwhile stays cancelled (its exit code is kept)."""
        assert state in (DONE, FAILED, CANCELLED)
        with self._tx(self.conn):
            self.conn.execute(
                "UPDATE jobs SET state = CASE WHEN state = ? THEN state ELSE ? END, exit_code = ?, finished = ?, "
                "result = ?, current = '[]' WHERE id = ?",
                (CANCELLED, state, exit_code, time.time(), json.dumps(result, sort_keys=True) if result else None,
                 job_id))

    def mark_cancelled(self, job_id: str) -> Job | None:
        """Cancel a queued, running or dead job; returns it as it was before, or None if it cannot be."""
        with self._tx(self.conn):
            job = self.get(job_id)
            if job is None or job.state not in (*ACTIVE, DEAD):
                return None
            self.conn.execute("UPDATE jobs SET state = ?, finished = ?, current = '[]' WHERE id = ?",
                              (CANCELLED, time.time(), job_id))
            return job

    def refresh(self) -> list[str]:
        """Mark every queued or running job whose process is gone (or is now another process) dead."""
        now = time.time()
        dead: list[Job] = []
        for job in self.jobs():
            if job.state not in ACTIVE:
                continue
            if job.pid is None:
                if now - job.created > SPAWN_GRACE_S:
                    dead.append(job)
                continue
            start = process_start_time(job.pid)
            if start is None or (job.pid_start is not None and start != job.pid_start):
                dead.append(job)
        marked = []
        for job in dead:
            with self._tx(self.conn):
                # only if nothing changed since we looked: a job that finished meanwhile stays finished
                cur = self.conn.execute(
                    "UPDATE jobs SET state = ?, finished = ?, current = '[]' WHERE id = ? AND state = ? "
                    "AND pid IS ? AND attempts = ?", (DEAD, now, job.id, job.state, job.pid, job.attempts))
                if cur.rowcount == 1:
                    marked.append(job.id)
        return marked


def _marks(values: tuple[str, ...]) -> str:
    return ", ".join("?" for _ in values)


class _Tx:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any exception (a signal included)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")


def iter_log_tail(path: Path, lines: int) -> Iterator[str]:
    """The last ``lines`` lines of a job log (empty if there is none yet)."""
    try:
        data = path.read_bytes()[-64 * 1024:]
    except FileNotFoundError:
        return iter(())
    return iter(data.decode("utf-8", "replace").splitlines()[-lines:])
