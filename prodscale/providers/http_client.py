"""The HTTP JSON provider client (kind ``http``): submit, poll, look up by key, fetch the result.

The transport is httpx: one ``httpx.Client`` per provider keeps connections alive between calls
(close it: ``with HttpProvider(...) as client``). Every answer is streamed, so the call's total
deadline and the size caps hold however the provider sends it; a call that did not read its
answer to the end closes that connection, so a timed-out or dropped connection never poisons the
next call. Redirects are not followed (a final error): the key goes to the configured endpoint
only. Every submit carries the ``Idempotency-Key`` header, so retrying a submit is safe: the
provider answers a repeated key with the job it already made.

Retries are bounded by the provider's retry policy: 409 (the key is being processed), 429 (with
``Retry-After`` as the floor of the delay), 5xx, timeouts and dropped connections are retried
after an exponential back-off with jitter (``prodscale.core.generation.backoff_ms``); other 4xx
answers are final. When a submit gives up, :class:`CallFailed` says whether the provider may have
the request (``maybe_sent``): then the credits stay reserved until reconciliation asks the
provider, by key, what became of it.

The API key is read from the environment variable the config names, kept in a private attribute
and sent only in the ``Authorization`` header; no message, log line or exception carries it.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import ssl
import tempfile
import threading
import time
import weakref
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO
from collections.abc import Callable, Iterator, Mapping
from urllib.parse import quote, urlsplit

import httpx

from prodscale.core.generation import ProviderConfig, backoff_ms, parse_retry_after
from prodscale.errors import ProviderError
from prodscale.storage.fs import fix_mode, make_dirs

RETRY_STATUSES = {409, 429, 500, 502, 503, 504}


class CallFailed(Exception):
    """A provider call that gave up. ``maybe_sent``: the provider may have accepted it."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 maybe_sent: bool = False, final: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.maybe_sent = maybe_sent
        self.final = final  # the provider answered and retrying cannot help (4xx)


class HttpProvider:
    """One provider's client. ``transport`` replaces the network (tests pass ``httpx.MockTransport``);
    ``sleep`` is how it waits between attempts."""

    def __init__(self, config: ProviderConfig, api_key: str, *, sleep: Callable[[float], None] = time.sleep,
                 transport: httpx.BaseTransport | None = None) -> None:
        if not api_key or any(c in api_key for c in "\r\n\0"):
            raise ProviderError(f"the environment variable {config.api_key_env} does not hold a usable API key",
                                hint="set it to the key your provider gave you (one line, no spaces around it)")
        self.config = config
        self.__key = api_key
        self._sleep = sleep
        url = urlsplit(config.endpoint)
        self._scheme = url.scheme
        self._host = url.hostname or "127.0.0.1"
        self._port = url.port
        self._prefix = url.path.rstrip("/")
        self.calls = 0
        self._transport = transport
        # one httpx client (its kept-alive connections) per thread that calls: `generate -j 4` calls from four
        # threads, and a call whose answer does not begin in time closes its own thread's client, no other's
        self._local = threading.local()
        self._clients: list[httpx.Client] = []
        self._clients_lock = threading.Lock()
        # a provider dropped without close() still closes its connections when it is collected
        self._closer = weakref.finalize(self, _close_all, self._clients, self._clients_lock)

    @property
    def _client(self) -> httpx.Client:
        """This thread's client (made on first use)."""
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = _new_client(self.config.retry.timeout_ms / 1000, https=self._scheme == "https",
                                 transport=self._transport)
            with self._clients_lock:
                self._clients.append(client)
            self._local.client = client
        return client

    def _drop_client(self, client: httpx.Client) -> None:
        """Forget this thread's closed client: its next call makes a new one."""
        client.close()
        self._local.client = None
        with self._clients_lock:
            if client in self._clients:
                self._clients.remove(client)

    def __repr__(self) -> str:
        return f"HttpProvider({self.config.name!r}, endpoint={self.config.endpoint!r})"

    def close(self) -> None:
        """Close the kept-alive connections; a second close does nothing."""
        self._closer()

    def __enter__(self) -> HttpProvider:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @classmethod
    def from_env(cls, config: ProviderConfig, environ: Mapping[str, str] | None = None,
                 **kwargs: Any) -> HttpProvider:
        env = os.environ if environ is None else environ
        value = env.get(config.api_key_env, "").strip()
        if not value:
            raise ProviderError(f"provider '{config.name}' needs an API key in the environment variable "
                                f"{config.api_key_env}, which is not set",
                                hint=f"export {config.api_key_env}=... (the sandbox accepts any value)")
        return cls(config, value, **kwargs)

    # ------------------------------------------------------------------ protocol

    def submit(self, key: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST the request under its idempotency key; the job (new or replayed)."""
        data: dict[str, Any] | None = self._call("POST", "/v1/generations", key=key, body=body)
        assert data is not None
        return data

    def get_job(self, job_id: str, key: str) -> dict[str, Any]:
        data: dict[str, Any] | None = self._call("GET", f"/v1/generations/{quote(job_id, safe='')}", key=key)
        assert data is not None
        return data

    def find(self, key: str) -> dict[str, Any] | None:
        """The job the provider holds under ``key``, or None if it never got the request."""
        job: dict[str, Any] | None = self._call("GET", f"/v1/generations?idempotency_key={quote(key, safe='')}",
                                                key=key, missing_ok=True)
        return job

    def fetch_to(self, url: str, key: str, dest: Path) -> int:
        """Download the result behind an output URL on the provider's host into ``dest``, as it arrives
        (a clip is never whole in memory), under MAX_RESULT_BYTES; atomically: a refused or broken
        download leaves no file. Returns the size written."""
        parts = urlsplit(url)
        if parts.hostname not in (None, self._host):
            raise CallFailed("the output URL is on another host; it is recorded, not fetched", final=True)
        path = parts.path[len(self._prefix):] if parts.path.startswith(self._prefix) else parts.path
        make_dirs(dest.parent)
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as sink:
                self._call("GET", path + (f"?{parts.query}" if parts.query else ""), key=key, raw=True, sink=sink)
                size = sink.tell()
                sink.flush()
                os.fsync(sink.fileno())
            fix_mode(tmp)
            os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return size

    # ------------------------------------------------------------------ transport

    def _call(self, method: str, path: str, *, key: str, body: Mapping[str, Any] | None = None,
              missing_ok: bool = False, raw: bool = False, sink: BinaryIO | None = None) -> Any:
        policy = self.config.retry
        payload = json.dumps(body, sort_keys=True, separators=(",", ":")).encode() if body is not None else None
        maybe_sent = False
        last = "no attempt"
        last_status: int | None = None
        for attempt in range(1, policy.max_attempts + 1):
            retry_after: int | None = None
            last_status = None
            try:
                if sink is not None:
                    sink.seek(0)
                    sink.truncate()
                status, headers, data = self._once(method, path, key, payload, sink)
            except httpx.ConnectError as exc:  # no connection: nothing was sent
                last = _connect_failure(exc)
            except (TimeoutError, httpx.TimeoutException):
                maybe_sent = True
                last = f"no answer within {policy.timeout_ms} ms"
            # RemoteProtocolError, ReadError, WriteError; an OSError is fetch_to's file (a full disk)
            except (httpx.TransportError, OSError) as exc:
                maybe_sent = True
                last = f"connection lost ({type(exc).__name__})"
            else:
                if 200 <= status < 300:
                    if raw:
                        return data
                    try:
                        answer = json.loads(data)
                    except ValueError:
                        maybe_sent = True
                        last = f"HTTP {status} with a body that is not JSON"
                    else:
                        if _is_job(answer):
                            return answer
                        # a `[]` or a job without an id crashed every reconciliation after it: an answer we
                        # cannot read may still mean a job was made, so it is "maybe sent", reconciled by key
                        maybe_sent = True
                        last = f"HTTP {status} with an answer that is not a job (no id, or a status that is no word)"
                elif status == 404 and missing_ok:
                    return None
                elif status in RETRY_STATUSES or status >= 500:
                    code, message = _error_of(data)
                    last_status = status
                    if status != 429:
                        maybe_sent = True
                    last = f"HTTP {status} {code or ''}".rstrip()
                    retry_after = parse_retry_after(headers.get("Retry-After"))
                    if status == 429 and retry_after is not None and retry_after > policy.max_retry_after_ms:
                        raise CallFailed(f"rate limited for {retry_after // 1000} s (over the retry policy's "
                                         f"max_retry_after_ms)", status=429, code=code, maybe_sent=maybe_sent)
                elif 300 <= status < 400:
                    where = redact(headers.get("Location", "").encode(), self.__key).decode("utf-8", "replace")
                    raise CallFailed(f"HTTP {status}: a redirect to {where[:200] or '(no Location)'}, not followed "
                                     f"(is the endpoint of provider '{self.config.name}' right?)", status=status,
                                     maybe_sent=maybe_sent, final=True)
                else:
                    code, message = _error_of(data)
                    if status in (401, 403):
                        raise ProviderError(f"provider '{self.config.name}' refused the API key from "
                                            f"{self.config.api_key_env} (HTTP {status})",
                                            hint=f"check the value of {self.config.api_key_env}")
                    raise CallFailed(f"HTTP {status} {code or ''}: {message}".replace("  ", " "), status=status,
                                     code=code, maybe_sent=maybe_sent, final=True)
            if attempt < policy.max_attempts:
                self._sleep(backoff_ms(policy, attempt, key, retry_after_ms=retry_after) / 1000)
        raise CallFailed(f"gave up after {policy.max_attempts} attempt(s): {last}", status=last_status,
                         maybe_sent=maybe_sent)

    def _once(self, method: str, path: str, key: str, payload: bytes | None,
              sink: BinaryIO | None = None) -> tuple[int, httpx.Headers, bytes]:
        self.calls += 1
        timeout = self.config.retry.timeout_ms / 1000
        # identity encoding, as http.client asked: the caps count the bytes as they arrive (a provider that
        # compresses anyway is decoded chunk by chunk, so its answer is never whole in memory either)
        headers = {"Authorization": f"Bearer {self.__key}", "Accept": "application/json",
                   "Accept-Encoding": "identity", "User-Agent": "prodscale"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
            headers["Idempotency-Key"] = key
        target, mark, query = (self._prefix + path).partition("?")
        url = httpx.URL(scheme=self._scheme, host=self._host, port=self._port, path=target,
                        query=query.encode() if mark else None)
        # httpx's timeouts are per read: a server trickling its headers a byte at a time would hold the call
        # forever. Until the headers are in, a watchdog closes the connections at the call's timeout (the
        # blocked read then fails, and is reported as no answer); the body has its own total deadline below
        client = self._client
        headers_in = threading.Event()
        expired: list[bool] = []

        def expire() -> None:
            if not headers_in.is_set():
                expired.append(True)
                client.close()
        watchdog = threading.Timer(timeout, expire)
        watchdog.daemon = True
        watchdog.start()
        try:
            with client.stream(method, url, content=payload, headers=headers) as resp:
                headers_in.set()
                watchdog.cancel()
                if sink is not None and 200 <= resp.status_code < 300:
                    _stream_bounded(resp, sink, timeout=timeout, limit=MAX_RESULT_BYTES)
                    return resp.status_code, resp.headers, b""
                data = _read_bounded(resp, deadline=time.monotonic() + timeout, limit=MAX_RESPONSE_BYTES)
                # a provider may echo the request (its Authorization header) in an error: nothing it sends back
                # reaches a message, the terminal, --json or the ledger with the key in it
                return resp.status_code, resp.headers, redact(data, self.__key)
        except (httpx.HTTPError, OSError, RuntimeError) as exc:
            if expired:
                raise httpx.ReadTimeout("the provider's answer did not begin within the call's timeout") from exc
            raise
        finally:
            watchdog.cancel()
            if expired:  # that client is closed: this thread's next call gets a new one
                self._drop_client(client)


def _close_all(clients: list[httpx.Client], lock: threading.Lock) -> None:
    with lock:
        for client in clients:
            client.close()


def _new_client(timeout: float, *, https: bool, transport: httpx.BaseTransport | None) -> httpx.Client:
    """A client that sends to the endpoint and nowhere else, and keeps nothing but connections between calls."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout),  # connect, each read, each write, waiting for a pooled connection
        follow_redirects=False,          # a redirect is a final error: the key is never sent on to another URL
        # no HTTP(S)_PROXY/ALL_PROXY from the environment (a proxy would see the key of an http:// endpoint) and
        # no CA bundle from it either: the transport behaves as http.client did
        trust_env=False,
        # the system's trust store for https (as http.client had); an http:// endpoint never speaks TLS, so its
        # context trusts nothing and skips loading a CA store (50 ms a client)
        verify=ssl.create_default_context() if https else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT),
        # no cookie is kept: every call stands on its own, as it did with a connection per call
        cookies=http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[])),
        transport=transport,
    )


def _connect_failure(exc: httpx.ConnectError) -> str:
    """What kept the connection from being made, for a message (httpx's text names no header, so no key)."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        cause = cause.__cause__ or cause.__context__
    return f"could not connect ({exc})"[:300]


# a provider's answer (a job, a result) is held in memory: bigger than this is refused, not read whole
MAX_RESPONSE_BYTES = 256 * 1024 * 1024


def _declared_size(resp: httpx.Response) -> int | None:
    try:
        return int(resp.headers["Content-Length"])
    except (KeyError, ValueError):
        return None


def _read_bounded(resp: httpx.Response, *, deadline: float, limit: int) -> bytes:
    """The response body, read as it arrives under one total deadline (httpx's read timeout is per read: a
    server trickling a byte every 2 s never trips it) and a size cap (a 2 GiB answer was read whole)."""
    def late(_: int) -> str | None:
        return "the provider's answer did not arrive within the call's timeout" if time.monotonic() > deadline \
            else None
    return b"".join(_bounded_chunks(resp, limit=limit, refusal=f"the provider's answer is over "
                                    f"{limit // (1024 * 1024)} MiB; not read", late=late))


def _bounded_chunks(resp: httpx.Response, *, limit: int, refusal: str,
                    late: Callable[[int], str | None]) -> Iterator[bytes]:
    """The body's chunks as they arrive: refused as ``refusal`` once over ``limit`` (before any of it is read when
    it declares itself bigger), given up when ``late(bytes so far)`` says why, after each chunk is used."""
    if (_declared_size(resp) or 0) > limit:
        raise CallFailed(refusal, final=True)
    size = 0
    for chunk in resp.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise CallFailed(refusal, final=True)
        yield chunk
        problem = late(size)
        if problem is not None:
            raise TimeoutError(problem)


# a result (a video) is streamed to its file: bigger than this is refused; slower than MIN_RESULT_RATE after
# the call's timeout is given up (a server trickling a byte at a time would otherwise hold the run for hours)
MAX_RESULT_BYTES = 4 * 1024 * 1024 * 1024
MIN_RESULT_RATE = 64 * 1024  # bytes per second


def _stream_bounded(resp: httpx.Response, sink: BinaryIO, *, timeout: float, limit: int) -> None:
    started = time.monotonic()

    def late(size: int) -> str | None:
        slow = time.monotonic() - started > timeout + size / MIN_RESULT_RATE
        return "the result arrives too slowly (under 64 KiB/s); given up" if slow else None
    for chunk in _bounded_chunks(resp, limit=limit, refusal=f"the result is over {limit // (1024 * 1024)} MiB; "
                                 "not fetched", late=late):
        sink.write(chunk)


_BEARER = re.compile(rb"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}")
REDACTED = b"[REDACTED]"


def redact(data: bytes, secret: str) -> bytes:
    """``data`` with the API key, and any bearer token, replaced by [REDACTED]."""
    if secret:
        data = data.replace(secret.encode("utf-8"), REDACTED)
    return _BEARER.sub(rb"\1" + REDACTED, data)


def _is_job(answer: Any) -> bool:
    """An object with an id (a status, when given, is a word: without one the job is polled for it)."""
    return (isinstance(answer, dict) and isinstance(answer.get("id"), str) and bool(answer["id"])
            and isinstance(answer.get("status", ""), str))


def _error_of(data: bytes) -> tuple[str | None, str]:
    try:
        err = json.loads(data).get("error") or {}
        return (str(err.get("code")) if err.get("code") else None), str(err.get("message", ""))[:200]
    except (ValueError, AttributeError):
        return None, data[:200].decode("utf-8", "replace")
