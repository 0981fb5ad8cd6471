"""The credits ledger: ``.prodscale/ledger.sqlite`` (SQLite, WAL, one writer at a time).

Two tables hold the money:

- ``requests``: one row per idempotency key (the hash of a canonical request) with its state
  ``reserved`` (credits held, maybe not sent yet), ``submitted`` (the provider may have it),
  ``completed``, ``failed`` or ``released`` (never reached the provider; credits returned), the
  credits still held (``reserved``), the captured cost, the provider's job id and output.
- ``transactions``: an append-only journal: ``topup``, ``reserve``, ``capture``, ``release`` and
  ``refund`` (a failure the provider does not bill: the hold is returned), each with the balance
  and the total reservation after it.

Balance = top-ups - captured costs. Available = balance - reserved. Every change runs in one
``BEGIN IMMEDIATE`` transaction (a single writer across threads and processes) with
``synchronous=FULL``, so a crash leaves either the old or the new state, never half of one.
A reservation is taken, and the credit check made, before a request leaves the machine.

Each row names its owner: the generate run that holds it. A run holds an ``flock`` on
``.prodscale/runs/<id>.lock`` for its lifetime, so a row whose owner's lock is free belongs to a
crashed run and is reconciled by the next one. The ledger is money: an unknown schema is an
error, never silently reset.
"""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Callable, Iterator

from prodscale.errors import IntegrityError, ProdscaleError, UsageError
from prodscale.storage.filelock import FileLock, is_held_elsewhere
from prodscale.storage.fs import fix_mode, make_dirs

LEDGER_NAME = "ledger.sqlite"
SCHEMA_VERSION = 2
IN_FLIGHT = ("reserved", "submitted")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS requests (
    key TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    story TEXT NOT NULL,
    clip TEXT NOT NULL,
    duration_ms INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('reserved', 'submitted', 'completed', 'failed', 'released')),
    estimate INTEGER NOT NULL CHECK (estimate >= 0),
    reserved INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    cost INTEGER NOT NULL DEFAULT 0,
    job_id TEXT,
    output_url TEXT,
    output_file TEXT,
    error_code TEXT,
    error TEXT,
    owner TEXT,
    run TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    endpoint TEXT
);
CREATE INDEX IF NOT EXISTS requests_state ON requests (state);
CREATE TABLE IF NOT EXISTS transactions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('topup', 'reserve', 'capture', 'release', 'refund')),
    amount INTEGER NOT NULL,
    request_key TEXT,
    provider TEXT,
    story TEXT,
    clip TEXT,
    note TEXT NOT NULL DEFAULT '',
    balance_after INTEGER NOT NULL,
    reserved_after INTEGER NOT NULL
);
"""


def _now() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


@dataclass(frozen=True)
class Reservation:
    """What ``reserve`` decided for a key: ``reserved`` (send it), ``resume`` (in flight and ours
    now: poll, do not resubmit), ``done``, ``failed``, ``elsewhere`` (a live run holds it),
    ``insufficient`` or ``over_cap``."""

    outcome: str
    row: dict[str, Any] | None = None
    available: int = 0


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        make_dirs(self.path.parent)
        with self._conn() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
        with self._write() as conn:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            version = conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()[0]
            if version == "1":
                # schema 2: each row names the provider identity (kind and endpoint) it was sent to; rows of
                # schema 1 have none until a generate run adopts them (see resolve_keys)
                columns = {r[1] for r in conn.execute("PRAGMA table_info(requests)")}
                if "endpoint" not in columns:
                    conn.execute("ALTER TABLE requests ADD COLUMN endpoint TEXT")
                conn.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(SCHEMA_VERSION),))
                version = str(SCHEMA_VERSION)
        if version != str(SCHEMA_VERSION):
            raise IntegrityError(f"the ledger {self.path.name} has schema {version}, this prodscale reads "
                                 f"{SCHEMA_VERSION}", hint="use the prodscale version that wrote it; "
                                 "the ledger holds money and is never reset automatically")

    @classmethod
    def for_state_dir(cls, state_dir: Path) -> Ledger:
        return cls(Path(state_dir) / LEDGER_NAME)

    # ------------------------------------------------------------------ plumbing

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            fix_mode(self.path)
        except sqlite3.Error as exc:
            raise UsageError(f"cannot open the ledger {self.path}: {exc}") from None
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=60000")
            yield conn
        except sqlite3.DatabaseError as exc:
            raise self._refused(exc) from None
        finally:
            conn.close()

    def _refused(self, exc: sqlite3.DatabaseError) -> ProdscaleError:
        """SQLite's refusal as a message. The ledger is money: a damaged one is reported, never reset."""
        text = str(exc)
        where = f".prodscale/{self.path.name}"
        if not isinstance(exc, sqlite3.OperationalError) or "malformed" in text or "not a database" in text:
            return IntegrityError(f"the ledger is damaged ({text}); nothing was changed", path=where,
                                  hint="restore .prodscale/ledger.sqlite from a backup, or ask for help: it holds "
                                       "the credits and the record of what was paid, so prodscale never resets it")
        if "full" in text:
            return ProdscaleError(f"the ledger cannot be written ({text}); nothing was changed", path=where,
                                  hint="free some disk space and run the command again")
        return ProdscaleError(f"the ledger cannot be used now ({text}); nothing was changed", path=where,
                              hint="if another prodscale holds it, wait for it; else check the file's permissions")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One writer at a time: BEGIN IMMEDIATE takes the write lock before reading the state."""
        with self._conn() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @staticmethod
    def _totals(conn: sqlite3.Connection) -> tuple[int, int]:
        row = conn.execute("SELECT balance_after FROM transactions ORDER BY id DESC LIMIT 1").fetchone()
        balance = int(row[0]) if row else 0
        reserved = int(conn.execute("SELECT COALESCE(SUM(reserved), 0) FROM requests").fetchone()[0])
        return balance, reserved

    def _journal(self, conn: sqlite3.Connection, kind: str, amount: int, *, row: dict[str, Any] | None = None,
                 note: str = "", balance_delta: int = 0) -> None:
        balance, reserved = self._totals(conn)
        conn.execute(
            "INSERT INTO transactions (at, kind, amount, request_key, provider, story, clip, note, balance_after,"
            " reserved_after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (_now(), kind, amount, row and row["key"], row and row["provider"], row and row["story"],
             row and row["clip"], note, balance + balance_delta, reserved))

    @staticmethod
    def _row(conn: sqlite3.Connection, key: str) -> dict[str, Any] | None:
        row = conn.execute("SELECT * FROM requests WHERE key = ?", (key,)).fetchone()
        return dict(row) if row is not None else None

    # ------------------------------------------------------------------ credits

    def top_up(self, amount: int, note: str = "") -> int:
        if amount <= 0:
            raise UsageError("a top-up must be a positive amount")
        with self._write() as conn:
            self._journal(conn, "topup", amount, note=note, balance_delta=amount)
            return self._totals(conn)[0]

    def summary(self) -> dict[str, Any]:
        with self._conn() as conn:
            balance, reserved = self._totals(conn)

            def total(kind: str) -> int:
                return int(conn.execute("SELECT COALESCE(SUM(amount), 0) FROM transactions WHERE kind = ?",
                                        (kind,)).fetchone()[0])

            def grouped(column: str) -> dict[str, int]:
                return {r[0]: int(r[1]) for r in conn.execute(
                    f"SELECT {column}, SUM(amount) FROM transactions WHERE kind = 'capture' GROUP BY {column} "
                    f"ORDER BY {column}")}

            states = {r[0]: int(r[1]) for r in conn.execute("SELECT state, COUNT(*) FROM requests GROUP BY state")}
            return {"balance": balance, "reserved": reserved, "available": balance - reserved,
                    "topups": total("topup"), "spent": total("capture"), "refunded": total("refund"),
                    "by_story": grouped("story"), "by_provider": grouped("provider"), "requests": states}

    def history(self, limit: int | None = None) -> list[dict[str, Any]]:
        with self._conn() as conn:
            sql = "SELECT * FROM transactions ORDER BY id DESC"
            rows = conn.execute(sql + (" LIMIT ?" if limit else ""), (limit,) if limit else ()).fetchall()
            return [dict(r) for r in reversed(rows)]

    # ------------------------------------------------------------------ requests

    def get(self, key: str) -> dict[str, Any] | None:
        with self._conn() as conn:
            return self._row(conn, key)

    def rows(self, keys: list[str] | None = None) -> dict[str, dict[str, Any]]:
        with self._conn() as conn:
            if keys is None:
                found = conn.execute("SELECT * FROM requests").fetchall()
            else:
                found = []
                for i in range(0, len(keys), 500):
                    chunk = keys[i:i + 500]
                    found += conn.execute(f"SELECT * FROM requests WHERE key IN ({','.join('?' * len(chunk))})",
                                          chunk).fetchall()
            return {r["key"]: dict(r) for r in found}

    def resolve_keys(self, pairs: list[tuple[str, str]], endpoint: str, *, adopt: bool) -> dict[str, str]:
        """For (key, legacy key) pairs: the key to go by. A row under the key wins; else a schema-1 row under
        the legacy key with no endpoint yet (adopted by ``endpoint`` when ``adopt``) or already ``endpoint``'s."""
        if not pairs:
            return {}
        chosen: dict[str, str] = {}
        with (self._write() if adopt else self._conn()) as conn:
            for i in range(0, len(pairs), 250):
                chunk = pairs[i:i + 250]
                wanted = [k for pair in chunk for k in pair]
                rows = {r["key"]: r["endpoint"] for r in conn.execute(
                    f"SELECT key, endpoint FROM requests WHERE key IN ({','.join('?' * len(wanted))})", wanted)}
                for key, legacy in chunk:
                    if key in rows or legacy not in rows or rows[legacy] not in (None, endpoint):
                        chosen[key] = key
                        continue
                    chosen[key] = legacy
                    if adopt and rows[legacy] is None:
                        conn.execute("UPDATE requests SET endpoint = ? WHERE key = ? AND endpoint IS NULL",
                                     (endpoint, legacy))
        return chosen

    def reserve(self, key: str, *, provider: str, model: str, story: str, clip: str, duration_ms: int,
                estimate: int, owner: str, is_alive: Callable[[str], bool], run_cap: int | None = None,
                endpoint: str | None = None) -> Reservation:
        """Hold ``estimate`` for ``key`` if the available credits cover it; decide in one transaction."""
        with self._write() as conn:
            row = self._row(conn, key)
            if row is not None:
                if row["state"] == "completed":
                    return Reservation("done", row)
                if row["state"] == "failed":
                    return Reservation("failed", row)
                if row["state"] in IN_FLIGHT:
                    if row["owner"] == owner:
                        return Reservation("resume", row)
                    if row["owner"] and is_alive(row["owner"]):
                        return Reservation("elsewhere", row)
                    conn.execute("UPDATE requests SET owner = ?, updated_at = ? WHERE key = ?", (owner, _now(), key))
                    row["owner"] = owner
                    return Reservation("resume", row)
            balance, reserved = self._totals(conn)
            available = balance - reserved
            if estimate > available:
                return Reservation("insufficient", row, available)
            if run_cap is not None:
                used = int(conn.execute("SELECT COALESCE(SUM(estimate), 0) FROM requests WHERE run = ? AND "
                                        "state != 'released'", (owner,)).fetchone()[0])
                if used + estimate > run_cap:
                    return Reservation("over_cap", row, run_cap - used)
            now = _now()
            conn.execute(
                "INSERT INTO requests (key, provider, model, story, clip, duration_ms, state, estimate, reserved,"
                " cost, owner, run, created_at, updated_at, endpoint)"
                " VALUES (?, ?, ?, ?, ?, ?, 'reserved', ?, ?, 0, ?, ?, ?, ?, ?)"
                " ON CONFLICT (key) DO UPDATE SET state='reserved', estimate=excluded.estimate,"
                " reserved=excluded.reserved, owner=excluded.owner, run=excluded.run, job_id=NULL, error=NULL,"
                " error_code=NULL, updated_at=excluded.updated_at",
                (key, provider, model, story, clip, duration_ms, estimate, estimate, owner, owner, now, now, endpoint))
            new = self._row(conn, key)
            self._journal(conn, "reserve", estimate, row=new, note="held before sending")
            return Reservation("reserved", new, available - estimate)

    def mark_submitted(self, key: str, job_id: str | None) -> None:
        with self._write() as conn:
            conn.execute("UPDATE requests SET state = 'submitted', job_id = COALESCE(?, job_id), updated_at = ? "
                         "WHERE key = ? AND state IN ('reserved', 'submitted')", (job_id, _now(), key))

    def capture(self, key: str, cost: int, *, job_id: str | None, output_url: str | None,
                state: str = "completed", error_code: str | None = None, error: str | None = None) -> bool:
        """Record the provider's actual charge; the hold is released. False if already settled."""
        with self._write() as conn:
            row = self._row(conn, key)
            if row is None or row["state"] not in IN_FLIGHT:
                return False
            conn.execute("UPDATE requests SET state = ?, reserved = 0, cost = ?, job_id = COALESCE(?, job_id),"
                         " output_url = ?, error_code = ?, error = ?, updated_at = ? WHERE key = ?",
                         (state, cost, job_id, output_url, error_code, error, _now(), key))
            note = "charged" if state == "completed" else f"charged failure {error_code}"
            if row["reserved"] != cost:
                note += f"; estimate was {row['reserved']}"
            self._journal(conn, "capture", cost, row=row, note=note, balance_delta=-cost)
            return True

    def hold_for_review(self, key: str, *, job_id: str | None, reason: str) -> None:
        """The provider reported a cost no one should book: the hold stays, the request stays in flight and
        says why (``error_code = 'cost_review'``); nothing moves the balance."""
        with self._write() as conn:
            conn.execute("UPDATE requests SET job_id = COALESCE(?, job_id), error_code = 'cost_review', error = ?,"
                         " updated_at = ? WHERE key = ? AND state IN ('reserved', 'submitted')",
                         (job_id, reason[:200], _now(), key))

    def refund(self, key: str, *, error_code: str | None, error: str, job_id: str | None = None) -> bool:
        """A failure the provider does not bill: the request is failed and its hold returned."""
        with self._write() as conn:
            row = self._row(conn, key)
            if row is None or row["state"] not in IN_FLIGHT:
                return False
            conn.execute("UPDATE requests SET state = 'failed', reserved = 0, cost = 0, job_id = COALESCE(?, job_id),"
                         " error_code = ?, error = ?, updated_at = ? WHERE key = ?",
                         (job_id, error_code, error, _now(), key))
            self._journal(conn, "refund", row["reserved"], row=row, note=f"not charged: {error_code or error}")
            return True

    def release(self, key: str, reason: str) -> bool:
        """The request never reached the provider: return the hold; it may be sent again later."""
        with self._write() as conn:
            row = self._row(conn, key)
            if row is None or row["state"] not in IN_FLIGHT:
                return False
            conn.execute("UPDATE requests SET state = 'released', reserved = 0, error = ?, updated_at = ? "
                         "WHERE key = ?", (reason, _now(), key))
            self._journal(conn, "release", row["reserved"], row=row, note=reason)
            return True

    def set_output_file(self, key: str, rel_path: str) -> None:
        with self._write() as conn:
            conn.execute("UPDATE requests SET output_file = ?, updated_at = ? WHERE key = ?", (rel_path, _now(), key))

    def in_flight(self) -> list[dict[str, Any]]:
        with self._conn() as conn:
            return [dict(r) for r in conn.execute(
                "SELECT * FROM requests WHERE state IN ('reserved', 'submitted') ORDER BY created_at, key")]

    def claim(self, key: str, owner: str, is_alive: Callable[[str], bool]) -> dict[str, Any] | None:
        """Take an in-flight row over from a dead (or no) owner; None if it is settled or alive elsewhere."""
        with self._write() as conn:
            row = self._row(conn, key)
            if row is None or row["state"] not in IN_FLIGHT:
                return None
            if row["owner"] and row["owner"] != owner and is_alive(row["owner"]):
                return None
            conn.execute("UPDATE requests SET owner = ?, updated_at = ? WHERE key = ?", (owner, _now(), key))
            row["owner"] = owner
            return row

    def check(self) -> dict[str, Any]:
        """Recompute the money from the raw rows: what the invariant tests and `credits --check` compare."""
        with self._conn() as conn:
            sums = {r[0]: int(r[1]) for r in conn.execute("SELECT kind, SUM(amount) FROM transactions GROUP BY kind")}
            balance, reserved = self._totals(conn)
            held = int(conn.execute("SELECT COALESCE(SUM(reserved), 0) FROM requests WHERE state NOT IN "
                                    "('reserved', 'submitted')").fetchone()[0])
            captured_rows = int(conn.execute("SELECT COALESCE(SUM(cost), 0) FROM requests").fetchone()[0])
        expected = sums.get("topup", 0) - sums.get("capture", 0)
        return {"balance": balance, "expected_balance": expected, "reserved": reserved,
                "settled_rows_holding": held, "captured": sums.get("capture", 0), "captured_rows": captured_rows,
                "ok": balance == expected and held == 0 and captured_rows == sums.get("capture", 0)}


# ---------------------------------------------------------------------- run liveness

class RunToken:
    """A generate run's identity; alive exactly as long as its process holds the flock."""

    def __init__(self, state_dir: Path) -> None:
        self.dir = Path(state_dir) / "runs"
        self.id = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self._lock = FileLock(self.dir / f".{self.id}.tmp")
        self._lock.acquire()
        os.replace(self._lock.path, self.dir / f"{self.id}.lock")  # visible only once locked

    def is_alive(self, run_id: str) -> bool:
        return run_alive(self.dir.parent, run_id)

    def close(self) -> None:
        if self._lock.held:
            try:
                os.unlink(self.dir / f"{self.id}.lock")
            except FileNotFoundError:
                pass
            self._lock.release()

    def __enter__(self) -> RunToken:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_alive(state_dir: Path, run_id: str) -> bool:
    if not run_id or "/" in run_id or run_id.startswith("."):
        return False
    path = Path(state_dir) / "runs" / f"{run_id}.lock"
    if is_held_elsewhere(path):
        return True
    try:
        path.unlink()  # a crashed run's leftover (if there is a file at all)
    except FileNotFoundError:
        pass
    return False
