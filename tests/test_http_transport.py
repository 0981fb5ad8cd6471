"""The provider client's HTTP transport (httpx), where timing is not the point: how each answer is classified,
what is sent, what is redacted, how a result is streamed, and that a client is closed.

Most tests run on ``httpx.MockTransport`` (no sockets, no sleeping: the client takes ``sleep=``); the
timing-based faults (a trickling answer, hangs, drops) stay on real sockets in test_generation_faults.py.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from prodscale.core.generation import ModelPrice, ProviderConfig, RetryPolicy
from prodscale.errors import ProviderError
from prodscale.providers import http_client
from prodscale.providers.http_client import CallFailed, HttpProvider

KEY = "sk_live_TRANSPORT_9d2e4c7a1b"
ENDPOINT = "http://provider.test:8080/api"


def config(endpoint: str = ENDPOINT, **retry: int) -> ProviderConfig:
    policy = RetryPolicy(**{"max_attempts": 3, "base_delay_ms": 10, "max_delay_ms": 40,
                            "max_retry_after_ms": 5000, "timeout_ms": 2000, **retry})
    return ProviderConfig(name="mock", kind="http", endpoint=endpoint, model="m1", api_key_env="MOCK_KEY",
                          profile="generic", prices={"m1": ModelPrice(1, 5)}, retry=policy, charged_failures=())


Handler = Callable[[httpx.Request], httpx.Response]


def reply(status: int, **kwargs: Any) -> Handler:
    """An answer made anew for each request (a response's body can be read once)."""
    return lambda request: httpx.Response(status, **kwargs)


class Recorder:
    """A MockTransport handler answering from a script, one answer per request (the last one repeats),
    keeping every request."""

    def __init__(self, *answers: Handler | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer(request)


def client_for(recorder: Recorder, sleeps: list[float] | None = None, **retry: int) -> HttpProvider:
    slept = sleeps if sleeps is not None else []
    return HttpProvider(config(**retry), KEY, sleep=slept.append, transport=httpx.MockTransport(recorder))


def job(job_id: str = "job-1", **extra: Any) -> Handler:
    return reply(200, json={"id": job_id, "status": "queued", **extra})


def leaks(*texts: object) -> bool:
    return any(KEY in str(t) or KEY[8:] in str(t) for t in texts)


@pytest.fixture(autouse=True)
def _every_log_line(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """httpx and httpcore log each request at INFO/DEBUG: none of those lines may carry the key."""
    caplog.set_level(logging.DEBUG)
    yield
    assert not leaks(caplog.text)


# ---------------------------------------------------------------------- classification


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_is_a_provider_error_that_never_names_the_key(status: int) -> None:
    rec = Recorder(reply(status, json={"error": {"code": "unauthorized", "message": f"bad key {KEY}"}}))
    with client_for(rec) as client, pytest.raises(ProviderError) as info:
        client.submit("idem-1", {"prompt": "a boat"})
    err = info.value
    assert f"HTTP {status}" in err.message and "MOCK_KEY" in err.message
    assert not leaks(err, err.message, err.hint, repr(err), repr(client))
    assert len(rec.requests) == 1          # final: not retried


def test_a_server_error_is_retried_then_answered() -> None:
    sleeps: list[float] = []
    rec = Recorder(reply(500, json={"error": {"code": "internal", "message": "try again"}}), job())
    with client_for(rec, sleeps) as client:
        assert client.get_job("job-1", "idem-1")["id"] == "job-1"
    assert len(rec.requests) == client.calls == 2 and len(sleeps) == 1


def test_retry_after_is_the_floor_of_the_delay() -> None:
    sleeps: list[float] = []
    rec = Recorder(reply(429, headers={"Retry-After": "2"}, json={"error": {"code": "rate_limited"}}), job())
    with client_for(rec, sleeps) as client:
        assert client.submit("idem-1", {"prompt": "a boat"})["id"] == "job-1"
    assert sleeps == [2.0]                 # the back-off alone is at most 40 ms


def test_a_retry_after_over_the_policy_gives_up_unsent() -> None:
    sleeps: list[float] = []
    rec = Recorder(reply(429, headers={"Retry-After": "30"}, json={"error": {"code": "rate_limited"}}))
    with client_for(rec, sleeps) as client, pytest.raises(CallFailed, match="rate limited for 30 s") as info:
        client.submit("idem-1", {"prompt": "a boat"})
    assert info.value.status == 429 and not info.value.maybe_sent and sleeps == [] and len(rec.requests) == 1


def test_a_redirect_is_final_and_never_followed() -> None:
    rec = Recorder(reply(302, headers={"Location": f"http://elsewhere.test/steal?token={KEY}"}),
                   job())
    with client_for(rec) as client, pytest.raises(CallFailed, match="redirect") as info:
        client.submit("idem-1", {"prompt": "a boat"})
    assert info.value.final and info.value.status == 302 and "elsewhere.test" in info.value.message
    assert [r.url.host for r in rec.requests] == ["provider.test"]   # the key went nowhere else
    assert not leaks(info.value, info.value.message)


def test_a_redirected_result_leaves_no_file(tmp_path: Path) -> None:
    rec = Recorder(reply(307, headers={"Location": "http://cdn.test/clip.mp4"}))
    dest = tmp_path / "generated" / "clip.mp4"
    with client_for(rec) as client, pytest.raises(CallFailed, match="redirect"):
        client.fetch_to(f"{ENDPOINT}/v1/files/clip.mp4", "idem-1", dest)
    assert list(dest.parent.iterdir()) == [] and len(rec.requests) == 1


def test_an_error_echoing_the_authorization_header_is_redacted() -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": {"code": "bad_request",
                                                   "message": f"headers: {request.headers['Authorization']}"}})
    with client_for(Recorder(echo)) as client, pytest.raises(CallFailed) as info:
        client.submit("idem-1", {"prompt": "a boat"})
    assert "Bearer [REDACTED]" in info.value.message and not leaks(info.value, info.value.message)
    assert info.value.final and info.value.status == 400


def test_a_successful_answer_echoing_the_key_is_redacted_too() -> None:
    with client_for(Recorder(job(note=f"received key {KEY}"))) as client:
        got = client.get_job("job-1", "idem-1")
    assert got["note"] == "received key [REDACTED]"


def test_a_200_that_is_not_json_is_retried_and_may_have_been_sent() -> None:
    rec = Recorder(reply(200, content=b"<html>proxy error</html>"))
    with client_for(rec) as client, pytest.raises(CallFailed, match="not JSON") as info:
        client.submit("idem-1", {"prompt": "a boat"})
    assert info.value.maybe_sent and not info.value.final and len(rec.requests) == 3


def test_a_404_is_none_only_where_missing_is_an_answer() -> None:
    missing = reply(404, json={"error": {"code": "not_found", "message": "no such key"}})
    with client_for(Recorder(missing)) as client:
        assert client.find("idem-1") is None
        with pytest.raises(CallFailed) as info:
            client.get_job("job-1", "idem-1")
    assert info.value.status == 404 and info.value.final


@pytest.mark.parametrize(("fault", "maybe_sent", "text"), [
    (httpx.ConnectError("[Errno -2] Name or service not known"), False,
     "could not connect ([Errno -2] Name or service not known)"),
    (httpx.ConnectTimeout("timed out"), True, "no answer within 2000 ms"),
    (httpx.ReadTimeout("timed out"), True, "no answer within 2000 ms"),
    (httpx.WriteTimeout("timed out"), True, "no answer within 2000 ms"),
    (httpx.PoolTimeout("timed out"), True, "no answer within 2000 ms"),
    (httpx.RemoteProtocolError("Server disconnected without sending a response."), True,
     "connection lost (RemoteProtocolError)"),
    (httpx.ReadError("[Errno 104] Connection reset by peer"), True, "connection lost (ReadError)"),
    (httpx.WriteError("[Errno 32] Broken pipe"), True, "connection lost (WriteError)"),
])
def test_transport_errors_keep_their_classification(fault: Exception, maybe_sent: bool, text: str) -> None:
    sleeps: list[float] = []
    rec = Recorder(fault)
    with client_for(rec, sleeps) as client, pytest.raises(CallFailed) as info:
        client.submit("idem-1", {"prompt": "a boat"})
    err = info.value
    assert err.maybe_sent is maybe_sent and not err.final and err.status is None
    assert err.message == f"gave up after 3 attempt(s): {text}"
    assert len(rec.requests) == 3 and len(sleeps) == 2
    assert err.__cause__ is None and err.__context__ is None   # no httpx request (and its headers) rides along


def test_a_refused_connection_is_named_so() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except ConnectionRefusedError as exc:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request) from exc
    with client_for(Recorder(refuse), max_attempts=1) as client, pytest.raises(CallFailed) as info:
        client.get_job("job-1", "idem-1")
    assert info.value.message == "gave up after 1 attempt(s): connection refused" and not info.value.maybe_sent


# ---------------------------------------------------------------------- what is sent


def test_a_submit_sends_its_idempotency_key_and_nothing_is_kept_between_calls() -> None:
    rec = Recorder(reply(201, headers={"Set-Cookie": "session=abc; Path=/"}, json={"id": "job-1"}))
    body = {"seed": 1, "prompt": "a boat", "model": "m1"}
    with client_for(rec) as client:
        client.submit("idem-42", body)
        client.get_job("job/1", "idem-42")
    post, get = rec.requests
    assert post.method == "POST" and str(post.url) == "http://provider.test:8080/api/v1/generations"
    assert post.headers["Idempotency-Key"] == "idem-42" and post.headers["Content-Type"] == "application/json"
    assert post.headers["Authorization"] == f"Bearer {KEY}" and post.headers["Accept-Encoding"] == "identity"
    assert post.content == json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    assert get.method == "GET" and get.url.raw_path == b"/api/v1/generations/job%2F1"
    assert "Idempotency-Key" not in get.headers and get.headers["Authorization"] == f"Bearer {KEY}"
    assert "cookie" not in get.headers     # a provider's cookie is not sent back


def test_a_lookup_by_key_quotes_the_key() -> None:
    rec = Recorder(job())
    with client_for(rec) as client:
        client.find("a b&c")
    assert rec.requests[0].url.raw_path == b"/api/v1/generations?idempotency_key=a%20b%26c"


def test_the_key_is_in_no_repr() -> None:
    client = client_for(Recorder(job()))
    try:
        assert not leaks(repr(client), str(client), repr(client._client), repr(vars(client).get("config")))
    finally:
        client.close()


# ---------------------------------------------------------------------- size caps and streaming


class Body:
    """A response body that counts how much of it was read."""

    def __init__(self, chunks: int, size: int = 1024) -> None:
        self.chunks, self.size, self.pulled = chunks, size, 0

    def __iter__(self) -> Iterator[bytes]:
        for _ in range(self.chunks):
            self.pulled += 1
            yield b" " * self.size


def test_a_huge_answer_is_refused_without_reading_it_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_client, "MAX_RESPONSE_BYTES", 10 * 1024)
    body = Body(1000)
    with client_for(Recorder(reply(200, content=body))) as client, pytest.raises(CallFailed, match="over"):
        client.get_job("job-1", "idem-1")
    assert body.pulled == 11                 # stopped at the first KiB over the cap, not at 1000


def test_an_answer_declared_over_the_cap_is_not_read_at_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_client, "MAX_RESPONSE_BYTES", 10 * 1024)
    body = Body(1000)
    huge = reply(200, headers={"Content-Length": str(1000 * 1024)}, content=body)
    with client_for(Recorder(huge)) as client, pytest.raises(CallFailed, match="not read") as info:
        client.get_job("job-1", "idem-1")
    assert body.pulled == 0 and info.value.final


def test_a_result_is_streamed_to_its_file_atomically(tmp_path: Path) -> None:
    chunks = [bytes([i]) * 70_000 for i in range(9)]
    rec = Recorder(reply(200, headers={"Content-Type": "video/mp4"}, content=iter(chunks)))
    dest = tmp_path / "generated" / "clip.mp4"
    dest.parent.mkdir()
    dest.write_bytes(b"an older download")
    with client_for(rec) as client:
        size = client.fetch_to(f"{ENDPOINT}/v1/files/clip.mp4?sig=1", "idem-1", dest)
    assert size == 9 * 70_000 and dest.read_bytes() == b"".join(chunks)
    assert [p.name for p in dest.parent.iterdir()] == ["clip.mp4"]      # no temporary file left
    assert rec.requests[0].url.raw_path == b"/api/v1/files/clip.mp4?sig=1"


@pytest.mark.parametrize("declared", [False, True])
def test_a_result_over_the_cap_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      declared: bool) -> None:
    monkeypatch.setattr(http_client, "MAX_RESULT_BYTES", 64 * 1024)
    body = Body(1000, size=4096)
    headers = {"Content-Length": str(1000 * 4096)} if declared else {}
    dest = tmp_path / "generated" / "big.mp4"
    with client_for(Recorder(reply(200, headers=headers, content=body))) as client, \
            pytest.raises(CallFailed, match="over 0 MiB; not fetched") as info:
        client.fetch_to(f"{ENDPOINT}/v1/files/big.mp4", "idem-1", dest)
    assert info.value.final and list(dest.parent.iterdir()) == []
    assert body.pulled == (0 if declared else 17)


def test_a_result_on_another_host_is_not_fetched(tmp_path: Path) -> None:
    rec = Recorder(job())
    with client_for(rec) as client, pytest.raises(CallFailed, match="another host"):
        client.fetch_to("http://cdn.test/clip.mp4", "idem-1", tmp_path / "clip.mp4")
    assert rec.requests == []


# ---------------------------------------------------------------------- connections and closing


class LocalServer:
    """An HTTP/1.1 server on 127.0.0.1 answering every GET with a job, noting the client port of each request."""

    def __init__(self) -> None:
        peers: list[int] = []
        self.peers = peers

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                peers.append(self.client_address[1])
                data = json.dumps({"id": "job-1", "status": "queued"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> LocalServer:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_calls_share_a_kept_alive_connection_until_closed() -> None:
    """On a real socket: one connection for many calls (http.client opened one per call), closed by close()."""
    with LocalServer() as srv:
        client = HttpProvider(config(srv.url), KEY)
        with client:
            for _ in range(3):
                assert client.get_job("job-1", "idem-1")["id"] == "job-1"
        assert len(srv.peers) == 3 and len(set(srv.peers)) == 1
        assert client._client.is_closed
        client.close()                     # a second close does nothing


def test_proxy_variables_of_the_environment_are_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy would see the key of an http:// endpoint; http.client never used one, nor does the client."""
    with LocalServer() as endpoint, LocalServer() as proxy:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
            monkeypatch.setenv(name, proxy.url)
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        with HttpProvider(config(endpoint.url), KEY) as client:
            assert client.get_job("job-1", "idem-1")["id"] == "job-1"
        assert len(endpoint.peers) == 1 and proxy.peers == []


def test_the_generate_command_closes_its_client(example_copy: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """Even when the run ends in an error (here the provider refuses the key)."""
    from prodscale.cli.main import main
    from prodscale.exec import generate

    toml = example_copy / "prodscale.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('engine = "2.0.0"', 'engine = "1.0.0"'),
                    encoding="utf-8")
    assert main(["build", "-C", str(example_copy)]) == 0
    assert main(["credits", "add", "300", "-C", str(example_copy)]) == 0
    monkeypatch.setenv("PRODSCALE_SANDBOX_KEY", KEY)
    rec = Recorder(reply(401, json={"error": {"code": "unauthorized", "message": "no"}}))
    opened: list[HttpProvider] = []

    def open_mocked(provider: ProviderConfig, **kwargs: Any) -> HttpProvider:
        opened.append(HttpProvider.from_env(provider, transport=httpx.MockTransport(rec), **kwargs))
        return opened[-1]

    monkeypatch.setattr(generate, "open_client", open_mocked)
    capsys.readouterr()
    assert main(["generate", "the-hilltop-postbox", "-C", str(example_copy)]) == 1
    out, err = capsys.readouterr()
    assert "refused the API key" in err and not leaks(out, err)
    assert rec.requests and len(opened) == 1 and opened[0]._client.is_closed


@pytest.mark.parametrize("body", [[], "job", 7, {"status": "queued"}, {"id": ["x"], "status": "queued"},
                                  {"id": "job-1", "status": None}])
def test_an_answer_that_is_not_a_job_is_maybe_sent_not_a_crash(body: Any) -> None:
    """Issue 14: a `[]` job crashed generate and then every reconciliation after it."""
    rec = Recorder(reply(200, json=body))
    with client_for(rec, max_attempts=2) as client, pytest.raises(CallFailed) as info:
        client.submit("idem-1", {"prompt": "a boat"})
    assert info.value.maybe_sent and "not a job" in info.value.message
    with client_for(Recorder(reply(200, json=body)), max_attempts=1) as client, pytest.raises(CallFailed):
        client.get_job("job-1", "idem-1")
