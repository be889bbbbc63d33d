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
def ttft_of_the_vllm_recording(learner):
    "ttft of the vLLM recording"
    got = learner.ttft(load_trace("vllm_short"))
    assert close(got, checks.golden("ex1.vllm_short.ttft")), (
        f"ttft = {got!r}: TTFT counts the first chunk, even an empty one"
    )


@checks.visible("ex1_tests")
def itl_mean_of_the_vllm_recording(learner):
    "itl_mean of the vLLM recording"
    got = learner.itl_mean(load_trace("vllm_short"))
    assert close(got, checks.golden("ex1.vllm_short.itl_mean")), (
        f"itl_mean = {got!r}: the mean gap between chunks that carry text"
    )


@checks.visible("ex1_tests")
def e2e_of_the_vllm_recording(learner):
    "e2e of the vLLM recording"
    got = learner.e2e(load_trace("vllm_short"))
    assert close(got, checks.golden("ex1.vllm_short.e2e")), (
        f"e2e = {got!r}: the last chunk with text, minus the send time"
    )


# BEGIN HIDDEN CHECKS
#: A hand-made trace that opens and closes with empty chunks.
EDGE = {
    "sent_at": 10.0,
    "chunks": [
        {"t": 10.2, "text": ""},
        {"t": 10.5, "text": "Hel"},
        {"t": 10.6, "text": "lo"},
        {"t": 10.9, "text": "!"},
        {"t": 11.5, "text": ""},
    ],
}
#: Sent at time 0, uneven gaps between text chunks (0.75, 0.25, 0.25 s), an empty chunk between.
FROM_ZERO = {
    "sent_at": 0.0,
    "chunks": [
        {"t": 0.25, "text": "a"},
        {"t": 1.0, "text": "b"},
        {"t": 1.1, "text": ""},
        {"t": 1.25, "text": "c"},
        {"t": 1.5, "text": "d"},
    ],
}


def metric_of_the_other_recordings(learner, metric: str) -> None:
    for name in ("vllm_long", "llamacpp_short"):
        got = getattr(learner, metric)(load_trace(name))
        assert close(got, checks.golden(f"ex1.{name}.{metric}")), name


@checks.hidden("ex1_tests")
def ttft_of_the_other_recordings(learner):
    "ttft of the other recordings (long answer, llama.cpp)"
    metric_of_the_other_recordings(learner, "ttft")


@checks.hidden("ex1_tests")
def itl_mean_of_the_other_recordings(learner):
    "itl_mean of the other recordings (long answer, llama.cpp)"
    metric_of_the_other_recordings(learner, "itl_mean")


@checks.hidden("ex1_tests")
def e2e_of_the_other_recordings(learner):
    "e2e of the other recordings (long answer, llama.cpp)"
    metric_of_the_other_recordings(learner, "e2e")


@checks.hidden("ex1_tests")
def ttft_counts_an_empty_first_chunk(learner):
    "ttft: an empty first chunk counts"
    assert close(learner.ttft(EDGE), 0.2)  # 10.2 - 10.0


@checks.hidden("ex1_tests")
def itl_mean_skips_empty_chunks(learner):
    "itl_mean: empty chunks at the start and the end are not gaps"
    assert close(learner.itl_mean(EDGE), 0.2)  # (10.9 - 10.5) / 2 gaps between text chunks


@checks.hidden("ex1_tests")
def e2e_ignores_a_trailing_empty_chunk(learner):
    "e2e: a trailing empty chunk does not count"
    assert close(learner.e2e(EDGE), 0.9)  # 10.9 - 10.0


@checks.hidden("ex1_tests")
def fewer_than_two_text_chunks_have_no_itl(learner):
    "itl_mean: fewer than two chunks of text give None"
    one = {"sent_at": 0.0, "chunks": [{"t": 0.3, "text": "ok"}, {"t": 0.31, "text": ""}]}
    assert learner.itl_mean(one) is None
    none = {"sent_at": 5.0, "chunks": [{"t": 5.1, "text": ""}, {"t": 5.2, "text": ""}]}
    assert learner.itl_mean(none) is None


@checks.hidden("ex1_tests")
def e2e_of_a_single_text_chunk(learner):
    "e2e: an answer of one chunk"
    one = {"sent_at": 0.0, "chunks": [{"t": 0.3, "text": "ok"}, {"t": 0.31, "text": ""}]}
    assert close(learner.e2e(one), 0.3)


@checks.hidden("ex1_tests")
def ttft_subtracts_any_send_time(learner):
    "ttft subtracts the send time, whatever it is"
    late = {"sent_at": 1000.0, "chunks": [{"t": 1000.5, "text": "a"}, {"t": 1001.5, "text": "b"}]}
    assert close(learner.ttft(late), 0.5)
    assert close(learner.ttft(FROM_ZERO), 0.25)


@checks.hidden("ex1_tests")
def itl_mean_of_uneven_gaps(learner):
    "itl_mean is the mean of uneven gaps"
    # (0.75 + 0.25 + 0.25) / 3 = (1.5 - 0.25) / 3 gaps (the median gap would be 0.25)
    assert close(learner.itl_mean(FROM_ZERO), 1.25 / 3)
    late = {"sent_at": 1000.0, "chunks": [{"t": 1000.5, "text": "a"}, {"t": 1001.5, "text": "b"}]}
    assert close(learner.itl_mean(late), 1.0)


@checks.hidden("ex1_tests")
def e2e_subtracts_any_send_time(learner):
    "e2e subtracts the send time, whatever it is"
    late = {"sent_at": 1000.0, "chunks": [{"t": 1000.5, "text": "a"}, {"t": 1001.5, "text": "b"}]}
    assert close(learner.e2e(late), 1.5)
    assert close(learner.e2e(FROM_ZERO), 1.5)


# END HIDDEN CHECKS

# Exercise 2: which stages are over budget ---------------------------------------------------


@checks.visible("ex2_tests")
def over_budget_on_the_recorded_incident(learner):
    "the stages of the recorded incident that are over budget, worst first"
    result = learner.over_budget(load_budget())
    assert type(result) is list, f"return a list of stage names, not {type(result).__name__}"
    assert result == checks.golden("ex2.recorded"), result


# BEGIN HIDDEN CHECKS
def budget_table(rows: list[tuple[str, int, int]]) -> pd.DataFrame:
    """(stage, budget_ms, actual_ms) rows, in the order given."""
    return pd.DataFrame(rows, columns=["stage", "budget_ms", "actual_ms"])


@checks.hidden("ex2_tests")
def a_stage_exactly_on_budget_is_not_over(learner):
    "a stage exactly on budget is not over it"
    case = budget_table([("a", 10, 12), ("b", 100, 100), ("c", 50, 95)])
    assert learner.over_budget(case) == ["c", "a"]  # 45 and 2 ms over; b is on budget


@checks.hidden("ex2_tests")
def worst_overshoot_in_ms_first(learner):
    "the worst overshoot in milliseconds comes first (not the worst ratio)"
    case = budget_table([("x", 10, 30), ("big", 1000, 1005), ("y", 100, 150), ("z", 25, 65)])
    # over by 20, 5, 50 and 40 ms: y, z, x, big; by ratio (3, 1.005, 1.5, 2.6) it would be
    # x, z, y, big; by size (actual + budget) big would come first
    assert learner.over_budget(case) == ["y", "z", "x", "big"]


@checks.hidden("ex2_tests")
def nothing_over_budget(learner):
    "nothing over budget gives an empty list"
    case = budget_table([("b", 100, 100), ("e", 5, 4)])
    assert learner.over_budget(case) == []


@checks.hidden("ex2_tests")
def rows_out_of_order(learner):
    "rows in any order (the answer sorts, it does not keep the table's order)"
    case = budget_table([("x", 10, 11), ("y", 10, 30), ("z", 10, 20), ("w", 10, 9)])
    assert learner.over_budget(case) == ["y", "z", "x"]  # 20, 10, 1 ms over


# END HIDDEN CHECKS

# Exercise 3: predicting E2E and the token budget of an SLO ----------------------------------


@checks.visible("ex3_tests")
def predict_e2e_of_n_tokens(learner):
    "predict_e2e: TTFT, then one gap per later token"
    assert close(learner.predict_e2e(0.2, 0.05, 1), 0.2), "one token: just the TTFT"
    assert close(learner.predict_e2e(0.2, 0.05, 11), 0.7), "TTFT plus one gap per later token"


@checks.visible("ex3_tests")
def max_tokens_within_an_slo(learner):
    "max_tokens_within: how many tokens fit in an SLO"
    got = learner.max_tokens_within(2.0, 0.25, 0.1)
    assert got == 18, f"{got!r}: 0.25 + 0.1 x 17 = 1.95 s fits in 2 s, one more does not"


# BEGIN HIDDEN CHECKS
@checks.hidden("ex3_tests")
def predict_e2e_long_answer(learner):
    "predict_e2e: a 256-token answer"
    assert close(learner.predict_e2e(0.085, 0.013, 256), 0.085 + 0.013 * 255)


@checks.hidden("ex3_tests")
def no_tokens_is_an_error(learner):
    "predict_e2e: fewer than one token raises ValueError"
    for n in (0, -2):
        with raises("ValueError"):
            learner.predict_e2e(0.1, 0.01, n)


@checks.hidden("ex3_tests")
def slo_missed_before_the_first_token(learner):
    "max_tokens_within: an SLO shorter than the TTFT fits no token"
    assert learner.max_tokens_within(0.1, 0.3, 0.01) == 0
    assert learner.max_tokens_within(0.5, 0.5 + 1e-6, 0.001) == 0  # just too late


@checks.hidden("ex3_tests")
def first_token_exactly_at_the_slo(learner):
    "max_tokens_within: a first token exactly at the SLO counts"
    assert learner.max_tokens_within(0.5, 0.5, 1.0) == 1
    assert learner.max_tokens_within(0.5, 0.5 - 1e-9, 1.0) == 1


@checks.hidden("ex3_tests")
def last_token_exactly_on_the_slo(learner):
    "max_tokens_within: the last token landing exactly on the SLO still counts"
    assert learner.max_tokens_within(1.25, 0.25, 0.1) == 11  # 0.25 + 10 x 0.1 = 1.25 exactly
    assert learner.max_tokens_within(0.7, 0.2, 0.05) == 11  # 0.2 + 10 x 0.05 = 0.7
    assert learner.max_tokens_within(2.1, 0.1, 0.2) == 11  # 0.1 + 10 x 0.2 = 2.1


@checks.hidden("ex3_tests")
def token_budget_follows_every_argument(learner):
    "max_tokens_within follows the SLO, the TTFT and the ITL"
    assert learner.max_tokens_within(1.0, 0.35, 0.02) == 33  # 0.65 / 0.02 = 32.5 gaps
    assert learner.max_tokens_within(3.0, 1.0, 0.5) == 5  # 2.0 / 0.5 = 4 gaps, exactly
    assert learner.max_tokens_within(3.0, 0.5, 0.5) == 6  # 2.5 / 0.5 = 5 gaps
    assert learner.max_tokens_within(3.5, 1.0, 0.5) == 6  # 2.5 / 0.5 = 5 gaps


@checks.hidden("ex3_tests")
def token_budget_is_an_int(learner):
    "max_tokens_within returns an int"
    assert type(learner.max_tokens_within(2.0, 0.25, 0.1)) is int
    assert type(learner.max_tokens_within(0.1, 0.3, 0.01)) is int


# END HIDDEN CHECKS
