"""Lab 06's checks: the instructor's only copy (never released; labs/ gets the visible part).

Expected values for recordings are goldens (``servelab course goldens 06_measuring_latency``);
numbers `vllm bench serve` printed are read from its recorded result; constructed cases carry
their expected value beside the case, where a reader can verify it (their times are exact
binary fractions where a limit is tested at equality).
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import pandas as pd

from servelab.bench.events import load_records
from servelab.grading.checks import Checks, close
from servelab.labs.lab06_measuring import LAB06, load_server_records, load_vllm_bench
from servelab_base.paths import DATASETS

checks = Checks(goldens=DATASETS / "lab06" / "expected.json")
METRICS = ("ttft", "ttfct", "itls", "e2e", "output_tokens", "tpot")
VISIBLE_TRACES = LAB06 / "traces_visible.jsonl"
SERVER = LAB06 / "overhead.server.jsonl"
BENCH_SLOS = {"ttft": 500.0, "tpot": 100.0}  # the --goodput of the recorded vllm bench serve


def metric_matches(got, want) -> bool:
    """One metric of one record: None, an exact int, a list of gaps or seconds (1e-9)."""
    if want is None or type(want) is int:
        return type(got) is type(want) and got == want
    if type(want) is list:
        return (
            type(got) is list
            and len(got) == len(want)
            and all(close(g, w) for g, w in zip(got, want, strict=True))
        )
    return close(got, want)


def assert_metric(learner, metric: str, records: list[dict], expected: list[dict], label: str):
    """``learner.<metric>`` of every record equals the expected value of that record."""
    for record, want in zip(records, expected, strict=True):
        got = getattr(learner, metric)(record)
        assert metric_matches(got, want[metric]), (
            f"{label} {record['request_id']}: {metric} = {got!r}, expected {want[metric]!r}"
        )


def number(value) -> float:
    """A real number from a table the grader rebuilt (numpy numbers there; not bool, not text)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise AssertionError(f"{value!r} is not a number")
    return float(value)


def errors_table(got, expected: pd.DataFrame, column: str | None = None, label: str = ""):
    """The learner's client_error table: the same request ids and, if named, one column."""
    assert type(got) is pd.DataFrame, f"return a pandas DataFrame, not {type(got).__name__}"
    assert sorted(map(str, got.index)) == sorted(expected.index), (
        f"{label}rows {sorted(map(str, got.index))[:5]}...: one row per successful client "
        "request with a server record, indexed by request_id"
    )
    if column is not None:
        assert column in got.columns, f"no column {column!r} (columns: {list(got.columns)})"
        for rid in expected.index:
            value, want = got.loc[rid, column], float(expected.loc[rid, column])
            assert math.isclose(number(value), want, abs_tol=1e-6), (
                f"{label}{rid}: {column} = {float(value):.6f}, expected {want:.6f}"
            )


# BEGIN HIDDEN CHECKS
# Recordings and how many of their records the checks use: each datasets/traces/ file repeats
# one script, so its first records hold every shape it has (each call is a round trip to the
# learner's kernel when graded).
HIDDEN_TRACES = {
    "tricky": (LAB06 / "traces_tricky.jsonl", 8),
    "multi_token": (DATASETS / "traces" / "scripted_multi_token.jsonl", 2),
    "zero_tokens": (DATASETS / "traces" / "scripted_zero_tokens.jsonl", 1),
    "errors": (DATASETS / "traces" / "scripted_errors.jsonl", 6),
    "no_usage": (DATASETS / "traces" / "scripted_no_usage.jsonl", 2),
}


def hidden_records(name: str) -> list[dict]:
    path, count = HIDDEN_TRACES[name]
    return load_records(path)[:count]


OTHER_SLOS = [{"ttft": 100}, {"tpot": 12.5}, {"e2el": 900, "ttft": 200}]


def metrics_of(solution, records: list[dict]) -> list[dict]:
    return [{m: getattr(solution, m)(r) for m in METRICS} for r in records]


@checks.cases
def cases(solution) -> dict:
    """Goldens: every metric of every recorded trace, the tables of exercise 3, goodputs."""
    server = load_server_records(SERVER)
    heavy = load_records(LAB06 / "overhead_heavy.jsonl")
    light = load_records(LAB06 / "overhead_light.jsonl")
    heavy_errors = solution.client_error(heavy, server)
    light_errors = solution.client_error(light, server)
    bench = load_vllm_bench("vllm_bench_scripted")
    visible = {
        "ex1.visible": metrics_of(solution, load_records(VISIBLE_TRACES)),
        "ex3.heavy": heavy_errors,
        "ex3.heavy.suspicious_50": solution.suspicious(heavy_errors, 50.0),
    }
    hidden = {f"ex1.{name}": metrics_of(solution, hidden_records(name)) for name in HIDDEN_TRACES}
    hidden |= {
        f"ex2.goodput.{i}": solution.vllm_goodput(bench, slos) for i, slos in enumerate(OTHER_SLOS)
    }
    hidden |= {
        "ex3.light": light_errors,
        "ex3.light.suspicious_5": solution.suspicious(light_errors, 5.0),
    }
    return {"visible": visible, "hidden": hidden}


def chunk(t: float, text: str, n_tokens=None, finish_reason=None) -> dict:
    return {"t": t, "text": text, "n_tokens": n_tokens, "finish_reason": finish_reason}


def record(chunks: list[dict], usage=None, sent_at: float = 0.0, **extra) -> dict:
    out = {"request_id": "c", "sent_at": sent_at, "chunks": chunks, "usage": usage}
    return out | {"status": 200, "error": None} | extra


def usage(n: int) -> dict:
    return {"prompt_tokens": 3, "completion_tokens": n}


# END HIDDEN CHECKS

# Exercise 1: metrics from raw events -------------------------------------------------------


def visible_metric_check(metric: str, title: str) -> None:
    def check(learner):
        expected = checks.golden("ex1.visible")
        assert_metric(learner, metric, load_records(VISIBLE_TRACES), expected, "visible trace")

    check.__name__ = f"{metric}_of_the_visible_traces"
    check.__doc__ = title
    checks.visible("ex1_tests")(check)


visible_metric_check("ttft", "ttft of the visible traces")
visible_metric_check("ttfct", "ttfct of the visible traces")
visible_metric_check("itls", "itls of the visible traces")
visible_metric_check("e2e", "e2e of the visible traces")
visible_metric_check("output_tokens", "output_tokens of the visible traces (an int)")
visible_metric_check("tpot", "tpot of the visible traces")

# BEGIN HIDDEN CHECKS


def hidden_metric_check(metric: str) -> None:
    def check(learner):
        for name in HIDDEN_TRACES:
            expected = checks.golden(f"ex1.{name}")
            assert_metric(learner, metric, hidden_records(name), expected, name)

    check.__name__ = f"{metric}_of_the_other_recordings"
    check.__doc__ = f"{metric} of other recordings (awkward shapes, errors, no usage)"
    checks.hidden("ex1_tests")(check)


for _metric in METRICS:
    hidden_metric_check(_metric)


@checks.hidden("ex1_tests")
def refused_before_any_chunk(learner):
    "a request refused before any chunk"
    refused = record([], status=0, error="refused", sent_at=1.0)
    got = [getattr(learner, m)(refused) for m in METRICS]
    assert got == [None, None, [], None, 0, None], got
    assert type(got[4]) is int


@checks.hidden("ex1_tests")
def role_chunk_first(learner):
    "a role-only first chunk: TTFT counts it, TTFCT and ITL do not"
    r = record(
        [chunk(10.125, ""), chunk(10.5, "a"), chunk(10.75, "b"), chunk(11.0, "c", None, "stop")],
        usage(3),
        sent_at=10.0,
    )
    assert close(learner.ttft(r), 0.125)
    assert close(learner.ttfct(r), 0.5)
    got = learner.itls(r)
    assert type(got) is list and [round(g, 9) for g in got] == [0.25, 0.25], got
    assert close(learner.tpot(r), 0.4375)  # (1.0 - 0.125) / (3 - 1)


@checks.hidden("ex1_tests")
def empty_finish_chunk(learner):
    "an empty finish chunk is not an answer token"
    r = record([chunk(0.25, "a"), chunk(0.375, "b"), chunk(0.875, "", None, "stop")], usage(2))
    assert close(learner.e2e(r), 0.375)
    assert learner.itls(r) == [0.125]
    assert close(learner.tpot(r), 0.125)  # (0.375 - 0.25) / (2 - 1)


@checks.hidden("ex1_tests")
def no_content_at_all(learner):
    "a request that finished with no content"
    r = record([chunk(0.25, ""), chunk(0.5, "", None, "stop")], usage(0), sent_at=0.125)
    assert close(learner.ttft(r), 0.125)
    assert learner.ttfct(r) is None
    assert learner.itls(r) == []
    assert close(learner.e2e(r), 0.375)  # the last chunk of any kind
    assert learner.tpot(r) is None


@checks.hidden("ex1_tests")
def tokens_without_usage(learner):
    "no usage: per-chunk token counts when every content chunk has one"
    counted = record([chunk(0.125, "", None), chunk(0.25, "a b", 2), chunk(0.5, "c d e", 3)])
    assert learner.output_tokens(counted) == 5  # 2 + 3 (the role chunk has no count: no matter)
    assert close(learner.tpot(counted), 0.09375)  # (0.5 - 0.125) / (5 - 1)
    partly = record([chunk(0.1, "", 0), chunk(0.3, "a b", 2), chunk(0.5, "c", None, "stop")])
    assert learner.output_tokens(partly) == 2  # one content chunk lacks a count: 2 chunks
    assert close(learner.tpot(partly), 0.4)  # (0.5 - 0.1) / (2 - 1)


@checks.hidden("ex1_tests")
def usage_wins_over_chunk_counts(learner):
    "usage, when present, wins over every count from chunks"
    r = record([chunk(0.25, "a b", 2), chunk(0.5, "c d", 2)], usage(7))
    assert learner.output_tokens(r) == 7
    assert close(learner.tpot(r), 0.25 / 6)


@checks.hidden("ex1_tests")
def one_content_chunk(learner):
    "one content chunk: no gap; TPOT only if it carried several tokens"
    one = record([chunk(0.25, "a", None, "stop")], usage(1))
    assert learner.itls(one) == [] and learner.tpot(one) is None
    assert close(learner.e2e(one), 0.25)
    packed = record([chunk(0.25, "a b c", None, "stop")], usage(3))
    assert close(learner.tpot(packed), 0.0)  # (0.25 - 0.25) / 2: three tokens, one chunk


@checks.hidden("ex1_tests")
def clock_near_zero(learner):
    "a clock that started just before the request (times are differences, not ratios)"
    r = record(
        [chunk(0.25, ""), chunk(0.5, "a"), chunk(0.75, "b"), chunk(1.5, "c", None, "stop")],
        usage(3),
        sent_at=0.125,
    )
    assert close(learner.ttft(r), 0.125)
    assert close(learner.ttfct(r), 0.375)  # 0.5 - 0.125
    assert learner.itls(r) == [0.25, 0.75]
    assert close(learner.e2e(r), 1.375)
    at_zero = record([chunk(0.25, "a"), chunk(0.75, "b")], usage(2))
    assert close(learner.ttfct(at_zero), 0.25) and learner.itls(at_zero) == [0.5]


@checks.hidden("ex1_tests")
def tpot_needs_a_ttft(learner):
    "no TTFT, no TPOT, whatever usage says"
    r = record([], usage(4), status=200, error="stream closed before any chunk")
    assert learner.output_tokens(r) == 4
    assert learner.tpot(r) is None


# END HIDDEN CHECKS

# Exercise 2: reproduce vLLM's own numbers --------------------------------------------------


@checks.visible("ex2_tests")
def tpot_percentiles_as_vllm_printed(learner):
    "p99 and median TPOT as vllm bench serve printed them"
    result = load_vllm_bench("vllm_bench_scripted")
    tpots = learner.vllm_tpots(result)
    assert type(tpots) is list, f"return a list, not {type(tpots).__name__}"
    p99, p50 = np.percentile(tpots, 99) * 1000, np.median(tpots) * 1000
    assert math.isclose(p99, result["p99_tpot_ms"], rel_tol=1e-9), f"p99 {p99} ms"
    assert math.isclose(p50, result["median_tpot_ms"], rel_tol=1e-9), f"median {p50} ms"


@checks.visible("ex2_tests")
def goodput_as_vllm_printed(learner):
    "goodput as vllm bench serve printed it (TTFT <= 500 ms, TPOT <= 100 ms)"
    result = load_vllm_bench("vllm_bench_scripted")
    got = learner.vllm_goodput(result, BENCH_SLOS)
    assert close(got, result["request_goodput"], tol=1e-9 * result["request_goodput"]), got


# BEGIN HIDDEN CHECKS
# Five requests over 2 s: tpots (0.3 - 0.1) / 2 = 0.1, none (one token), none (failed),
# (0.7 - 0.3) / 4 = 0.1, (0.45 - 0.05) / 1 = 0.4.
HAND = {
    "duration": 2.0,
    "errors": ["", "", "boom", "", ""],
    "output_lens": [3, 1, 0, 5, 2],
    "ttfts": [0.1, 0.2, 0.0, 0.3, 0.05],
    "latencies": [0.3, 0.2, 0.0, 0.7, 0.45],
}
# Exact binary fractions, for limits at equality, over 4 s:
#   r0: ttft 0.125, e2el 0.625, tpot (0.625 - 0.125) / 4 = 0.125
#   r1: one token: ttft 0.25, e2el 0.25, tpot 0 for goodput
#   r2: ttft 0.0625, e2el 0.5625, tpot (0.5625 - 0.0625) / 2 = 0.25
#   r3: failed (it would meet everything)
EDGE = {
    "duration": 4.0,
    "errors": ["", "", "", "HTTP 500"],
    "output_lens": [5, 1, 3, 2],
    "ttfts": [0.125, 0.25, 0.0625, 0.0],
    "latencies": [0.625, 0.25, 0.5625, 0.0],
}


@checks.hidden("ex2_tests")
def tpots_of_the_vllm_recording(learner):
    "TPOT percentiles of the run against the embedded vLLM"
    result = load_vllm_bench("vllm_bench_vllm")
    tpots = learner.vllm_tpots(result)
    for p, key in [(99, "p99_tpot_ms"), (50, "median_tpot_ms"), (90, "p90_tpot_ms")]:
        assert math.isclose(np.percentile(tpots, p) * 1000, result[key], rel_tol=1e-9), key
    assert math.isclose(np.mean(tpots) * 1000, result["mean_tpot_ms"], rel_tol=1e-9)


@checks.hidden("ex2_tests")
def tpots_leave_out_failures_and_one_token(learner):
    "TPOT list: successful requests with more than one token, in request order"
    got = learner.vllm_tpots(HAND)
    assert type(got) is list and [round(t, 9) for t in got] == [0.1, 0.1, 0.4], got
    assert [round(t, 9) for t in learner.vllm_tpots(EDGE)] == [0.125, 0.25]


@checks.hidden("ex2_tests")
def tpots_leave_out_an_empty_answer(learner):
    "a successful request with no output token has no TPOT either"
    # vLLM counts output tokens from usage (or re-tokenises the text): an empty answer has 0
    empty = {
        "duration": 1.0,
        "errors": ["", ""],
        "output_lens": [0, 2],
        "ttfts": [0.5, 0.25],
        "latencies": [0.5, 0.75],
    }
    assert learner.vllm_tpots(empty) == [0.5]  # (0.75 - 0.25) / 1


@checks.hidden("ex2_tests")
def goodput_for_other_slos(learner):
    "goodput of the recorded run for other SLO sets"
    result = load_vllm_bench("vllm_bench_scripted")
    for i, slos in enumerate(OTHER_SLOS):
        got, want = learner.vllm_goodput(result, slos), checks.golden(f"ex2.goodput.{i}")
        assert close(got, want, tol=1e-9 * want), (slos, got)


@checks.hidden("ex2_tests")
def goodput_ttft_limit_is_inclusive(learner):
    "a TTFT exactly at its limit meets it"
    assert close(learner.vllm_goodput(EDGE, {"ttft": 125}), 2 / 4.0)  # r0 (on it), r2
    assert close(learner.vllm_goodput(EDGE, {"ttft": 124.9}), 1 / 4.0)  # r2 only


@checks.hidden("ex2_tests")
def goodput_tpot_limit_is_inclusive(learner):
    "a TPOT exactly at its limit meets it; one token counts as TPOT 0"
    assert close(learner.vllm_goodput(EDGE, {"tpot": 125}), 2 / 4.0)  # r0 (on it), r1
    assert close(learner.vllm_goodput(EDGE, {"tpot": 0}), 1 / 4.0)  # r1: 0 <= 0
    assert close(learner.vllm_goodput(HAND, {"tpot": 100}), 3 / 2.0)


@checks.hidden("ex2_tests")
def goodput_e2el_limit_is_inclusive(learner):
    "an E2E latency exactly at its limit meets it"
    assert close(learner.vllm_goodput(EDGE, {"e2el": 562.5}), 2 / 4.0)  # r1, r2 (on it)
    assert close(learner.vllm_goodput(EDGE, {"e2el": 562.4}), 1 / 4.0)  # r1 only


@checks.hidden("ex2_tests")
def goodput_needs_every_slo(learner):
    "a request must meet every SLO given"
    # r0 is on all three limits; r1's TTFT and r2's TPOT are over
    assert close(learner.vllm_goodput(EDGE, {"e2el": 625, "ttft": 125, "tpot": 125}), 1 / 4.0)
    assert close(learner.vllm_goodput(HAND, {"ttft": 200, "e2el": 300}), 2 / 2.0)


@checks.hidden("ex2_tests")
def goodput_never_counts_a_failure(learner):
    "a failed request never counts"
    assert close(learner.vllm_goodput(HAND, {"ttft": 10_000}), 4 / 2.0)
    assert close(learner.vllm_goodput(EDGE, {"e2el": 10_000}), 3 / 4.0)


# END HIDDEN CHECKS

# Exercise 3: which requests did the client get wrong ---------------------------------------


def heavy_errors(learner):
    heavy = load_records(LAB06 / "overhead_heavy.jsonl")
    return learner.client_error(heavy, load_server_records(SERVER))


@checks.visible("ex3_tests")
def heavy_client_rows(learner):
    "one row per request of the heavy client, indexed by request_id"
    errors_table(heavy_errors(learner), checks.golden("ex3.heavy"))


@checks.visible("ex3_tests")
def heavy_client_ttft_error(learner):
    "TTFT error of each request of the heavy client (client - truth, ms)"
    errors_table(heavy_errors(learner), checks.golden("ex3.heavy"), "ttft_error_ms")


@checks.visible("ex3_tests")
def heavy_client_e2e_error(learner):
    "E2E error of each request of the heavy client (client - truth, ms)"
    errors_table(heavy_errors(learner), checks.golden("ex3.heavy"), "e2e_error_ms")


@checks.visible("ex3_tests")
def suspicious_requests_of_the_heavy_client(learner):
    "requests more than 50 ms late at E2E, worst first"
    got = learner.suspicious(checks.golden("ex3.heavy"), 50.0)
    assert type(got) is list, f"return a list of request ids, not {type(got).__name__}"
    assert got == checks.golden("ex3.heavy.suspicious_50"), got


# BEGIN HIDDEN CHECKS
def server_record(rid: str, received: float, chunks: list[tuple[str, str, float]]) -> dict:
    return {
        "client_request_id": rid,
        "received_perf": received,
        "chunks": [{"kind": k, "text": x, "sent_perf": t} for k, x, t in chunks],
    }


def client_record(rid: str, sent: float, chunks: list[tuple[float, str]], **extra) -> dict:
    out = {"request_id": rid, "sent_at": sent, "status": 200, "error": None, "usage": None}
    out["chunks"] = [{"t": t, "text": x, "n_tokens": None} for t, x in chunks]
    return out | extra


# A server that sent a role chunk, two words and an empty closing chunk; truth: TTFT 10 ms
# (role), E2E 60 ms (last text). The client saw them 20 ms and 40 ms later (sent 10 ms early).
ROLE = server_record(
    "a",
    10.0,
    [("role", "", 10.01), ("content", "x", 10.05), ("content", "y", 10.06), ("content", "", 10.07)],
)
ROLE_CLIENT = client_record("a", 9.99, [(10.02, ""), (10.07, "x"), (10.09, "y"), (10.095, "")])


def plain_server(rid: str) -> dict:
    return server_record(rid, 0.0, [("content", "x", 0.25), ("content", "y", 0.5)])


@checks.hidden("ex3_tests")
def light_client_errors(learner):
    "errors of the light client (servelab.bench) against the same truth"
    light = load_records(LAB06 / "overhead_light.jsonl")
    got = learner.client_error(light, load_server_records(SERVER))
    expected = checks.golden("ex3.light")
    errors_table(got, expected, "ttft_error_ms", "light ")
    errors_table(got, expected, "e2e_error_ms", "light ")


@checks.hidden("ex3_tests")
def role_chunk_counts_on_both_sides(learner):
    "TTFT counts the role chunk on both sides; E2E ends at the last chunk with text"
    e = learner.client_error([ROLE_CLIENT], [ROLE])
    assert list(e.index) == ["a"], list(e.index)
    assert math.isclose(number(e.loc["a", "ttft_error_ms"]), 20.0, abs_tol=1e-6)  # 30 - 10
    assert math.isclose(number(e.loc["a", "e2e_error_ms"]), 40.0, abs_tol=1e-6)  # 100 - 60


@checks.hidden("ex3_tests")
def server_clock_near_zero(learner):
    "a server clock that started just before the request"
    # truth: TTFT 0.25 - 0.125 (the role chunk), E2E 0.75 - 0.125; the client saw each 250 ms late
    server = server_record(
        "z", 0.125, [("role", "", 0.25), ("content", "x", 0.5), ("content", "y", 0.75)]
    )
    client = client_record("z", 0.0, [(0.375, ""), (0.625, "x"), (0.875, "y")])
    e = learner.client_error([client], [server])
    assert math.isclose(number(e.loc["z", "ttft_error_ms"]), 250.0, abs_tol=1e-6)  # 375 - 125
    assert math.isclose(number(e.loc["z", "e2e_error_ms"]), 250.0, abs_tol=1e-6)  # 875 - 625


@checks.hidden("ex3_tests")
def request_without_a_server_record(learner):
    "a successful request the server has no record of is left out"
    clients = [client_record("b", 0.0, [(1.0, "z")]), ROLE_CLIENT]
    assert list(learner.client_error(clients, [ROLE]).index) == ["a"]


@checks.hidden("ex3_tests", weight=2)
def failed_requests_with_a_server_record(learner):
    "failed requests are left out, even when the server has a record of them"
    clients = [
        client_record("cut", 0.0, [(0.375, "x")], error="stream cut after 1 chunk"),
        client_record("http", 0.0, [(0.375, "x")], status=500),
        client_record("refused", 0.0, [], status=503, error="HTTP 503"),
        ROLE_CLIENT,
    ]
    servers = [ROLE] + [plain_server(rid) for rid in ("cut", "http", "refused")]
    assert list(learner.client_error(clients, servers).index) == ["a"]


@checks.hidden("ex3_tests")
def request_without_content(learner):
    "a request that streamed no text is left out"
    clients = [client_record("empty", 0.0, [(0.125, ""), (0.25, "")]), ROLE_CLIENT]
    servers = [ROLE, server_record("empty", 0.0, [("role", "", 0.1), ("content", "", 0.2)])]
    assert list(learner.client_error(clients, servers).index) == ["a"]


@checks.hidden("ex3_tests")
def suspicious_requests_of_the_light_client(learner):
    "another table and threshold"
    light = checks.golden("ex3.light")
    assert learner.suspicious(light, 5.0) == checks.golden("ex3.light.suspicious_5")
    assert learner.suspicious(light, 1e9) == []


@checks.hidden("ex3_tests")
def suspicious_is_strictly_above(learner):
    "a request exactly at the threshold is not suspicious"
    tie = pd.DataFrame(
        {"ttft_error_ms": [0.0, 0.0, 0.0], "e2e_error_ms": [10.0, 30.0, 10.0]},
        index=pd.Index(["p", "q", "r"], name="request_id"),
    )
    assert learner.suspicious(tie, 10.0) == ["q"]


@checks.hidden("ex3_tests")
def suspicious_worst_first(learner):
    "worst first, whatever the table's order (ties in any order)"
    tie = pd.DataFrame(
        {"ttft_error_ms": [0.0, 0.0, 0.0, 0.0], "e2e_error_ms": [10.0, 30.0, 10.0, 20.0]},
        index=pd.Index(["p", "q", "r", "s"], name="request_id"),
    )
    got = learner.suspicious(tie, 5.0)
    assert type(got) is list and got[:2] == ["q", "s"] and sorted(got[2:]) == ["p", "r"], got


# END HIDDEN CHECKS
