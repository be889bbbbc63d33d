"""servelab.labs.lab07_failover: scripted endpoints, the fake clock and the grading harness.

The harness (``run``) keeps every record in the grader: when a check runs it, the learner's
policy gets stand-ins for the endpoints and the clock (servelab/grading/checks.py's
``LocalLearner`` is the same round trip as the graded kernel's, in process).
"""

from __future__ import annotations

import pytest

from servelab.grading import checks as api
from servelab.grading import wire
from servelab.labs import lab07_failover as lab
from servelab.labs.lab07_failover import (
    Answer,
    EndpointError,
    EndpointTimeout,
    Fail,
    Hang,
    Ok,
    ScenarioClock,
    ScriptedEndpoint,
    run,
)

RETRYABLE = {429, 500, 502, 503, 504}


def reference_policy(
    endpoints, clock, max_attempts=3, timeout_s=2.0, max_wait_s=5.0, fallback_answer=None
):
    """The lab's rules, written out here so the harness can be tested without the notebook."""
    last = None
    for endpoint in endpoints:
        for attempt in range(1, max_attempts + 1):
            try:
                return endpoint.call(clock, timeout_s=timeout_s)
            except EndpointTimeout as e:
                last = e
                break
            except EndpointError as e:
                last = e
                if e.status not in RETRYABLE:
                    raise
                delay = (
                    e.retry_after
                    if e.retry_after is not None
                    else min(8.0, 0.5 * 2 ** (attempt - 1))
                )
                if attempt == max_attempts or delay > max_wait_s:
                    break
                clock.sleep(delay)
    if fallback_answer is not None:
        return Answer(fallback_answer, "cache")
    raise last


def without_plots(result: dict) -> dict:
    return {k: v for k, v in result.items() if k != "endpoints"}


def test_a_scripted_endpoint_follows_its_script_and_keeps_its_record():
    clock = ScenarioClock()
    e = ScriptedEndpoint("p", [Fail(429, 0.05, retry_after=2.0), Hang(), Ok(0.4, "hi")])
    with pytest.raises(EndpointError) as raised:
        e.call(clock, timeout_s=5)
    assert (raised.value.status, raised.value.retry_after) == (429, 2.0)
    with pytest.raises(EndpointTimeout):
        e.call(clock, timeout_s=1.5)
    assert e.call(clock, timeout_s=5) == Answer("hi", "p")
    with pytest.raises(EndpointTimeout):  # the last entry repeats: 0.4 s > 0.3 s
        e.call(clock, timeout_s=0.3)
    assert e.calls == pytest.approx([0.0, 0.05, 1.55, 1.95]) and e.timeouts == [5, 1.5, 5, 0.3]
    assert clock.now() == pytest.approx(2.25) and clock.sleeps == []


def test_endpoint_errors_cross_into_the_kernel_with_their_fields():
    """A grader-side endpoint's error is re-created in the kernel as the lab's own class."""
    e = ScriptedEndpoint("p", [Fail(503, 0.02, retry_after=1.5), Fail(404), Hang()])

    def catch(endpoint, clock):
        seen = []
        for _ in range(3):
            try:
                endpoint.call(clock, timeout_s=0.5)
            except EndpointError as err:
                seen.append([type(err).__name__, err.status, err.retry_after, str(err)])
            except EndpointTimeout as err:
                seen.append([type(err).__name__, err.waited_s, str(err)])
        return seen

    clock = ScenarioClock()
    got = api.LocalLearner({"catch": catch}).catch(e, clock)
    assert got == [
        ["EndpointError", 503, 1.5, "p answered 503 (Retry-After: 1.5 s)"],
        ["EndpointError", 404, None, "p answered 404"],
        ["EndpointTimeout", 0.5, "p: no answer within 0.5 s"],
    ]
    assert clock.now() == pytest.approx(0.57)  # the grader's clock moved, not a copy


def test_the_harness_gives_the_same_record_in_process_and_through_the_wire():
    learner = api.LocalLearner({"call_with_fallback": reference_policy})
    for name in lab.load_scenarios():
        for kwargs in ({"fallback_answer": "cached"}, {}):
            local = without_plots(run(reference_policy, name, **kwargs))
            remote = without_plots(run(learner.call_with_fallback, name, **kwargs))
            assert local == remote, name
    r = without_plots(run(learner.call_with_fallback, "everything_down"))
    assert r["outcome"] == "raised timeout" and r["sleeps"] == [0.5, 1.0, 0.5, 1.0]
    assert run(learner.call_with_fallback, "bad_request")["outcome"] == "raised 400"


def test_the_harness_believes_its_own_records_only():
    """A made-up answer or error is not taken for an endpoint's, and none of its text shows."""

    def fake_answer(endpoints, clock, **kwargs):
        return Answer("SECRET answer from secondary", "secondary")

    def fake_error(endpoints, clock, **kwargs):
        endpoints[0].call(clock, timeout_s=1.0)  # primary is healthy in this scenario
        raise EndpointError("primary", 503)

    class Mine(Exception):
        pass

    def own_error(endpoints, clock, **kwargs):
        raise Mine("SECRET")

    def not_an_answer(endpoints, clock, **kwargs):
        return "SECRET"

    for policy, outcome in [
        (fake_answer, "returned an Answer no endpoint gave"),
        (fake_error, "raised an EndpointError other than the last one an endpoint gave"),
        (own_error, "raised an exception of its own class"),
        (not_an_answer, "returned a str, not an Answer"),
    ]:
        learner = api.LocalLearner({"call_with_fallback": policy})
        got = run(learner.call_with_fallback, "healthy")["outcome"]
        assert got == outcome and "SECRET" not in got, policy.__name__
        if policy is not own_error:  # in the notebook, the learner's own error is theirs to see
            assert run(policy, "healthy")["outcome"] == outcome


def test_the_clock_handed_back_is_the_graders_own():
    def policy(endpoints, clock, **kwargs):
        clock.sleep(0.25)
        return endpoints[0].call(clock, timeout_s=kwargs.get("timeout_s", 2.0))

    learner = api.LocalLearner({"call_with_fallback": policy})
    r = run(learner.call_with_fallback, "healthy", timeout_s=3.0)
    assert r["outcome"] == "primary" and r["sleeps"] == [0.25]
    assert r["elapsed_s"] == pytest.approx(0.65) and r["timeouts"]["primary"] == [3.0]


def test_a_forged_grader_object_is_refused():
    with pytest.raises(ValueError, match="grader-side object"):
        api.grader_objects({wire.PROXY: {"id": 99}}, {1: object()})


def test_a_policy_that_never_gives_up_is_stopped():
    def forever(endpoints, clock, **kwargs):
        while True:
            try:
                return endpoints[0].call(clock, timeout_s=1.0)
            except EndpointError:
                pass

    learner = api.LocalLearner({"call_with_fallback": forever})
    r = run(learner.call_with_fallback, "everything_down")
    assert r["outcome"] == "raised RuntimeError" and r["calls"]["primary"] == 100
    with pytest.raises(RuntimeError, match="more than 100 calls"):
        run(forever, "everything_down")


def test_a_breaker_is_driven_and_its_state_read_from_outside():
    class Breaker:
        def __init__(self, clock, failure_threshold=3, cooldown_s=10.0):
            self.clock = clock

        @property
        def state(self):
            return "open" if self.clock.now() < 5 else "half_open"

    clock = ScenarioClock()
    b = api.LocalLearner({"CircuitBreaker": Breaker}).new("CircuitBreaker", clock)
    assert b.value("state") == "open"
    clock.advance(5)
    assert b.value("state") == "half_open"
