"""generate / credits end to end on example_project against the sandbox on 127.0.0.1:
dry-run estimates equal captured costs, two concurrent runs, a SIGKILL between submit and record,
and the API key never leaking."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from collections.abc import Iterator

import pytest

from prodscale.cli.main import main
from prodscale.providers.sandbox import SandboxConfig, SandboxServer
from prodscale.storage.ledger import Ledger

STORY = "the-hilltop-postbox"
SECRET = "sk_test_LEAKCHECK_7f3a9c1e5b"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(seed=11)) as srv:
        yield srv


@pytest.fixture
def project(example_copy: Path, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    toml = example_copy / "prodscale.toml"
    text = toml.read_text(encoding="utf-8")
    assert "http://127.0.0.1:8765" in text
    text = text.replace("http://127.0.0.1:8765", sandbox.url).replace("poll_interval_ms = 200", "poll_interval_ms = 5")
    # generation is tested on engine 1.0.0's prompts of the example (frozen: the clip counts below never move)
    text = text.replace('engine = "2.0.0"', 'engine = "1.0.0"')
    toml.write_text(text, encoding="utf-8")
    monkeypatch.setenv("PRODSCALE_SANDBOX_KEY", SECRET)
    assert main(["build", "-C", str(example_copy)]) == 0
    return example_copy


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def spawn(project: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "prodscale", *args, "-C", str(project)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ})


def test_dry_run_estimate_equals_captured(project: Path, sandbox: SandboxServer,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "generate", STORY, "lantern-keeper", "--dry-run", "--json", "-C", str(project))
    assert rc == 0
    est = json.loads(out)
    assert est["dry_run"] and est["to_send"] > 0 and not est["covered"]
    assert sandbox.charges()["count"] == 0 and sandbox.state.requests == 0        # nothing was sent
    rc, out, _ = run(capsys, "generate", STORY, "lantern-keeper", "--dry-run", "-C", str(project))
    assert f"{STORY}: 22 to send, estimate 6.62 USD" in out and "not enough" in out
    assert run(capsys, "credits", "add", "300", "--note", "test budget", "-C", str(project))[0] == 0
    rc, out, err = run(capsys, "generate", STORY, "lantern-keeper", "-j", "4", "--json", "-C", str(project))
    assert rc == 0, err
    report = json.loads(out)
    assert report["credits"]["spent"] == est["total"] == sandbox.charges()["net"]
    ledger = Ledger.for_state_dir(project / ".prodscale")
    for row in ledger.rows().values():
        assert row["cost"] == row["estimate"]                                   # per clip, exactly
    by_story = ledger.summary()["by_story"]
    assert {s: by_story[s] for s in est["stories"]} == {s: v["estimate"] for s, v in est["stories"].items()}
    gen = json.loads((project / "build" / STORY / "generation.json").read_bytes())
    assert len(gen["clips"]) == 22 and gen["totals"]["sandbox"]["cost"] == 662
    first = gen["clips"][0]
    assert first["job_id"] and first["output_url"] and (project / first["output_file"]).is_file()
    # a second run sends nothing and charges nothing
    posts = sum(sandbox.state.posts.values())
    rc, out, _ = run(capsys, "generate", STORY, "-C", str(project))
    assert rc == 0 and "22 already" in out and sum(sandbox.state.posts.values()) == posts
    rc, out, _ = run(capsys, "generate", STORY, "--dry-run", "-C", str(project))
    assert "0 to send, estimate 0.00 USD, 22 completed" in out
    # build leaves generation outputs alone and stays up to date
    assert main(["build", "-C", str(project)]) == 0
    assert (project / "build" / STORY / "generation.json").is_file()


def test_credits_refusal_and_max_cost(project: Path, sandbox: SandboxServer,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "credits", "add", "1.00", "-C", str(project))[0] == 0
    rc, out, err = run(capsys, "generate", STORY, "-C", str(project))
    assert rc == 1 and "stopped sending" in err and "not enough credits" in err
    s = Ledger.for_state_dir(project / ".prodscale").summary()
    assert 0 <= s["balance"] < 100 and s["spent"] <= 100 and s["reserved"] == 0
    assert run(capsys, "credits", "add", "10", "-C", str(project))[0] == 0
    rc, out, err = run(capsys, "generate", STORY, "--max-cost", "0.50", "-C", str(project))
    assert rc == 0 and "--max-cost reached" in err
    rc, out, _ = run(capsys, "credits", "--json", "-C", str(project))
    data = json.loads(out)
    assert data["spent"] == sandbox.charges()["net"] and data["currency"] == "USD"
    rc, out, _ = run(capsys, "credits", "history", "-C", str(project))
    assert "topup" in out and "capture" in out and "reserve" in out
    rc, out, _ = run(capsys, "credits", "-C", str(project))
    assert "spent by story:" in out and f"  {STORY}: " in out
    assert run(capsys, "credits", "add", "1.001", "-C", str(project))[0] == 2
    assert run(capsys, "generate", "--provider", "nope", "-C", str(project))[0] == 2


@pytest.mark.stress
def test_two_concurrent_runs_never_overspend_or_double_submit(project: Path, sandbox: SandboxServer,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "credits", "add", "4.00", "-C", str(project))[0] == 0
    procs = [spawn(project, "generate", STORY, "the-unfinished-boat", "-j", "3") for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode in (0, 1) for p in procs), outs
    charges = sandbox.charges()
    posts = sandbox.state.posts
    assert charges["count"] == charges["distinct_keys"] > 0
    assert max(posts.values()) == 1, "a key was submitted twice"
    ledger = Ledger.for_state_dir(project / ".prodscale")
    s = ledger.summary()
    assert s["spent"] == charges["net"] <= 400 and s["balance"] >= 0 and s["reserved"] == 0
    assert ledger.check()["ok"]


@pytest.mark.stress
def test_sigkill_between_submit_and_record_is_reconciled(project: Path, sandbox: SandboxServer,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "credits", "add", "50", "-C", str(project))[0] == 0
    # every answer to a POST is late: the job is created and charged, the client is still waiting
    sandbox.state.reset(SandboxConfig(seed=11, fail_rate=1.0, faults=("slow",), slow_s=4.0))
    proc = spawn(project, "generate", STORY, "-j", "1")
    try:
        deadline = time.monotonic() + 30
        while sandbox.charges()["count"] < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sandbox.charges()["count"] == 1
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:  # pragma: no cover
            proc.kill()
            proc.communicate()
    ledger = Ledger.for_state_dir(project / ".prodscale")
    (row,) = ledger.in_flight()                          # the crash left one held reservation, no job id
    assert row["job_id"] is None and ledger.summary()["reserved"] == row["estimate"]
    key = row["key"]
    sandbox.state.config.fail_rate = 0.0
    proc = spawn(project, "generate", STORY, "-j", "2")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "reconciled 1 in-flight request(s) of an earlier run: 1 completed" in out
    assert sandbox.state.posts[key] == 1                 # found by key and polled, never resubmitted
    charges = sandbox.charges()
    assert charges["count"] == charges["distinct_keys"] == 22
    s = ledger.summary()
    assert s["reserved"] == 0 and s["spent"] == charges["net"] and ledger.check()["ok"]
    assert ledger.get(key)["state"] == "completed"


def test_api_key_never_leaks(project: Path, sandbox: SandboxServer, capfd: pytest.CaptureFixture[str],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    sandbox.httpd.verbose = True
    sandbox.state.reset(SandboxConfig(seed=4, fail_rate=0.4, faults=("500", "429", "drop-after-charge", "safety",
                                                                         "error", "duplicate"), retry_after_s=0))
    for args in (["credits", "add", "2.00", "--note", "budget"], ["generate", STORY, "--dry-run"],
                 ["generate", STORY, "-j", "2"], ["generate", STORY, "--json"], ["credits"], ["credits", "history"],
                 ["credits", "--json"], ["generate", STORY, "--dry-run", "--json"]):
        capfd.readouterr()
        rc = main([*args, "-C", str(project)])
        out, err = capfd.readouterr()
        seen += [out, err, str(rc)]
    # a provider that echoes the request's Authorization header in its error text (issue 14)
    sandbox.state.reset(SandboxConfig(seed=1, fail_rate=1.0, faults=("echo-auth",)))
    for args in (["credits", "add", "20.00", "--note", "echo"], ["generate", "the-unfinished-boat", "--json"],
                 ["generate", "the-unfinished-boat"], ["credits", "history"]):
        capfd.readouterr()
        rc = main([*args, "-C", str(project)])
        out, err = capfd.readouterr()
        seen += [out, err, str(rc)]
    assert "[REDACTED]" in "\n".join(seen)   # the echo was there, and shown without the key
    # a refused key and an unusable key: the errors name the variable, never the value
    sandbox.httpd.state.reset(SandboxConfig())
    monkeypatch.setenv("PRODSCALE_SANDBOX_KEY", SECRET + "\nX-Injected: 1")
    capfd.readouterr()
    assert main(["generate", STORY, "-C", str(project)]) == 1
    out, err = capfd.readouterr()
    assert "PRODSCALE_SANDBOX_KEY" in err
    seen += [out, err]
    blob = "\n".join(seen)
    assert SECRET not in blob and SECRET[8:] not in blob
    for path in project.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    conn = sqlite3.connect(project / ".prodscale" / "ledger.sqlite")
    for table in ("requests", "transactions", "meta"):
        for row in conn.execute(f"SELECT * FROM {table}"):
            assert SECRET not in repr(row)
    conn.close()
    assert SECRET not in json.dumps(sandbox.charges())


def test_missing_key_and_bad_config(project: Path, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRODSCALE_SANDBOX_KEY")
    assert run(capsys, "credits", "add", "5", "-C", str(project))[0] == 0
    rc, _, err = run(capsys, "generate", STORY, "-C", str(project))
    assert rc == 1 and "PRODSCALE_SANDBOX_KEY" in err and "not set" in err
    toml = project / "prodscale.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("per_second = 5", "per_second = 0.05"), encoding="utf-8")
    rc, _, err = run(capsys, "generate", STORY, "--dry-run", "-C", str(project))
    line = next(i for i, t in enumerate(toml.read_text(encoding="utf-8").splitlines(), 1) if "per_second" in t)
    assert rc == 2 and f"prodscale.toml:{line}: error: providers.sandbox" in err


def test_stale_prompts_refused_but_provider_edits_do_not_stale(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    toml = project / "prodscale.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("timeout_ms = 5000", "timeout_ms = 4000"),
                    encoding="utf-8")
    assert run(capsys, "generate", STORY, "--dry-run", "-C", str(project))[0] == 0
    toml.write_text(toml.read_text(encoding="utf-8").replace('aspect = "16:9"', 'aspect = "9:16"'), encoding="utf-8")
    rc, _, err = run(capsys, "generate", STORY, "--dry-run", "-C", str(project))
    assert rc == 2 and "not up to date" in err and "prodscale build" in err


@pytest.mark.parametrize("engine", ["1.0.0", "2.0.0"])
def test_dry_run_shows_billed_seconds_beside_screen_seconds(
        engine: str, example_copy: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A producer sees what is paid for beside what the cut uses, and the figures are the clips' own."""
    toml = example_copy / "prodscale.toml"
    text = re.sub(r'(?m)^engine = "[0-9.]+"', f'engine = "{engine}"', toml.read_text(encoding="utf-8"))
    toml.write_text(text.replace("http://127.0.0.1:8765", sandbox.url), encoding="utf-8")
    monkeypatch.setenv("PRODSCALE_SANDBOX_KEY", SECRET)
    assert main(["build", "-C", str(example_copy)]) == 0
    clips = [c for c in json.loads((example_copy / "build" / STORY / "prompts.json").read_bytes())["clips"]
             if c["status"] == "ready"]
    billed, screen = sum(c["duration_ms"] for c in clips), sum(c["content_ms"] for c in clips)
    assert 0 < screen < billed
    rc, out, _ = run(capsys, "generate", STORY, "--dry-run", "--json", "-C", str(example_copy))
    est = json.loads(out)
    assert rc == 0 and (est["stories"][STORY]["billed_ms"], est["stories"][STORY]["screen_ms"]) == (billed, screen)
    rc, out, _ = run(capsys, "generate", STORY, "--dry-run", "-C", str(example_copy))
    assert f"({billed / 1000:.1f} s billed for {screen / 1000:.1f} s on screen)" in out
    manifest = (example_copy / "build" / STORY / "manifest.txt").read_text(encoding="utf-8")
    assert ("Billed Seconds:" in manifest) == (engine == "2.0.0")



@pytest.mark.parametrize("reported", [-200000, 10 ** 12, "abc", [], 1e308])
def test_a_cost_no_one_should_book_is_held_for_review(reported: Any, project: Path, sandbox: SandboxServer,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 14: the ledger believed any cost (a negative one raised the balance by 2,000 USD; 24,000x the
    estimate went through; 1e308, "abc" or [] crashed every reconciliation after)."""
    sandbox.state.reset(SandboxConfig(report_cost=reported))
    assert run(capsys, "credits", "add", "50.00", "-C", str(project))[0] == 0
    rc, out, err = run(capsys, "generate", STORY, "--json", "-C", str(project))
    rep = json.loads(out)
    results = rep["stories"][STORY]["results"] if "stories" in rep else rep["results"]
    assert results and all(r["outcome"] == "in-flight" and "held for review" in r["message"] for r in results)
    rc, out, err = run(capsys, "credits", "--json", "-C", str(project))
    bal = json.loads(out)
    assert bal["balance"] == 5000   # nothing booked: neither a refund-like gain nor a huge charge
    conn = sqlite3.connect(project / ".prodscale" / "ledger.sqlite")
    assert conn.execute("SELECT COUNT(*) FROM requests WHERE state = 'completed'").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM requests WHERE error_code = 'cost_review'").fetchone()[0] > 0
    conn.close()
    # a second run reconciles the same way: no crash, still nothing booked
    rc, out, err = run(capsys, "generate", STORY, "-C", str(project))
    assert "held for review" in out + err


def test_switching_a_provider_to_another_endpoint_sends_the_clips_there(
        project: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 14: a provider moved from test to live (new endpoint and key, same name) reused the idempotency
    keys, so the live provider received nothing and the test placeholders stayed as results. The provider's
    identity is part of the key; the first endpoint's work stays in the ledger, and going back to it pays
    nothing again."""
    assert run(capsys, "credits", "add", "300", "-C", str(project))[0] == 0
    rc, out, err = run(capsys, "generate", STORY, "--json", "-C", str(project))
    assert rc == 0, err
    first = sandbox.state.requests
    assert first > 0
    with SandboxServer(SandboxConfig(seed=12)) as live:
        toml = project / "prodscale.toml"
        toml.write_text(toml.read_text(encoding="utf-8").replace(sandbox.url, live.url), encoding="utf-8")
        rc, out, err = run(capsys, "generate", STORY, "--json", "-C", str(project))
        assert rc == 0, err
        assert live.charges()["count"] == 22            # every clip went to the new endpoint
        gen = json.loads((project / "build" / STORY / "generation.json").read_bytes())
        assert all(live.url.split("//")[1] in str(c.get("output_url") or c.get("url") or "") or c.get("file")
                   for c in gen["clips"])
        toml.write_text(toml.read_text(encoding="utf-8").replace(live.url, sandbox.url), encoding="utf-8")
    rc, out, err = run(capsys, "generate", STORY, "--json", "-C", str(project))
    assert rc == 0, err
    assert sandbox.charges()["count"] == 22              # back on the first: nothing paid twice


def test_a_ledger_written_before_provider_identity_pays_nothing_twice(
        project: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]) -> None:
    """Rows an older prodscale keyed without the endpoint are adopted by the endpoint configured now (their
    key is what the provider knows), never resubmitted under a new key."""
    from prodscale.core.generation import idempotency_key, legacy_idempotency_key, provider_identity
    assert run(capsys, "credits", "add", "300", "-C", str(project))[0] == 0
    assert run(capsys, "generate", STORY, "-C", str(project))[0] == 0
    conn = sqlite3.connect(project / ".prodscale" / "ledger.sqlite")
    # make the ledger as schema 1 had it: no endpoint, keys of the request alone
    rows = conn.execute("SELECT key, provider, model FROM requests").fetchall()
    assert rows
    prompts = json.loads((project / "build" / STORY / "prompts.json").read_bytes())
    from prodscale.core.generation import canonical_request, parse_providers
    from prodscale.storage.project import Project
    legacy = {}
    provider = next(iter(parse_providers(Project(project).settings.raw).values()))
    for c in prompts["clips"]:
        if c.get("status") == "ready":
            req = canonical_request(provider, c)
            legacy[idempotency_key(req, provider_identity(provider))] = legacy_idempotency_key(req)
    assert set(legacy) == {k for k, _, _ in rows}
    for new, old in legacy.items():
        conn.execute("UPDATE requests SET key = ?, endpoint = NULL WHERE key = ?", (old, new))
    conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema'")
    conn.execute("ALTER TABLE requests DROP COLUMN endpoint")
    conn.commit()
    conn.close()
    paid = sandbox.charges()["count"]
    rc, out, err = run(capsys, "generate", STORY, "--json", "-C", str(project))
    assert rc == 0, err
    assert sandbox.charges()["count"] == paid
    assert all(r["outcome"] == "already" for r in json.loads(out)["results"]), out
