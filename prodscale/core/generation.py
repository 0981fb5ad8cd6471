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
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, ClassVar, Literal
from collections.abc import Mapping

import msgspec

from prodscale.core.canon import digest_obj
from prodscale.core.toml_lines import KeyPath, convert, dotted, header, line_of, says
from prodscale.errors import ConfigError, UsageError

KINDS = ("http",)
REQUEST_FIELDS = ("provider", "model", "prompt", "negative_prompt", "duration_ms", "aspect", "seed")


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
# The tables of prodscale.toml as typed structs, read strictly by toml_lines.convert; the words of an error
# are next to the type they are about. What is not a type (a price for the model, the bound of retries) is
# checked after.

_Money = Annotated[int, says("{name} must be a non-negative integer (minor units)",
                             "money is whole minor units (cents or credits), never a decimal", ge=0)]
_DurationMs = Annotated[str, msgspec.Meta(pattern=r"^0*[1-9][0-9]*$")]   # a table key: TOML keys are strings


class _Price(msgspec.Struct, forbid_unknown_fields=True):
    WORDS: ClassVar[msgspec.Meta] = says("{name} must be a table",
                                         "per_request, per_second and durations, in minor units")
    per_request: _Money = 0
    per_second: _Money = 0
    durations: Annotated[dict[_DurationMs, Annotated[int, msgspec.Meta(ge=0)]],
                         says("{name} maps a duration in ms to a whole price",
                              'e.g. durations = { "10000" = 45 }')] = {}


def _ms(minimum: int) -> msgspec.Meta:
    return says(f"{{name}} must be an integer >= {minimum}", "times are whole milliseconds", ge=minimum)


class _Retry(msgspec.Struct, forbid_unknown_fields=True):   # RetryPolicy as written, with RetryPolicy's defaults
    max_attempts: Annotated[int, _ms(1)] = RetryPolicy.max_attempts
    base_delay_ms: Annotated[int, _ms(0)] = RetryPolicy.base_delay_ms
    max_delay_ms: Annotated[int, _ms(0)] = RetryPolicy.max_delay_ms
    max_retry_after_ms: Annotated[int, _ms(0)] = RetryPolicy.max_retry_after_ms
    timeout_ms: Annotated[int, _ms(1)] = RetryPolicy.timeout_ms
    poll_interval_ms: Annotated[int, _ms(0)] = RetryPolicy.poll_interval_ms
    poll_timeout_ms: Annotated[int, _ms(0)] = RetryPolicy.poll_timeout_ms


class _Provider(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    WORDS: ClassVar[msgspec.Meta] = says("{name} must be a table", "write it as [{name}]")
    kind: Annotated[Literal["http"],
                    says("{parent}: unknown kind '{value}'", f"known kinds: {', '.join(KINDS)}")] = "http"
    endpoint: Annotated[str, says("{name} must be an http:// or https:// URL",
                                  'e.g. endpoint = "http://127.0.0.1:8765"', pattern=r"^https?://[^\s/]+(/\S*)?$")]
    model: Annotated[str, says("{name} must be a non-empty string", 'e.g. model = "sandbox-v1"', min_length=1)]
    api_key_env: Annotated[str, says("{name} must name an environment variable",
                                     'e.g. api_key_env = "PRODSCALE_SANDBOX_KEY"; the key itself stays in the '
                                     'environment', pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
    profile: Annotated[str, says("{name} must name a generator profile", 'e.g. profile = "generic"',
                                 min_length=1)] | None = None
    prices: Annotated[dict[str, _Price], says("{name} must be a table", 'write [{parent}.prices."<model>"]')] = {}
    retry: Annotated[_Retry, says("{name} must be a table",
                                  "write [{parent}.retry]")] = msgspec.field(default_factory=_Retry)
    charged_failures: Annotated[list[Annotated[str, msgspec.Meta(min_length=1)]],
                                says("{name} must be a list of failure codes", 'e.g. charged_failures = '
                                     '["safety_refusal"] (failures the provider bills anyway)')] = []
    max_concurrency: Annotated[int, says("{name} must be a positive integer", "e.g. max_concurrency = 4",
                                         ge=1)] = 4


_ProviderName = Annotated[str, says("{name}: the name must be letters, digits, '-' or '_'",
                                    "e.g. [providers.sandbox]", pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")]
_Providers = Annotated[dict[_ProviderName, _Provider],
                       says("'providers' must be a table", "write [providers.<name>] tables")]


class _Budget(msgspec.Struct, forbid_unknown_fields=True):
    currency: Annotated[str, says("{name} must be a non-empty string", 'e.g. currency = "USD"',
                                  pattern=r"\S")] = "credits"
    decimals: Annotated[int, says("{name} must be an integer from 0 to 6",
                                  "2 for cents (amounts like 12.50), 0 for whole credits", ge=0, le=6)] = 0


_BudgetTable = Annotated[_Budget, says("'budget' must be a table", "write it as [budget]")]


def _provider_name(path: KeyPath, table: bool) -> str:
    """How a provider's error calls a key: ``providers.<name>: prices.<model>.per_second`` (every provider
    error starts with its provider); a table by its header."""
    if table or len(path) <= 2:
        return header(path) if table else dotted(path)
    return f"{dotted(path[:2])}: {dotted(path[2:])}"


def parse_budget(raw: Mapping[str, Any], *, path: str = "prodscale.toml", text: str = "") -> Budget:
    """The ``[budget]`` table: the ledger's currency label and its number of decimals."""
    table = convert(raw.get("budget", {}), _BudgetTable, text=text, file=path, at=("budget",))
    return Budget(table.currency.strip(), table.decimals)


def parse_providers(raw: Mapping[str, Any], *, path: str = "prodscale.toml",
                    text: str = "") -> dict[str, ProviderConfig]:
    """Every ``[providers.<name>]`` table, validated; errors name the file and the line in that provider's
    own table."""
    table = raw.get("providers", {})

    def fail(name: str, message: str, key: KeyPath, hint: str) -> ConfigError:
        return ConfigError(f"providers.{name}: {message}", hint=hint, path=path,
                           line=line_of(text, ("providers", name, *key)))

    for name, entry in table.items() if isinstance(table, dict) else ():
        if isinstance(entry, dict) and "api_key" in entry:   # before anything else, and never echoed
            raise fail(name, "an API key never goes in prodscale.toml", ("api_key",),
                       'delete the line and name an environment variable instead: api_key_env = "MY_PROVIDER_KEY"')
    providers: dict[str, _Provider] = convert(table, _Providers, text=text, file=path, at=("providers",),
                                              name=_provider_name)
    out: dict[str, ProviderConfig] = {}
    for name, p in providers.items():
        if not p.prices:
            raise fail(name, "a price table is required", (),
                       f'add [providers.{name}.prices."{p.model}"] with per_request and per_second (minor units)')
        if p.model not in p.prices:
            raise fail(name, f"no price for model '{p.model}'", ("model",),
                       f'add [providers.{name}.prices."{p.model}"]')
        if p.retry.max_attempts > 20:
            raise fail(name, "retry.max_attempts is at most 20", ("retry", "max_attempts"),
                       "retries must stay bounded")
        prices = {m: ModelPrice(t.per_request, t.per_second, {int(d): v for d, v in t.durations.items()})
                  for m, t in p.prices.items()}
        out[name] = ProviderConfig(name, p.kind, p.endpoint.rstrip("/"), p.model, p.api_key_env, p.profile, prices,
                                   RetryPolicy(**msgspec.structs.asdict(p.retry)),
                                   tuple(sorted(set(p.charged_failures))), p.max_concurrency)
    return out


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
