"""The sandbox provider: idempotency-key semantics, auth, charge log, faults, the CLI server."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from typing import Any
from collections.abc import Iterator

import pytest

from prodscale.providers.sandbox import SandboxConfig, SandboxServer

BODY = {"model": "sandbox-v1", "prompt": "A lighthouse at dusk.", "negative_prompt": "", "duration_ms": 4000,
        "aspect": "16:9", "seed": 1}


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(seed=3)) as srv:
        yield srv


def call(srv: SandboxServer, method: str, path: str, body: Any = None, key: str | None = None,
         auth: str | None = "Bearer sk_test_x") -> tuple[int, dict[str, str], Any]:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    headers = {"Content-Type": "application/json"}
    if auth:
        headers["Authorization"] = auth
    if key:
        headers["Idempotency-Key"] = key
    conn.request(method, path, body=json.dumps(body).encode() if body is not None else None, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, dict(resp.headers), json.loads(data)


def test_idempotency_semantics(server: SandboxServer) -> None:
    status, _, job = call(server, "POST", "/v1/generations", BODY, key="k1")
    assert status == 201 and job["status"] == "queued" and job["cost"] == 1 + 5 * 4
    status, headers, again = call(server, "POST", "/v1/generations", BODY, key="k1")
    assert status == 200 and headers.get("Idempotent-Replayed") == "true" and again["id"] == job["id"]
    status, _, err = call(server, "POST", "/v1/generations", {**BODY, "seed": 2}, key="k1")
    assert status == 422 and err["error"]["code"] == "idempotency_mismatch"
    assert call(server, "POST", "/v1/generations", BODY)[0] == 400               # no key
    assert call(server, "POST", "/v1/generations", BODY, key="k2", auth=None)[0] == 401
    assert call(server, "POST", "/v1/generations", {**BODY, "duration_ms": 7000}, key="k3")[0] == 422
    charges = call(server, "GET", "/charges")[2]
    assert charges["count"] == 1 and charges["distinct_keys"] == 1 and charges["net"] == 21


def test_poll_lookup_and_content(server: SandboxServer) -> None:
    job = call(server, "POST", "/v1/generations", BODY, key="k1")[2]
    assert call(server, "GET", "/v1/generations?idempotency_key=nope")[0] == 404
    assert call(server, "GET", "/v1/generations?idempotency_key=k1")[2]["id"] == job["id"]
    done = call(server, "GET", f"/v1/generations/{job['id']}")[2]
    assert done["status"] == "succeeded" and done["output"]["url"].endswith("/content")
    status, _, content = call(server, "GET", f"/v1/generations/{job['id']}/content")
    assert status == 200 and content["placeholder"] and content["duration_ms"] == 4000
    assert content == call(server, "GET", f"/v1/generations/{job['id']}/content")[2]   # deterministic
    assert call(server, "GET", "/v1/generations/job_unknown")[0] == 404


def test_faults_are_seeded() -> None:
    def run(seed: int) -> list[int]:
        cfg = SandboxConfig(seed=seed, fail_rate=0.5, faults=("500", "429"), retry_after_s=0)
        with SandboxServer(cfg) as srv:
            return [call(srv, "POST", "/v1/generations", {**BODY, "seed": i}, key=f"k{i}")[0] for i in range(20)]

    a = run(1)
    assert a == run(1)
    assert {429, 500} & set(a) and {200, 201} & set(a)


def test_outcome_faults_charge_policy() -> None:
    cfg = SandboxConfig(seed=5, fail_rate=1.0, faults=("safety", "error"))
    with SandboxServer(cfg) as srv:
        codes = {}
        for i in range(12):
            job = call(srv, "POST", "/v1/generations", {**BODY, "seed": i}, key=f"k{i}")[2]
            done = call(srv, "GET", f"/v1/generations/{job['id']}")[2]
            codes[f"k{i}"] = (done["error"]["code"], done["charged"])
        charges = srv.charges()
    assert {c for c, _ in codes.values()} == {"safety_refusal", "internal_error"}
    for charge in charges["charges"]:
        code, charged = codes[charge["key"]]
        assert charge["refunded"] == (code == "internal_error") == (not charged)


def test_cli_server_on_loopback_port_zero() -> None:
    with subprocess.Popen([sys.executable, "-m", "prodscale", "sandbox-provider", "--port", "0", "--seed", "2"],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ}) as proc:
        try:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            m = re.search(r"http://127\.0\.0\.1:(\d+)", line)
            assert m, line
            conn = http.client.HTTPConnection("127.0.0.1", int(m.group(1)), timeout=5)
            conn.request("GET", "/health")
            assert conn.getresponse().status == 200
            conn.close()
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                proc.kill()
                proc.wait()
    assert proc.returncode == 0


def test_unknown_fault_is_a_usage_error() -> None:
    from prodscale.cli.main import main
    assert main(["sandbox-provider", "--port", "0", "--faults", "meteor"]) == 2


def test_timeout_fault_holds_key_in_progress() -> None:
    cfg = SandboxConfig(seed=0, fail_rate=1.0, faults=("timeout",), hang_s=0.5)
    with SandboxServer(cfg) as srv:
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=0.1)
        conn.request("POST", "/v1/generations", body=json.dumps(BODY).encode(),
                     headers={"Authorization": "Bearer x", "Idempotency-Key": "kt"})
        with pytest.raises(TimeoutError):
            conn.getresponse()
        conn.close()
        deadline = time.monotonic() + 5
        seen = set()
        srv.state.config.fail_rate = 0.0
        while time.monotonic() < deadline:
            status = call(srv, "POST", "/v1/generations", BODY, key="kt")[0]
            seen.add(status)
            if status in (200, 201):
                break
            time.sleep(0.05)
        assert seen & {200, 201}
        assert srv.charges()["count"] == 1


def test_a_held_request_stays_in_progress_until_its_job_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    """A request held by the 'timeout' fault is in progress until create() charges it: a lookup by
    key in between must answer 409, never 404 (a client told 404 releases its hold, and the charge
    that follows would be one the ledger never sees)."""
    import random

    from prodscale.core.canon import digest_obj
    from prodscale.providers.sandbox import SandboxSession
    config = SandboxConfig(seed=5, fail_rate=1.0, faults=("timeout",), hang_s=0.01)
    # a key whose fault holds it before the job is created (the sandbox draws that per key)
    key = next(k for k in (f"held-{i}" for i in range(50)) if random.Random(int(digest_obj(
        {"seed": config.seed, "target": f"outcome {k}", "n": 0})[:16], 16)).random() < 0.5)
    seen: list[Any] = []
    original = SandboxSession.create

    def create(self: SandboxSession, k: str, body: dict[str, Any], rng: Any) -> Any:
        with self.lock:
            seen.append(self.keys.get(k))
        return original(self, k, body, rng)

    monkeypatch.setattr(SandboxSession, "create", create)
    with SandboxServer(config) as srv:
        try:
            call(srv, "POST", "/v1/generations", BODY, key=key)
        except (TimeoutError, http.client.HTTPException, OSError):
            pass
        srv.state.config.fail_rate = 0.0
        status, _, job = call(srv, "GET", f"/v1/generations?idempotency_key={key}")
    assert seen and seen[0] is not None and seen[0][1] is None, seen  # still held when the job is created
    assert status == 200 and job["id"]
