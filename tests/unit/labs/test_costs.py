"""servelab.labs.costs: per-token bills, Microsoft's PTU sizing formula, break-even by bisection."""

from __future__ import annotations

import math

import pytest

from servelab.labs import costs
from servelab_base.catalog import Price, load

MINI = Price("per_million_tokens", 0.15, 0.60, None, "published", "test")


def test_token_cost_is_per_million_and_prices_input_and_output_apart():
    assert math.isclose(costs.token_cost_usd(1_000_000, 0, MINI), 0.15)
    assert math.isclose(costs.token_cost_usd(0, 1_000_000, MINI), 0.60)
    assert math.isclose(costs.token_cost_usd(1200, 300, MINI), (1200 * 0.15 + 300 * 0.6) / 1e6)


def test_usage_cost_reads_dicts_and_sdk_objects():
    from openai.types import CompletionUsage

    usage = CompletionUsage(prompt_tokens=55, completion_tokens=39, total_tokens=94)
    assert costs.usage_cost_usd(usage, MINI) == costs.usage_cost_usd(usage.model_dump(), MINI)
    with pytest.raises(ValueError, match="completion_tokens"):
        costs.usage_cost_usd({"prompt_tokens": 3}, MINI)


def test_catalog_prices_agree_with_the_catalogs_own_cost():
    cat = load()
    price = cat.price("openai", "gpt-5.1")
    assert math.isclose(
        costs.token_cost_usd(1000, 500, price), cat.cost_usd("openai", "gpt-5.1", 1000, 500)
    )


def test_hourly_prices_are_refused_by_the_per_token_functions():
    ptu = load().price("azure-openai", "gpt-4o", "provisioned")
    with pytest.raises(ValueError, match="per_ptu_hour"):
        costs.token_cost_usd(1, 1, ptu)
    with pytest.raises(ValueError, match="no price"):
        costs.per_token_price(None)
    with pytest.raises(ValueError):
        costs.token_cost_usd(-1, 0, MINI)


def test_monthly_cost_scales_with_calls_and_days():
    one_day = costs.monthly_token_cost_usd(1000, 100, 50, MINI, days=1)
    assert math.isclose(one_day, 1000 * (100 * 0.15 + 50 * 0.6) / 1e6)
    assert math.isclose(costs.monthly_token_cost_usd(1000, 100, 50, MINI), 30 * one_day)


def test_normalized_tpm_and_ptus_reproduce_microsofts_worked_example():
    # "Determine PTU sizing for a workload": 1,000 RPM, 200 in / 20 out, ratio 8, 3,400 TPM/PTU
    # -> 360,000 normalized TPM -> 105.88 -> 110 PTUs (increment 5); with 50% cache: 80 PTUs.
    norm = costs.normalized_tpm(1000, 200, 20, output_to_input_ratio=8)
    assert norm == 360_000
    assert costs.ptus_required(norm, 3400, minimum=15, increment=5) == 110
    cached = costs.normalized_tpm(1000, 200, 20, 8, cache_rate=0.5)
    assert costs.ptus_required(cached, 3400, minimum=15, increment=5) == 80
    assert costs.ptus_required(10, 3400, minimum=15, increment=5) == 15  # the minimum wins
    assert costs.ptus_required(3400 * 50, 3400, minimum=50, increment=50) == 50  # exact fit
    with pytest.raises(ValueError):
        costs.normalized_tpm(1, 1, 1, 4, cache_rate=1.5)
    with pytest.raises(ValueError):
        costs.ptus_required(1, 0, 15, 5)


def test_ptu_month_is_730_hours():
    assert costs.ptu_monthly_usd(15, 2.0) == 15 * 2.0 * 730


def test_break_even_finds_the_first_point_where_b_is_cheaper():
    per_token = lambda x: 3.0 * x  # noqa: E731
    reserved = lambda x: 300.0  # noqa: E731
    assert math.isclose(costs.break_even(per_token, reserved, 0, 1000), 100, rel_tol=1e-6)
    assert costs.break_even(per_token, reserved, 200, 1000) == 200  # already cheaper
    assert costs.break_even(per_token, reserved, 0, 50) is None  # never within range
