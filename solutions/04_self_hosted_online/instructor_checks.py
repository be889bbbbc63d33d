"""Lab 04's checks: the instructor's only copy (never released; labs/ gets the visible part).

Expected values for recordings are goldens (``servelab course goldens 04_self_hosted_online``);
constructed cases carry their expected value beside the case, where a reader can verify it.
Every Prometheus text a check builds is valid exposition format: buckets cumulative, the
``+Inf`` bucket equal to ``_count`` (so reading the count from either one is right).
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import pandas as pd

from servelab.grading.checks import Checks, close, raises
from servelab.labs.lab04_online import load_metrics_text, load_published, load_sweep
from servelab.labs.lab04_replicas import load_requests
from servelab_base.paths import DATASETS

checks = Checks(goldens=DATASETS / "lab04" / "expected.json")
QUEUE = "vllm:request_queue_time_seconds"
SLO = (250, 60)  # the team's SLO in the notebook: TTFT <= 250 ms, TPOT <= 60 ms
CONFIGS = ("one", "round-robin", "load-aware")  # the replica recording's configs (exercise 5)
KNEE_LIMITS = (1000, 500, 2000)  # p99 TTFT limits (ms) of exercise 5's goldens; the first visible


def number(value) -> float:
    """A real number from a returned table cell (int or float; not bool, not text).

    The table was rebuilt grader-side from plain data, so its cells are numpy numbers here.
    """
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise AssertionError(f"{value!r} is not a number")
    return float(value)


def same(got, expected: float, rel: float = 1e-9) -> bool:
    return math.isclose(number(got), expected, rel_tol=rel)


def table_of(got, index: list) -> pd.DataFrame:
    """The learner's table, checked for its shape: a DataFrame with these index values."""
    assert type(got) is pd.DataFrame, f"return a pandas DataFrame, not {type(got).__name__}"
    assert list(got.index) == list(index), (
        f"index {list(got.index)}: one row per concurrency level, ascending, as the index "
        "(`.set_index('concurrency')`)"
    )
    return got


def assert_columns(got, expected: pd.DataFrame, columns: tuple[str, ...], label: str = ""):
    """Each of ``columns`` of ``got`` matches ``expected`` at every level (relative 1e-9)."""
    table = table_of(got, list(expected.index))
    for col in columns:
        assert col in table.columns, f"no column {col!r} (columns: {list(table.columns)})"
        for level in expected.index:
            value, want = table.loc[level, col], float(expected.loc[level, col])
            assert same(value, want), (
                f"{label}concurrency {level}, {col}: {number(value)}, not {want}"
            )


def observations_text(name: str, series: list[tuple[str, list[float]]], les=(0.5, 1.0)) -> str:
    """A valid Prometheus histogram: per label set (``engine``), buckets built from observations.

    Buckets are cumulative and ``+Inf`` = ``_count`` = the number of observations, as the
    exposition format requires.
    """
    lines = [f"# HELP {name} demo histogram", f"# TYPE {name} histogram"]
    for engine, observed in series:
        for le in les:
            lines.append(
                f'{name}_bucket{{engine="{engine}",le="{le}"}} {sum(v <= le for v in observed)}'
            )
        lines.append(f'{name}_bucket{{engine="{engine}",le="+Inf"}} {len(observed)}')
        lines.append(f'{name}_count{{engine="{engine}"}} {len(observed)}')
        lines.append(f'{name}_sum{{engine="{engine}"}} {sum(observed)}')
    return "\n".join(lines) + "\n"


def gauge_text(name: str, values: dict[str, float]) -> str:
    """A valid Prometheus gauge with one sample per ``engine`` label."""
    lines = [f"# HELP {name} demo gauge", f"# TYPE {name} gauge"]
    lines += [f'{name}{{engine="{e}",model_name="m"}} {v}' for e, v in values.items()]
    return "\n".join(lines) + "\n"


# BEGIN HIDDEN CHECKS
def rec(i, level, sent, chunk_times, tokens, warmup=False, error=None, status=200) -> dict:
    """A raw-event record (servelab/bench/events.py): the first chunk is the empty role chunk."""
    chunks = [
        {"t": t, "text": "" if j == 0 else "w", "n_tokens": None, "finish_reason": None}
        for j, t in enumerate(chunk_times)
    ]
    return {
        "request_id": f"h{i}",
        "concurrency": level,
        "sent_at": sent,
        "chunks": chunks,
        "usage": {"prompt_tokens": 5, "completion_tokens": tokens} if chunks else None,
        "status": status,
        "error": error,
        "upstream": None,
        "warmup": warmup,
        "done_at": (chunk_times[-1] if chunk_times else sent) + 0.001,
    }


# Times are exact binary fractions, so the millisecond arithmetic below is exact.
HAND = [
    rec(0, 2, 9.0, [9.5, 9.75, 9.875], 2, warmup=True),  # warm-up: slow, left out everywhere
    rec(1, 2, 10.0, [10.125, 10.25, 10.375, 10.5], 3),  # ttft 125, tpot (500-125)/2 = 187.5
    rec(2, 2, 10.0, [10.25, 10.3125, 10.5], 2),  # ttft 250, tpot (500-250)/1 = 250
    rec(3, 2, 10.5, [10.625, 10.75], 0, error="dropped mid-stream"),  # failed, done at 10.751
    rec(4, 4, 20.0, [20.0625, 20.125], 1),  # ttft 62.5, one token: no TPOT
    rec(5, 4, 20.0, [20.25, 20.375, 20.5, 20.875], 6),  # ttft 250, tpot (875-250)/5 = 125
]
# The table of HAND, by hand (np.percentile, linear):
#   level 2 counts h1, h2: TTFT [125, 250] -> p50 187.5, p99 125 + 0.99 x 125 = 248.75;
#     TPOT [187.5, 250] -> 218.75, 249.375; gaps pooled [125, 125, 187.5] -> p50 125,
#     p99 125 + 0.98 x 62.5 = 186.25; tokens 3 + 2 over 10.0 -> 10.751 (h3 counts in the
#     duration): 5 / 0.751.
#   level 4 counts h4, h5: TTFT [62.5, 250] -> 156.25, 62.5 + 0.99 x 187.5 = 248.125;
#     TPOT [125] (h4 has none); gaps [125, 375] -> 250, 372.5; tokens 7 over 0.876 s.
HAND_TABLE = pd.DataFrame(
    {
        "requests": [2, 2],
        "ttft_p50": [187.5, 156.25],
        "ttft_p99": [248.75, 248.125],
        "tpot_p50": [218.75, 125.0],
        "tpot_p99": [249.375, 125.0],
        "itl_p50": [125.0, 250.0],
        "itl_p99": [186.25, 372.5],
        "output_tok_s": [5 / 0.751, 7 / 0.876],
    },
    index=pd.Index([2, 4], name="concurrency"),
)


@checks.cases
def cases(solution) -> dict:
    """Goldens: the tables and answers the reference solution gives on the recordings."""
    short, long = load_sweep("sweep_short"), load_sweep("sweep_long")
    before, c1 = load_metrics_text("before"), load_metrics_text("after_c1")
    c8, c16 = load_metrics_text("after_c8"), load_metrics_text("after_c16")
    visible = {
        "ex1.sweep_short": solution.sweep_table(short),
        "ex2.sweep_short.table": solution.slo_table(short, *SLO),
        "ex2.sweep_short.max": solution.max_concurrency_within_slo(short, *SLO),
        "ex3.queue_c8_c16": solution.histogram_mean_s(c8, c16, QUEUE),
        "ex3.running_c16": solution.gauge_value(c16, "vllm:num_requests_running"),
        "ex4.table": solution.with_floors(load_published()),
        "ex5.table": solution.tail_table(load_requests()),
    }
    hidden = {
        "ex1.sweep_long": solution.sweep_table(long),
        "ex2.sweep_long.table": solution.slo_table(long, 500, 60),
        "ex2.sweep_long.max_90": solution.max_concurrency_within_slo(long, 500, 60),
        "ex2.sweep_long.max_50": solution.max_concurrency_within_slo(long, 500, 60, 0.5),
        "ex3.ttft_before_c1": solution.histogram_mean_s(
            before, c1, "vllm:time_to_first_token_seconds"
        ),
        "ex3.queue_before_c1": solution.histogram_mean_s(before, c1, QUEUE),
        "ex3.e2e_before_c16": solution.histogram_mean_s(
            before, c16, "vllm:e2e_request_latency_seconds"
        ),
        "ex3.kv_c16": solution.gauge_value(c16, "vllm:kv_cache_usage_perc"),
        "ex3.waiting_c8": solution.gauge_value(c8, "vllm:num_requests_waiting"),
    }
    tails = solution.tail_table(load_requests())
    for limit in KNEE_LIMITS:
        sustained = {c: solution.sustained_rate(tails, c, limit) for c in CONFIGS}
        (visible if limit == KNEE_LIMITS[0] else hidden)[f"ex5.sustained_{limit}"] = sustained
    return {"visible": visible, "hidden": hidden}


# END HIDDEN CHECKS

# Exercise 1: percentiles from a recorded sweep ---------------------------------------------


@checks.visible("ex1_tests")
def sweep_levels_in_the_index(learner):
    "one row per concurrency level, ascending, as the index"
    table_of(learner.sweep_table(load_sweep("sweep_short")), [1, 2, 4, 8, 16])


@checks.visible("ex1_tests")
def sweep_requests_counted(learner):
    "requests that count per level (not warm-up, successful)"
    got = learner.sweep_table(load_sweep("sweep_short"))
    assert_columns(got, checks.golden("ex1.sweep_short"), ("requests",))


@checks.visible("ex1_tests")
def sweep_ttft_percentiles(learner):
    "TTFT p50 and p99 in ms"
    got = learner.sweep_table(load_sweep("sweep_short"))
    assert_columns(got, checks.golden("ex1.sweep_short"), ("ttft_p50", "ttft_p99"))


@checks.visible("ex1_tests")
def sweep_tpot_percentiles(learner):
    "TPOT p50 and p99 in ms"
    got = learner.sweep_table(load_sweep("sweep_short"))
    assert_columns(got, checks.golden("ex1.sweep_short"), ("tpot_p50", "tpot_p99"))


@checks.visible("ex1_tests")
def sweep_itl_percentiles(learner):
    "ITL p50 and p99 in ms, over all gaps pooled"
    got = learner.sweep_table(load_sweep("sweep_short"))
    assert_columns(got, checks.golden("ex1.sweep_short"), ("itl_p50", "itl_p99"))


@checks.visible("ex1_tests")
def sweep_output_throughput(learner):
    "output tokens per second of each level"
    got = learner.sweep_table(load_sweep("sweep_short"))
    assert_columns(got, checks.golden("ex1.sweep_short"), ("output_tok_s",))


# BEGIN HIDDEN CHECKS
@checks.hidden("ex1_tests", weight=2)
def sweep_of_the_long_prompts(learner):
    "every column of the long-prompt sweep"
    expected = checks.golden("ex1.sweep_long")
    assert_columns(learner.sweep_table(load_sweep("sweep_long")), expected, tuple(expected))


@checks.hidden("ex1_tests")
def sweep_counts_leave_out_warmup_and_failures(learner):
    "warm-up and failed requests do not count"
    assert_columns(learner.sweep_table(HAND), HAND_TABLE, ("requests",))


@checks.hidden("ex1_tests")
def sweep_ttft_of_a_constructed_sweep(learner):
    "TTFT percentiles of a small constructed sweep"
    assert_columns(learner.sweep_table(HAND), HAND_TABLE, ("ttft_p50", "ttft_p99"))


@checks.hidden("ex1_tests")
def sweep_tpot_leaves_out_one_token_answers(learner):
    "TPOT percentiles leave out a request without TPOT"
    assert_columns(learner.sweep_table(HAND), HAND_TABLE, ("tpot_p50", "tpot_p99"))


@checks.hidden("ex1_tests")
def sweep_itl_pools_every_gap(learner):
    "ITL percentiles pool every gap of every counted request"
    assert_columns(learner.sweep_table(HAND), HAND_TABLE, ("itl_p50", "itl_p99"))


@checks.hidden("ex1_tests")
def sweep_throughput_over_every_non_warmup_request(learner):
    "throughput: counted tokens over the duration of all non-warm-up requests"
    assert_columns(learner.sweep_table(HAND), HAND_TABLE, ("output_tok_s",))


@checks.hidden("ex1_tests")
def sweep_at_a_large_concurrency(learner):
    "levels as large as a GPU fleet runs"
    big = [dict(r, concurrency=512 if r["concurrency"] == 2 else 1024) for r in HAND]
    expected = HAND_TABLE.set_axis(pd.Index([512, 1024], name="concurrency"))
    assert_columns(learner.sweep_table(big), expected, tuple(expected))


@checks.hidden("ex1_tests")
def sweep_records_in_any_order(learner):
    "records of several levels, interleaved and out of order"
    shuffled = [HAND[i] for i in (5, 2, 0, 4, 3, 1)]
    expected = HAND_TABLE
    assert_columns(learner.sweep_table(shuffled), expected, tuple(expected))


# END HIDDEN CHECKS

# Exercise 2: the highest concurrency that meets the SLO ------------------------------------


@checks.visible("ex2_tests")
def highest_concurrency_within_the_slo(learner):
    "the highest concurrency meeting TTFT <= 250 ms and TPOT <= 60 ms for 90% of requests"
    got = learner.max_concurrency_within_slo(load_sweep("sweep_short"), *SLO)
    want = checks.golden("ex2.sweep_short.max")
    assert type(got) is int and got == want, f"{got!r}, expected {want}"


@checks.visible("ex2_tests")
def slo_attainment_per_level(learner):
    "attainment per level of the recorded sweep"
    got = learner.slo_table(load_sweep("sweep_short"), *SLO)
    assert_columns(got, checks.golden("ex2.sweep_short.table"), ("attainment",))


@checks.visible("ex2_tests")
def slo_goodput_per_level(learner):
    "goodput per level of the recorded sweep"
    got = learner.slo_table(load_sweep("sweep_short"), *SLO)
    assert_columns(got, checks.golden("ex2.sweep_short.table"), ("goodput",))


# BEGIN HIDDEN CHECKS
@checks.hidden("ex2_tests")
def slo_table_of_the_long_prompts(learner):
    "attainment and goodput of the long-prompt sweep, another SLO"
    got = learner.slo_table(load_sweep("sweep_long"), 500, 60)
    assert_columns(got, checks.golden("ex2.sweep_long.table"), ("attainment", "goodput"))


@checks.hidden("ex2_tests")
def highest_concurrency_follows_the_attainment_target(learner):
    "another SLO and two attainment targets on the long-prompt sweep"
    long = load_sweep("sweep_long")
    got = learner.max_concurrency_within_slo(long, 500, 60)
    assert got == checks.golden("ex2.sweep_long.max_90"), got
    got = learner.max_concurrency_within_slo(long, 500, 60, 0.5)
    assert got == checks.golden("ex2.sweep_long.max_50"), got


@checks.hidden("ex2_tests")
def meets_slo_at_its_limits(learner):
    "both limits are inclusive"
    assert learner.meets_slo(HAND[1], 125, 187.5) is True  # TTFT 125 ms, TPOT 187.5 ms exactly
    assert learner.meets_slo(HAND[1], 125, 1000) is True


@checks.hidden("ex2_tests")
def meets_slo_needs_both_limits(learner):
    "a request over either limit misses the SLO"
    assert learner.meets_slo(HAND[1], 124.9, 1000) is False  # TTFT 125 > 124.9
    assert learner.meets_slo(HAND[1], 1000, 187.4) is False  # TPOT 187.5 > 187.4
    assert learner.meets_slo(HAND[2], 250, 250) is True  # TTFT 250, TPOT 250: both on the limit


@checks.hidden("ex2_tests")
def meets_slo_failed_request(learner):
    "a failed request never meets the SLO"
    assert learner.meets_slo(HAND[3], 10**9, 10**9) is False


@checks.hidden("ex2_tests")
def meets_slo_one_token(learner):
    "one output token: no TPOT, so only TTFT counts"
    assert learner.meets_slo(HAND[4], 62.5, 0) is True  # TTFT 62.5 ms exactly
    assert learner.meets_slo(HAND[4], 62, 1000) is False


@checks.hidden("ex2_tests")
def slo_table_counts_failures_as_misses(learner):
    "attainment and goodput of a constructed sweep: failures are misses, warm-up is out"
    got = learner.slo_table(HAND, 250, 200)
    # level 2: h1 meets (125, 187.5), h2 misses (TPOT 250), h3 failed: 1 of 3, over 0.751 s;
    # level 4: h4 (one token) and h5 (250, 125) meet: 2 of 2, over 0.876 s.
    expected = pd.DataFrame(
        {"attainment": [1 / 3, 1.0], "goodput": [1 / 0.751, 2 / 0.876]},
        index=pd.Index([2, 4], name="concurrency"),
    )
    assert_columns(got, expected, ("attainment", "goodput"))


@checks.hidden("ex2_tests")
def slo_table_in_any_order(learner):
    "records of several levels, interleaved and out of order"
    shuffled = [HAND[i] for i in (5, 2, 0, 4, 3, 1)]
    got = learner.slo_table(shuffled, 250, 250)
    # level 2: h1 and h2 meet, h3 failed: 2 of 3; level 4: 2 of 2.
    expected = pd.DataFrame(
        {"attainment": [2 / 3, 1.0], "goodput": [2 / 0.751, 2 / 0.876]},
        index=pd.Index([2, 4], name="concurrency"),
    )
    assert_columns(got, expected, ("attainment", "goodput"))


@checks.hidden("ex2_tests")
def slo_table_at_a_large_concurrency(learner):
    "levels as large as a GPU fleet runs"
    big = [dict(r, concurrency=512 if r["concurrency"] == 2 else 1024) for r in HAND]
    got = learner.slo_table(big, 250, 200)
    expected = pd.DataFrame(  # as for HAND at 2 and 4 (slo_table_counts_failures_as_misses)
        {"attainment": [1 / 3, 1.0], "goodput": [1 / 0.751, 2 / 0.876]},
        index=pd.Index([512, 1024], name="concurrency"),
    )
    assert_columns(got, expected, ("attainment", "goodput"))
    assert learner.max_concurrency_within_slo(big, 250, 200) == 1024


@checks.hidden("ex2_tests")
def highest_concurrency_at_the_attainment_target(learner):
    "attainment exactly at the target counts (at least)"
    # TTFT <= 100, TPOT <= 150: level 2 attains 0 (h1 and h2 start too late, h3 failed);
    # level 4 attains 1/2 (h4 meets, h5's TTFT of 250 does not)
    assert learner.max_concurrency_within_slo(HAND, 100, 150, attainment=0.5) == 4
    assert learner.max_concurrency_within_slo(HAND, 100, 150, attainment=0.5 + 1e-9) is None
    # the recorded sweep, with the target set to level 8's own attainment
    attained = float(checks.golden("ex2.sweep_short.table").loc[8, "attainment"])
    got = learner.max_concurrency_within_slo(load_sweep("sweep_short"), *SLO, attained)
    assert got == 8, f"target {attained}: {got!r}"


@checks.hidden("ex2_tests")
def highest_concurrency_is_the_highest_passing_level(learner):
    "the highest level that passes, even above a level that fails"
    assert learner.max_concurrency_within_slo(HAND, 250, 200) == 4  # level 2: 1/3, level 4: 1
    got = learner.max_concurrency_within_slo(HAND, 250, 250, attainment=0.6)
    assert type(got) is int and got == 4


@checks.hidden("ex2_tests")
def no_level_meets_the_slo(learner):
    "None when no level reaches the attainment"
    assert learner.max_concurrency_within_slo(load_sweep("sweep_short"), 1, 1) is None
    assert learner.max_concurrency_within_slo(HAND, 125, 187.5, attainment=0.6) is None


# END HIDDEN CHECKS

# Exercise 3: read a histogram between two scrapes -----------------------------------------


@checks.visible("ex3_tests")
def mean_queue_time_between_two_scrapes(learner):
    "mean queue time over the concurrency-16 level of the recorded sweep"
    got = learner.histogram_mean_s(
        load_metrics_text("after_c8"), load_metrics_text("after_c16"), QUEUE
    )
    want = checks.golden("ex3.queue_c8_c16")
    assert close(got, want, tol=1e-12), f"{got!r}: (sum after - sum before) / (count after - ...)"


@checks.visible("ex3_tests")
def gauge_of_a_recorded_scrape(learner):
    "a gauge read from a recorded scrape"
    got = learner.gauge_value(load_metrics_text("after_c16"), "vllm:num_requests_running")
    assert close(got, checks.golden("ex3.running_c16")), got


@checks.visible("ex3_tests")
def gauge_adds_up_label_sets(learner):
    "a gauge with several label sets is their sum"
    text = gauge_text("demo:running", {"0": 3, "1": 4})
    assert close(learner.gauge_value(text, "demo:running"), 7.0)  # 3 + 4


# BEGIN HIDDEN CHECKS
@checks.hidden("ex3_tests", weight=2)
def histogram_means_of_other_recordings(learner):
    "other histograms and windows of the recorded scrapes"
    before, c1 = load_metrics_text("before"), load_metrics_text("after_c1")
    c16 = load_metrics_text("after_c16")
    for args, key in [
        ((before, c1, "vllm:time_to_first_token_seconds"), "ex3.ttft_before_c1"),
        ((before, c1, QUEUE), "ex3.queue_before_c1"),
        ((before, c16, "vllm:e2e_request_latency_seconds"), "ex3.e2e_before_c16"),
    ]:
        got = learner.histogram_mean_s(*args)
        want = checks.golden(key)
        assert close(got, want, tol=max(1e-12, 1e-9 * abs(want))), (key, got)


@checks.hidden("ex3_tests")
def histogram_with_no_request_in_between(learner):
    "no request finished between the scrapes"
    c16 = load_metrics_text("after_c16")
    assert learner.histogram_mean_s(c16, c16, "vllm:e2e_request_latency_seconds") is None
    same_obs = observations_text("x_seconds", [("0", [0.25, 0.75])])
    assert learner.histogram_mean_s(same_obs, same_obs, "x_seconds") is None


@checks.hidden("ex3_tests", weight=2)
def histogram_adds_up_label_sets(learner):
    "a histogram with several label sets: their sums and counts add up"
    before = observations_text("x_seconds", [("0", [0.25, 0.75]), ("1", [0.5])])
    after = observations_text("x_seconds", [("0", [0.25, 0.75, 2.0, 3.0]), ("1", [0.5, 1.0])])
    # new: engine 0 sums 2.0 + 3.0, engine 1 adds 1.0: (5.0 + 1.0) / (2 + 1) = 2.0
    assert close(learner.histogram_mean_s(before, after, "x_seconds"), 2.0)


@checks.hidden("ex3_tests")
def histogram_reads_only_the_named_metric(learner):
    "only the named histogram counts, whatever else the scrape holds"
    other = "x_seconds_total_time"
    before = observations_text("x_seconds", [("0", [0.5])]) + observations_text(
        other, [("0", [8.0])]
    )
    after = observations_text("x_seconds", [("0", [0.5, 1.5])]) + observations_text(
        other, [("0", [8.0, 16.0, 32.0])]
    )
    assert close(learner.histogram_mean_s(before, after, "x_seconds"), 1.5)  # 1.5 / 1
    assert close(learner.histogram_mean_s(before, after, other), 24.0)  # (16 + 32) / 2


@checks.hidden("ex3_tests")
def histogram_window_starts_at_the_first_scrape(learner):
    "the window starts at the first scrape, whatever came before it"
    start = observations_text("x_seconds", [("0", [4.0, 4.0, 4.0])])
    later = observations_text("x_seconds", [("0", [4.0, 4.0, 4.0, 0.25, 0.75])])
    assert close(learner.histogram_mean_s(start, later, "x_seconds"), 0.5)  # (0.25 + 0.75) / 2


@checks.hidden("ex3_tests")
def gauges_of_other_recordings(learner):
    "other gauges of the recorded scrapes"
    got = learner.gauge_value(load_metrics_text("after_c16"), "vllm:kv_cache_usage_perc")
    assert close(got, checks.golden("ex3.kv_c16")), got
    got = learner.gauge_value(load_metrics_text("after_c8"), "vllm:num_requests_waiting")
    assert close(got, checks.golden("ex3.waiting_c8")), got


@checks.hidden("ex3_tests")
def gauge_reads_only_the_named_metric(learner):
    "only the named gauge counts, whatever else the scrape holds"
    text = (
        gauge_text("demo:running", {"0": 2.5})
        + gauge_text("demo:running_max", {"0": 64})
        + gauge_text("demo:waiting", {"0": 1, "1": 0.5})
    )
    assert close(learner.gauge_value(text, "demo:running"), 2.5)
    assert close(learner.gauge_value(text, "demo:waiting"), 1.5)


@checks.hidden("ex3_tests")
def gauge_at_zero_is_not_missing(learner):
    "a gauge at zero is a value"
    text = gauge_text("demo:waiting", {"0": 0.0, "1": 0.0})
    assert close(learner.gauge_value(text, "demo:waiting"), 0.0)


@checks.hidden("ex3_tests")
def missing_gauge_raises_key_error(learner):
    "a missing gauge raises KeyError"
    with raises("KeyError"):
        learner.gauge_value(gauge_text("demo:running", {"0": 3}), "demo:nope")
    with raises("KeyError"):
        learner.gauge_value(load_metrics_text("after_c16"), "vllm:num_requests")


# END HIDDEN CHECKS

# Exercise 4: measured against the floor ----------------------------------------------------


@checks.visible("ex4_tests")
def floor_of_the_weights_alone(learner):
    "the floor of one stream reading its weights only"
    got = learner.decode_floor_s(16.06e9, 3.35e12)
    assert close(got, 16.06e9 / 3.35e12, tol=1e-15), f"{got!r}: weight bytes / bandwidth"


@checks.visible("ex4_tests")
def utilisation_is_floor_over_itl(learner):
    "bandwidth utilisation = floor / measured ITL"
    assert close(learner.bandwidth_utilisation(0.02, 0.005), 0.25), "0.005 / 0.02"


@checks.visible("ex4_tests")
def floors_of_the_decode_points(learner):
    "floor_ms and utilisation of every row of decode_points.csv"
    got = learner.with_floors(load_published())
    want = checks.golden("ex4.table")
    assert type(got) is pd.DataFrame, f"return a DataFrame, not {type(got).__name__}"
    assert list(got.columns[-2:]) == ["floor_ms", "utilisation"], "add the two columns, last"
    assert list(got.columns[:-2]) == list(load_published().columns), "keep every input column"
    for col in ("floor_ms", "utilisation"):
        for i, (value, expected) in enumerate(zip(got[col], want[col], strict=True)):
            assert same(value, expected, 1e-13), f"row {i}, {col}: {number(value)}, not {expected}"


# BEGIN HIDDEN CHECKS
@checks.hidden("ex4_tests")
def floor_divides_over_tensor_parallel(learner):
    "tensor parallelism shares the reads among the GPUs"
    got = learner.decode_floor_s(39.5e9, 1.555e12, tensor_parallel=4)
    assert close(got, 39.5e9 / 4 / 1.555e12, tol=1e-15), got
    got = learner.decode_floor_s(39.5e9, 1.555e12, tensor_parallel=3)  # not a whole byte each
    assert close(got, 39.5e9 / 3 / 1.555e12, tol=1e-15), got


@checks.hidden("ex4_tests", weight=2)
def floor_adds_the_kv_cache_of_the_batch(learner):
    "the KV cache of every sequence in the batch is read too"
    got = learner.decode_floor_s(16.06e9, 3.35e12, 131072, batch=32, context_tokens=2048)
    assert close(got, (16.06e9 + 32 * 2048 * 131072) / 3.35e12, tol=1e-15), got
    got = learner.decode_floor_s(1e9, 2e12, 3e5, 5, 7000, 4)  # every argument a different size
    assert close(got, (1e9 + 5 * 7000 * 3e5) / 4 / 2e12, tol=1e-15), got


@checks.hidden("ex4_tests")
def floor_defaults(learner):
    "the defaults: no KV size or no context reads no KV; one sequence"
    got = learner.decode_floor_s(16.06e9, 3.35e12, 131072)
    assert close(got, 16.06e9 / 3.35e12, tol=1e-15), got
    got = learner.decode_floor_s(16.06e9, 3.35e12, 131072, batch=8)
    assert close(got, 16.06e9 / 3.35e12, tol=1e-15), got
    got = learner.decode_floor_s(16.06e9, 3.35e12, batch=8, context_tokens=1024)
    assert close(got, 16.06e9 / 3.35e12, tol=1e-15), got
    got = learner.decode_floor_s(16.06e9, 3.35e12, 131072, context_tokens=2048)  # batch 1
    assert close(got, (16.06e9 + 2048 * 131072) / 3.35e12, tol=1e-15), got


@checks.hidden("ex4_tests")
def utilisation_of_other_points(learner):
    "utilisation of other ITLs and floors"
    assert close(learner.bandwidth_utilisation(0.010, 0.005), 0.5)
    assert close(learner.bandwidth_utilisation(0.004, 0.005), 1.25)  # faster than the floor


@checks.hidden("ex4_tests", weight=2)
def floors_of_a_constructed_table(learner):
    "a table with its columns in another order, each row its own batch, context and GPUs"
    points = pd.DataFrame(
        {
            "itl_ms": [20.0, 8.0, 5.0],
            "tensor_parallel": [2, 1, 4],
            "context_tokens": [1000, 0, 500],
            "batch": [4, 1, 8],
            "kv_bytes_per_token": [1000.0, 5e5, 2000.0],
            "weight_bytes": [2e9, 4e9, 8e9],
            "bandwidth_tb_s": [1.0, 2.0, 0.5],
            "name": ["a", "b", "c"],
        }
    )
    # floors: (2e9 + 4 x 1000 x 1000) / 2 / 1e12 = 1.002 ms, 4e9 / 2e12 = 2 ms,
    #         (8e9 + 8 x 500 x 2000) / 4 / 0.5e12 = 4.004 ms; utilisation = floor / ITL
    got = learner.with_floors(points)
    assert type(got) is pd.DataFrame and list(got.columns[:-2]) == list(points.columns)
    for i, (floor_ms, itl_ms) in enumerate([(1.002, 20.0), (2.0, 8.0), (4.004, 5.0)]):
        assert same(got.floor_ms.iloc[i], floor_ms, 1e-13), (i, got.floor_ms.iloc[i])
        assert same(got.utilisation.iloc[i], floor_ms / itl_ms, 1e-13), i


# END HIDDEN CHECKS

# Exercise 5: the knee, one replica or two ----------------------------------------------------

POINT_COLUMNS = ("requests", "failed", "ttft_p50", "ttft_p99")


def points_of(got, expected: pd.DataFrame) -> pd.DataFrame:
    """The learner's tail table, checked for its shape: indexed by (config, rate), sorted."""
    assert type(got) is pd.DataFrame, f"return a pandas DataFrame, not {type(got).__name__}"
    want = [tuple(i) for i in expected.index]
    index = [tuple(i) if isinstance(i, tuple | list) else i for i in got.index]
    assert index == want, f"index {index[:4]}...: one row per (config, rate), sorted, as the index"
    assert list(got.index.names) == ["config", "rate"], f"index names {list(got.index.names)}"
    return got


def assert_points(got, expected: pd.DataFrame, columns: tuple[str, ...]) -> None:
    """Each of ``columns`` matches at every point (relative 1e-9; NaN where NaN is expected)."""
    table = points_of(got, expected)
    for col in columns:
        assert col in table.columns, f"no column {col!r} (columns: {list(table.columns)})"
        for point, value in zip(expected.index, table[col], strict=True):
            want = float(expected.loc[point, col])
            if math.isnan(want):
                assert math.isnan(number(value)), f"{point}, {col}: {value}, not NaN"
            else:
                assert same(value, want), f"{point}, {col}: {number(value)}, not {want}"


def assert_rate(got, want) -> None:
    """A sustained rate: a float equal to ``want``, or None when ``want`` is None."""
    if want is None:
        assert got is None, f"{got!r}, expected None"
    else:
        assert not isinstance(got, bool) and got == want, f"{got!r}, expected {want}"


# BEGIN HIDDEN CHECKS
def request_rows(rows: list[tuple]) -> pd.DataFrame:
    """A recording-like table from (config, rate, ttft_ms, ok) rows."""
    frame = pd.DataFrame(rows, columns=["config", "rate", "ttft_ms", "ok"])
    frame.insert(2, "request_id", [f"h{i}" for i in range(len(frame))])
    frame["max_tokens"] = 16
    frame["upstream"] = "pool/1"
    return frame


# Rows interleaved and out of order. By hand (np.percentile, linear):
#   (a, 0.5): [7] -> 7, 7;  (a, 2.0): [10, 40] -> 25, 10 + 0.99 x 30 = 39.7;
#   (b, 0.5): [100, 200, 300] and a failure (its 1 ms TTFT is not counted) -> 200,
#     200 + 0.98 x 100 = 298;  (b, 10.0): both failed -> NaN, NaN.
HAND_REQUESTS = request_rows(
    [
        ("b", 0.5, 300.0, True),
        ("a", 2.0, 40.0, True),
        ("b", 10.0, np.nan, False),
        ("b", 0.5, 1.0, False),
        ("a", 0.5, 7.0, True),
        ("b", 0.5, 100.0, True),
        ("a", 2.0, 10.0, True),
        ("b", 10.0, np.nan, False),
        ("b", 0.5, 200.0, True),
    ]
)
HAND_POINTS = pd.DataFrame(
    {
        "requests": [1, 2, 3, 0],
        "failed": [0, 0, 1, 2],
        "ttft_p50": [7.0, 25.0, 200.0, np.nan],
        "ttft_p99": [7.0, 39.7, 298.0, np.nan],
    },
    index=pd.MultiIndex.from_tuples(
        [("a", 0.5), ("a", 2.0), ("b", 0.5), ("b", 10.0)], names=["config", "rate"]
    ),
)


def knee_table(rows: list[tuple]) -> pd.DataFrame:
    """A tail table from (config, rate, failed, ttft_p99) rows, in the order given."""
    frame = pd.DataFrame(rows, columns=["config", "rate", "failed", "ttft_p99"])
    frame["requests"] = 20 - frame.failed
    frame["ttft_p50"] = frame.ttft_p99 / 2
    return frame.set_index(["config", "rate"])[["requests", "failed", "ttft_p50", "ttft_p99"]]


# x: p99 100, 250, 900 at 1, 2, 3 req/s, then 200 at 4 (passing again, after a failure);
# y: a failure at its only rate; z: 10 ms at 0.5, a failure at 2, 20 ms at 8. Rows shuffled.
KNEES = knee_table(
    [
        ("x", 3.0, 0, 900.0),
        ("z", 8.0, 0, 20.0),
        ("x", 1.0, 0, 100.0),
        ("y", 1.0, 1, 50.0),
        ("x", 4.0, 0, 200.0),
        ("z", 2.0, 2, 15.0),
        ("x", 2.0, 0, 250.0),
        ("z", 0.5, 0, 10.0),
    ]
)


# END HIDDEN CHECKS


@checks.visible("ex5_tests")
def tail_points_in_the_index(learner):
    "one row per (config, rate), sorted, as the index"
    points_of(learner.tail_table(load_requests()), checks.golden("ex5.table"))


@checks.visible("ex5_tests")
def tail_requests_and_failures(learner):
    "successful and failed requests per point"
    got = learner.tail_table(load_requests())
    assert_points(got, checks.golden("ex5.table"), ("requests", "failed"))


@checks.visible("ex5_tests")
def tail_ttft_percentiles(learner):
    "TTFT p50 and p99 in ms per point"
    got = learner.tail_table(load_requests())
    assert_points(got, checks.golden("ex5.table"), ("ttft_p50", "ttft_p99"))


@checks.visible("ex5_tests")
def sustained_rates_of_the_recording(learner):
    "the rate each config sustains with p99 TTFT <= 1 s"
    tails = checks.golden("ex5.table")
    for config, want in checks.golden(f"ex5.sustained_{KNEE_LIMITS[0]}").items():
        assert_rate(learner.sustained_rate(tails, config, KNEE_LIMITS[0]), want)


# BEGIN HIDDEN CHECKS
@checks.hidden("ex5_tests")
def tail_counts_of_constructed_requests(learner):
    "counts of a constructed table: failures apart, rows in any order"
    assert_points(learner.tail_table(HAND_REQUESTS), HAND_POINTS, ("requests", "failed"))


@checks.hidden("ex5_tests", weight=2)
def tail_percentiles_leave_out_failures(learner):
    "percentiles over the successful requests only; NaN where none succeeded"
    assert_points(learner.tail_table(HAND_REQUESTS), HAND_POINTS, ("ttft_p50", "ttft_p99"))


@checks.hidden("ex5_tests")
def sustained_rates_at_other_limits(learner):
    "the recording's sustained rates at p99 TTFT <= 500 ms and <= 2 s"
    tails = checks.golden("ex5.table")
    for limit in KNEE_LIMITS[1:]:
        for config, want in checks.golden(f"ex5.sustained_{limit}").items():
            assert_rate(learner.sustained_rate(tails, config, limit), want)


@checks.hidden("ex5_tests")
def sustained_rate_limit_is_inclusive(learner):
    "a p99 exactly at the limit keeps the promise"
    assert_rate(learner.sustained_rate(KNEES, "x", 250.0), 2.0)
    assert_rate(learner.sustained_rate(KNEES, "x", 249.9), 1.0)
    assert_rate(learner.sustained_rate(KNEES, "x", 100.0), 1.0)


@checks.hidden("ex5_tests")
def sustained_rate_stops_at_the_first_broken_rate(learner):
    "a rate passing again above a broken one does not count"
    assert_rate(learner.sustained_rate(KNEES, "x", 899.0), 2.0)  # 3 breaks it; 4 (200) is past
    assert_rate(learner.sustained_rate(KNEES, "x", 900.0), 4.0)
    assert_rate(learner.sustained_rate(KNEES, "z", 10**9), 0.5)  # the failure at 2 ends it


@checks.hidden("ex5_tests")
def sustained_rate_none_when_the_lowest_breaks(learner):
    "None when even the lowest rate breaks the promise (too slow, or a failure)"
    assert_rate(learner.sustained_rate(KNEES, "x", 99.0), None)
    assert_rate(learner.sustained_rate(KNEES, "y", 10**9), None)  # fast, but one failed


# END HIDDEN CHECKS
