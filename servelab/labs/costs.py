"""What a serving choice costs: per call, per month, and where reserved capacity beats per token.

Two billing models meet in labs 01 and 02:

- **pay per token** (a managed API, a cloud platform's serverless deployment): every call costs
  ``prompt_tokens x input price + completion_tokens x output price``, prices quoted per million
  tokens in the catalog (``servelab_base.catalog``, ``datasets/providers/prices.csv``);
- **reserved capacity** (Azure provisioned throughput): you rent PTUs by the hour whether you use
  them or not; how many you need follows from your traffic's shape (Microsoft's PTU sizing
  formula, reproduced in ``normalized_tpm`` and ``ptus_required``).

Every function here is plain arithmetic on numbers the caller passes in, so a learner can check
each step by hand. The per-model PTU parameters live in ``datasets/lab02/ptu_sizing.csv`` with
their source.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from servelab_base.catalog import TOKENS_PER_PRICE_UNIT, Price

#: Days in the course's "month" of traffic. Providers bill by calendar month; 30 keeps the
#: arithmetic easy to check by hand and is within 3% of every real month.
DAYS_PER_MONTH = 30
#: Hours in a billing month. Azure's pricing calculator and its hourly-to-monthly conversions use
#: 730 hours (365 days x 24 h / 12 months).
HOURS_PER_MONTH = 730
MINUTES_PER_DAY = 24 * 60


def _field(usage: Mapping[str, Any] | Any, name: str) -> int:
    """``usage[name]`` for a dict, ``usage.name`` for the SDK's ``CompletionUsage`` object."""
    value = usage.get(name) if isinstance(usage, Mapping) else getattr(usage, name, None)
    if value is None:
        raise ValueError(f"usage has no {name!r}: pass the `usage` of a chat completion")
    return int(value)


def per_token_price(price: Price | None) -> Price:
    """``price`` if it is a per-million-tokens price; a clear error otherwise."""
    if price is None:
        raise ValueError("no price in the catalog for this provider / model / deployment type")
    if price.unit != "per_million_tokens" or price.input_usd is None or price.output_usd is None:
        raise ValueError(f"price is billed {price.unit}, not per token: use the hourly functions")
    return price


def token_cost_usd(prompt_tokens: int, completion_tokens: int, price: Price) -> float:
    """Dollars for one pay-per-token call (prices per million tokens, input and output apart)."""
    if prompt_tokens < 0 or completion_tokens < 0:
        raise ValueError("token counts cannot be negative")
    p = per_token_price(price)
    return (prompt_tokens * p.input_usd + completion_tokens * p.output_usd) / TOKENS_PER_PRICE_UNIT


def usage_cost_usd(usage: Mapping[str, Any] | Any, price: Price) -> float:
    """Dollars for the call whose ``usage`` (dict or SDK object) the response reported."""
    return token_cost_usd(_field(usage, "prompt_tokens"), _field(usage, "completion_tokens"), price)


def monthly_token_cost_usd(
    calls_per_day: float,
    prompt_tokens: float,
    completion_tokens: float,
    price: Price,
    days: int = DAYS_PER_MONTH,
) -> float:
    """Dollars per month for ``calls_per_day`` calls of the given mean size, paid per token."""
    if calls_per_day < 0:
        raise ValueError("calls_per_day cannot be negative")
    p = per_token_price(price)
    per_call = prompt_tokens * p.input_usd + completion_tokens * p.output_usd
    return per_call / TOKENS_PER_PRICE_UNIT * calls_per_day * days


def normalized_tpm(
    rpm: float,
    prompt_tokens: float,
    completion_tokens: float,
    output_to_input_ratio: float,
    cache_rate: float = 0.0,
) -> float:
    """Microsoft's PTU sizing formula: input TPM x (1 - cache rate) + ratio x output TPM.

    Output tokens cost the model more work than input tokens, so each one counts as
    ``output_to_input_ratio`` input tokens; cached prompt tokens do not count at all.
    """
    if not 0.0 <= cache_rate <= 1.0:
        raise ValueError("cache_rate is a fraction between 0 and 1")
    input_tpm, output_tpm = rpm * prompt_tokens, rpm * completion_tokens
    return input_tpm * (1.0 - cache_rate) + output_to_input_ratio * output_tpm


def ptus_required(norm_tpm: float, input_tpm_per_ptu: float, minimum: int, increment: int) -> int:
    """PTUs to deploy: normalized TPM / TPM per PTU, rounded UP to the increment, >= the minimum."""
    if input_tpm_per_ptu <= 0 or minimum < 1 or increment < 1:
        raise ValueError("TPM per PTU, minimum and increment must be positive")
    raw = norm_tpm / input_tpm_per_ptu
    return max(minimum, math.ceil(raw / increment - 1e-12) * increment)


def ptu_monthly_usd(ptus: int, hourly_usd_per_ptu: float, hours: float = HOURS_PER_MONTH) -> float:
    """Dollars per month for ``ptus`` provisioned units billed hourly, used or not."""
    return ptus * hourly_usd_per_ptu * hours


def break_even(
    cost_a: Callable[[float], float],
    cost_b: Callable[[float], float],
    low: float,
    high: float,
    tolerance: float = 1e-6,
) -> float | None:
    """The smallest x in [low, high] where ``cost_b(x) <= cost_a(x)``, by bisection.

    Assumes one crossing (``a`` grows with x faster than ``b``, as pay-per-token against a
    reserved block does). Returns ``low`` when b is already cheaper there, None when b never
    becomes cheaper within the range. A step function (PTU blocks) makes "the" break-even the
    first point of the cheaper region, which is what bisection on the comparison finds.
    """
    if cost_b(low) <= cost_a(low):
        return low
    if cost_b(high) > cost_a(high):
        return None
    lo, hi = low, high
    while hi - lo > tolerance * max(1.0, abs(hi)):
        mid = (lo + hi) / 2
        if cost_b(mid) <= cost_a(mid):
            hi = mid
        else:
            lo = mid
    return hi
