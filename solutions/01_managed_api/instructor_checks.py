"""Lab 01's checks: the instructor's only copy (never released; labs/ gets the visible part).

Expected values that follow from a recording (a month on the recorded usage log, a stream's
TTFT, what a policy does with a recorded 429 storm) are goldens, written by
``servelab course goldens 01_managed_api`` from the reference solution. Constructed cases carry
their expected value beside them, with the arithmetic.

Exercise 2 is graded with the replay harness running here, in the grader: the learner's
``call_with_retries`` gets ``send`` and ``sleep`` as grader-side functions
(servelab/labs/lab01_retry_replay.py), so the recording, the fake clock and the log of attempts
never enter the learner's kernel.
"""

from __future__ import annotations

import json
import math

import pandas as pd

from servelab.grading.checks import Checks, LearnerRaised, close
from servelab.labs.lab01_managed_api import load_stream, load_usage_log
from servelab.labs.lab01_retry_replay import (
    Answer,
    Recording,
    ReplayedCompletion,
    load_recording,
    replay,
    status_error,
)
from servelab_base.catalog import Price, load
from servelab_base.paths import DATASETS

checks = Checks(goldens=DATASETS / "lab01" / "expected.json")
catalog = load()
MINI = catalog.price("openai", "gpt-4o-mini")  # 0.15 in / 0.60 out USD per million tokens
BIG = catalog.price("openai", "gpt-5.1")  # 1.25 in / 10.00 out
STREAM_METRICS = ("ttft", "e2e", "tpot")


def same(got, expected: float) -> bool:
    """A real number (exactly int or float) equal to ``expected`` up to float rounding."""
    return type(got) in (int, float) and math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-12)


def price(input_usd: float, output_usd: float) -> Price:
    """A made-up per-token price: the answer must use the price it is given."""
    return Price("per_million_tokens", input_usd, output_usd, None, "constructed", "checks")


def outcome(result) -> dict:
    """What a replayed policy did: how it ended, its waits, its attempts, its early retries."""
    return {
        "outcome": result.outcome,
        "sleeps": result.sleeps,
        "attempts": result.attempts,
        "premature": result.premature,
    }


def stream_metrics(who, trace: dict) -> dict:
    return {name: getattr(who, name)(trace) for name in STREAM_METRICS}


# Replays whose expected outcome follows from a recording: (golden key, recording, arguments).
VISIBLE_REPLAYS = [("storm", "storm", {}), ("outage", "outage", {})]

# BEGIN HIDDEN CHECKS
HIDDEN_REPLAYS = [
    ("mixed", "mixed", {}),
    ("long_storm", "long_storm", {}),
    ("long_storm_3", "long_storm", {"max_attempts": 3}),
    ("long_storm_1", "long_storm", {"max_attempts": 1}),
    ("long_storm_7", "long_storm", {"max_attempts": 7}),
    ("bad_key", "bad_key", {}),
    ("bad_request", "bad_request", {}),
    ("bad_model", "bad_model", {}),
    ("tpm", "tpm", {}),
    ("long_wait", "long_wait", {}),
    ("long_outage_6", "long_outage", {"max_attempts": 6}),
    ("long_outage_7", "long_outage", {"max_attempts": 7}),
]


@checks.cases
def cases(solution) -> dict:
    """Goldens: the reference solution on every recording."""
    log = load_usage_log()
    visible = {
        "ex1.month.recorded_log.gpt-4o-mini.20000": solution.monthly_cost_usd(log, MINI, 20_000)
    }
    visible |= {
        f"ex2.{key}": outcome(replay(solution.call_with_retries, name, **kw))
        for key, name, kw in VISIBLE_REPLAYS
    }
    visible |= {
        f"ex3.short.{k}": v for k, v in stream_metrics(solution, load_stream("short")).items()
    }
    hidden = {
        "ex1.month.recorded_log.gpt-5.1.5000.31": solution.monthly_cost_usd(
            log, BIG, 5_000, days=31
        )
    }
    hidden |= {
        f"ex2.{key}": outcome(replay(solution.call_with_retries, name, **kw))
        for key, name, kw in HIDDEN_REPLAYS
    }
    for name in ("slow_first", "stall"):
        hidden |= {
            f"ex3.{name}.{k}": v for k, v in stream_metrics(solution, load_stream(name)).items()
        }
    return {"visible": visible, "hidden": hidden}


# END HIDDEN CHECKS

# Exercise 1: the cost of a call and of a month ----------------------------------------------


@checks.visible("ex1_tests")
def cost_of_one_call(learner):
    "the cost of one call: input and output tokens, each at its price per million"
    got = learner.call_cost_usd({"prompt_tokens": 1_000_000, "completion_tokens": 0}, MINI)
    assert same(got, 0.15), f"a million prompt tokens on gpt-4o-mini cost 0.15 USD, not {got!r}"
    got = learner.call_cost_usd({"prompt_tokens": 55, "completion_tokens": 39}, MINI)
    # (55 x 0.15 + 39 x 0.60) / 1e6 = (8.25 + 23.4) / 1e6
    assert same(got, 3.165e-05), f"55 in / 39 out on gpt-4o-mini: {got!r} USD"


@checks.visible("ex1_tests")
def month_of_the_recorded_log(learner):
    "a month of 20,000 calls a day like the recorded ones, on gpt-4o-mini"
    got = learner.monthly_cost_usd(load_usage_log(), MINI, 20_000)
    expected = checks.golden("ex1.month.recorded_log.gpt-4o-mini.20000")
    assert same(got, expected), f"{got!r} USD: mean cost per call x calls per day x 30 days"


# BEGIN HIDDEN CHECKS
@checks.hidden("ex1_tests")
def output_tokens_at_the_output_price(learner):
    "output tokens are priced apart from input tokens"
    got = learner.call_cost_usd({"prompt_tokens": 1200, "completion_tokens": 300}, BIG)
    assert same(got, (1200 * 1.25 + 300 * 10.0) / 1e6)  # 0.0045 USD
    got = learner.call_cost_usd({"prompt_tokens": 0, "completion_tokens": 2_000_000}, MINI)
    assert same(got, 1.2)  # 2 x 0.60


@checks.hidden("ex1_tests")
def the_price_it_is_given(learner):
    "the price passed in is the one used (any price)"
    usage = {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}
    assert same(learner.call_cost_usd(usage, price(3.0, 7.0)), 3.7e-4)  # (300 + 70) / 1e6
    assert same(learner.call_cost_usd(usage, price(7.0, 3.0)), 7.3e-4)  # (700 + 30) / 1e6


@checks.hidden("ex1_tests")
def no_tokens_cost_nothing(learner):
    "a call of no tokens costs nothing"
    assert same(learner.call_cost_usd({"prompt_tokens": 0, "completion_tokens": 0}, BIG), 0.0)


@checks.hidden("ex1_tests")
def month_is_the_mean_call(learner):
    "a month uses the mean cost per call, not the sum"
    two = pd.DataFrame({"prompt_tokens": [100, 300], "completion_tokens": [50, 150]})
    # mean call: 200 in, 100 out -> (200 x 0.15 + 100 x 0.60) / 1e6 = 9e-5 USD; x 1000 x 30
    assert same(learner.monthly_cost_usd(two, MINI, 1000), 2.7)
    one = pd.DataFrame({"prompt_tokens": [1000], "completion_tokens": [0]})
    assert same(learner.monthly_cost_usd(one, MINI, 1000), 4.5)  # 1.5e-4 x 1000 x 30


@checks.hidden("ex1_tests")
def month_scales_with_calls_per_day(learner):
    "calls per day: any number, whole or not"
    two = pd.DataFrame({"prompt_tokens": [100, 300], "completion_tokens": [50, 150]})
    assert same(learner.monthly_cost_usd(two, MINI, 2500), 6.75)  # 9e-5 x 2500 x 30
    assert same(learner.monthly_cost_usd(two, MINI, 12.5), 0.03375)  # 9e-5 x 12.5 x 30


@checks.hidden("ex1_tests")
def month_of_any_length(learner):
    "the number of days: given, or 30 by default"
    two = pd.DataFrame({"prompt_tokens": [100, 300], "completion_tokens": [50, 150]})
    assert same(learner.monthly_cost_usd(two, MINI, 1000, days=7), 0.63)  # 9e-5 x 1000 x 7
    assert same(learner.monthly_cost_usd(two, MINI, 1000, 31), 2.79)  # 9e-5 x 1000 x 31
    assert same(learner.monthly_cost_usd(two, MINI, 1000), 2.7)  # 30 days by default


@checks.hidden("ex1_tests")
def month_at_the_price_given(learner):
    "a month at another model's price"
    two = pd.DataFrame({"prompt_tokens": [100, 300], "completion_tokens": [50, 150]})
    # mean call (200 x 3.0 + 100 x 7.0) / 1e6 = 1.3e-3 USD; x 500 calls x 7 days
    assert same(learner.monthly_cost_usd(two, price(3.0, 7.0), 500, days=7), 4.55)
    got = learner.monthly_cost_usd(load_usage_log(), BIG, 5_000, days=31)
    assert same(got, checks.golden("ex1.month.recorded_log.gpt-5.1.5000.31"))


# END HIDDEN CHECKS

# Exercise 2: a retry policy that honours Retry-After ----------------------------------------


@checks.visible("ex2_tests")
def waits_exactly_retry_after(learner):
    "three 429s with Retry-After, then success: wait exactly as told"
    got = outcome(replay(learner.call_with_retries, "storm"))
    expected = checks.golden("ex2.storm")
    assert got["outcome"] == "ok", (
        f"the storm ends in a 200, but the replay ended: {got['outcome']}"
    )
    assert got["sleeps"] == expected["sleeps"], (
        f"waited {got['sleeps']}: wait exactly the Retry-After of each 429 ({expected['sleeps']})"
    )
    assert got == expected, f"{got}: one attempt per answer, none before Retry-After"


@checks.visible("ex2_tests")
def backs_off_without_retry_after(learner):
    "503s without Retry-After: exponential backoff from 0.5 s"
    got = outcome(replay(learner.call_with_retries, "outage"))
    expected = checks.golden("ex2.outage")
    assert got["outcome"] == "ok", f"two 503s then a 200 should succeed: {got['outcome']}"
    assert got == expected, f"waited {got['sleeps']}: 0.5 s after the first failure, then 1 s"


# BEGIN HIDDEN CHECKS
def status(code: int, retry_after: str | None = None) -> Answer:
    """A constructed error answer in OpenAI's shape (for branches no recording covers)."""
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    body = {
        "error": {
            "message": f"constructed {code}",
            "type": "server_error",
            "param": None,
            "code": None,
        }
    }
    return Answer(code, headers, body)


def ok_answer() -> Answer:
    return load_recording("storm").answers[-1]  # a recorded 200


def constructed(*answers: Answer) -> Recording:
    return Recording("constructed", tuple(answers), {"source": "constructed in the checks"})


def replayed(learner, key: str, name: str, **kw) -> None:
    got = outcome(replay(learner.call_with_retries, name, **kw))
    assert got == checks.golden(f"ex2.{key}")


@checks.hidden("ex2_tests")
def a_5xx_then_a_429(learner):
    "a 500, then a 429 with Retry-After: backoff, then Retry-After"
    replayed(learner, "mixed", "mixed")


@checks.hidden("ex2_tests")
def returns_the_completion(learner):
    "returns the completion that send() gave, unchanged"
    result = replay(learner.call_with_retries, "mixed")
    recorded = load_recording("mixed").answers[-1]
    assert result.returned == ReplayedCompletion(json.dumps(recorded.body))


@checks.hidden("ex2_tests")
def gives_up_after_max_attempts(learner):
    "an endless 429 storm: give up after max_attempts, no wait after the last"
    replayed(learner, "long_storm", "long_storm")


@checks.hidden("ex2_tests")
def gives_up_by_raising_sends_error(learner):
    "giving up re-raises the error send() raised"
    result = replay(learner.call_with_retries, "long_storm")
    error = result.error
    assert isinstance(error, LearnerRaised)
    assert error.is_a("servelab.labs.lab01_errors.RateLimitError")
    last = load_recording("long_storm").answers[result.attempts - 1]
    assert error.message == str(status_error(last))[:500]


@checks.hidden("ex2_tests")
def max_attempts_is_the_argument(learner):
    "max_attempts counts every call to send(), whatever its value"
    for key in ("long_storm_3", "long_storm_1", "long_storm_7"):
        replayed(learner, key, "long_storm", max_attempts=int(key.rsplit("_", 1)[1]))


@checks.hidden("ex2_tests")
def a_401_is_not_retried(learner):
    "a wrong key (401) is raised at once"
    replayed(learner, "bad_key", "bad_key")


@checks.hidden("ex2_tests")
def other_4xx_are_not_retried(learner):
    "a 400, 403, 404, 409, 422 or any other 4xx is raised at once"
    replayed(learner, "bad_request", "bad_request")  # recorded 400
    replayed(learner, "bad_model", "bad_model")  # recorded 404
    for code, name in [
        (403, "PermissionDeniedError"),
        (409, "ConflictError"),
        (422, "UnprocessableEntityError"),
        (418, "APIStatusError"),
        (451, "APIStatusError"),
        (499, "APIStatusError"),
    ]:
        result = replay(learner.call_with_retries, constructed(status(code), ok_answer()))
        assert (result.outcome, result.attempts, result.sleeps) == (name, 1, []), code


@checks.hidden("ex2_tests")
def the_real_token_bucket(learner):
    "the stand-in's real token bucket: one 429, then success"
    replayed(learner, "tpm", "tpm")


@checks.hidden("ex2_tests")
def retry_after_beyond_the_backoff_cap(learner):
    "a Retry-After longer than the backoff cap is waited in full"
    replayed(learner, "long_wait", "long_wait")


@checks.hidden("ex2_tests")
def backoff_is_capped(learner):
    "a long outage: the backoff stops growing at its cap"
    replayed(learner, "long_outage_7", "long_outage", max_attempts=7)
    replayed(learner, "long_outage_6", "long_outage", max_attempts=6)


@checks.hidden("ex2_tests")
def other_5xx_are_retried(learner):
    "every 5xx is retried, not only 500 and 503"
    result = replay(learner.call_with_retries, constructed(status(502), status(504), ok_answer()))
    assert (result.outcome, result.sleeps, result.attempts) == ("ok", [0.5, 1.0], 3)


@checks.hidden("ex2_tests")
def a_429_without_retry_after_backs_off(learner):
    "a 429 without Retry-After: exponential backoff"
    result = replay(learner.call_with_retries, constructed(status(429), status(429), ok_answer()))
    assert (result.outcome, result.sleeps, result.attempts) == ("ok", [0.5, 1.0], 3)


@checks.hidden("ex2_tests")
def retry_after_is_read_as_seconds(learner):
    "Retry-After in seconds, fractional or zero"
    result = replay(learner.call_with_retries, constructed(status(429, "1.5"), ok_answer()))
    assert (result.outcome, result.sleeps, result.premature) == ("ok", [1.5], 0)
    result = replay(learner.call_with_retries, constructed(status(503, "0"), ok_answer()))
    assert (result.outcome, result.sleeps) == ("ok", [0.0])


@checks.hidden("ex2_tests")
def backoff_counts_every_failed_attempt(learner):
    "the backoff counts attempts, including those that waited for Retry-After"
    # attempt 0: 429, Retry-After 3 -> 3 s; attempt 1: 500 -> 0.5 x 2**1 = 1 s; attempt 2 -> 2 s
    answers = (status(429, "3"), status(500), status(500), ok_answer())
    result = replay(learner.call_with_retries, constructed(*answers))
    assert (result.outcome, result.sleeps, result.attempts) == ("ok", [3.0, 1.0, 2.0], 4)


# END HIDDEN CHECKS

# Exercise 3: TTFT and time per output token from SDK chunks ---------------------------------


@checks.visible("ex3_tests")
def metrics_of_the_recorded_stream(learner):
    "TTFT, E2E and TPOT of the recorded stream"
    got = stream_metrics(learner, load_stream("short"))
    for name, hint in [
        ("ttft", "the first chunk that carries choices, minus sent_at"),
        ("e2e", "the last chunk with text, minus sent_at"),
        ("tpot", "(e2e - ttft) / (completion_tokens - 1)"),
    ]:
        assert close(got[name], checks.golden(f"ex3.short.{name}")), (
            f"{name} = {got[name]!r}: {hint}"
        )


# BEGIN HIDDEN CHECKS
def chunk(
    t: float,
    content: str | None = None,
    *,
    role: bool = False,
    finish: bool = False,
    usage: int | None = None,
) -> dict:
    """A constructed SDK chunk: a delta (role / content / finish) or a usage-only chunk."""
    if usage is not None:
        return {
            "t": t,
            "data": {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": usage}},
        }
    delta = {"role": "assistant"} if role else {}
    if content is not None:
        delta["content"] = content
    choice = {"index": 0, "delta": delta, "finish_reason": "stop" if finish else None}
    return {"t": t, "data": {"choices": [choice]}}


@checks.hidden("ex3_tests")
def metrics_of_the_other_recordings(learner):
    "a slow first token and a stalled stream"
    for name in ("slow_first", "stall"):
        got = stream_metrics(learner, load_stream(name))
        for metric in STREAM_METRICS:
            assert close(got[metric], checks.golden(f"ex3.{name}.{metric}")), (name, metric)


@checks.hidden("ex3_tests")
def a_chunk_without_choices_is_not_the_answer(learner):
    "a first chunk without choices (Azure's prompt filter) does not start the answer"
    azure = load_stream("constructed_azure")  # constructed by hand: sent_at 50.0
    assert close(learner.ttft(azure), 0.35)  # the role-only chunk at 50.35, not the filter at 50.2
    assert close(learner.e2e(azure), 0.9)  # last text at 50.9; finish 50.95 and usage 51.4 after


@checks.hidden("ex3_tests")
def tpot_counts_tokens_not_chunks(learner):
    "TPOT divides by the usage's tokens, not by the chunks"
    azure = load_stream("constructed_azure")  # 8 completion tokens in 3 text chunks
    assert close(learner.tpot(azure), (0.9 - 0.35) / 7)


@checks.hidden("ex3_tests")
def no_usage_no_tpot(learner):
    "no usage chunk: no TPOT"
    azure = load_stream("constructed_azure")
    assert learner.tpot({"sent_at": azure["sent_at"], "chunks": azure["chunks"][:-1]}) is None


@checks.hidden("ex3_tests")
def one_token_has_no_tpot(learner):
    "one completion token: E2E but no TPOT"
    one = {"sent_at": 0.0, "chunks": [chunk(0.4, "Yes", role=True), chunk(0.5, usage=1)]}
    assert learner.tpot(one) is None
    assert close(learner.e2e(one), 0.4)
    assert close(learner.ttft(one), 0.4)


@checks.hidden("ex3_tests")
def two_tokens_have_one_gap(learner):
    "two completion tokens: one gap between them"
    two = {
        "sent_at": 1.0,
        "chunks": [
            chunk(1.3, "Hi", role=True),
            chunk(1.55, "!"),
            chunk(1.6, finish=True),
            chunk(1.7, usage=2),
        ],
    }
    assert close(learner.tpot(two), 0.25)  # (0.55 - 0.3) / (2 - 1)


@checks.hidden("ex3_tests")
def empty_chunks(learner):
    "empty chunks: the role chunk starts the answer, empty ones never end it"
    # the text is the first choice's (data["choices"][0]); the chunk at 100.95 has none
    trace = {
        "sent_at": 100.0,
        "chunks": [
            chunk(100.2, "", role=True),  # choices, no text: TTFT
            chunk(100.4, "One"),
            chunk(100.5, ""),  # empty text in the middle
            chunk(100.6, " two"),
            chunk(100.7, None),  # a delta without content
            chunk(100.9, "", finish=True),
            {
                "t": 100.95,
                "data": {
                    "choices": [{"index": 0, "delta": {}}, {"index": 1, "delta": {"content": "?"}}]
                },
            },
            chunk(101.0, usage=5),
        ],
    }
    assert close(learner.ttft(trace), 0.2)
    assert close(learner.e2e(trace), 0.6)
    assert close(learner.tpot(trace), 0.1)  # (0.6 - 0.2) / (5 - 1)


@checks.hidden("ex3_tests")
def metrics_are_floats(learner):
    "seconds as float"
    got = stream_metrics(learner, load_stream("short"))
    assert all(type(v) is float for v in got.values()), {
        k: type(v).__name__ for k, v in got.items()
    }


# END HIDDEN CHECKS
