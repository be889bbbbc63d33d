"""Lab 10's checks: the instructor's only copy (never released; labs/ gets the visible part).

Expected values for recordings are goldens (``servelab course goldens 10_levers``); constructed
cases carry their expected value beside the case, with the arithmetic in a comment.
"""

from __future__ import annotations

import pandas as pd

from servelab.grading.checks import Checks, close, raises
from servelab.labs.lab10_levers import PREFIX_COUNTERS, batch_options, load_csv, load_json
from servelab_base.paths import DATASETS

checks = Checks(goldens=DATASETS / "lab10" / "expected.json")
QUERIES, HITS = PREFIX_COUNTERS
#: A month of a summarisation job: 800 M prompt tokens, 200 M output tokens.
MONTH_IN, MONTH_OUT = 800e6, 200e6
#: Four output offers (names constructed; prices per million of each one's own tokens).
OFFERS = [
    {"name": "offer A", "tokenizer": "o200k_base", "output_usd": 0.60},
    {"name": "offer B", "tokenizer": "claude_legacy", "output_usd": 0.55},
    {"name": "offer C", "tokenizer": "smollm2", "output_usd": 0.58},
    {"name": "offer D", "tokenizer": "deepseek", "output_usd": 0.62},
]


def run(caching: str) -> dict:
    return next(r for r in load_json("prefix_cache")["runs"] if r["caching"] == caching)


def counters(queries: float, hits: float) -> dict:
    return {QUERIES: queries, HITS: hits}


def spec_timings() -> list[dict]:
    return [r["timings"] or {} for r in load_json("speculative")["runs"]]


def first_speculative(timings: list[dict]) -> dict:
    return next(t for t in timings if t.get("draft_n"))


def same(got, expected) -> bool:
    """A golden that may be None (nothing looked up) or a float."""
    return got is None if expected is None else close(got, expected)


# BEGIN HIDDEN CHECKS
@checks.cases
def cases(solution) -> dict:
    """Goldens from the recordings, computed by the reference solution."""
    quant = load_csv("quantization")
    tokens = load_csv("tokenizers")
    timings = spec_timings()
    visible = {
        "ex1.hit_rate.on": solution.hit_rate(run("on")["before"], run("on")["after"]),
        "ex2.cheapest.24h": solution.cheapest_option(batch_options(), MONTH_IN, MONTH_OUT, 24.0),
        "ex3.smallest.1pct": solution.smallest_within(quant, 0.01),
        "ex4.acceptance.first": solution.acceptance_rate(first_speculative(timings)),
        "ex5.tpw.smollm2": solution.tokens_per_word(tokens, "smollm2"),
        "ex5.ranking": solution.rank_offers(OFFERS, tokens),
    }
    hidden = {
        "ex1.hit_rate.off": solution.hit_rate(run("off")["before"], run("off")["after"]),
        "ex2.cheapest.now": solution.cheapest_option(batch_options(), MONTH_IN, MONTH_OUT, 0.0),
        "ex2.cheapest.small": solution.cheapest_option(batch_options(), 8e6, 2e6, 48.0),
        "ex2.cheapest.huge": solution.cheapest_option(batch_options(), 80e9, 20e9, 24.0),
        "ex2.costs": [solution.monthly_cost(o, MONTH_IN, MONTH_OUT) for o in batch_options()],
        "ex3.smallest.5pct": solution.smallest_within(quant, 0.05),
        "ex3.smallest.25pct": solution.smallest_within(quant, 0.25),
        "ex4.acceptance.all": [solution.acceptance_rate(t) for t in timings],
        "ex5.tpw.all": {
            name: solution.tokens_per_word(tokens, name)
            for name in ("o200k_base", "cl100k_base", "claude_legacy", "deepseek")
        },
        "ex5.ranking.english": solution.rank_offers(OFFERS, tokens[tokens.kind == "English prose"]),
    }
    return {"visible": visible, "hidden": hidden}


# END HIDDEN CHECKS

# Exercise 1: hit rate and the cost of cached input -------------------------------------------


@checks.visible("ex1_tests", weight=2)
def hit_rate_of_the_recording_with_caching_on(learner):
    "hit_rate of the recording with prefix caching on"
    got = learner.hit_rate(run("on")["before"], run("on")["after"])
    assert same(got, checks.golden("ex1.hit_rate.on")), (
        f"hit_rate = {got!r}: the hits counted between the two snapshots over the queries "
        "counted between them"
    )


@checks.visible("ex1_tests")
def prompt_cost_at_half_cached(learner):
    "prompt_cost_usd: half the tokens at the cached price"
    got = learner.prompt_cost_usd(1000, 1000, 0.5, 0.15, 0.075)
    # 1,000,000 tokens: 500,000 at 0.15 + 500,000 at 0.075 USD per million = 0.1125 USD
    assert close(got, 0.1125), f"prompt_cost_usd = {got!r}, expected 0.1125 USD"


# BEGIN HIDDEN CHECKS
@checks.hidden("ex1_tests")
def hit_rate_of_the_recording_with_caching_off(learner):
    "hit_rate of the recording with prefix caching off"
    got = learner.hit_rate(run("off")["before"], run("off")["after"])
    assert same(got, checks.golden("ex1.hit_rate.off"))


@checks.hidden("ex1_tests")
def hit_rate_counts_only_what_happened_between(learner):
    "hit_rate counts only what happened between the snapshots"
    # (700 - 400) / (1600 - 1000) = 0.5; the totals would give 700 / 1600 = 0.4375
    assert close(learner.hit_rate(counters(1000.0, 400.0), counters(1600.0, 700.0)), 0.5)
    # (30 - 10) / (90 - 10) = 0.25
    assert close(learner.hit_rate(counters(10.0, 10.0), counters(90.0, 30.0)), 0.25)
    # nothing found among 200 new lookups: (40 - 40) / (300 - 100) = 0.0
    assert close(learner.hit_rate(counters(100.0, 40.0), counters(300.0, 40.0)), 0.0)


@checks.hidden("ex1_tests")
def no_lookups_give_none(learner):
    "hit_rate: no tokens looked up in between gives None"
    assert learner.hit_rate(counters(100.0, 40.0), counters(100.0, 40.0)) is None
    assert learner.hit_rate(counters(0.0, 0.0), counters(0.0, 0.0)) is None


@checks.hidden("ex1_tests")
def every_token_a_hit(learner):
    "hit_rate: every token found, from integer counters"
    got = learner.hit_rate(counters(0, 0), counters(4, 4))
    assert type(got) is float and got == 1.0  # 4 / 4


@checks.hidden("ex1_tests")
def queries_going_down_is_an_error(learner):
    "hit_rate: a query counter that went down raises ValueError"
    with raises("ValueError"):
        learner.hit_rate(counters(500.0, 100.0), counters(20.0, 100.0))
    with raises("ValueError"):
        learner.hit_rate(counters(500.0, 100.0), counters(499.0, 100.0))  # down by one token


@checks.hidden("ex1_tests")
def hits_going_down_is_an_error(learner):
    "hit_rate: a hit counter that went down raises ValueError"
    with raises("ValueError"):
        learner.hit_rate(counters(500.0, 100.0), counters(900.0, 50.0))
    with raises("ValueError"):
        learner.hit_rate(counters(500.0, 100.0), counters(900.0, 99.0))  # down by one token


@checks.hidden("ex1_tests")
def prompt_cost_at_the_extremes(learner):
    "prompt_cost_usd with no hits and with every token a hit"
    assert close(learner.prompt_cost_usd(3, 500, 0.0, 2.0, 1.0), 0.003)  # 1,500 x 2.0 / 1e6
    assert close(learner.prompt_cost_usd(3, 500, 1.0, 2.0, 1.0), 0.0015)  # 1,500 x 1.0 / 1e6


@checks.hidden("ex1_tests")
def prompt_cost_of_a_month(learner):
    "prompt_cost_usd of a month of requests"
    # 2.2e9 tokens x (0.1 x 0.15 + 0.9 x 0.075) / 1e6 = 2,200 x 0.0825 = 181.5 USD
    assert close(learner.prompt_cost_usd(2_000_000, 1_100, 0.9, 0.15, 0.075), 181.5)
    # 10 x 200 = 2,000 tokens x (0.75 x 4.0 + 0.25 x 0.4) / 1e6 = 2,000 x 3.1 / 1e6 = 0.0062
    assert close(learner.prompt_cost_usd(10, 200, 0.25, 4.0, 0.4), 0.0062)


# END HIDDEN CHECKS

# Exercise 2: the cheapest option that meets the deadline ---------------------------------------


def option(name: str, input_usd: float, output_usd: float, fixed: float, window: float) -> dict:
    return {
        "name": name,
        "input_usd": input_usd,
        "output_usd": output_usd,
        "fixed_usd": fixed,
        "window_h": window,
    }


@checks.visible("ex2_tests")
def monthly_cost_of_one_option(learner):
    "monthly_cost: the fixed part plus both token counts at their prices"
    got = learner.monthly_cost(option("x", 0.5, 2.0, 100.0, 0.0), 2e6, 1e6)
    # 100 + (2e6 x 0.5 + 1e6 x 2.0) / 1e6 = 100 + 1 + 2 = 103 USD
    assert close(got, 103.0), f"monthly_cost = {got!r}, expected 103.0"


@checks.visible("ex2_tests", weight=2)
def cheapest_for_a_job_due_in_24_hours(learner):
    "cheapest_option for the month's job, due within 24 hours"
    got = learner.cheapest_option(batch_options(), MONTH_IN, MONTH_OUT, 24.0)
    assert got == checks.golden("ex2.cheapest.24h"), f"cheapest_option = {got!r}"


# BEGIN HIDDEN CHECKS
@checks.hidden("ex2_tests")
def cheapest_when_answers_are_needed_now(learner):
    "cheapest_option when the answers are needed now"
    got = learner.cheapest_option(batch_options(), MONTH_IN, MONTH_OUT, 0.0)
    assert got == checks.golden("ex2.cheapest.now")


@checks.hidden("ex2_tests")
def cheapest_for_a_small_job(learner):
    "cheapest_option for a small job with a 48-hour deadline"
    assert learner.cheapest_option(batch_options(), 8e6, 2e6, 48.0) == checks.golden(
        "ex2.cheapest.small"
    )


@checks.hidden("ex2_tests")
def cheapest_for_a_huge_job(learner):
    "cheapest_option for a very large monthly job"
    assert learner.cheapest_option(batch_options(), 80e9, 20e9, 24.0) == checks.golden(
        "ex2.cheapest.huge"
    )


@checks.hidden("ex2_tests")
def monthly_cost_of_every_catalog_option(learner):
    "monthly_cost of every catalog option"
    expected = checks.golden("ex2.costs")
    for opt, cost in zip(batch_options(), expected, strict=True):
        assert close(learner.monthly_cost(opt, MONTH_IN, MONTH_OUT), cost), opt["name"]


@checks.hidden("ex2_tests")
def monthly_cost_prices_input_and_output_apart(learner):
    "monthly_cost prices input and output tokens apart"
    # (3e6 x 1.0 + 1e6 x 4.0) / 1e6 = 7 USD; swapping the prices would give 13
    assert close(learner.monthly_cost(option("y", 1.0, 4.0, 0.0, 0.0), 3e6, 1e6), 7.0)
    # (1.5e6 x 0.15 + 0.5e6 x 0.60) / 1e6 = 0.225 + 0.3 = 0.525 USD: a fraction of a dollar
    assert close(learner.monthly_cost(option("z", 0.15, 0.60, 0.0, 0.0), 1.5e6, 0.5e6), 0.525)


@checks.hidden("ex2_tests", weight=2)
def a_window_equal_to_the_deadline_is_in_time(learner):
    "a window equal to the deadline meets it"
    options = [option("dear, now", 1.0, 1.0, 0.0, 0.0), option("cheap, 24 h", 0.5, 0.5, 0.0, 24.0)]
    assert learner.cheapest_option(options, 1e6, 1e6, 24.0) == "cheap, 24 h"  # 1.0 vs 2.0 USD
    assert learner.cheapest_option(options, 1e6, 1e6, 23.5) == "dear, now"  # 24 h is too late
    # the same with the late option listed first: skipping it must not stop the search
    assert learner.cheapest_option(options[::-1], 1e6, 1e6, 23.5) == "dear, now"


@checks.hidden("ex2_tests")
def nothing_in_time_gives_none(learner):
    "no option meets the deadline: None"
    options = [option("a", 0.5, 0.5, 0.0, 24.0), option("b", 0.4, 0.4, 0.0, 36.0)]
    assert learner.cheapest_option(options, 1e6, 1e6, 12.0) is None


@checks.hidden("ex2_tests")
def a_tie_goes_to_the_first_listed(learner):
    "equal costs: the option listed first"
    first, second = option("first", 1.0, 1.0, 0.0, 0.0), option("second", 0.0, 0.0, 2.0, 0.0)
    assert learner.cheapest_option([first, second], 1e6, 1e6, 0.0) == "first"  # 2 vs 2 USD
    assert learner.cheapest_option([second, first], 1e6, 1e6, 0.0) == "second"


@checks.hidden("ex2_tests")
def volume_decides_between_fixed_and_per_token(learner):
    "the volume decides between a fixed bill and a per-token one"
    options = [option("per token", 1.0, 1.0, 0.0, 0.0), option("fixed", 0.0, 0.0, 500.0, 0.0)]
    assert learner.cheapest_option(options, 100e6, 100e6, 0.0) == "per token"  # 200 < 500
    assert learner.cheapest_option(options, 400e6, 200e6, 0.0) == "fixed"  # 600 > 500


# END HIDDEN CHECKS

# Exercise 3: the smallest variant within a quality bound ----------------------------------------


def variants(rows: list[tuple[str, int, float]]) -> pd.DataFrame:
    """(variant, size_bytes, perplexity) rows, in the order given."""
    return pd.DataFrame(rows, columns=["variant", "size_bytes", "perplexity"])


@checks.visible("ex3_tests", weight=2)
def smallest_within_one_percent_of_the_recording(learner):
    "smallest_within 1% on the recorded table"
    got = learner.smallest_within(load_csv("quantization"), 0.01)
    assert got == checks.golden("ex3.smallest.1pct"), f"smallest_within = {got!r}"


@checks.visible("ex3_tests")
def decode_ceiling_of_a_gigabyte(learner):
    "decode_ceiling_tps of a 1 GB file at 100 GB/s"
    got = learner.decode_ceiling_tps(1_000_000_000, 100.0)
    assert close(got, 100.0), f"decode_ceiling_tps = {got!r}: 100e9 bytes/s / 1e9 bytes"


# BEGIN HIDDEN CHECKS
@checks.hidden("ex3_tests")
def smallest_within_looser_bounds(learner):
    "smallest_within 5% and 25% on the recorded table"
    quant = load_csv("quantization")
    assert learner.smallest_within(quant, 0.05) == checks.golden("ex3.smallest.5pct")
    assert learner.smallest_within(quant, 0.25) == checks.golden("ex3.smallest.25pct")


@checks.hidden("ex3_tests", weight=2)
def a_variant_exactly_on_the_bound_is_allowed(learner):
    "a variant exactly on the bound is allowed"
    table = variants([("base", 400, 8.0), ("edge", 100, 10.0), ("mid", 200, 9.0)])
    assert learner.smallest_within(table, 0.25) == "edge"  # 8.0 x 1.25 = 10.0, at most
    assert learner.smallest_within(table, 0.2) == "mid"  # 9.6: edge is over it


@checks.hidden("ex3_tests")
def the_baseline_is_the_largest_file(learner):
    "the baseline is the largest file, wherever it is in the table"
    table = variants([("mid", 200, 8.0), ("small", 100, 9.2), ("big", 400, 9.0)])
    # baseline big (9.0): 9.0 x 1.025 = 9.225 allows small; a baseline of the first row or of the
    # lowest perplexity (8.0) would allow only mid
    assert learner.smallest_within(table, 0.025) == "small"


@checks.hidden("ex3_tests")
def equal_sizes_go_to_the_lower_perplexity(learner):
    "between equal sizes, the lower perplexity"
    table = variants([("a", 100, 9.0), ("b", 100, 8.5), ("base", 300, 8.4)])
    assert learner.smallest_within(table, 0.1) == "b"  # both within 9.24, b is better


@checks.hidden("ex3_tests")
def decode_ceiling_follows_both_arguments(learner):
    "decode_ceiling_tps follows the size and the bandwidth"
    assert close(learner.decode_ceiling_tps(98_362_432, 20.0), 20e9 / 98_362_432)  # ~203 tok/s
    assert close(learner.decode_ceiling_tps(16_000_000_000, 3350.0), 209.375)  # 3350e9 / 16e9


# END HIDDEN CHECKS

# Exercise 4: acceptance and tokens per step ---------------------------------------------------


@checks.visible("ex4_tests")
def acceptance_of_a_recorded_run(learner):
    "acceptance_rate of a recorded speculative run"
    got = learner.acceptance_rate(first_speculative(spec_timings()))
    assert same(got, checks.golden("ex4.acceptance.first")), f"acceptance_rate = {got!r}"


@checks.visible("ex4_tests")
def tokens_per_step_at_half_acceptance(learner):
    "expected_tokens_per_step at alpha 0.5, k 3"
    got = learner.expected_tokens_per_step(0.5, 3)
    assert close(got, 1.875), f"{got!r}: (1 - 0.5**4) / (1 - 0.5) = 0.9375 / 0.5 = 1.875"


# BEGIN HIDDEN CHECKS
@checks.hidden("ex4_tests")
def acceptance_of_every_recorded_run(learner):
    "acceptance_rate of every recorded run, with and without speculation"
    for timings, expected in zip(spec_timings(), checks.golden("ex4.acceptance.all"), strict=True):
        assert same(learner.acceptance_rate(timings), expected)


@checks.hidden("ex4_tests")
def nothing_proposed_gives_none(learner):
    "acceptance_rate: nothing proposed gives None"
    assert learner.acceptance_rate({"draft_n": 0, "draft_n_accepted": 0, "predicted_n": 64}) is None
    assert learner.acceptance_rate({"predicted_n": 64}) is None


@checks.hidden("ex4_tests")
def acceptance_of_a_constructed_run(learner):
    "acceptance_rate of a hand-made run"
    got = learner.acceptance_rate({"draft_n": 8, "draft_n_accepted": 6, "predicted_n": 20})
    assert close(got, 0.75)  # 6 / 8


@checks.hidden("ex4_tests")
def every_guess_accepted(learner):
    "expected_tokens_per_step when every guess is accepted"
    got = learner.expected_tokens_per_step(1.0, 4)
    assert type(got) is float and got == 5.0  # k + 1
    assert learner.expected_tokens_per_step(1.0, 3) == 4.0  # k + 1 for an odd k too


@checks.hidden("ex4_tests")
def nothing_accepted_or_nothing_proposed(learner):
    "expected_tokens_per_step with alpha 0 or k 0"
    assert close(learner.expected_tokens_per_step(0.0, 5), 1.0)  # (1 - 0) / (1 - 0)
    assert close(learner.expected_tokens_per_step(0.7, 0), 1.0)  # (1 - 0.7) / (1 - 0.7)


@checks.hidden("ex4_tests")
def tokens_per_step_follows_both_arguments(learner):
    "expected_tokens_per_step follows alpha and k"
    assert close(learner.expected_tokens_per_step(0.8, 2), 2.44)  # (1 - 0.512) / 0.2
    assert close(learner.expected_tokens_per_step(0.6, 5), (1 - 0.6**6) / 0.4)  # ~2.38


@checks.hidden("ex4_tests")
def out_of_range_is_an_error(learner):
    "expected_tokens_per_step: alpha outside [0, 1] or negative k raise ValueError"
    for alpha, k in ((1.2, 3), (-0.1, 3), (0.5, -1)):
        with raises("ValueError"):
            learner.expected_tokens_per_step(alpha, k)


# END HIDDEN CHECKS

# Exercise 5: price per word --------------------------------------------------------------------


def token_table(words: list[int], **columns: list[int]) -> pd.DataFrame:
    return pd.DataFrame({"words": words, **columns})


@checks.visible("ex5_tests")
def tokens_per_word_of_the_bundled_tokenizer(learner):
    "tokens_per_word of the bundled model's tokenizer on the recording"
    got = learner.tokens_per_word(load_csv("tokenizers"), "smollm2")
    assert close(got, checks.golden("ex5.tpw.smollm2")), f"tokens_per_word = {got!r}"


@checks.visible("ex5_tests", weight=2)
def ranking_of_four_offers(learner):
    "rank_offers of four offers on the recorded texts"
    got = learner.rank_offers(OFFERS, load_csv("tokenizers"))
    assert type(got) is list, f"return a list of names, not {type(got).__name__}"
    assert got == checks.golden("ex5.ranking"), got


# BEGIN HIDDEN CHECKS
@checks.hidden("ex5_tests")
def tokens_per_word_of_the_other_tokenizers(learner):
    "tokens_per_word of the other tokenizers"
    tokens = load_csv("tokenizers")
    for name, expected in checks.golden("ex5.tpw.all").items():
        assert close(learner.tokens_per_word(tokens, name), expected), name


@checks.hidden("ex5_tests")
def tokens_per_word_is_a_ratio_of_totals(learner):
    "tokens_per_word is total tokens over total words"
    table = token_table([10, 30], t=[15, 25])
    assert close(learner.tokens_per_word(table, "t"), 1.0)  # 40 / 40; the mean ratio is 1.1667


@checks.hidden("ex5_tests")
def ranking_on_part_of_the_texts(learner):
    "rank_offers on one of the texts only"
    tokens = load_csv("tokenizers")
    english = tokens[tokens.kind == "English prose"]
    assert learner.rank_offers(OFFERS, english) == checks.golden("ex5.ranking.english")


@checks.hidden("ex5_tests")
def ranking_is_per_word_not_per_token(learner):
    "rank_offers ranks by price per word, not per token"
    table = token_table([100], short=[100], long=[200])
    offers = [
        {"name": "cheap tokens", "tokenizer": "long", "output_usd": 0.4},  # 0.4 x 2 = 0.8
        {"name": "dear tokens", "tokenizer": "short", "output_usd": 0.5},  # 0.5 x 1 = 0.5
    ]
    assert learner.rank_offers(offers, table) == ["dear tokens", "cheap tokens"]


@checks.hidden("ex5_tests")
def equal_costs_in_alphabetical_order(learner):
    "rank_offers: equal costs in alphabetical order"
    table = token_table([10], a=[10], b=[20])
    offers = [
        {"name": "zeta", "tokenizer": "a", "output_usd": 1.0},  # 1.0 x 1 = 1.0
        {"name": "alpha", "tokenizer": "b", "output_usd": 0.5},  # 0.5 x 2 = 1.0
        {"name": "mu", "tokenizer": "a", "output_usd": 0.25},  # 0.25
    ]
    assert learner.rank_offers(offers, table) == ["mu", "alpha", "zeta"]


# END HIDDEN CHECKS
