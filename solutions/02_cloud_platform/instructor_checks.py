"""Lab 02's checks: the instructor's only copy (never released; labs/ gets the visible part).

Values that follow from the catalog and the recordings (a break-even on catalog prices, the
recorded latency summary) are goldens, written by ``servelab course goldens 02_cloud_platform``
from the reference solution. Constructed cases carry their expected value beside them, with the
arithmetic. Tables are handed over in an order that differs from the expected answer's, so an
answer that keeps the table's order instead of sorting is caught.
"""

from __future__ import annotations

import math
from datetime import date

import pandas as pd

from servelab.grading.checks import Checks
from servelab.labs.lab02_cloud_platform import load_latency_samples, offers, ptu_sizing
from servelab_base.catalog import SNAPSHOT_DATE, Price, load
from servelab_base.paths import DATASETS

checks = Checks(goldens=DATASETS / "lab02" / "expected.json")
catalog = load()
PRICE_4O = catalog.price("azure-openai", "gpt-4o")  # 2.50 in / 10.00 out USD per million
EU = {"swedencentral", "francecentral"}
# Microsoft's sizing parameters written out, so that a reader can check the arithmetic.
GPT4O = {
    "input_tpm_per_ptu": 2500,
    "output_to_input_ratio": 4,
    "regional_min_ptus": 50,
    "regional_increment": 50,
}
EXAMPLE = {  # Microsoft's worked example ("Determine PTU sizing for a workload")
    "input_tpm_per_ptu": 3400,
    "output_to_input_ratio": 8,
    "regional_min_ptus": 15,
    "regional_increment": 5,
}


def same(got, expected: float) -> bool:
    """A real number (exactly int or float) equal to ``expected`` up to float rounding."""
    return type(got) in (int, float) and math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-9)


def cell(table: pd.DataFrame, key: tuple, column: str) -> float:
    """One number of a returned table (rebuilt here from plain data, so a float64 is fine)."""
    return float(table.loc[key, column])


def price(input_usd: float, output_usd: float) -> Price:
    """A made-up per-token price: the answer must use the price it is given."""
    return Price("per_million_tokens", input_usd, output_usd, None, "constructed", "checks")


def shuffled(table: pd.DataFrame) -> pd.DataFrame:
    """The table's rows in reverse: no answer may rely on the order they come in."""
    return table.iloc[::-1].reset_index(drop=True)


def summary_table(rows: dict) -> pd.DataFrame:
    """A latency summary as exercise 3 returns it, from {(region, type): (p50, p95)}."""
    index = pd.MultiIndex.from_tuples(list(rows), names=["region", "deployment_type"])
    return pd.DataFrame(list(rows.values()), columns=["p50_ms", "p95_ms"], index=index)


# Break-evens on the catalog's prices and Microsoft's sizing: (golden key, arguments).
BREAK_EVENS = {
    "ex1.break_even.gpt-4o.yearly": (1000, 200, "gpt-4o", 221),
}


def break_even(who, key: str, max_rpm: int | None = None):
    prompt, completion, model, per_ptu = BREAK_EVENS[key]
    args = (prompt, completion, catalog.price("azure-openai", model), ptu_sizing(model), per_ptu)
    return who.break_even_rpm(*args) if max_rpm is None else who.break_even_rpm(*args, max_rpm)


# BEGIN HIDDEN CHECKS
BREAK_EVENS |= {
    "ex1.break_even.gpt-4o.monthly": (1000, 200, "gpt-4o", 260),
    "ex1.break_even.gpt-4o.hourly": (1000, 200, "gpt-4o", 1460),
    "ex1.break_even.gpt-4.1-mini.yearly": (3000, 300, "gpt-4.1-mini", 221),
    "ex1.break_even.gpt-5.1.yearly": (500, 400, "gpt-5.1", 221),
}
PICKS = {  # pick() on the recorded summary: (golden key, regions, budget)
    "ex3.pick.all.400": (["eastus2", "francecentral", "swedencentral", "uksouth"], 400),
    "ex3.pick.eu.300": (sorted(EU), 300),
    "ex3.pick.france.2000": (["francecentral"], 2000),
    "ex3.pick.eu.500": (sorted(EU), 500),
}


@checks.cases
def cases(solution) -> dict:
    """Goldens: break-evens on catalog prices and the recorded latency summary."""
    summary = solution.latency_summary(load_latency_samples())
    sweden = summary.loc[("swedencentral", "serverless")]
    visible = {
        "ex1.break_even.gpt-4o.yearly": break_even(solution, "ex1.break_even.gpt-4o.yearly"),
        "ex3.swedencentral.serverless.p50_ms": float(sweden.p50_ms),
        "ex3.swedencentral.serverless.p95_ms": float(sweden.p95_ms),
    }
    hidden = {key: break_even(solution, key) for key in BREAK_EVENS if key not in visible}
    hidden["ex3.summary"] = summary
    hidden |= {
        key: solution.pick(summary, set(regions), budget)
        for key, (regions, budget) in PICKS.items()
    }
    return {"visible": visible, "hidden": hidden}


# END HIDDEN CHECKS

# Exercise 1: pay per token, or reserve PTUs? --------------------------------------------------


@checks.visible("ex1_tests")
def never_below_the_minimum(learner):
    "PTUs never below the regional minimum"
    got = learner.ptus_needed(10, 1000, 200, GPT4O)
    # 10 x 1000 + 4 x 10 x 200 = 18,000 TPM / 2,500 = 7.2 -> one block of 50, the minimum
    assert got == 50, f"{got!r}: never below regional_min_ptus (50 for gpt-4o)"


@checks.visible("ex1_tests")
def rounded_up_to_the_increment(learner):
    "PTUs rounded up to the increment"
    got = learner.ptus_needed(100, 1000, 200, GPT4O)
    # 100 x 1000 + 4 x 100 x 200 = 180,000 TPM / 2,500 = 72 PTUs -> up to 100 (increment 50)
    assert got == 100, f"{got!r}: 180,000 normalized TPM / 2,500 = 72, rounded UP to 100"


@checks.visible("ex1_tests")
def a_month_of_serverless(learner):
    "a month of serverless calls"
    got = learner.monthly_serverless_usd(1, 1000, 200, PRICE_4O)
    # 1 call a minute x 60 x 730 h = 43,800 calls x (1000 x 2.5 + 200 x 10) / 1e6 = 0.0045 USD
    assert same(got, 43_800 * 0.0045), f"{got!r}: calls in a month x the cost of one call"


@checks.visible("ex1_tests")
def a_month_of_reserved_ptus(learner):
    "a month of reserved PTUs"
    got = learner.monthly_provisioned_usd(100, 1000, 200, GPT4O, 221)
    assert same(got, 100 * 221), f"{got!r}: 100 PTUs for the peak x 221 USD per PTU-month"


@checks.visible("ex1_tests")
def break_even_of_a_yearly_reservation(learner):
    "the break-even of gpt-4o on a yearly reservation"
    got = break_even(learner, "ex1.break_even.gpt-4o.yearly")
    expected = checks.golden("ex1.break_even.gpt-4o.yearly")
    assert got == expected, f"{got!r} requests per minute"


# BEGIN HIDDEN CHECKS
@checks.hidden("ex1_tests")
def an_exact_fit_is_not_rounded_up(learner):
    "a need that is already a whole number of blocks stays as it is"
    exact = {**EXAMPLE, "regional_min_ptus": 50, "regional_increment": 50}
    assert learner.ptus_needed(340.0, 1000, 0, exact) == 100  # 340,000 / 3,400 = 100 exactly
    assert learner.ptus_needed(170.0, 1000, 0, exact) == 50  # 170,000 / 3,400 = 50 exactly


@checks.hidden("ex1_tests")
def output_tokens_weigh_by_the_ratio(learner):
    "output tokens count output_to_input_ratio times"
    # Microsoft's example: 1000 x 200 + 8 x 1000 x 20 = 360,000 / 3,400 = 105.9 -> 110
    assert learner.ptus_needed(1000, 200, 20, EXAMPLE) == 110
    # ratio 4: 200,000 + 80,000 = 280,000 / 3,400 = 82.4 -> 85
    assert learner.ptus_needed(1000, 200, 20, {**EXAMPLE, "output_to_input_ratio": 4}) == 85
    # input only: 200,000 / 3,400 = 58.8 -> 60
    assert learner.ptus_needed(1000, 200, 0, EXAMPLE) == 60


@checks.hidden("ex1_tests")
def minimum_and_increment_of_the_sizing_given(learner):
    "the minimum and increment are the sizing's own"
    assert learner.ptus_needed(1, 1000, 200, EXAMPLE) == 15  # 1,800 / 3,400 -> the minimum 15
    assert learner.ptus_needed(140, 1000, 200, GPT4O) == 150  # 252,000 / 2,500 = 100.8 -> 150
    assert learner.ptus_needed(500, 1000, 200, GPT4O) == 400  # 900,000 / 2,500 = 360 -> 400
    mini = {**GPT4O, "input_tpm_per_ptu": 14900, "regional_min_ptus": 25, "regional_increment": 25}
    assert learner.ptus_needed(1, 10, 10, mini) == 25
    assert learner.ptus_needed(500, 3000, 300, mini) == 150  # 2,100,000 / 14,900 = 140.9 -> 150


@checks.hidden("ex1_tests")
def no_traffic_still_pays_the_minimum(learner):
    "no traffic at all: still the minimum"
    assert learner.ptus_needed(0, 1000, 200, GPT4O) == 50


@checks.hidden("ex1_tests")
def ptus_are_a_whole_number(learner):
    "the number of PTUs is an int"
    got = learner.ptus_needed(3400 * 50 / 1000, 1000, 0, EXAMPLE)  # a float rate
    assert type(got) is int and got == 50, got


@checks.hidden("ex1_tests")
def serverless_at_the_price_given(learner):
    "serverless at any price and rate; input and output priced apart"
    # 2 a minute x 60 x 730 = 87,600 calls x (1000 x 3 + 100 x 7) / 1e6 = 0.0037 USD
    assert same(learner.monthly_serverless_usd(2, 1000, 100, price(3.0, 7.0)), 87_600 * 0.0037)
    # output only: 43,800 calls x 1000 x 7 / 1e6 = 0.007 USD
    assert same(learner.monthly_serverless_usd(1, 0, 1000, price(3.0, 7.0)), 43_800 * 0.007)
    # a fractional rate: 0.5 a minute -> 21,900 calls x 0.0045 USD
    assert same(learner.monthly_serverless_usd(0.5, 1000, 200, PRICE_4O), 21_900 * 0.0045)


@checks.hidden("ex1_tests")
def provisioned_for_the_peak_at_the_price_given(learner):
    "reserved PTUs for the peak, at the price per PTU given"
    assert same(learner.monthly_provisioned_usd(500, 1000, 200, GPT4O, 260), 400 * 260)
    assert same(learner.monthly_provisioned_usd(10, 1000, 200, GPT4O, 1460), 50 * 1460)
    assert same(learner.monthly_provisioned_usd(1000, 200, 20, EXAMPLE, 221.5), 110 * 221.5)


@checks.hidden("ex1_tests")
def break_evens_on_the_catalog(learner):
    "break-evens of other models and terms"
    for key in (
        "ex1.break_even.gpt-4o.monthly",
        "ex1.break_even.gpt-4.1-mini.yearly",
        "ex1.break_even.gpt-5.1.yearly",
    ):
        assert break_even(learner, key) == checks.golden(key), key


@checks.hidden("ex1_tests")
def never_pays_off(learner):
    "a price at which reserving never pays off"
    # each PTU block costs more than the calls it serves: None at any max_rpm (5,000 is quicker)
    assert break_even(learner, "ex1.break_even.gpt-4o.hourly", 5_000) is None


# Serverless and provisioned cost exactly the same at 10 requests a minute (all exact in binary):
# serverless 10 x 60 x 730 x (1,000,000 x 0.25 / 1e6) = 109,500; provisioned 4 PTUs x 27,375.
EVEN = (
    1_000_000,
    0,
    price(0.25, 1.0),
    {**GPT4O, "input_tpm_per_ptu": 10**12, "regional_min_ptus": 4, "regional_increment": 4},
    27_375,
)


@checks.hidden("ex1_tests")
def costs_no_more_than_includes_equal(learner):
    '"costs no more than" includes costing exactly the same'
    assert learner.break_even_rpm(*EVEN) == 10


@checks.hidden("ex1_tests")
def searches_up_to_max_rpm_included(learner):
    "the search goes up to max_rpm, included"
    assert learner.break_even_rpm(*EVEN, 10) == 10
    assert learner.break_even_rpm(*EVEN, 9) is None
    at = checks.golden("ex1.break_even.gpt-4o.yearly")
    assert break_even(learner, "ex1.break_even.gpt-4o.yearly", at) == at
    assert break_even(learner, "ex1.break_even.gpt-4o.yearly", at - 1) is None


@checks.hidden("ex1_tests")
def the_search_starts_at_one_request_a_minute(learner):
    "the smallest rate there is: one request a minute"
    free = (*EVEN[:4], 0)  # reserved capacity at no cost pays off at once: 0 <= 43,800 x 0.25
    assert learner.break_even_rpm(*free) == 1


@checks.hidden("ex1_tests")
def break_even_is_a_whole_number(learner):
    "the break-even is an int"
    assert type(break_even(learner, "ex1.break_even.gpt-4o.monthly")) is int


# END HIDDEN CHECKS

# Exercise 2: where may it run, and since when? --------------------------------------------------


@checks.visible("ex2_tests")
def eligible_today_in_the_eu(learner):
    "EU deployments of a model today"
    got = learner.eligible(offers(), "gpt-5.1", {"EU"}, SNAPSHOT_DATE)
    assert got == [["swedencentral", "gpt-5.1"]], f"{got}: gpt-5.1 is in Sweden Central only"
    got = learner.eligible(offers(), "gpt-4o-mini", {"EU"}, SNAPSHOT_DATE, "serverless")
    assert got == [["swedencentral", "gpt-4o-mini"]], (
        f"{got}: France Central gets gpt-4o-mini serverless only in 2027"
    )


@checks.visible("ex2_tests")
def first_arrival_in_the_eu(learner):
    "where a model arrived first in the EU"
    got = learner.first_arrival(offers(), "gpt-5.1", {"EU"})
    assert got == ["swedencentral", date(2025, 11, 13)], f"{got}: (region, date) of the earliest"


# BEGIN HIDDEN CHECKS
@checks.hidden("ex2_tests")
def eligible_sorted_whatever_the_table_order(learner):
    "several deployments come back sorted, whatever order the table is in"
    o = shuffled(offers())
    got = learner.eligible(o, "gpt-4.1", {"EU"}, date(2027, 3, 1), "serverless")
    assert got == [["francecentral", "gpt-4.1"], ["swedencentral", "gpt-4.1"]]
    got = learner.eligible(o, "gpt-4o-mini", {"EU"}, SNAPSHOT_DATE)
    assert got == [  # sorted by region, then by deployment name
        ["francecentral", "gpt-4o-mini-ptu"],
        ["swedencentral", "gpt-4o-mini"],
        ["swedencentral", "gpt-4o-mini-ptu"],
    ]


@checks.hidden("ex2_tests")
def available_on_the_day_it_arrives(learner):
    "available on the day it arrives, not the day before"
    o = shuffled(offers())  # gpt-5.1 serverless reaches UK South on 2027-03-15
    assert learner.eligible(o, "gpt-5.1", {"UK"}, date(2027, 3, 15), "serverless") == [
        ["uksouth", "gpt-5.1"]
    ]
    assert learner.eligible(o, "gpt-5.1", {"UK"}, date(2027, 3, 14), "serverless") == []


@checks.hidden("ex2_tests")
def any_type_unless_one_is_given(learner):
    "any deployment type when none is given; only that type when one is"
    o = shuffled(offers())
    assert learner.eligible(o, "gpt-5.1", {"EU", "UK"}, SNAPSHOT_DATE) == [
        ["swedencentral", "gpt-5.1"],
        ["uksouth", "gpt-5.1-ptu"],
    ]
    assert learner.eligible(o, "gpt-5.1", {"EU", "UK"}, SNAPSHOT_DATE, "provisioned") == [
        ["uksouth", "gpt-5.1-ptu"]
    ]
    assert learner.eligible(o, "gpt-5.1", {"EU"}, SNAPSHOT_DATE, "provisioned") == []


@checks.hidden("ex2_tests")
def only_the_jurisdictions_given(learner):
    "only regions in the jurisdictions given (the UK is not in the EU)"
    o = shuffled(offers())
    assert learner.eligible(o, "gpt-4.1-mini", {"UK"}, SNAPSHOT_DATE) == [
        ["uksouth", "gpt-4.1-mini"],
        ["uksouth", "gpt-4.1-mini-ptu"],
    ]
    assert learner.eligible(o, "smollm2-135m-instruct", {"US"}, SNAPSHOT_DATE) == [
        ["eastus2", "smollm2-135m-instruct"]
    ]


@checks.hidden("ex2_tests")
def only_the_model_given(learner):
    "only the model asked for, not one whose name starts the same"
    o = shuffled(offers())
    assert learner.eligible(o, "gpt-4o", {"EU"}, SNAPSHOT_DATE, "provisioned") == [
        ["swedencentral", "gpt-4o-ptu"]
    ]
    assert learner.eligible(o, "gpt-9", {"EU", "UK", "US"}, SNAPSHOT_DATE) == []


@checks.hidden("ex2_tests")
def first_arrival_is_the_earliest_date(learner):
    "first arrival is the earliest date, not the first row or the first region by name"
    o = shuffled(offers())
    # France Central sorts first but gets gpt-4o-mini serverless only on 2027-01-15
    assert learner.first_arrival(o, "gpt-4o-mini", {"EU"}) == ["swedencentral", date(2024, 7, 18)]
    assert learner.first_arrival(o, "gpt-4.1", {"EU"}) == ["swedencentral", date(2025, 4, 14)]


@checks.hidden("ex2_tests")
def first_arrival_ties_go_to_the_first_region_by_name(learner):
    "a tie on the date goes to the region that sorts first"
    o = shuffled(offers())  # France, Sweden and UK South all since 2024-07-18
    got = learner.first_arrival(o, "gpt-4o-mini", {"EU", "UK"}, "provisioned")
    assert got == ["francecentral", date(2024, 7, 18)]
    toy = pd.DataFrame(
        {
            "region": ["zeta", "alpha", "aaa"],
            "jurisdiction": ["EU", "EU", "EU"],
            "model": ["m", "m", "m"],
            "deployment_type": ["serverless"] * 3,
            "deployment": ["m", "m", "m"],
            "available_from": [date(2025, 1, 1), date(2025, 1, 1), date(2025, 6, 1)],
        }
    )
    assert learner.first_arrival(toy, "m", {"EU"}) == ["alpha", date(2025, 1, 1)]


@checks.hidden("ex2_tests")
def first_arrival_includes_future_dates(learner):
    "an arrival still to come counts"
    got = learner.first_arrival(shuffled(offers()), "gpt-5.1", {"UK"})
    assert got == ["uksouth", date(2027, 3, 15)]


@checks.hidden("ex2_tests")
def first_arrival_of_the_type_given(learner):
    "serverless unless another type is given"
    o = shuffled(offers())  # UK South: gpt-5.1 provisioned since 2025, serverless from 2027
    assert learner.first_arrival(o, "gpt-5.1", {"UK"}, "provisioned") == [
        "uksouth",
        date(2025, 11, 13),
    ]
    assert learner.first_arrival(o, "gpt-5.1", {"UK"}, "serverless") == [
        "uksouth",
        date(2027, 3, 15),
    ]


@checks.hidden("ex2_tests")
def first_arrival_none_when_not_offered(learner):
    "None when the model is not offered there"
    o = shuffled(offers())
    assert learner.first_arrival(o, "gpt-5.1", {"EU"}, "provisioned") is None
    assert learner.first_arrival(o, "gpt-4o", {"UK", "EU"}, "managed-compute") is None


# END HIDDEN CHECKS

# Exercise 3: choose by the tail -------------------------------------------------------------------


@checks.visible("ex3_tests")
def summary_of_the_recording(learner):
    "p50 and p95 of TTFT per region and deployment type"
    got = learner.latency_summary(load_latency_samples())
    assert type(got) is pd.DataFrame, f"return a DataFrame, not {type(got).__name__}"
    names = list(got.index.names)
    assert names == ["region", "deployment_type"], f"index levels {names}"
    for column in ("p50_ms", "p95_ms"):
        value = cell(got, ("swedencentral", "serverless"), column)
        expected = checks.golden(f"ex3.swedencentral.serverless.{column}")
        assert same(value, expected), f"Sweden Central serverless {column} = {value!r}"


@checks.visible("ex3_tests")
def pick_the_lowest_tail_within_budget(learner):
    "the lowest p95 within the budget, among the regions allowed"
    toy = summary_table(
        {
            ("a", "provisioned"): (90.0, 250.0),
            ("a", "serverless"): (100.0, 300.0),
            ("b", "provisioned"): (80.0, 260.0),
        }
    )
    got = learner.pick(toy, {"a", "b"}, 280)
    assert got == ["a", "provisioned"], f"{got}: lowest p95 (250 ms) within 280 ms"


# BEGIN HIDDEN CHECKS
@checks.hidden("ex3_tests")
def summary_of_every_group(learner):
    "every region and deployment type of the recording"
    got = learner.latency_summary(shuffled(load_latency_samples()))
    expected = checks.golden("ex3.summary")
    assert len(got) == len(expected)
    for key, row in expected.iterrows():
        for column in ("p50_ms", "p95_ms"):
            assert same(cell(got, key, column), float(row[column])), (key, column)


@checks.hidden("ex3_tests")
def quantiles_interpolate_linearly(learner):
    "percentiles interpolate between samples (pandas' default)"
    samples = pd.DataFrame(
        {
            "region": ["r", "s", "r", "r", "s", "r", "r"],
            "deployment_type": ["serverless"] * 7,
            "ttft_ms": [400.0, 20.0, 100.0, 1000.0, 10.0, 300.0, 200.0],
            "e2e_ms": [9999.0] * 7,
        }
    )
    got = learner.latency_summary(samples)
    # r: 100, 200, 300, 400, 1000 -> p50 300; p95 at position 3.8: 400 + 0.8 x 600 = 880
    assert same(cell(got, ("r", "serverless"), "p50_ms"), 300.0)
    assert same(cell(got, ("r", "serverless"), "p95_ms"), 880.0)
    # s: 10, 20 -> p50 15; p95 at position 0.95: 10 + 0.95 x 10 = 19.5
    assert same(cell(got, ("s", "serverless"), "p50_ms"), 15.0)
    assert same(cell(got, ("s", "serverless"), "p95_ms"), 19.5)


@checks.hidden("ex3_tests")
def pick_on_the_recording(learner):
    "choices on the recorded summary"
    summary = checks.golden("ex3.summary")
    for key, (regions, budget) in PICKS.items():
        expected = checks.golden(key)
        assert learner.pick(summary, set(regions), budget) == expected, key


@checks.hidden("ex3_tests")
def the_budget_is_inclusive(learner):
    "a p95 exactly at the budget qualifies"
    toy = summary_table({("a", "serverless"): (100.0, 300.0), ("b", "provisioned"): (80.0, 260.0)})
    assert learner.pick(toy, {"b"}, 260) == ["b", "provisioned"]
    assert learner.pick(toy, {"b"}, 259.9) is None


@checks.hidden("ex3_tests")
def only_the_regions_given(learner):
    "only the regions allowed, even when another is better"
    toy = summary_table(
        {
            ("a", "provisioned"): (90.0, 250.0),
            ("a", "serverless"): (100.0, 300.0),
            ("b", "provisioned"): (80.0, 260.0),
        }
    )
    assert learner.pick(toy, {"b"}, 1000) == ["b", "provisioned"]
    assert learner.pick(toy, {"c"}, 1000) is None


@checks.hidden("ex3_tests")
def chosen_by_the_tail_not_the_median(learner):
    "the lowest p95 wins, not the lowest p50"
    toy = summary_table({("a", "serverless"): (50.0, 400.0), ("b", "provisioned"): (90.0, 200.0)})
    assert learner.pick(toy, {"a", "b"}, 500) == ["b", "provisioned"]


@checks.hidden("ex3_tests")
def nothing_within_budget(learner):
    "None when nothing is within the budget"
    toy = summary_table({("a", "serverless"): (100.0, 300.0), ("b", "provisioned"): (80.0, 260.0)})
    assert learner.pick(toy, {"a", "b"}, 100) is None


@checks.hidden("ex3_tests")
def ties_go_to_the_pair_that_sorts_first(learner):
    "a tie on p95 goes to the pair that sorts first"
    toy = summary_table(
        {
            ("b", "provisioned"): (80.0, 250.0),
            ("a", "serverless"): (100.0, 250.0),
            ("a", "provisioned"): (90.0, 250.0),
        }
    )
    assert learner.pick(toy, {"a", "b"}, 300) == ["a", "provisioned"]


# END HIDDEN CHECKS
