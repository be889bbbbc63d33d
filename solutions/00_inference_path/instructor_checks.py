"""Lab 00's checks: the instructor's only copy (never released; labs/ gets the visible part).

Expected values for recordings are goldens (``servelab course goldens 00_inference_path``);
constructed cases carry their expected value beside the case, where a reader can verify it.
"""

from __future__ import annotations

import pandas as pd

from servelab.grading.checks import Checks, close, raises
from servelab.labs.lab00_inference_path import load_budget, load_trace
from servelab_base.paths import DATASETS

checks = Checks(goldens=DATASETS / "lab00" / "expected.json")
METRICS = ("ttft", "itl_mean", "e2e")


def trace_metrics(learner, trace: dict) -> dict:
    return {name: getattr(learner, name)(trace) for name in METRICS}


# BEGIN HIDDEN CHECKS
@checks.cases
def cases(solution) -> dict:
    """Goldens: the three metrics of every recorded trace, from the reference solution."""
    visible = {
        f"ex1.vllm_short.{k}": v
        for k, v in trace_metrics(solution, load_trace("vllm_short")).items()
    }
    visible["ex2.recorded"] = solution.over_budget(load_budget())
    hidden = {}
    for name in ("vllm_long", "llamacpp_short"):
        hidden |= {
            f"ex1.{name}.{k}": v for k, v in trace_metrics(solution, load_trace(name)).items()
        }
    return {"visible": visible, "hidden": hidden}


# END HIDDEN CHECKS

# Exercise 1: TTFT, ITL and E2E from a trace ------------------------------------------------


@checks.visible("ex1_tests")
def ttft_itl_e2e_of_the_vllm_recording(learner):
    "TTFT, ITL and E2E of the vLLM recording"
    got = trace_metrics(learner, load_trace("vllm_short"))
    assert close(got["ttft"], checks.golden("ex1.vllm_short.ttft")), (
        f"ttft = {got['ttft']!r}: TTFT counts the first chunk, even an empty one"
    )
    assert close(got["itl_mean"], checks.golden("ex1.vllm_short.itl_mean")), (
        f"itl_mean = {got['itl_mean']!r}: the mean gap between chunks that carry text"
    )
    assert close(got["e2e"], checks.golden("ex1.vllm_short.e2e")), (
        f"e2e = {got['e2e']!r}: the last chunk with text, minus the send time"
    )


# BEGIN HIDDEN CHECKS
@checks.hidden("ex1_tests")
def metrics_of_the_other_recordings(learner):
    "TTFT, ITL and E2E of the other recordings (long answer, llama.cpp)"
    for name in ("vllm_long", "llamacpp_short"):
        got = trace_metrics(learner, load_trace(name))
        for metric in METRICS:
            assert close(got[metric], checks.golden(f"ex1.{name}.{metric}")), (name, metric)


@checks.hidden("ex1_tests")
def empty_first_and_last_chunks(learner):
    "a trace that opens and closes with empty chunks"
    edge = {
        "sent_at": 10.0,
        "chunks": [
            {"t": 10.2, "text": ""},
            {"t": 10.5, "text": "Hel"},
            {"t": 10.6, "text": "lo"},
            {"t": 10.9, "text": "!"},
            {"t": 11.5, "text": ""},
        ],
    }
    assert close(learner.ttft(edge), 0.2)  # the empty first chunk counts
    assert close(learner.itl_mean(edge), 0.2)  # (10.9 - 10.5) / 2: text chunks only
    assert close(learner.e2e(edge), 0.9)  # the trailing empty chunk does not


@checks.hidden("ex1_tests")
def one_text_chunk_has_no_itl(learner):
    "one chunk of text: no inter-token latency"
    one = {"sent_at": 0.0, "chunks": [{"t": 0.3, "text": "ok"}, {"t": 0.31, "text": ""}]}
    assert learner.itl_mean(one) is None
    assert close(learner.e2e(one), 0.3)


@checks.hidden("ex1_tests")
def send_time_is_not_zero(learner):
    "the send time is subtracted, whatever it is"
    late = {"sent_at": 1000.0, "chunks": [{"t": 1000.5, "text": "a"}, {"t": 1001.5, "text": "b"}]}
    assert close(learner.ttft(late), 0.5)
    assert close(learner.itl_mean(late), 1.0)
    assert close(learner.e2e(late), 1.5)


# END HIDDEN CHECKS

# Exercise 2: which stages are over budget ---------------------------------------------------


@checks.visible("ex2_tests")
def over_budget_on_the_recorded_incident(learner):
    "the stages of the recorded incident that are over budget, worst first"
    result = learner.over_budget(load_budget())
    assert type(result) is list, f"return a list of stage names, not {type(result).__name__}"
    assert result == checks.golden("ex2.recorded"), result


# BEGIN HIDDEN CHECKS
@checks.hidden("ex2_tests")
def over_budget_orders_by_overshoot_and_excludes_on_budget(learner):
    "worst overshoot first; a stage exactly on budget is not over"
    case = pd.DataFrame(
        {
            "stage": ["a", "b", "c", "d", "e"],
            "budget_ms": [10, 100, 50, 20, 5],
            "actual_ms": [12, 100, 95, 70, 4],
        }
    )
    assert learner.over_budget(case) == ["d", "c", "a"]  # 50 > 45 > 2 ms over; b is on budget


@checks.hidden("ex2_tests")
def nothing_over_budget(learner):
    "nothing over budget gives an empty list"
    case = pd.DataFrame({"stage": ["b", "e"], "budget_ms": [100, 5], "actual_ms": [100, 4]})
    assert learner.over_budget(case) == []


@checks.hidden("ex2_tests")
def rows_out_of_order(learner):
    "rows in any order (the answer sorts, it does not keep the table's order)"
    case = pd.DataFrame(
        {"stage": ["x", "y", "z"], "budget_ms": [10, 10, 10], "actual_ms": [11, 30, 20]}
    )
    assert learner.over_budget(case) == ["y", "z", "x"]


# END HIDDEN CHECKS

# Exercise 3: predicting E2E and the token budget of an SLO ----------------------------------


@checks.visible("ex3_tests")
def predict_e2e_and_token_budget(learner):
    "E2E of N tokens, and how many tokens fit in an SLO"
    assert close(learner.predict_e2e(0.2, 0.05, 1), 0.2), "one token: just the TTFT"
    assert close(learner.predict_e2e(0.2, 0.05, 11), 0.7), "TTFT plus one gap per later token"
    assert learner.max_tokens_within(2.0, 0.25, 0.1) == 18


# BEGIN HIDDEN CHECKS
@checks.hidden("ex3_tests")
def predict_e2e_long_answer(learner):
    "a 256-token answer"
    assert close(learner.predict_e2e(0.085, 0.013, 256), 0.085 + 0.013 * 255)


@checks.hidden("ex3_tests")
def no_tokens_is_an_error(learner):
    "fewer than one token raises ValueError"
    with raises("ValueError"):
        learner.predict_e2e(0.1, 0.01, 0)


@checks.hidden("ex3_tests")
def slo_missed_before_the_first_token(learner):
    "an SLO shorter than the TTFT fits no token"
    assert learner.max_tokens_within(0.1, 0.3, 0.01) == 0


@checks.hidden("ex3_tests")
def token_budget_boundaries(learner):
    "the last token landing exactly on the SLO still counts"
    assert learner.max_tokens_within(1.0, 0.35, 0.02) == 33
    assert learner.max_tokens_within(0.5, 0.5 - 1e-9, 1.0) == 1
    assert learner.max_tokens_within(0.5, 0.5, 1.0) == 1  # first token exactly at the SLO
    assert learner.max_tokens_within(1.25, 0.25, 0.1) == 11  # 0.25 + 10 x 0.1 = 1.25 exactly


@checks.hidden("ex3_tests")
def token_budget_is_an_int(learner):
    "the token budget is an int"
    assert type(learner.max_tokens_within(2.0, 0.25, 0.1)) is int


# END HIDDEN CHECKS
