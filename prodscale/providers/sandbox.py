"""The sandbox provider: the generation protocol served on 127.0.0.1, like a payment API's test mode.

It is a real, documented component (``prodscale sandbox-provider``), not a test-only mock: it keeps
real idempotency-key semantics, bills from its own price table, keeps a charge log at
``GET /charges`` and returns a small deterministic placeholder clip description per job. With
``fail_rate`` > 0 it injects the listed faults, chosen by a RNG seeded from ``seed``, the key and
the number of times that key (or job) was asked for, so a run is reproducible. ``SandboxState.reset``
starts a new session (no keys, jobs, charges or counters); a request still being handled then
finishes in the session it arrived in, and never charges the new one.

Protocol (JSON over HTTP, ``Authorization: Bearer <key>`` on every ``/v1`` call):

- ``POST /v1/generations`` with an ``Idempotency-Key`` header and the body ``{model, prompt,
  negative_prompt, duration_ms, aspect, seed}``: 201 and the job, created and charged once. The
  same key and body again: 200 and the same job (``Idempotent-Replayed: true``), no new charge.
  The same key with another body: 422 ``idempotency_mismatch``. The same key while its first
  request is still being processed: 409 ``idempotency_in_progress``. Bad input: 422
  ``invalid_request``. Too many requests: 429 with ``Retry-After`` (seconds).
- ``GET /v1/generations/<id>``: the job; ``status`` goes queued -> running -> succeeded or failed
  as it is polled. A failed job has ``error.code``; ``safety_refusal`` stays charged,
  ``internal_error`` is refunded.
- ``GET /v1/generations?idempotency_key=K``: the job created under K, or 404 (reconciliation).
- ``GET /v1/generations/<id>/content``: the placeholder clip description of a succeeded job.
- ``GET /charges``: every charge (key, job, amount, refunded), ``GET /stats``: POSTs per key.

Faults: ``timeout`` (answer after the client gave up, before or after creating the job), ``500``
(before or after creating the job), ``429``, ``drop-after-charge`` (create and charge, then
close the connection unanswered), ``duplicate`` (the request is delivered twice), ``slow`` (a
late answer and a job that needs more polls), ``safety`` and ``error`` (the job fails, charged
or refunded).
"""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from prodscale.core.canon import digest_obj

HOST = "127.0.0.1"
REQUEST_FAULTS = ("timeout", "500", "429", "drop-after-charge", "duplicate", "slow")
OUTCOME_FAULTS = ("safety", "error")
ALL_FAULTS = REQUEST_FAULTS + OUTCOME_FAULTS
# opt-in faults (never in the default list, so seeded fault sequences stay as they were): "echo-auth" answers a
# submit with a 400 whose message echoes the request's Authorization header, as careless providers do
EXTRA_FAULTS = ("echo-auth",)
DEFAULT_PRICES = {"sandbox-v1": {"per_request": 1, "per_second": 5}}  # cents: 1 per request + 5 per started second
DURATIONS_MS = (4000, 5000, 6000, 8000, 10000)
ASPECTS = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9")
MAX_BODY = 1 << 20


@dataclass
class SandboxConfig:
    seed: int = 0
    fail_rate: float = 0.0
    faults: tuple[str, ...] = ALL_FAULTS
    prices: dict[str, dict[str, int]] = field(default_factory=lambda: {k: dict(v) for k, v in DEFAULT_PRICES.items()})
    hang_s: float = 2.0        # how long a 'timeout' fault holds the answer (longer than the client waits)
    slow_s: float = 0.2        # how long a 'slow' fault delays the answer (shorter than the client waits)
    retry_after_s: int = 1     # Retry-After of a 429
    polls_to_finish: int = 1   # polls until a job is done ('slow' jobs need 3 more)
    report_cost: Any = None    # a lying provider: the cost its jobs report (-200000, 1e308, "abc", []), when set


@dataclass
class Job:
    id: str
    key: str
    body: dict[str, Any]
    cost: int
    outcome: str            # succeeded | safety_refusal | internal_error
    polls_needed: int
    polls: int = 0
    status: str = "queued"


class SandboxSession:
    """One session of the sandbox, from one reset to the next: its config, keys, jobs, charge log
    and fault counters. A request acts on the session it arrived in, to its end: one still being
    handled when the sandbox is reset (say a retry the client gave up on, held by the 'timeout'
    fault) settles in its own session, never creating or charging a job in the next one."""

    def __init__(self, config: SandboxConfig, lock: threading.Lock) -> None:
        self.config = config
        self.lock = lock  # the state's lock, shared by every session
        self.keys: dict[str, tuple[str, str | None]] = {}   # key -> (body digest, job id or None while processing)
        self.jobs: dict[str, Job] = {}
        self.charges: list[dict[str, Any]] = []
        self.posts: dict[str, int] = {}
        self.counters: dict[str, int] = {}
        self.requests = 0

    def rng(self, target: str) -> random.Random:
        with self.lock:
            n = self.counters.get(target, 0)
            self.counters[target] = n + 1
        return random.Random(int(digest_obj({"seed": self.config.seed, "target": target, "n": n})[:16], 16))

    def fault(self, rng: random.Random, allowed: tuple[str, ...]) -> str | None:
        choices = [f for f in self.config.faults if f in allowed]
        if not choices or rng.random() >= self.config.fail_rate:
            return None
        return rng.choice(choices)

    def price(self, body: dict[str, Any]) -> int:
        table = self.config.prices[body["model"]]
        seconds = -(-int(body["duration_ms"]) // 1000)
        return int(table.get("per_request", 0)) + int(table.get("per_second", 0)) * seconds

    def create(self, key: str, body: dict[str, Any], outcome_rng: random.Random) -> tuple[int, Job]:
        """Create and charge the job of ``key`` once; a second call replays it (200)."""
        digest = digest_obj(body)
        with self.lock:
            known = self.keys.get(key)
            if known is not None and known[1] is not None:
                return 200, self.jobs[known[1]]
            outcome_fault = self.fault(outcome_rng, OUTCOME_FAULTS + ("slow",))
            outcome = {"safety": "safety_refusal", "error": "internal_error"}.get(outcome_fault or "", "succeeded")
            job_id = "job_" + digest_obj({"seed": self.config.seed, "key": key})[:20]
            job = Job(job_id, key, body, self.price(body), outcome,
                      self.config.polls_to_finish + (3 if outcome_fault == "slow" else 0))
            self.jobs[job_id] = job
            self.keys[key] = (digest, job_id)
            self.charges.append({"seq": len(self.charges) + 1, "key": key, "job": job_id, "amount": job.cost,
                                 "refunded": False})
            return 201, job

    def advance(self, job: Job) -> None:
        with self.lock:
            job.polls += 1
            if job.status in ("succeeded", "failed"):
                return
            if job.polls >= job.polls_needed:
                job.status = "succeeded" if job.outcome == "succeeded" else "failed"
                if job.outcome == "internal_error":
                    for charge in self.charges:
                        if charge["job"] == job.id:
                            charge["refunded"] = True
            else:
                job.status = "running"

    def job_json(self, job: Job, base: str) -> dict[str, Any]:
        data: dict[str, Any] = {"id": job.id, "idempotency_key": job.key, "status": job.status,
                                "model": job.body["model"], "duration_ms": job.body["duration_ms"],
                                "cost": job.cost if self.config.report_cost is None else self.config.report_cost,
                                "charged": True, "output": None, "error": None}
        if job.status == "succeeded":
            data["output"] = {"url": f"{base}/v1/generations/{job.id}/content", "content_type": "application/json"}
        elif job.status == "failed":
            data["error"] = {"code": job.outcome, "message": {
                "safety_refusal": "the prompt was refused on safety grounds (charged)",
                "internal_error": "the generator failed (not charged)"}[job.outcome]}
            data["charged"] = job.outcome != "internal_error"
            if not data["charged"]:
                data["cost"] = 0
        return data

    def placeholder(self, job: Job) -> dict[str, Any]:
        body = job.body
        rng = random.Random(int(digest_obj({"seed": self.config.seed, "body": body})[:16], 16))
        palette = rng.sample(["amber", "slate", "teal", "rose", "ochre", "moss", "ivory", "indigo"], 3)
        return {"placeholder": True, "job": job.id, "model": body["model"], "duration_ms": body["duration_ms"],
                "aspect": body["aspect"], "seed": body["seed"], "frames": body["duration_ms"] * 24 // 1000,
                "palette": palette, "prompt_digest": digest_obj(body["prompt"]),
                "description": f"Placeholder clip, {body['duration_ms'] // 1000} s at {body['aspect']}: "
                               + body["prompt"][:160]}


class SandboxState:
    """All of the sandbox's memory, under one lock: the current session. ``reset`` starts a new one
    (a clean account: no keys, jobs or charges); the attributes below read the current session."""

    def __init__(self, config: SandboxConfig) -> None:
        self.lock = threading.Lock()
        self.session = SandboxSession(config, self.lock)

    def reset(self, config: SandboxConfig | None = None) -> None:
        with self.lock:
            self.session = SandboxSession(config if config is not None else self.session.config, self.lock)

    @property
    def config(self) -> SandboxConfig:
        return self.session.config

    @config.setter
    def config(self, config: SandboxConfig) -> None:
        self.session.config = config

    @property
    def keys(self) -> dict[str, tuple[str, str | None]]:
        return self.session.keys

    @property
    def jobs(self) -> dict[str, Job]:
        return self.session.jobs

    @property
    def charges(self) -> list[dict[str, Any]]:
        return self.session.charges

    @property
    def posts(self) -> dict[str, int]:
        return self.session.posts

    @property
    def counters(self) -> dict[str, int]:
        return self.session.counters

    @property
    def requests(self) -> int:
        return self.session.requests


def _validate(body: Any, prices: dict[str, Any]) -> str | None:
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    expected = {"model", "prompt", "negative_prompt", "duration_ms", "aspect", "seed"}
    if set(body) != expected:
        return f"the body must have exactly the fields {sorted(expected)}"
    if body["model"] not in prices:
        return f"unknown model {body['model']!r}; known: {sorted(prices)}"
    if not isinstance(body["prompt"], str) or not body["prompt"].strip():
        return "prompt must be a non-empty string"
    if not isinstance(body["negative_prompt"], str):
        return "negative_prompt must be a string"
    if not isinstance(body["duration_ms"], int) or body["duration_ms"] not in DURATIONS_MS:
        return f"duration_ms must be one of {list(DURATIONS_MS)}"
    if body["aspect"] not in ASPECTS:
        return f"aspect must be one of {list(ASPECTS)}"
    if not isinstance(body["seed"], int) or isinstance(body["seed"], bool):
        return "seed must be an integer"
    return None


class _Handler(BaseHTTPRequestHandler):
    server: SandboxHTTPServer
    session: SandboxSession  # the session the request arrived in (see SandboxHTTPServer.process_request)
    protocol_version = "HTTP/1.0"
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:  # the request line only; headers (the API key) are never logged
            super().log_message(format, *args)

    # -------------------------------------------------------------- helpers

    def setup(self) -> None:
        self.session = self.server.session_of(self.request)
        super().setup()

    def base(self) -> str:
        return f"http://{HOST}:{self.server.server_address[1]}"

    def send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload, sort_keys=True).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def error(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        self.send(status, {"error": {"code": code, "message": message}}, headers)

    def drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def authorized(self) -> bool:
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            self.error(401, "unauthorized", "send Authorization: Bearer <key> (the sandbox accepts any key)")
            return False
        return True

    def request_fault(self, target: str, allowed: tuple[str, ...]) -> str | None:
        """Apply a fault that happens before any processing; return the fault still to apply after."""
        fault = self.session.fault(self.session.rng(target), allowed)
        if fault == "429":
            self.error(429, "rate_limited", "slow down", {"Retry-After": str(self.session.config.retry_after_s)})
            return "answered"
        if fault == "echo-auth":
            self.error(400, "bad_request", "invalid request; headers received: Authorization: "
                       f"{self.headers.get('Authorization', '')}")
            return "answered"
        return fault

    # -------------------------------------------------------------- routes

    def do_GET(self) -> None:
        with self.session.lock:
            self.session.requests += 1
        url = urlsplit(self.path)
        if url.path == "/health":
            return self.send(200, {"ok": True})
        if url.path == "/charges":
            with self.session.lock:
                charges = [dict(c) for c in self.session.charges]
            net = sum(c["amount"] for c in charges if not c["refunded"])
            return self.send(200, {"charges": charges, "count": len(charges),
                                   "distinct_keys": len({c["key"] for c in charges}), "net": net})
        if url.path == "/stats":
            with self.session.lock:
                return self.send(200, {"posts_by_key": dict(self.session.posts), "requests": self.session.requests})
        if not url.path.startswith("/v1/generations"):
            return self.error(404, "not_found", f"no route {url.path}")
        if not self.authorized():
            return
        parts = url.path.rstrip("/").split("/")[3:]
        fault = self.request_fault(f"GET {url.path}?{url.query}", ("timeout", "500", "429", "drop-after-charge", "slow"))
        if fault == "answered":
            return
        if fault == "500":
            return self.error(500, "server_error", "injected fault")
        if fault == "drop-after-charge":
            return self.drop()
        if fault in ("timeout", "slow"):
            time.sleep(self.session.config.hang_s if fault == "timeout" else self.session.config.slow_s)
        if not parts:
            key = parse_qs(url.query).get("idempotency_key", [""])[0]
            with self.session.lock:
                known = self.session.keys.get(key)
                job = self.session.jobs.get(known[1]) if known and known[1] else None
            if known is not None and job is None:
                return self.error(409, "idempotency_in_progress", "a request with this key is being processed",
                                  {"Retry-After": "0"})
            if job is None:
                return self.error(404, "not_found", "no job under that idempotency key")
            return self.send(200, self.session.job_json(job, self.base()))
        with self.session.lock:
            job = self.session.jobs.get(parts[0])
        if job is None:
            return self.error(404, "not_found", "no such job")
        if len(parts) == 1:
            self.session.advance(job)
            return self.send(200, self.session.job_json(job, self.base()))
        if parts[1:] == ["content"]:
            if job.status != "succeeded":
                return self.error(409, "not_ready", f"the job is {job.status}")
            return self.send(200, self.session.placeholder(job))
        return self.error(404, "not_found", f"no route {url.path}")

    def do_POST(self) -> None:
        with self.session.lock:
            self.session.requests += 1
        if urlsplit(self.path).path.rstrip("/") != "/v1/generations":
            return self.error(404, "not_found", f"no route {self.path}")
        if not self.authorized():
            return
        key = self.headers.get("Idempotency-Key", "")
        if not key or len(key) > 255:
            return self.error(400, "missing_idempotency_key", "send an Idempotency-Key header (1-255 characters)")
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return self.error(413, "too_large", "the body is over 1 MiB")
        try:
            body = json.loads(self.rfile.read(length) or b"null")
        except ValueError:
            return self.error(400, "bad_json", "the body is not JSON")
        with self.session.lock:
            self.session.posts[key] = self.session.posts.get(key, 0) + 1
        problem = _validate(body, self.session.config.prices)
        if problem:
            return self.error(422, "invalid_request", problem)
        digest = digest_obj(body)
        with self.session.lock:
            known = self.session.keys.get(key)
            if known is not None and known[0] != digest:
                return self.error(422, "idempotency_mismatch", "this key was used with another request body")
            if known is not None and known[1] is None:
                return self.error(409, "idempotency_in_progress", "a request with this key is being processed",
                                  {"Retry-After": "0"})
        fault = self.request_fault(f"POST {key}", REQUEST_FAULTS + EXTRA_FAULTS)
        if fault == "answered":
            return
        rng = self.session.rng(f"outcome {key}")
        before = rng.random() < 0.5
        if fault in ("500", "timeout") and before:
            if fault == "500":
                return self.error(500, "server_error", "injected fault (nothing was created)")
            with self.session.lock:  # hold the key as in progress while the client gives up and retries
                if self.session.keys.get(key) is None:
                    self.session.keys[key] = (digest, None)
            time.sleep(self.session.config.hang_s)
            # the hold stays until create() replaces it: freed in between, a lookup by key could be told
            # "never received" just before the job is created and charged
        status, job = self.session.create(key, body, rng)
        if fault == "duplicate":
            status, job = self.session.create(key, body, rng)  # the second delivery replays
        if fault == "drop-after-charge":
            return self.drop()
        if fault == "500":
            return self.error(500, "server_error", "injected fault (after the job was created)")
        if fault == "timeout" and not before:
            time.sleep(self.session.config.hang_s)
        if fault == "slow":
            time.sleep(self.session.config.slow_s)
        headers = {"Idempotent-Replayed": "true"} if status == 200 else {}
        self.send(status, self.session.job_json(job, self.base()), headers)


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, state: SandboxState, *, verbose: bool = False) -> None:
        self.state = state
        self.verbose = verbose
        self._arrived: dict[Any, SandboxSession] = {}  # accepted connection -> the session it arrived in
        super().__init__((HOST, port), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        # bound when the connection is accepted (in order, by this one thread), before its handler
        # thread runs: a request sent before a reset is not taken for one of the next session
        with self.state.lock:
            self._arrived[request] = self.state.session
        super().process_request(request, client_address)

    def session_of(self, request: Any) -> SandboxSession:
        with self.state.lock:
            return self._arrived.pop(request, None) or self.state.session

    def shutdown_request(self, request: Any) -> None:
        with self.state.lock:
            self._arrived.pop(request, None)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up mid-answer is the normal case under fault injection


class SandboxServer:
    """The sandbox on 127.0.0.1 in a background thread (``port=0``: an ephemeral port)."""

    def __init__(self, config: SandboxConfig | None = None, *, port: int = 0, verbose: bool = False) -> None:
        self.state = SandboxState(config or SandboxConfig())
        self.httpd = SandboxHTTPServer(port, self.state, verbose=verbose)
        self.port = int(self.httpd.server_address[1])
        self.url = f"http://{HOST}:{self.port}"
        self._thread: threading.Thread | None = None

    def start(self) -> SandboxServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="prodscale-sandbox", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def charges(self) -> dict[str, Any]:
        with self.state.lock:
            charges = [dict(c) for c in self.state.charges]
        return {"charges": charges, "count": len(charges), "distinct_keys": len({c["key"] for c in charges}),
                "net": sum(c["amount"] for c in charges if not c["refunded"])}

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def parse_faults(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(f.strip() for f in text.split(",") if f.strip()))
    unknown = [f for f in names if f not in ALL_FAULTS + EXTRA_FAULTS]
    if unknown:
        from prodscale.errors import UsageError
        raise UsageError(f"unknown fault(s) {', '.join(unknown)}",
                         hint=f"known faults: {','.join(ALL_FAULTS + EXTRA_FAULTS)}")
    return names
