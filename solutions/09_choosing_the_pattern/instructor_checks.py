"""Lab 09's checks: the instructor's only copy (never released; labs/ gets the visible part).

Expected values that follow from the lab's data (the decision matrix, the cases, the path
table) are goldens (``servelab course goldens 09_choosing_the_pattern``); constructed cases carry
their expected value beside the case, with the arithmetic in a comment.
"""

from __future__ import annotations

import pandas as pd

from servelab.grading.checks import Checks, close, raises
from servelab.labs.lab09_decision import load_cases, load_paths, load_scores
from servelab_base.paths import DATASETS

checks = Checks(goldens=DATASETS / "lab09" / "expected.json")


def rows() -> dict[str, dict]:
    """Each path of ``paths.csv`` as a dict (what the exercises call ``path``)."""
    return {p: r.to_dict() for p, r in load_paths().iterrows()}


def batch_workload() -> dict:
    """The document batch with its deadline (what the notebook prices the batch tiers with)."""
    case = load_cases()["document-batch"]
    return {**case["workload"], "deadline_h": case["deadline_h"]}


def ranking(result) -> list[list]:
    """A learner's ``weighted_scores`` result as [[pattern, score], ...], highest first."""
    assert type(result) is pd.Series, (
        f"return a pandas Series indexed by pattern, not {type(result).__name__}"
    )
    return [list(pair) for pair in zip(result.index.tolist(), result.tolist(), strict=True)]


def fastest_first(got, expected: list[list]) -> bool:
    """``got`` lists exactly the expected paths, in non-decreasing budget; ties in any order."""
    budget = dict(expected)
    return (
        type(got) is list
        and sorted(got) == sorted(budget)
        and [budget[p] for p in got] == sorted(budget.values())
    )


# BEGIN HIDDEN CHECKS
def same_ranking(got: list[list], expected: list[list], exact_ties: bool = True) -> bool:
    """Same patterns in the same order, each score within 1e-9 of the expected one.

    With ``exact_ties=False``, patterns whose expected scores are within 1e-9 of each other
    may come in either order: on the course's scores a tie computed in another (equally
    right) order of arithmetic can differ in the last bit. The tie rule itself is checked on
    constructed tables whose ties are exact whatever the order of the arithmetic.
    """
    score = dict(expected)
    if sorted(p for p, _ in got) != sorted(score) or len(got) != len(expected):
        return False
    if not all(close(s, score[p]) for p, s in got):
        return False
    if exact_ties:
        return [p for p, _ in got] == [p for p, _ in expected]
    order = [score[p] for p, _ in got]
    return all(a >= b - 1e-9 for a, b in zip(order, order[1:], strict=False))


#: Weightings the learner never sees (every weight a multiple of 0.5, so ties are exact).
OTHER_WEIGHTINGS = [
    {
        "latency": 1.5,
        "cost_at_scale": 2,
        "residency": 1,
        "capability": 1,
        "operations": 0.5,
        "offline": 0.5,
    },
    {
        "latency": 4,
        "cost_at_scale": 3,
        "residency": 0,
        "capability": 1,
        "operations": 2,
        "offline": 1.5,
    },
    {
        "latency": 2,
        "cost_at_scale": 0,
        "residency": 1,
        "capability": 2,
        "operations": 2,
        "offline": 3,
    },
    {
        "latency": 0,
        "cost_at_scale": 3,
        "residency": 1.5,
        "capability": 0.5,
        "operations": 3,
        "offline": 1.5,
    },
    {
        "latency": 3,
        "cost_at_scale": 1.5,
        "residency": 0.5,
        "capability": 0.5,
        "operations": 0.5,
        "offline": 0,
    },
    {
        "latency": 0,
        "cost_at_scale": 0.5,
        "residency": 2,
        "capability": 4,
        "operations": 2,
        "offline": 0,
    },
    {"residency": 1},
]
#: Cases on the course's scores that the learner never sees.
OTHER_CASES = [
    {"weights": {"capability": 1, "residency": 1}, "must": {"residency": 4}},
    {"weights": {"latency": 1, "cost_at_scale": 2}, "must": {"capability": 3, "operations": 2}},
    {"weights": {"capability": 2, "latency": 1}, "must": {"offline": 5, "capability": 2}},
    {"weights": {"operations": 1}},
]
HR_PATHS = ["managed-frontier", "cloud-eu", "selfhosted-batch-h100-block", "edge-device"]


def ranking_of(solution, weights: dict) -> list[list]:
    return ranking(solution.weighted_scores(load_scores(), weights))


def within_of(solution, slo: dict) -> list[list]:
    """Paths within ``slo`` with their budgets, from the reference solution."""
    inside = solution.paths_within(load_paths(), slo["e2e_ms"], slo["answer_tokens"])
    return [[p, solution.e2e_budget_ms(rows()[p], slo["answer_tokens"])] for p in inside]


@checks.cases
def cases(solution) -> dict:
    """Goldens: rankings, recommendations, costs and budgets that follow from the lab's data."""
    scores, cases, row = load_scores(), load_cases(), rows()
    batch = cases["document-batch"]["workload"]
    hr = cases["hr-assistant"]["workload"]
    visible = {
        "ex1.chatbot.ranking": ranking_of(solution, cases["consumer-chatbot"]["weights"]),
        "ex1.recommend.hr-assistant": solution.recommend(scores, cases["hr-assistant"]),
        "ex1.recommend.mobile-offline": solution.recommend(scores, cases["mobile-offline"]),
        "ex2.batch.managed-frontier": solution.path_cost(batch, row["managed-frontier"]),
        "ex2.batch.selfhosted-batch-h100": solution.path_cost(batch, row["selfhosted-batch-h100"]),
        "ex2.batch.managed-mini-batch": solution.path_cost(
            batch_workload(), row["managed-mini-batch"]
        ),
        "ex2.batch.gpus_72h": solution.gpus_for_deadline(
            batch["requests"], batch["output_tokens"], 5777, 72
        ),
        "ex3.budget.managed-frontier.150": solution.e2e_budget_ms(row["managed-frontier"], 150),
        "ex3.budget.edge-device.1": solution.e2e_budget_ms(row["edge-device"], 1),
        "ex3.within.consumer-chatbot": within_of(solution, cases["consumer-chatbot"]["slo"]),
    }
    hidden = {
        "ex1.other_weightings": [ranking_of(solution, w) for w in OTHER_WEIGHTINGS],
        "ex1.other_cases": [solution.recommend(scores, c) for c in OTHER_CASES],
        "ex1.recommend.document-batch": solution.recommend(scores, cases["document-batch"]),
        "ex1.recommend.consumer-chatbot": solution.recommend(scores, cases["consumer-chatbot"]),
        "ex2.hr": {p: solution.path_cost(hr, row[p]) for p in HR_PATHS},
        "ex2.batch.cloud-global-batch": solution.path_cost(
            batch_workload(), row["cloud-global-batch"]
        ),
        "ex2.batch.gpus_24h": solution.gpus_for_deadline(
            batch["requests"], batch["output_tokens"], 5777, 24
        ),
        "ex3.budget.cloud-eu.150": solution.e2e_budget_ms(load_paths().loc["cloud-eu"], 150),
        "ex3.within.mobile-offline": within_of(solution, cases["mobile-offline"]["slo"]),
    }
    return {"visible": visible, "hidden": hidden}


# END HIDDEN CHECKS

# Exercise 1: a weighted decision matrix with knock-outs ---------------------------------------


@checks.visible("ex1_tests")
def weighted_scores_is_a_series_of_every_pattern(learner):
    "weighted_scores returns a pandas Series with one score per pattern"
    got = ranking(learner.weighted_scores(load_scores(), load_cases()["hr-assistant"]["weights"]))
    assert sorted(p for p, _ in got) == sorted(load_scores().index), (
        f"index {[p for p, _ in got]}: one entry per pattern (the index of scores)"
    )


@checks.visible("ex1_tests")
def weighted_scores_ranks_the_chatbot_case(learner):
    "the consumer chatbot's ranking: highest first, ties by pattern name"
    got = ranking(
        learner.weighted_scores(load_scores(), load_cases()["consumer-chatbot"]["weights"])
    )
    expected = checks.golden("ex1.chatbot.ranking")
    assert [p for p, _ in got] == [p for p, _ in expected], [p for p, _ in got]


@checks.visible("ex1_tests")
def weighted_scores_is_a_weighted_mean(learner):
    "the consumer chatbot's scores are weighted means"
    got = ranking(
        learner.weighted_scores(load_scores(), load_cases()["consumer-chatbot"]["weights"])
    )
    expected = dict(checks.golden("ex1.chatbot.ranking"))
    wrong = {p: s for p, s in got if not close(s, expected.get(p, float("nan")))}
    assert not wrong, f"{wrong}: a weighted MEAN, divided by the sum of the weights"


@checks.visible("ex1_tests")
def recommend_the_hr_assistant(learner):
    "recommend: the HR assistant (a residency knock-out)"
    got = learner.recommend(load_scores(), load_cases()["hr-assistant"])
    assert got == checks.golden("ex1.recommend.hr-assistant"), got


@checks.visible("ex1_tests")
def recommend_the_mobile_feature(learner):
    "recommend: the offline mobile feature"
    got = learner.recommend(load_scores(), load_cases()["mobile-offline"])
    assert got == checks.golden("ex1.recommend.mobile-offline"), got


@checks.visible("ex1_tests")
def a_negative_weight_is_refused(learner):
    "a negative weight raises ValueError"
    with raises("ValueError"):
        learner.weighted_scores(load_scores(), {"latency": -1, "capability": 2})


@checks.visible("ex1_tests")
def all_zero_weights_are_refused(learner):
    "weights that are all zero raise ValueError"
    with raises("ValueError"):
        learner.weighted_scores(load_scores(), {"latency": 0})


@checks.visible("ex1_tests")
def an_unknown_criterion_is_refused(learner):
    "a criterion that is not a column raises ValueError"
    with raises("ValueError"):
        learner.weighted_scores(load_scores(), {"latncy": 1, "capability": 1})


# BEGIN HIDDEN CHECKS
#: Constructed decision matrix for the hidden checks; the table's row order is neither the
#: alphabetical order nor the order of any ranking below.
TOY = pd.DataFrame(
    {"quality": [5, 3, 4, 2], "price": [1, 4, 3, 5], "local": [1, 3, 2, 5]},
    index=pd.Index(["delta", "alpha", "charlie", "bravo"], name="pattern"),
)


@checks.hidden("ex1_tests", weight=2)
def weighted_scores_ranks_other_weightings(learner):
    "rankings under other weightings of the course's scores"
    for weights, expected in zip(
        OTHER_WEIGHTINGS, checks.golden("ex1.other_weightings"), strict=True
    ):
        got = ranking(learner.weighted_scores(load_scores(), weights))
        assert same_ranking(got, expected, exact_ties=False), weights


@checks.hidden("ex1_tests")
def weighted_scores_order_differs_from_the_table(learner):
    "the ranking sorts by score, whatever the order of the table's rows"
    got = ranking(learner.weighted_scores(TOY, {"quality": 1, "price": 1, "local": 2}))
    # delta (5+1+2)/4 = 2.0, alpha (3+4+6)/4 = 3.25, charlie (4+3+4)/4 = 2.75, bravo (2+5+10)/4
    # = 4.25
    expected = [["bravo", 4.25], ["alpha", 3.25], ["charlie", 2.75], ["delta", 2.0]]
    assert same_ranking(got, expected)


@checks.hidden("ex1_tests")
def weighted_scores_breaks_ties_by_name(learner):
    "equal scores are ranked by pattern name"
    got = ranking(learner.weighted_scores(TOY, {"quality": 1, "price": 1}))
    # delta (5+1)/2 = 3.0; alpha, charlie, bravo (3+4)/2 = (4+3)/2 = (2+5)/2 = 3.5
    expected = [["alpha", 3.5], ["bravo", 3.5], ["charlie", 3.5], ["delta", 3.0]]
    assert same_ranking(got, expected)


@checks.hidden("ex1_tests")
def a_criterion_left_out_or_at_zero_weighs_nothing(learner):
    "a criterion left out, or weighted 0, does not count"
    # only price counts: bravo 5, alpha 4, charlie 3, delta 1
    expected = [["bravo", 5.0], ["alpha", 4.0], ["charlie", 3.0], ["delta", 1.0]]
    assert same_ranking(ranking(learner.weighted_scores(TOY, {"price": 3})), expected)
    assert same_ranking(
        ranking(learner.weighted_scores(TOY, {"price": 2, "quality": 0, "local": 0})), expected
    )


@checks.hidden("ex1_tests")
def only_the_weights_ratio_matters(learner):
    "weights are relative: 1:3 and 0.5:1.5 rank and score the same"
    # (quality + 3 local) / 4: delta 2.0, alpha 3.0, charlie 2.5, bravo 4.25
    expected = [["bravo", 4.25], ["alpha", 3.0], ["charlie", 2.5], ["delta", 2.0]]
    for weights in ({"quality": 1, "local": 3}, {"local": 1.5, "quality": 0.5}):
        assert same_ranking(ranking(learner.weighted_scores(TOY, weights)), expected), weights


@checks.hidden("ex1_tests")
def weighted_scores_refuses_bad_weights_of_another_table(learner):
    "bad weights are refused on any table"
    for bad in ({"price": 2, "local": -0.5}, {"quality": 0, "price": 0}, {"taste": 1}):
        with raises("ValueError"):
            learner.weighted_scores(TOY, bad)


@checks.hidden("ex1_tests")
def recommend_the_other_reference_cases(learner):
    "recommend: the document batch and the consumer chatbot"
    cases = load_cases()
    for name in ("document-batch", "consumer-chatbot"):
        got = learner.recommend(load_scores(), cases[name])
        assert got == checks.golden(f"ex1.recommend.{name}"), name


@checks.hidden("ex1_tests", weight=2)
def recommend_other_cases_on_the_course_scores(learner):
    "recommend: other cases on the course's scores"
    for case, expected in zip(OTHER_CASES, checks.golden("ex1.other_cases"), strict=True):
        assert learner.recommend(load_scores(), case) == expected, case


@checks.hidden("ex1_tests")
def a_minimum_met_exactly_survives(learner):
    "a pattern exactly at a minimum survives the knock-out"
    # local >= 3 keeps alpha (3, exactly) and bravo (5); quality: alpha 3 > bravo 2
    case = {"weights": {"quality": 1}, "must": {"local": 3}}
    assert learner.recommend(TOY, case) == "alpha"


@checks.hidden("ex1_tests")
def a_knock_out_beats_the_weights(learner):
    "the best weighted pattern is out when it misses a minimum"
    # delta has the best quality (5) but local 1 < 2; then charlie (4)
    assert learner.recommend(TOY, {"weights": {"quality": 1}, "must": {"local": 2}}) == "charlie"


@checks.hidden("ex1_tests")
def every_minimum_must_hold(learner):
    "a pattern must meet every minimum of the case"
    table = pd.DataFrame(
        {"quality": [5, 1, 3], "price": [1, 5, 3], "local": [5, 4, 1]},
        index=pd.Index(["x", "y", "z"], name="pattern"),
    )
    # quality >= 3 and price >= 3 leaves z only (x fails price, y fails quality)
    case = {"weights": {"local": 1}, "must": {"quality": 3, "price": 3}}
    assert learner.recommend(table, case) == "z"


@checks.hidden("ex1_tests")
def no_survivor_gives_none(learner):
    "no pattern survives the knock-outs: None"
    # local >= 6: nobody; quality >= 5 and local >= 5: delta has one, bravo the other
    for must in ({"local": 6}, {"quality": 5, "local": 5}):
        assert learner.recommend(TOY, {"weights": {"quality": 1}, "must": must}) is None, must


@checks.hidden("ex1_tests")
def a_case_without_knock_outs(learner):
    "a case without minimums ranks every pattern"
    # price alone: bravo 5 is the best
    assert learner.recommend(TOY, {"weights": {"price": 1}}) == "bravo"
    assert learner.recommend(TOY, {"weights": {"price": 1}, "must": {}}) == "bravo"


@checks.hidden("ex1_tests")
def recommend_follows_the_case_weights(learner):
    "recommend follows each case's weights"
    assert learner.recommend(TOY, {"weights": {"quality": 1}}) == "delta"  # quality 5
    assert learner.recommend(TOY, {"weights": {"local": 2, "price": 1}}) == "bravo"  # 5, 5
    # quality + price: alpha, bravo and charlie tie at 3.5: the first by name
    assert learner.recommend(TOY, {"weights": {"quality": 1, "price": 1}}) == "alpha"


@checks.hidden("ex1_tests")
def a_tie_at_the_top_goes_to_the_first_name(learner):
    "a tie at the top goes to the first pattern by name"
    table = pd.DataFrame(
        {"taste": [4, 4, 2], "price": [1, 1, 5]},
        index=pd.Index(["mango", "apple", "kiwi"], name="pattern"),
    )
    # taste: mango and apple tie at 4 (mango first in the table); apple comes first by name
    assert learner.recommend(table, {"weights": {"taste": 1}, "must": {"price": 1}}) == "apple"


# END HIDDEN CHECKS

# Exercise 2: what each path costs -------------------------------------------------------------


@checks.visible("ex2_tests")
def cost_per_million_tokens(learner):
    "path_cost: the document batch on the frontier managed API (per million tokens)"
    got = learner.path_cost(load_cases()["document-batch"]["workload"], rows()["managed-frontier"])
    assert close(got, checks.golden("ex2.batch.managed-frontier"), 1e-6), (
        f"{got!r}: input and output tokens at their own prices, per MILLION tokens"
    )


@checks.visible("ex2_tests")
def cost_per_gpu_hour(learner):
    "path_cost: the document batch on a self-hosted H100 (per GPU-hour)"
    batch = load_cases()["document-batch"]["workload"]
    got = learner.path_cost(batch, rows()["selfhosted-batch-h100"])
    assert close(got, checks.golden("ex2.batch.selfhosted-batch-h100"), 1e-6), (
        f"{got!r}: output tokens / tokens_per_s = GPU-seconds; / 3600 = GPU-hours; x hourly_usd"
    )


@checks.visible("ex2_tests")
def cost_on_a_batch_tier(learner):
    "path_cost: the document batch, due in 72 h, on gpt-4o-mini's batch tier (24 h window)"
    got = learner.path_cost(batch_workload(), rows()["managed-mini-batch"])
    assert close(got, checks.golden("ex2.batch.managed-mini-batch"), 1e-6), (
        f"{got!r}: a 24 h window meets a 72 h deadline: the tier's own input_usd and output_usd,"
        " per million tokens"
    )


@checks.visible("ex2_tests")
def interactive_traffic_on_a_batch_tier(learner):
    "path_cost: the HR assistant (interactive: no deadline_h) on Azure's Global Batch"
    with raises("ValueError"):
        learner.path_cost(load_cases()["hr-assistant"]["workload"], rows()["cloud-global-batch"])


@checks.visible("ex2_tests")
def gpus_for_the_batch_deadline(learner):
    "gpus_for_deadline: the document batch in 72 h"
    batch = load_cases()["document-batch"]["workload"]
    got = learner.gpus_for_deadline(batch["requests"], batch["output_tokens"], 5777, 72)
    assert got == checks.golden("ex2.batch.gpus_72h"), f"{got!r}: never round a GPU down"


# BEGIN HIDDEN CHECKS
PER_TOKEN = {"unit": "per_million_tokens", "input_usd": 3.0, "output_usd": 15.0}
PER_GPU_HOUR = {"unit": "per_gpu_hour", "hourly_usd": 2.0, "tokens_per_s": 1000}


@checks.hidden("ex2_tests")
def input_tokens_at_the_input_price(learner):
    "per-token path: input tokens at the input price"
    # 1000 x 2000 = 2e6 input tokens x 3 USD per million = 6 USD
    got = learner.path_cost({"requests": 1000, "input_tokens": 2000, "output_tokens": 0}, PER_TOKEN)
    assert close(got, 6.0)


@checks.hidden("ex2_tests")
def output_tokens_at_the_output_price(learner):
    "per-token path: output tokens at the output price"
    # 1000 x 2000 = 2e6 output tokens x 15 USD per million = 30 USD
    got = learner.path_cost({"requests": 1000, "input_tokens": 0, "output_tokens": 2000}, PER_TOKEN)
    assert close(got, 30.0)


@checks.hidden("ex2_tests")
def per_token_cost_follows_every_argument(learner):
    "per-token path: requests, both token counts and both prices all count"
    workload = {"requests": 3000, "input_tokens": 100, "output_tokens": 10}
    path = {"unit": "per_million_tokens", "input_usd": 1.0, "output_usd": 4.0}
    # 3000 x (100 x 1 + 10 x 4) / 1e6 = 3000 x 140 / 1e6 = 0.42 USD
    assert close(learner.path_cost(workload, path), 0.42)
    # twice the requests, twice the bill: 0.84
    assert close(learner.path_cost({**workload, "requests": 6000}, path), 0.84)


@checks.hidden("ex2_tests")
def gpu_hours_from_output_tokens(learner):
    "per-GPU-hour path: GPU-hours of output tokens times the hourly price"
    # 3600 x 1000 output tokens / 1000 per s = 3600 GPU-s = 1 GPU-hour x 2 USD = 2 USD
    workload = {"requests": 3600, "input_tokens": 500, "output_tokens": 1000}
    assert close(learner.path_cost(workload, PER_GPU_HOUR), 2.0)


@checks.hidden("ex2_tests")
def gpu_hours_ignore_input_tokens_and_follow_the_price(learner):
    "per-GPU-hour path: input tokens do not count; throughput and price do"
    workload = {"requests": 7200, "input_tokens": 9000, "output_tokens": 500}
    # 7200 x 500 / 1000 per s = 3600 GPU-s = 1 GPU-hour x 2 USD = 2 USD (input ignored)
    assert close(learner.path_cost(workload, PER_GPU_HOUR), 2.0)
    # at 500 tokens/s it takes 2 GPU-hours; at 3.5 USD an hour: 7 USD
    path = {"unit": "per_gpu_hour", "hourly_usd": 3.5, "tokens_per_s": 500}
    assert close(learner.path_cost(workload, path), 7.0)


@checks.hidden("ex2_tests")
def the_hr_workload_on_four_paths(learner):
    "the HR workload on four paths of the table"
    hr, row = load_cases()["hr-assistant"]["workload"], rows()
    for path, expected in checks.golden("ex2.hr").items():
        assert close(learner.path_cost(hr, row[path]), expected, 1e-6), path


@checks.hidden("ex2_tests")
def on_device_costs_the_operator_nothing(learner):
    "an on-device path costs the operator nothing"
    workload = {"requests": 10**9, "input_tokens": 500, "output_tokens": 500}
    assert close(learner.path_cost(workload, {"unit": "on_device", "hourly_usd": 1.0}), 0.0)


@checks.hidden("ex2_tests")
def provisioned_capacity_is_refused(learner):
    "a per-PTU-hour path raises ValueError"
    with raises("ValueError"):
        learner.path_cost(load_cases()["document-batch"]["workload"], rows()["cloud-eu-ptu"])


@checks.hidden("ex2_tests")
def any_other_unit_is_refused(learner):
    "any other unit raises ValueError"
    workload = {"requests": 10, "input_tokens": 10, "output_tokens": 10}
    for unit in ("per_request", "monthly_commitment"):
        with raises("ValueError"):
            learner.path_cost(workload, {"unit": unit, "input_usd": 1.0, "output_usd": 1.0})


#: A constructed batch tier: (1000 x 0.5 + 100 x 2.0) / 1e6 = 0.0007 USD a request.
BATCH_TIER = {"unit": "per_million_tokens", "input_usd": 0.5, "output_usd": 2.0, "window_hours": 24}
SMALL = {"requests": 1000, "input_tokens": 1000, "output_tokens": 100}  # 0.7 USD on BATCH_TIER


@checks.hidden("ex2_tests")
def the_other_batch_tier(learner):
    "the document batch on Azure's Global Batch (gpt-4o)"
    got = learner.path_cost(batch_workload(), rows()["cloud-global-batch"])
    assert close(got, checks.golden("ex2.batch.cloud-global-batch"), 1e-6)


@checks.hidden("ex2_tests")
def interactive_traffic_cannot_use_a_batch_tier(learner):
    "a workload without a deadline on a batch tier raises ValueError"
    cases, row = load_cases(), rows()
    for case, path in (
        ("consumer-chatbot", "managed-mini-batch"),
        ("mobile-offline", "cloud-global-batch"),
    ):
        with raises("ValueError"):
            learner.path_cost(cases[case]["workload"], row[path])
    with raises("ValueError"):
        learner.path_cost(SMALL, BATCH_TIER)


@checks.hidden("ex2_tests")
def a_deadline_before_the_window_closes_is_refused(learner):
    "a deadline shorter than the batch window raises ValueError"
    for deadline in (23.5, 1, 0):
        with raises("ValueError"):
            learner.path_cost({**SMALL, "deadline_h": deadline}, BATCH_TIER)
    with raises("ValueError"):  # the document batch due in 12 h
        learner.path_cost({**batch_workload(), "deadline_h": 12}, rows()["managed-mini-batch"])


@checks.hidden("ex2_tests")
def a_deadline_the_window_meets(learner):
    "a deadline at or after the batch window: the tier's prices"
    assert close(learner.path_cost({**SMALL, "deadline_h": 24}, BATCH_TIER), 0.7)  # exactly
    assert close(learner.path_cost({**SMALL, "deadline_h": 24.5}, BATCH_TIER), 0.7)
    # a 36 h window needs 36 h: 35 is refused, 36 priced
    slow = {**BATCH_TIER, "window_hours": 36, "output_usd": 4.0}  # (500 + 400) / 1e6 a request
    assert close(learner.path_cost({**SMALL, "deadline_h": 36}, slow), 0.9)
    with raises("ValueError"):
        learner.path_cost({**SMALL, "deadline_h": 35}, slow)


@checks.hidden("ex2_tests")
def a_deadline_changes_nothing_without_a_window(learner):
    "a deadline on a path without a batch window changes nothing"
    row = rows()
    for path in ("managed-mini", "selfhosted-batch-h100"):
        for deadline in (0.5, 72):
            got = learner.path_cost({**batch_workload(), "deadline_h": deadline}, row[path])
            expected = learner.path_cost(load_cases()["document-batch"]["workload"], row[path])
            assert close(got, expected, 1e-6), (path, deadline)
    # 3000 x (100 x 1 + 10 x 4) / 1e6 = 0.42 USD, whatever the deadline
    workload = {"requests": 3000, "input_tokens": 100, "output_tokens": 10, "deadline_h": 1}
    path = {"unit": "per_million_tokens", "input_usd": 1.0, "output_usd": 4.0}
    no_deadline = {k: v for k, v in workload.items() if k != "deadline_h"}
    for given in (workload, no_deadline):  # the window missing, or empty (NaN) as in the table
        assert close(learner.path_cost(given, path), 0.42)
        assert close(learner.path_cost(given, {**path, "window_hours": float("nan")}), 0.42)


@checks.hidden("ex2_tests")
def exactly_one_gpu_of_work(learner):
    "a batch that takes one GPU exactly the deadline needs one GPU"
    # 3600 x 1000 tokens / 1000 per s = 3600 s = 1 h, deadline 1 h
    assert learner.gpus_for_deadline(3600, 1000, 1000, 1) == 1


@checks.hidden("ex2_tests")
def a_little_over_needs_another_gpu(learner):
    "a batch just over one GPU's deadline needs two"
    # 3601 x 1000 / 1000 = 3601 s > 1 h: a second GPU
    assert learner.gpus_for_deadline(3601, 1000, 1000, 1) == 2


@checks.hidden("ex2_tests")
def a_tiny_batch_still_needs_a_gpu(learner):
    "a tiny batch still needs one GPU"
    # 10 x 10 / 1000 = 0.1 s in a 24 h deadline: a fraction of a GPU is a whole GPU
    assert learner.gpus_for_deadline(10, 10, 1000, 24) == 1


@checks.hidden("ex2_tests")
def the_deadline_and_throughput_count(learner):
    "a tighter deadline or a slower GPU needs more GPUs"
    # 7200 x 1000 / 1000 = 2 GPU-hours: 1 GPU in 2 h (met exactly), 2 in 1 h, 4 in 0.5 h
    assert learner.gpus_for_deadline(7200, 1000, 1000, 2) == 1
    assert learner.gpus_for_deadline(7200, 1000, 1000, 1) == 2
    assert learner.gpus_for_deadline(7200, 1000, 1000, 0.5) == 4
    # at 250 tokens/s the same batch is 8 GPU-hours: 4 GPUs in 2 h
    assert learner.gpus_for_deadline(7200, 1000, 250, 2) == 4


@checks.hidden("ex2_tests")
def the_document_batch_in_a_day(learner):
    "the document batch within 24 h"
    batch = load_cases()["document-batch"]["workload"]
    got = learner.gpus_for_deadline(batch["requests"], batch["output_tokens"], 5777, 24)
    assert got == checks.golden("ex2.batch.gpus_24h")


@checks.hidden("ex2_tests")
def the_gpu_count_is_an_int(learner):
    "the number of GPUs is an int"
    assert type(learner.gpus_for_deadline(3601, 1000, 1000, 1)) is int


# END HIDDEN CHECKS

# Exercise 3: the latency budget of each path --------------------------------------------------


@checks.visible("ex3_tests")
def budget_of_the_frontier_path(learner):
    "e2e_budget_ms: the frontier managed API, 150 tokens"
    got = learner.e2e_budget_ms(rows()["managed-frontier"], 150)
    assert close(got, checks.golden("ex3.budget.managed-frontier.150")), (
        f"{got!r}: network + queue + TTFT + per-token x (N - 1)"
    )


@checks.visible("ex3_tests")
def budget_of_one_token_on_the_device(learner):
    "e2e_budget_ms: one token on the device"
    got = learner.e2e_budget_ms(rows()["edge-device"], 1)
    assert close(got, checks.golden("ex3.budget.edge-device.1")), (
        f"{got!r}: one token arrives at TTFT, no gap after it"
    )


@checks.visible("ex3_tests")
def paths_within_the_chatbot_slo(learner):
    "paths_within: the consumer chatbot's SLO, fastest first"
    slo = load_cases()["consumer-chatbot"]["slo"]
    got = learner.paths_within(load_paths(), slo["e2e_ms"], slo["answer_tokens"])
    expected = checks.golden("ex3.within.consumer-chatbot")
    assert fastest_first(got, expected), f"{got!r}: expected {[p for p, _ in expected]}"


# BEGIN HIDDEN CHECKS
def latency_table(**columns: list) -> pd.DataFrame:
    """A toy path table: the four latency columns, index = path id (order as given)."""
    names = columns.pop("index")
    return pd.DataFrame(columns, index=pd.Index(names, name="path"))


#: Toy paths: table order is neither the budget order nor the alphabetical one. Budgets for 11
#: tokens (10 gaps): slow-start 0 + 0 + 300 + 2 x 10 = 320; far 100 + 0 + 100 + 10 x 10 = 300;
#: near 5 + 5 + 90 + 19 x 10 = 290; batch has no latency profile.
TOY_PATHS = dict(
    index=["slow-start", "far", "near", "batch"],
    network_rtt_ms=[0, 100, 5, None],
    queue_ms=[0, 0, 5, None],
    ttft_ms=[300, 100, 90, None],
    per_token_ms=[2, 10, 19, None],
)


@checks.hidden("ex3_tests")
def every_stage_counts(learner):
    "every stage of the budget counts"
    path = {"network_rtt_ms": 1000, "queue_ms": 200, "ttft_ms": 30, "per_token_ms": 4}
    # 1000 + 200 + 30 + 4 x (3 - 1) = 1238
    assert close(learner.e2e_budget_ms(path, 3), 1238)


@checks.hidden("ex3_tests")
def budget_of_a_table_row(learner):
    "e2e_budget_ms: a row of the table, 150 tokens"
    got = learner.e2e_budget_ms(load_paths().loc["cloud-eu"], 150)
    assert close(got, checks.golden("ex3.budget.cloud-eu.150"))


@checks.hidden("ex3_tests")
def fewer_than_one_token_is_an_error(learner):
    "fewer than one token raises ValueError"
    for n in (0, -3):
        with raises("ValueError"):
            learner.e2e_budget_ms(rows()["cloud-eu"], n)


@checks.hidden("ex3_tests")
def paths_within_the_mobile_slo(learner):
    "paths_within: the mobile feature's SLO"
    slo = load_cases()["mobile-offline"]["slo"]
    got = learner.paths_within(load_paths(), slo["e2e_ms"], slo["answer_tokens"])
    assert fastest_first(got, checks.golden("ex3.within.mobile-offline"))


@checks.hidden("ex3_tests")
def fastest_first_whatever_the_table_order(learner):
    "the paths come fastest first, whatever the table's order"
    assert learner.paths_within(latency_table(**TOY_PATHS), 400, 11) == [
        "near",
        "far",
        "slow-start",
    ]


@checks.hidden("ex3_tests")
def an_slo_met_exactly_is_met(learner):
    "a budget exactly at the SLO is within it"
    # far is 300 exactly; slow-start 320 is out
    assert learner.paths_within(latency_table(**TOY_PATHS), 300, 11) == ["near", "far"]


@checks.hidden("ex3_tests")
def just_over_the_slo_is_out(learner):
    "a budget just over the SLO is not within it"
    assert learner.paths_within(latency_table(**TOY_PATHS), 299.5, 11) == ["near"]


@checks.hidden("ex3_tests")
def the_answer_length_counts(learner):
    "paths_within follows the answer length"
    # one token: no gaps: near 100 (exactly the SLO), far 200, slow-start 300
    assert learner.paths_within(latency_table(**TOY_PATHS), 100, 1) == ["near"]
    # 101 tokens (100 gaps): near 2000, far 1200, slow-start 500
    assert learner.paths_within(latency_table(**TOY_PATHS), 1500, 101) == ["slow-start", "far"]


@checks.hidden("ex3_tests")
def a_path_without_a_profile_is_never_within(learner):
    "a path with no latency profile is never within an SLO"
    assert learner.paths_within(latency_table(**TOY_PATHS), 1e9, 11) == [
        "near",
        "far",
        "slow-start",
    ]


@checks.hidden("ex3_tests")
def nothing_within_a_tiny_slo(learner):
    "an SLO nothing meets gives an empty list"
    assert learner.paths_within(latency_table(**TOY_PATHS), 1, 1) == []


# END HIDDEN CHECKS
