"""Pure generation pieces: canonical request and key, prices, amounts, back-off, provider config."""

from __future__ import annotations

import pytest

from prodscale.core.generation import (RetryPolicy, backoff_ms, backoff_schedule, canonical_request, estimate_cost,
                                       legacy_idempotency_key, provider_identity,
                                       format_amount, idempotency_key, parse_amount, parse_budget, parse_providers,
                                       parse_retry_after, request_body, Budget)
from prodscale.errors import ConfigError, UsageError

TOML = """[providers.sandbox]
kind = "http"
endpoint = "http://127.0.0.1:8765"
model = "sandbox-v1"
api_key_env = "PRODSCALE_SANDBOX_KEY"
charged_failures = ["safety_refusal"]

[providers.sandbox.prices.sandbox-v1]
per_request = 1
per_second = 5
durations = { "10000" = 45 }
"""


def _providers(text: str = TOML):  # type: ignore[no-untyped-def]
    import tomllib
    return parse_providers(tomllib.loads(text), path="prodscale.toml", text=text)


CLIP = {"id": "1-1", "prompt": "A lighthouse at dusk.", "negative_prompt": "text", "duration_ms": 4000,
        "aspect": "16:9", "seed": 7, "profile": "generic", "status": "ready"}


def test_key_is_hash_of_canonical_request_and_stable() -> None:
    p = _providers()["sandbox"]
    req = canonical_request(p, CLIP)
    assert set(req) == {"provider", "model", "prompt", "negative_prompt", "duration_ms", "aspect", "seed"}
    ident = provider_identity(p)
    key = idempotency_key(req, ident)
    assert key == idempotency_key(dict(reversed(list(req.items()))), ident)
    assert len(key) == 64
    assert "provider" not in request_body(req)
    for field, value in [("prompt", "other"), ("seed", 8), ("duration_ms", 6000), ("aspect", "9:16"),
                         ("negative_prompt", "")]:
        assert idempotency_key(canonical_request(p, {**CLIP, field: value}), ident) != key, field
    # fields outside the request (clip id, status) do not change the key
    assert idempotency_key(canonical_request(p, {**CLIP, "id": "9-9"}), ident) == key
    with pytest.raises(ValueError):
        idempotency_key({**req, "extra": 1}, ident)
    # the provider's identity is its kind and endpoint: another endpoint, another key; case and a trailing
    # slash of the endpoint do not matter, and neither does the API key (rotating it must not resend)
    from dataclasses import replace
    other = replace(p, endpoint="https://live.example.com/v1")
    assert idempotency_key(req, provider_identity(other)) != key
    assert provider_identity(replace(other, endpoint="HTTPS://LIVE.example.COM/v1/")) == provider_identity(other)
    assert provider_identity(replace(p, api_key_env="OTHER_KEY")) == ident
    assert legacy_idempotency_key(req) != key


def test_prices_in_minor_units() -> None:
    p = _providers()["sandbox"]
    assert estimate_cost(p, 4000) == 1 + 5 * 4
    assert estimate_cost(p, 4001) == 1 + 5 * 5      # started seconds are billed
    assert estimate_cost(p, 10000) == 45            # flat price for a duration
    assert isinstance(estimate_cost(p, 6000), int)


def test_amounts_exact() -> None:
    assert parse_amount("12.50", 2) == 1250
    assert parse_amount("12", 2) == 1200
    assert parse_amount("0.1", 1) == 1
    assert parse_amount("1_000", 0) == 1000
    for bad in ("12.505", "abc", "nan", "inf"):
        with pytest.raises(UsageError):
            parse_amount(bad, 2)
    assert format_amount(1250, Budget("USD", 2)) == "12.50 USD"
    assert format_amount(-5, Budget("USD", 2)) == "-0.05 USD"
    assert format_amount(7, Budget()) == "7 credits"


def test_backoff_bounded_deterministic_jittered() -> None:
    policy = RetryPolicy(max_attempts=8, base_delay_ms=100, max_delay_ms=1000)
    a = backoff_schedule(policy, "k1")
    assert a == backoff_schedule(policy, "k1")
    assert a != backoff_schedule(policy, "k2")
    assert len(a) == 7
    for i, d in enumerate(a, start=1):
        step = min(1000, 100 * 2 ** (i - 1))
        assert step // 2 <= d <= step
    assert backoff_ms(policy, 1, "k", retry_after_ms=5000) == 5000
    assert parse_retry_after("2") == 2000 and parse_retry_after("0.5") == 500
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None and parse_retry_after(None) is None


@pytest.mark.parametrize("edit, message, line", [
    (('api_key_env = "PRODSCALE_SANDBOX_KEY"', 'api_key = "sk_live_123"'), "never goes in prodscale.toml", 5),
    (('kind = "http"', 'kind = "grpc"'), "unknown kind", 2),
    (('endpoint = "http://127.0.0.1:8765"', 'endpoint = "ftp://x"'), "endpoint", 3),
    (("per_second = 5", "per_second = 0.05"), "non-negative integer", 10),
    (('model = "sandbox-v1"', 'model = "other"'), "no price for model", 4),
    (('charged_failures = ["safety_refusal"]', 'charged_failures = "safety"'), "charged_failures", 6),
    (('kind = "http"', 'kind = "http"\ncolour = "red"'), "unknown key 'colour'", 3),
])
def test_config_errors_name_file_and_line(edit: tuple[str, str], message: str, line: int) -> None:
    text = TOML.replace(*edit)
    with pytest.raises(ConfigError) as err:
        _providers(text)
    assert message in err.value.message
    assert err.value.path == "prodscale.toml"
    assert err.value.line == line, err.value.render()
    assert "sk_live_123" not in err.value.render()


def test_retry_table_and_budget() -> None:
    p = _providers(TOML + "\n[providers.sandbox.retry]\nmax_attempts = 3\ntimeout_ms = 100\n")["sandbox"]
    assert p.retry.max_attempts == 3 and p.retry.timeout_ms == 100
    with pytest.raises(ConfigError, match="at most 20"):
        _providers(TOML + "\n[providers.sandbox.retry]\nmax_attempts = 99\n")
    assert parse_budget({"budget": {"currency": "USD", "decimals": 2}}) == Budget("USD", 2)
    with pytest.raises(ConfigError):
        parse_budget({"budget": {"decimals": 2.5}})
