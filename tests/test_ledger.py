"""The credits ledger: top-ups, reservations before sending, capture, refund, release, one writer."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from prodscale.errors import IntegrityError, UsageError
from prodscale.storage.ledger import Ledger, RunToken, run_alive


def _reserve(ledger: Ledger, key: str, estimate: int, owner: str, **kw):  # type: ignore[no-untyped-def]
    return ledger.reserve(key, provider="p", model="m", story=kw.pop("story", "s"), clip=key, duration_ms=4000,
                          estimate=estimate, owner=owner, is_alive=kw.pop("is_alive", lambda _o: True), **kw)


def test_topup_reserve_capture_refund_release(tmp_path: Path) -> None:
    ledger = Ledger.for_state_dir(tmp_path)
    assert ledger.summary()["balance"] == 0
    with pytest.raises(UsageError):
        ledger.top_up(0)
    ledger.top_up(100, "invoice 1")
    assert _reserve(ledger, "a", 30, "r1").outcome == "reserved"
    assert _reserve(ledger, "b", 50, "r1").outcome == "reserved"
    s = ledger.summary()
    assert (s["balance"], s["reserved"], s["available"]) == (100, 80, 20)
    assert _reserve(ledger, "c", 21, "r1").outcome == "insufficient"   # refused before sending
    assert ledger.capture("a", 25, job_id="j1", output_url="u")         # actual below the estimate
    assert not ledger.capture("a", 25, job_id="j1", output_url="u")     # settled once only
    assert ledger.refund("b", error_code="internal_error", error="boom")
    assert _reserve(ledger, "c", 21, "r1").outcome == "reserved"
    assert ledger.release("c", "never reached the provider")
    s = ledger.summary()
    assert (s["balance"], s["reserved"], s["spent"]) == (75, 0, 25)
    assert s["by_story"] == {"s": 25} and s["by_provider"] == {"p": 25}
    assert _reserve(ledger, "a", 30, "r2").outcome == "done"
    assert _reserve(ledger, "b", 50, "r2").outcome == "failed"
    assert _reserve(ledger, "c", 21, "r2").outcome == "reserved"        # released: may be sent again
    kinds = [t["kind"] for t in ledger.history()]
    assert kinds == ["topup", "reserve", "reserve", "capture", "refund", "reserve", "release", "reserve"]
    assert ledger.check()["ok"]
    assert ledger.history(limit=2)[-1]["kind"] == "reserve"


def test_in_flight_owner_alive_or_dead(tmp_path: Path) -> None:
    ledger = Ledger.for_state_dir(tmp_path)
    ledger.top_up(100)
    alive = {"r1": True}
    assert _reserve(ledger, "a", 10, "r1").outcome == "reserved"
    assert _reserve(ledger, "a", 10, "r1").outcome == "resume"
    assert _reserve(ledger, "a", 10, "r2", is_alive=lambda o: alive.get(o, False)).outcome == "elsewhere"
    alive["r1"] = False
    assert ledger.claim("a", "r2", lambda o: alive.get(o, False))["owner"] == "r2"
    assert [r["key"] for r in ledger.in_flight()] == ["a"]


def test_run_cap(tmp_path: Path) -> None:
    ledger = Ledger.for_state_dir(tmp_path)
    ledger.top_up(1000)
    assert _reserve(ledger, "a", 40, "r1", run_cap=50).outcome == "reserved"
    assert _reserve(ledger, "b", 20, "r1", run_cap=50).outcome == "over_cap"
    assert _reserve(ledger, "b", 10, "r1", run_cap=50).outcome == "reserved"


def test_threads_never_overspend(tmp_path: Path) -> None:
    ledger = Ledger.for_state_dir(tmp_path)
    ledger.top_up(100)
    outcomes: list[str] = []

    def worker(i: int) -> None:
        other = Ledger.for_state_dir(tmp_path)
        for j in range(10):
            outcomes.append(_reserve(other, f"k{i}-{j}", 7, f"r{i}").outcome)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("reserved") == 100 // 7
    s = ledger.summary()
    assert s["reserved"] == 7 * (100 // 7) and s["available"] >= 0


def test_wal_and_schema_guard(tmp_path: Path) -> None:
    ledger = Ledger.for_state_dir(tmp_path)
    ledger.top_up(5)
    conn = sqlite3.connect(ledger.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema'")
    conn.commit()
    conn.close()
    with pytest.raises(IntegrityError, match="schema 99"):
        Ledger.for_state_dir(tmp_path)


def test_run_token_liveness(tmp_path: Path) -> None:
    token = RunToken(tmp_path)
    assert run_alive(tmp_path, token.id) and token.is_alive(token.id)
    assert not run_alive(tmp_path, "12-nonexistent") and not run_alive(tmp_path, "../x")
    token.close()
    assert not run_alive(tmp_path, token.id)
