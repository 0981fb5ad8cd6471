"""Generation, pure pieces: provider config, canonical requests, idempotency keys, prices, back-off.

No I/O here: the storage layer owns the ledger, ``prodscale.providers`` the HTTP client and the
sandbox server, ``prodscale.exec.generate`` the orchestration.

- A provider is a ``[providers.<name>]`` table of prodscale.toml, validated by
  :func:`parse_providers` with errors that name the file and the line.
- The canonical request of a clip is what is sent (provider, model, prompt, negative prompt,
  duration, aspect, seed); its digest is the ``Idempotency-Key``, so a retry, a crash or a second
  run of the same clip can never be a second charge.
- Money is integer minor units (cents, or whole credits when ``decimals = 0``), never floats.
- Back-off delays come from a RNG seeded by the request key and the attempt number, so a schedule
  is reproducible in tests and still spreads concurrent clients apart (jitter).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from collections.abc import Mapping

from prodscale.core.canon import digest_obj
from prodscale.core.toml_lines import KeyPath, line_of
from prodscale.errors import ConfigError, UsageError

KINDS = ("http",)
REQUEST_FIELDS = ("provider", "model", "prompt", "negative_prompt", "duration_ms", "aspect", "seed")

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PROVIDER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_PROVIDER_KEYS = {"kind", "endpoint", "model", "api_key_env", "profile", "prices", "retry", "charged_failures",
                  "max_concurrency"}
_PRICE_KEYS = {"per_request", "per_second", "durations"}
_BUDGET_KEYS = {"currency", "decimals"}


@dataclass(frozen=True)
class RetryPolicy:
    """How hard the client tries, in integer milliseconds."""

    max_attempts: int = 5          # tries of one HTTP call, the first included
    base_delay_ms: int = 250       # first back-off step; doubles per attempt
    max_delay_ms: int = 8000       # cap of one back-off step
    max_retry_after_ms: int = 60000  # a Retry-After longer than this gives up instead of sleeping
    timeout_ms: int = 30000        # connect + read timeout of one HTTP call
    poll_interval_ms: int = 1000   # between status polls of a submitted job
    poll_timeout_ms: int = 600000  # give up polling (the job stays in flight for a later run)


@dataclass(frozen=True)
class ModelPrice:
    """Price of one model: per request plus per started second, or a flat price for a duration."""

    per_request: int = 0
    per_second: int = 0
    durations: Mapping[int, int] = field(default_factory=dict)  # duration_ms -> flat price


@dataclass(frozen=True)
class ProviderConfig:
    name: str
    kind: str
    endpoint: str
    model: str
    api_key_env: str
    profile: str | None
    prices: Mapping[str, ModelPrice]
    retry: RetryPolicy
    charged_failures: tuple[str, ...]
    max_concurrency: int = 4


@dataclass(frozen=True)
class Budget:
    currency: str = "credits"
    decimals: int = 0


# --------------------------------------------------------------------------- config validation

def _fail(message: str, key: KeyPath, hint: str, *, path: str, text: str) -> ConfigError:
    return ConfigError(message, hint=hint, path=path, line=line_of(text, key))


def _int(value: Any, *, minimum: int = 0) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        return None
    return value


def parse_budget(raw: Mapping[str, Any], *, path: str = "prodscale.toml", text: str = "") -> Budget:
    """The ``[budget]`` table: the ledger's currency label and its number of decimals."""
    table = raw.get("budget", {})
    if not isinstance(table, dict):
        raise _fail("'budget' must be a table", ("budget",), "write it as [budget]", path=path, text=text)
    for key in table:
        if key not in _BUDGET_KEYS:
            raise _fail(f"unknown key '{key}' in [budget]", ("budget", key),
                        f"known keys: {', '.join(sorted(_BUDGET_KEYS))}",
                        path=path, text=text)
    currency = table.get("currency", "credits")
    if not isinstance(currency, str) or not currency.strip():
        raise _fail("budget.currency must be a non-empty string", ("budget", "currency"), 'e.g. currency = "USD"',
                    path=path, text=text)
    decimals = _int(table.get("decimals", 0))
    if decimals is None or decimals > 6:
        raise _fail("budget.decimals must be an integer from 0 to 6", ("budget", "decimals"),
                    "2 for cents (amounts like 12.50), 0 for whole credits", path=path, text=text)
    return Budget(currency.strip(), decimals)


def parse_providers(raw: Mapping[str, Any], *, path: str = "prodscale.toml", text: str = "") -> dict[str, ProviderConfig]:
    """Every ``[providers.<name>]`` table, validated; errors name the file and the line."""
    table = raw.get("providers", {})
    if not isinstance(table, dict):
        raise _fail("'providers' must be a table", ("providers",), "write [providers.<name>] tables",
                    path=path, text=text)
    out: dict[str, ProviderConfig] = {}
    for name, entry in table.items():
        out[name] = _parse_provider(name, entry, path=path, text=text)
    return out


def _parse_provider(name: str, entry: Any, *, path: str, text: str) -> ProviderConfig:
    def fail(message: str, key: KeyPath, hint: str) -> ConfigError:
        return _fail(f"providers.{name}: {message}", ("providers", name, *key), hint, path=path, text=text)

    if not _PROVIDER_NAME.match(name):
        raise fail("the name must be letters, digits, '-' or '_'", (), "e.g. [providers.sandbox]")
    if not isinstance(entry, dict):
        raise fail("must be a table", (), f"write it as [providers.{name}]")
    if "api_key" in entry:
        raise fail("an API key never goes in prodscale.toml", ("api_key",),
                   "delete the line and name an environment variable instead: api_key_env = \"MY_PROVIDER_KEY\"")
    for key in entry:
        if key not in _PROVIDER_KEYS:
            raise fail(f"unknown key '{key}'", (key,), f"known keys: {', '.join(sorted(_PROVIDER_KEYS))}")
    kind = entry.get("kind", "http")
    if kind not in KINDS:
        raise fail(f"unknown kind '{kind}'", ("kind",), f"known kinds: {', '.join(KINDS)}")
    endpoint = entry.get("endpoint")
    if not isinstance(endpoint, str) or not re.match(r"^https?://[^\s/]+(/\S*)?$", endpoint):
        raise fail("endpoint must be an http:// or https:// URL", ("endpoint",),
                   'e.g. endpoint = "http://127.0.0.1:8765"')
    model = entry.get("model")
    if not isinstance(model, str) or not model:
        raise fail("model must be a non-empty string", ("model",), 'e.g. model = "sandbox-v1"')
    env = entry.get("api_key_env")
    if not isinstance(env, str) or not _ENV_NAME.match(env):
        raise fail("api_key_env must name an environment variable", ("api_key_env",),
                   'e.g. api_key_env = "PRODSCALE_SANDBOX_KEY"; the key itself stays in the environment')
    profile = entry.get("profile")
    if profile is not None and (not isinstance(profile, str) or not profile):
        raise fail("profile must name a generator profile", ("profile",), 'e.g. profile = "generic"')
    prices_raw = entry.get("prices")
    if not isinstance(prices_raw, dict) or not prices_raw:
        raise fail("a price table is required", (),
                   f'add [providers.{name}.prices."{model}"] with per_request and per_second (minor units)')
    prices: dict[str, ModelPrice] = {}
    for mname, mtable in prices_raw.items():
        prices[mname] = _parse_price(name, mname, mtable, lambda m, k, h, at=("prices", mname): fail(m, (*at, *k), h))
    if model not in prices:
        raise fail(f"no price for model '{model}'", ("model",), f'add [providers.{name}.prices."{model}"]')
    retry = _parse_retry(entry.get("retry", {}), lambda m, k, h: fail(m, ("retry", *k), h))
    charged = entry.get("charged_failures", [])
    if not isinstance(charged, list) or not all(isinstance(c, str) and c for c in charged):
        raise fail("charged_failures must be a list of failure codes", ("charged_failures",),
                   'e.g. charged_failures = ["safety_refusal"] (failures the provider bills anyway)')
    conc = _int(entry.get("max_concurrency", 4), minimum=1)
    if conc is None:
        raise fail("max_concurrency must be a positive integer", ("max_concurrency",), "e.g. max_concurrency = 4")
    return ProviderConfig(name, kind, endpoint.rstrip("/"), model, env, profile, prices, retry,
                          tuple(sorted(set(charged))), conc)


def _parse_price(provider: str, model: str, table: Any, fail: Any) -> ModelPrice:
    if not isinstance(table, dict):
        raise fail(f"prices.{model} must be a table", (), f'[providers.{provider}.prices."{model}"]')
    for key in table:
        if key not in _PRICE_KEYS:
            raise fail(f"unknown key '{key}' in prices.{model}", (key,),
                       f"known keys: {', '.join(sorted(_PRICE_KEYS))}")
    values: dict[str, int] = {}
    for key in ("per_request", "per_second"):
        v = _int(table.get(key, 0))
        if v is None:
            raise fail(f"prices.{model}.{key} must be a non-negative integer (minor units)", (key,),
                       "money is whole minor units (cents or credits), never a decimal")
        values[key] = v
    durations: dict[int, int] = {}
    for dkey, price in (table.get("durations") or {}).items():
        dms = int(dkey) if isinstance(dkey, str) and dkey.isdigit() else None
        p = _int(price)
        if dms is None or dms <= 0 or p is None:
            raise fail(f"prices.{model}.durations maps a duration in ms to a whole price", ("durations", dkey),
                       'e.g. durations = { "10000" = 45 }')
        durations[dms] = p
    return ModelPrice(values["per_request"], values["per_second"], durations)


def _parse_retry(table: Any, fail: Any) -> RetryPolicy:
    if not isinstance(table, dict):
        raise fail("retry must be a table", (), "write [providers.<name>.retry]")
    defaults = RetryPolicy()
    values: dict[str, int] = {}
    for key in defaults.__dataclass_fields__:
        minimum = 1 if key in ("max_attempts", "timeout_ms") else 0
        v = _int(table.get(key, getattr(defaults, key)), minimum=minimum)
        if v is None:
            raise fail(f"retry.{key} must be an integer >= {minimum}", (key,), "times are whole milliseconds")
        values[key] = v
    for key in table:
        if key not in values:
            raise fail(f"unknown key '{key}' in retry", (key,),
                       f"known keys: {', '.join(sorted(defaults.__dataclass_fields__))}")
    if values["max_attempts"] > 20:
        raise fail("retry.max_attempts is at most 20", ("max_attempts",), "retries must stay bounded")
    return RetryPolicy(**values)


# --------------------------------------------------------------------------- requests and keys

def canonical_request(provider: ProviderConfig, clip: Mapping[str, Any]) -> dict[str, Any]:
    """What is sent for a clip, and all that identifies it: the idempotency key hashes exactly this."""
    return {
        "provider": provider.name,
        "model": provider.model,
        "prompt": str(clip["prompt"]),
        "negative_prompt": str(clip.get("negative_prompt") or ""),
        "duration_ms": int(clip["duration_ms"]),
        "aspect": str(clip["aspect"]),
        "seed": int(clip["seed"]),
    }


def provider_identity(provider: ProviderConfig) -> str:
    """Which provider a request goes to, beyond its name: the kind and the endpoint (scheme and host
    lowercased, no trailing slash). A provider moved from a test endpoint to a live one under the same
    name is another provider, and must not find the test's work under the same keys. The API key is not
    part of it: rotating a key at the same provider must never send (and pay for) a clip again."""
    endpoint = provider.endpoint.strip()
    scheme, sep, rest = endpoint.partition("://")
    host, slash, path = rest.partition("/")
    if sep:
        endpoint = f"{scheme.lower()}://{host.lower()}{slash}{path}"
    return f"{provider.kind} {endpoint.rstrip('/')}"


def _check_request(request: Mapping[str, Any]) -> None:
    missing = [f for f in REQUEST_FIELDS if f not in request]
    if missing or len(request) != len(REQUEST_FIELDS):
        raise ValueError(f"not a canonical request (fields {sorted(request)})")


def idempotency_key(request: Mapping[str, Any], identity: str) -> str:
    """The hash of the canonical request and the provider's identity (lowercase hex SHA-256)."""
    _check_request(request)
    if not identity:
        raise ValueError("an idempotency key needs the provider's identity")
    return digest_obj({"request": dict(request), "provider_identity": identity})


def legacy_idempotency_key(request: Mapping[str, Any]) -> str:
    """The key ledgers of schema 1 used (the request alone): rows under it are adopted, never resent."""
    _check_request(request)
    return digest_obj(dict(request))


def request_body(request: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON body sent to the provider (the canonical request less our own provider name)."""
    return {k: v for k, v in request.items() if k != "provider"}


# --------------------------------------------------------------------------- money

def estimate_cost(provider: ProviderConfig, duration_ms: int, model: str | None = None) -> int:
    """Price of one request in minor units: a flat price for the duration, else per request plus
    per started second."""
    price = provider.prices[model or provider.model]
    if duration_ms in price.durations:
        return price.durations[duration_ms]
    seconds = -(-int(duration_ms) // 1000)
    return price.per_request + price.per_second * seconds


# a reported cost this far from the estimate is held for review, never booked (a provider's bug, a unit mix-up)
COST_REVIEW_FACTOR = 10


def checked_cost(reported: Any, estimate: int) -> tuple[int | None, str | None]:
    """(cost to book, None), or (None, why it is held for review): a provider's reported cost must be a whole
    number of minor units, not negative, and within COST_REVIEW_FACTOR of the estimate (a cost missing is the
    estimate, as before)."""
    if reported is None or reported == "":
        return estimate, None
    if isinstance(reported, bool) or not isinstance(reported, (int, str)):
        return None, f"the provider reported a cost that is no number ({str(reported)[:40]})"
    if isinstance(reported, str):
        if not reported.strip().isdigit():
            return None, f"the provider reported a cost that is no whole number ({reported[:40]!r})"
        reported = int(reported.strip())
    if reported < 0:
        return None, f"the provider reported a negative cost ({reported})"
    if reported > max(estimate, 1) * COST_REVIEW_FACTOR:
        return None, f"the provider reported {reported}, over {COST_REVIEW_FACTOR}x the estimate of {estimate}"
    return int(reported), None


MAX_AMOUNT = 10 ** 15   # minor units: ten trillion dollars, well inside SQLite's 64-bit integers


def parse_amount(text: str, decimals: int) -> int:
    """'12.50' with decimals=2 -> 1250; exact, never through a float."""
    try:
        value = Decimal(text.strip().replace("_", ""))
    except InvalidOperation:
        raise UsageError(f"'{text}' is not an amount", hint="write a number such as 25 or 12.50") from None
    if not value.is_finite():
        raise UsageError(f"'{text}' is not an amount", hint="write a number such as 25 or 12.50")
    minor = value.scaleb(decimals)
    if minor != minor.to_integral_value():
        raise UsageError(f"'{text}' has more than {decimals} decimal(s)",
                         hint="amounts are kept in whole minor units")
    if abs(minor) > MAX_AMOUNT:   # the ledger keeps SQLite integers (64 bits): 1e30 ended in a traceback
        raise UsageError(f"'{text}' is more than the ledger keeps",
                         hint=f"amounts up to {MAX_AMOUNT // 10 ** decimals}")
    return int(minor)


def format_amount(minor: int, budget: Budget) -> str:
    """1250 -> '12.50 USD' (decimals=2)."""
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(int(minor)), 10 ** budget.decimals)
    number = f"{whole}.{frac:0{budget.decimals}d}" if budget.decimals else str(whole)
    return f"{sign}{number} {budget.currency}"


# --------------------------------------------------------------------------- retry schedule

def backoff_ms(policy: RetryPolicy, attempt: int, key: str, *, retry_after_ms: int | None = None) -> int:
    """Delay before retry number ``attempt`` (1 = the first retry), "equal jitter" exponential back-off.

    The RNG is seeded from the key and the attempt, so the schedule is a pure function; a
    ``Retry-After`` from the server is a floor.
    """
    step = min(policy.max_delay_ms, policy.base_delay_ms * (2 ** max(0, attempt - 1)))
    rng = random.Random(int(digest_obj({"key": key, "attempt": attempt})[:16], 16))
    delay = step // 2 + rng.randint(0, step - step // 2) if step > 0 else 0
    if retry_after_ms is not None:
        delay = max(delay, retry_after_ms)
    return delay


def backoff_schedule(policy: RetryPolicy, key: str) -> list[int]:
    """Every delay the client may sleep for one call (len = max_attempts - 1)."""
    return [backoff_ms(policy, a, key) for a in range(1, policy.max_attempts)]


def parse_retry_after(value: str | None) -> int | None:
    """``Retry-After`` in whole (or decimal) seconds -> ms; an HTTP date or garbage -> None."""
    if value is None:
        return None
    try:
        seconds = Decimal(value.strip())
    except InvalidOperation:
        return None
    if not seconds.is_finite() or seconds < 0:
        return None
    return int((seconds * 1000).to_integral_value())


def is_charged_failure(provider: ProviderConfig, code: str | None) -> bool:
    return code is not None and code in provider.charged_failures
