"""Lab 07's checks: the instructor's only copy (never released; labs/ gets the visible part).

Every case here is constructed (datasets/lab07/scenarios.yaml says so too): its expected value
sits beside it, with the arithmetic. The fallback chain runs in the grader's harness
(``servelab.labs.lab07_failover.run``): endpoints and clock stay in the grader, and the learner's
``call_with_fallback`` gets stand-ins for them, so who was called, when, and every wait are the
grader's own records. The circuit breaker is driven method by method on a grader-side clock.
"""

from __future__ import annotations

from servelab.grading.checks import Checks, close
from servelab.labs.lab07_failover import ScenarioClock, run

checks = Checks()


def ok(latency_s: float) -> dict:
    return {"kind": "ok", "latency_s": latency_s}


def fail(status: int, latency_s: float = 0.05, retry_after: float | None = None) -> dict:
    return {"kind": "fail", "status": status, "latency_s": latency_s, "retry_after": retry_after}


HANG = {"kind": "hang"}


def scenario(**scripts: list[dict]) -> dict:
    """A chain in argument order; each endpoint's n-th call gets the n-th outcome."""
    return {"chain": list(scripts), "scripts": scripts}


def chain_run(learner, case, **kwargs) -> dict:
    """The learner's call_with_fallback on ``case`` in the grader's harness (no plot objects)."""
    result = run(learner.call_with_fallback, case, **kwargs)
    result.pop("endpoints")
    return result


def summary(r: dict) -> str:
    """A run as a visible check shows it: the grader's own records (numbers and names)."""
    waits = [round(s, 6) for s in r["sleeps"][:8]]
    return f"{r['outcome']} after {r['elapsed_s']:.6g} s; calls {r['calls']}; waits {waits}"


def shown(value) -> str:
    """A learner's number as a message may show it (anything else by its type only)."""
    return repr(value) if type(value) in (int, float) else f"a {type(value).__name__}"


# Exercise 1: availability of chains --------------------------------------------------------


@checks.visible("ex1_tests")
def serial_availability_multiplies(learner):
    "in series: the product of the availabilities"
    got = learner.serial_availability([0.999, 0.9999])
    assert close(got, 0.999 * 0.9999), f"serial_availability([0.999, 0.9999]) = {shown(got)}"


@checks.visible("ex1_tests")
def chain_availability_of_two(learner):
    "a fallback chain is down only when every endpoint is down"
    got = learner.chain_availability([0.999, 0.999])
    assert close(got, 0.999999), f"chain_availability([0.999, 0.999]) = {shown(got)}"  # 1 - 0.001^2


@checks.visible("ex1_tests")
def downtime_of_three_nines(learner):
    "downtime of 99.9% over a 30-day month"
    got = learner.downtime_minutes_per_month(0.999)
    assert close(got, 43.2), f"downtime_minutes_per_month(0.999) = {shown(got)}"  # 0.001 x 43,200


# BEGIN HIDDEN CHECKS
@checks.hidden("ex1_tests")
def serial_availability_of_three(learner):
    "in series, three components"
    got = learner.serial_availability([0.9995, 0.999, 0.99])
    assert close(got, 0.9995 * 0.999 * 0.99)


@checks.hidden("ex1_tests")
def serial_availability_boundaries(learner):
    "in series: one component, a dead one, perfect ones"
    assert close(learner.serial_availability([0.97]), 0.97)
    assert close(learner.serial_availability([0.99, 0.0, 0.999]), 0.0)
    assert close(learner.serial_availability([1.0, 1.0]), 1.0)


@checks.hidden("ex1_tests")
def chain_availability_of_three(learner):
    "a fallback chain of three"
    got = learner.chain_availability([0.99, 0.995, 0.9])
    assert close(got, 1 - 0.01 * 0.005 * 0.1)  # 1 - 5e-6


@checks.hidden("ex1_tests")
def chain_availability_boundaries(learner):
    "a fallback chain: one endpoint, a perfect one, dead ones"
    assert close(learner.chain_availability([0.95]), 0.95)
    assert close(learner.chain_availability([0.5, 1.0]), 1.0)
    assert close(learner.chain_availability([0.0, 0.0]), 0.0)
    assert close(learner.chain_availability([0.0, 0.9]), 0.9)


@checks.hidden("ex1_tests")
def downtime_boundaries(learner):
    "downtime: four nines, always up, always down"
    assert close(learner.downtime_minutes_per_month(0.9999), 4.32)  # 0.0001 x 43,200
    assert close(learner.downtime_minutes_per_month(1.0), 0.0)
    assert close(learner.downtime_minutes_per_month(0.0), 43200.0)  # 30 x 24 x 60


@checks.hidden("ex1_tests")
def downtime_of_a_chain(learner):
    "downtime of a fallback chain"
    got = learner.downtime_minutes_per_month(learner.chain_availability([0.999, 0.99]))
    assert close(got, 0.00001 * 43200)  # 1 - 0.001 x 0.01 = 0.99999


# END HIDDEN CHECKS

# Exercise 2: a fallback chain with one retry loop -------------------------------------------


@checks.visible("ex2_tests")
def retry_delay_backoff_and_retry_after(learner):
    "retry_delay: exponential backoff, capped; a Retry-After wins"
    assert close(learner.retry_delay(1), 0.5), "first retry: 0.5 s"
    assert close(learner.retry_delay(3), 2.0), "third retry: 0.5 x 2^2 = 2 s"
    assert close(learner.retry_delay(10), 8.0), "the backoff is capped at 8 s"
    assert close(learner.retry_delay(1, retry_after=1.5), 1.5), "the server's Retry-After"


@checks.visible("ex2_tests")
def healthy_primary_answers(learner):
    "a healthy primary answers at once"
    r = chain_run(learner, "healthy", fallback_answer="cached")
    got = (r["outcome"], r["elapsed_s"], r["calls"])
    assert got[0] == "primary" and close(got[1], 0.4), summary(r)
    assert got[2] == {"primary": 1, "secondary": 0}, summary(r)


@checks.visible("ex2_tests")
def rate_limited_waits_for_retry_after(learner):
    "a 429 with Retry-After: wait that long, then the primary again"
    r = chain_run(learner, "rate_limited_then_ok", fallback_answer="cached")
    assert r["outcome"] == "primary" and r["calls"]["primary"] == 2, summary(r)
    assert r["sleeps"] == [1.5], f"one wait of the Retry-After (1.5 s): {summary(r)}"
    assert close(r["elapsed_s"], 1.95), summary(r)  # 0.05 + 1.5 + 0.4


@checks.visible("ex2_tests")
def outage_retries_then_fails_over(learner):
    "an outage: max_attempts tries with backoff, then the next endpoint"
    r = chain_run(learner, "primary_outage", fallback_answer="cached")
    assert r["outcome"] == "secondary", summary(r)
    assert r["calls"] == {"primary": 3, "secondary": 1, "self_hosted": 0}, summary(r)
    assert r["sleeps"] == [0.5, 1.0], f"waits before retries 1 and 2 only: {summary(r)}"
    assert close(r["elapsed_s"], 0.02 * 3 + 0.5 + 1.0 + 0.7), summary(r)


@checks.visible("ex2_tests")
def bad_request_is_raised_at_once(learner):
    "a 400 is raised at once: no retry, no failover, no cached answer"
    r = chain_run(learner, "bad_request", fallback_answer="cached")
    assert r["outcome"] == "raised 400", summary(r)
    assert r["calls"] == {"primary": 1, "secondary": 0} and r["sleeps"] == [], summary(r)


# BEGIN HIDDEN CHECKS
@checks.hidden("ex2_tests")
def retry_delay_doubles_up_to_the_cap(learner):
    "retry_delay: every retry number up to and past the cap"
    got = [learner.retry_delay(n) for n in range(1, 8)]
    want = [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]  # 0.5 x 2^(n-1), at most 8
    assert len(got) == len(want) and all(close(g, w) for g, w in zip(got, want, strict=True))


@checks.hidden("ex2_tests")
def retry_delay_takes_retry_after_as_given(learner):
    "retry_delay: the Retry-After as given, for any retry number"
    assert close(learner.retry_delay(4, retry_after=30.0), 30.0)  # above the backoff cap
    assert close(learner.retry_delay(6, retry_after=2.5), 2.5)  # below the backoff of retry 6
    assert close(learner.retry_delay(2, retry_after=0.0), 0.0)  # "retry now" is a Retry-After


@checks.hidden("ex2_tests")
def timeout_moves_on_at_once(learner):
    "a timeout moves to the next endpoint at once"
    r = chain_run(learner, "primary_hangs", fallback_answer="cached")
    assert (r["outcome"], r["calls"], r["sleeps"]) == (
        "secondary",
        {"primary": 1, "secondary": 1},
        [],
    )
    assert close(r["elapsed_s"], 2.5)  # timeout_s 2.0 + 0.5


@checks.hidden("ex2_tests")
def timeout_s_is_passed_to_every_call(learner):
    "each attempt gets the caller's timeout"
    case = scenario(a=[HANG], b=[ok(1.0), ok(0.3)], c=[ok(0.2)])
    r = chain_run(learner, case, timeout_s=0.7, fallback_answer="cached")
    # a hangs (0.7 s), b's 1.0 s answer is too slow (0.7 s), c answers in 0.2 s
    assert (r["outcome"], r["calls"]) == ("c", {"a": 1, "b": 1, "c": 1})
    assert r["timeouts"] == {"a": [0.7], "b": [0.7], "c": [0.7]}
    assert close(r["elapsed_s"], 1.6)  # 0.7 + 0.7 + 0.2


@checks.hidden("ex2_tests")
def retry_after_beyond_the_wait_budget(learner):
    "a Retry-After longer than max_wait_s: next endpoint, no wait"
    r = chain_run(learner, "long_retry_after", fallback_answer="cached")
    assert (r["outcome"], r["calls"], r["sleeps"]) == (
        "secondary",
        {"primary": 1, "secondary": 1},
        [],
    )
    assert close(r["elapsed_s"], 0.65)  # 0.05 + 0.6


@checks.hidden("ex2_tests")
def retry_after_above_the_backoff_cap_is_waited(learner):
    "a Retry-After above the backoff cap, within the budget, is waited in full"
    case = scenario(a=[fail(429, 0.05, retry_after=12.0), ok(0.4)], b=[ok(0.1)])
    r = chain_run(learner, case, max_wait_s=20.0, fallback_answer="cached")
    assert (r["outcome"], r["sleeps"]) == ("a", [12.0])
    assert close(r["elapsed_s"], 12.45)  # 0.05 + 12 + 0.4


@checks.hidden("ex2_tests")
def backoff_bound_by_the_wait_budget(learner):
    "the backoff outgrows max_wait_s: move on"
    r = chain_run(learner, "primary_outage", max_wait_s=0.75, fallback_answer="cached")
    # retry 1 waits 0.5 s; retry 2 would wait 1.0 s > 0.75: on to the secondary
    assert (r["outcome"], r["calls"]["primary"], r["sleeps"]) == ("secondary", 2, [0.5])
    assert close(r["elapsed_s"], 0.02 * 2 + 0.5 + 0.7)


@checks.hidden("ex2_tests")
def wait_equal_to_the_budget_is_waited(learner):
    "a wait exactly equal to max_wait_s is still waited"
    r = chain_run(learner, "primary_outage", max_wait_s=1.0, fallback_answer="cached")
    assert (r["calls"]["primary"], r["sleeps"]) == (3, [0.5, 1.0])
    r = chain_run(learner, "long_retry_after", max_wait_s=30, fallback_answer="cached")
    # Retry-After 30 s = the budget: wait it twice, then on to the secondary
    assert (r["outcome"], r["calls"]["primary"], r["sleeps"]) == ("secondary", 3, [30, 30])
    assert close(r["elapsed_s"], 0.05 * 3 + 60 + 0.6)


@checks.hidden("ex2_tests")
def every_retryable_status_is_retried(learner):
    "429, 500, 502, 503 and 504 are retried on the same endpoint"
    case = scenario(
        a=[fail(500, 0.1), fail(502, 0.1), fail(503, 0.1), fail(504, 0.1), fail(429, 0.1), ok(0.3)],
        b=[ok(0.1)],
    )
    r = chain_run(learner, case, max_attempts=6, max_wait_s=10.0)
    assert (r["outcome"], r["calls"]) == ("a", {"a": 6, "b": 0})
    assert r["sleeps"] == [0.5, 1.0, 2.0, 4.0, 8.0]  # a 429 without Retry-After backs off too
    assert close(r["elapsed_s"], 0.5 + 15.5 + 0.3)


@checks.hidden("ex2_tests")
def retry_after_on_a_503_is_honoured(learner):
    "a 503 with Retry-After waits that long"
    case = scenario(a=[fail(503, 0.02, retry_after=0.25), ok(0.4)], b=[ok(0.1)])
    r = chain_run(learner, case)
    assert (r["outcome"], r["sleeps"]) == ("a", [0.25])
    assert close(r["elapsed_s"], 0.67)  # 0.02 + 0.25 + 0.4


@checks.hidden("ex2_tests")
def other_client_errors_are_raised_at_once(learner):
    "403, 404 and 422 are raised at once, like 400"
    for status in (403, 404, 422):
        case = scenario(a=[fail(status, 0.03)], b=[ok(0.1)])
        r = chain_run(learner, case, fallback_answer="cached")
        assert r["outcome"] == f"raised {status}", (status, r["outcome"])
        assert r["calls"] == {"a": 1, "b": 0} and r["sleeps"] == [], status


@checks.hidden("ex2_tests")
def unauthorised_after_a_retry_is_raised(learner):
    "a 401 after a retry is raised, with no failover"
    case = scenario(a=[fail(429, 0.05, retry_after=0.2), fail(401, 0.05)], b=[ok(0.1)])
    r = chain_run(learner, case, fallback_answer="cached")
    assert (r["outcome"], r["calls"], r["sleeps"]) == ("raised 401", {"a": 2, "b": 0}, [0.2])


@checks.hidden("ex2_tests")
def client_error_on_a_fallback_is_raised(learner):
    "a client error from a later endpoint is raised, not replaced by the cached answer"
    case = scenario(a=[fail(503, 0.02)], b=[fail(404, 0.03)], c=[ok(0.1)])
    r = chain_run(learner, case, fallback_answer="cached")
    assert (r["outcome"], r["calls"]) == ("raised 404", {"a": 3, "b": 1, "c": 0})


@checks.hidden("ex2_tests")
def max_attempts_is_honoured(learner):
    "max_attempts calls per endpoint, whatever it is"
    flaky = scenario(a=[fail(502, 0.1), fail(504, 0.1), ok(0.3)], b=[ok(0.1)])
    r = chain_run(learner, flaky, max_attempts=3)
    assert (r["outcome"], r["calls"]) == ("a", {"a": 3, "b": 0})
    assert close(r["elapsed_s"], 0.1 + 0.5 + 0.1 + 1.0 + 0.3)
    r = chain_run(learner, flaky, max_attempts=1)
    assert (r["outcome"], r["calls"], r["sleeps"]) == ("b", {"a": 1, "b": 1}, [])
    assert close(r["elapsed_s"], 0.2)
    r = chain_run(learner, "primary_outage", max_attempts=2)
    assert (r["calls"]["primary"], r["sleeps"]) == (2, [0.5])


@checks.hidden("ex2_tests")
def retries_count_per_endpoint(learner):
    "retry numbers start again on each endpoint"
    r = chain_run(learner, "everything_down", fallback_answer="cached")
    assert r["calls"] == {"primary": 3, "secondary": 3, "small_model": 1}
    assert r["sleeps"] == [0.5, 1.0, 0.5, 1.0]


@checks.hidden("ex2_tests")
def cached_answer_when_everything_fails(learner):
    "every endpoint fails: the cached answer, as given"
    r = chain_run(learner, "everything_down", fallback_answer="sorry, try again later")
    assert r["outcome"] == "cache"
    assert close(r["elapsed_s"], 0.06 + 1.5 + 0.15 + 1.5 + 2.0)  # 3 x 503, 3 x 500, 1 hang


@checks.hidden("ex2_tests")
def no_cached_answer_raises_the_last_error(learner):
    "no cached answer: the last error is raised"
    r = chain_run(learner, "everything_down")
    assert r["outcome"] == "raised timeout"  # the small model hung last
    r = chain_run(learner, scenario(a=[fail(503, 0.02)], b=[fail(500, 0.05)]), max_attempts=1)
    assert (r["outcome"], r["calls"]) == ("raised 500", {"a": 1, "b": 1})


@checks.hidden("ex2_tests")
def default_wait_budget(learner):
    "the default wait budget of the signature"
    # max_wait_s=5.0 by default: a 5 s Retry-After is waited, a 5.5 s one is not
    r = chain_run(learner, scenario(a=[fail(429, 0.05, retry_after=5.0), ok(0.4)], b=[ok(0.1)]))
    assert (r["outcome"], r["sleeps"]) == ("a", [5.0])
    r = chain_run(learner, scenario(a=[fail(429, 0.05, retry_after=5.5), ok(0.4)], b=[ok(0.1)]))
    assert (r["outcome"], r["sleeps"]) == ("b", [])


@checks.hidden("ex2_tests")
def timeout_after_a_retry(learner):
    "a timeout on a retry moves on too"
    case = scenario(a=[fail(503, 0.02), HANG], b=[ok(0.5)])
    r = chain_run(learner, case, fallback_answer="cached")
    assert (r["outcome"], r["calls"], r["sleeps"]) == ("b", {"a": 2, "b": 1}, [0.5])
    assert close(r["elapsed_s"], 0.02 + 0.5 + 2.0 + 0.5)


# END HIDDEN CHECKS

# Exercise 3: a circuit breaker -------------------------------------------------------------


def breaker(learner, failure_threshold: int, cooldown_s: float):
    """A fresh breaker on a fresh grader-side clock (the check moves time, the breaker reads it)."""
    clock = ScenarioClock()
    b = learner.new(
        "CircuitBreaker", clock, failure_threshold=failure_threshold, cooldown_s=cooldown_s
    )
    return clock, b


def fail_times(b, n: int) -> None:
    for _ in range(n):
        b.record_failure()


@checks.visible("ex3_tests")
def opens_after_threshold_failures(learner):
    "closed until failure_threshold consecutive failures, then open and refusing"
    _, b = breaker(learner, 3, 10)
    assert b.value("state") == "closed" and b.allow() is True, "a new breaker is closed"
    fail_times(b, 2)
    assert b.value("state") == "closed" and b.allow() is True, "2 failures of 3: still closed"
    b.record_failure()
    assert b.value("state") == "open", "the third failure opens it"
    assert b.allow() is False, "an open breaker refuses calls"


@checks.visible("ex3_tests")
def half_open_after_the_cooldown(learner):
    "half-open once the cooldown has passed, with exactly one trial"
    clock, b = breaker(learner, 3, 10)
    fail_times(b, 3)
    clock.advance(9.9)
    assert b.allow() is False, "9.9 s of a 10 s cooldown: still open"
    clock.advance(0.1)
    assert b.allow() is True, "10 s: one trial call goes through"
    assert b.value("state") == "half_open"
    assert b.allow() is False, "half-open lets exactly one trial through"


@checks.visible("ex3_tests")
def successful_trial_closes(learner):
    "a successful trial closes the breaker"
    clock, b = breaker(learner, 3, 10)
    fail_times(b, 3)
    clock.advance(10)
    assert b.allow() is True
    b.record_success()
    assert b.value("state") == "closed" and b.allow() is True


# BEGIN HIDDEN CHECKS
@checks.hidden("ex3_tests")
def success_while_closed_resets_the_count(learner):
    "a success while closed resets the consecutive failures"
    _, b = breaker(learner, 2, 5)
    b.record_failure()
    b.record_success()
    b.record_failure()
    assert b.value("state") == "closed"
    b.record_failure()
    assert b.value("state") == "open"


@checks.hidden("ex3_tests")
def cooldown_starts_at_the_failure_that_opens(learner):
    "failures spread in time: the cooldown starts at the failure that opens it"
    clock, b = breaker(learner, 3, 10)
    b.record_failure()  # t = 0
    clock.advance(2.5)
    b.record_failure()  # t = 2.5
    clock.advance(3.75)
    b.record_failure()  # t = 6.25: opens; the cooldown ends at 16.25
    assert b.value("state") == "open"
    clock.advance(9.75)  # t = 16.0
    assert b.allow() is False and b.value("state") == "open"
    clock.advance(0.25)  # t = 16.25
    assert b.value("state") == "half_open" and b.allow() is True


@checks.hidden("ex3_tests")
def failed_trial_reopens_for_a_full_cooldown(learner):
    "a failed trial opens it again, for a full cooldown from then"
    clock, b = breaker(learner, 2, 5)
    fail_times(b, 2)
    clock.advance(7)  # 2 s past the cooldown: the trial comes at t = 7
    assert b.allow() is True
    b.record_failure()
    assert b.value("state") == "open" and b.allow() is False
    clock.advance(4.75)  # t = 11.75 < 7 + 5
    assert b.allow() is False
    clock.advance(0.25)  # t = 12
    assert b.value("state") == "half_open" and b.allow() is True and b.allow() is False


@checks.hidden("ex3_tests")
def half_open_counts_one_trial(learner):
    "half-open: one trial, however often the state is read"
    clock, b = breaker(learner, 1, 4)
    b.record_failure()
    clock.advance(4)
    assert b.value("state") == "half_open"  # reading the state is not a trial
    assert b.allow() is True
    assert b.value("state") == "half_open"
    assert b.allow() is False and b.allow() is False
    clock.advance(100)  # a trial still out does not time out into a second one
    assert b.allow() is False


@checks.hidden("ex3_tests")
def success_in_half_open_closes_and_resets(learner):
    "a successful trial closes it and the failure count starts again"
    clock, b = breaker(learner, 3, 2)
    fail_times(b, 3)
    clock.advance(2)
    assert b.allow() is True
    b.record_success()
    fail_times(b, 2)
    assert b.value("state") == "closed" and b.allow() is True
    b.record_failure()
    assert b.value("state") == "open"


@checks.hidden("ex3_tests")
def refusals_do_not_move_the_cooldown(learner):
    "calls refused while open do not restart the cooldown"
    clock, b = breaker(learner, 2, 10)
    fail_times(b, 2)
    for _ in range(3):
        clock.advance(3)  # t = 3, 6, 9
        assert b.allow() is False
    clock.advance(1)  # t = 10
    assert b.allow() is True


@checks.hidden("ex3_tests")
def failure_while_open_restarts_the_cooldown(learner):
    "a failure recorded while open opens it again, from then"
    clock, b = breaker(learner, 2, 10)
    fail_times(b, 2)  # opens at t = 0
    clock.advance(6)
    b.record_failure()  # a call let through before it opened fails at t = 6
    clock.advance(4)  # t = 10: the first cooldown would be over
    assert b.allow() is False and b.value("state") == "open"
    clock.advance(6)  # t = 16 = 6 + 10
    assert b.allow() is True


@checks.hidden("ex3_tests")
def default_threshold_and_cooldown(learner):
    "the defaults of the signature: 3 failures, 10 s"
    clock = ScenarioClock()
    b = learner.new("CircuitBreaker", clock)
    fail_times(b, 2)
    assert b.value("state") == "closed"
    b.record_failure()
    assert b.value("state") == "open"
    clock.advance(9.5)
    assert b.allow() is False
    clock.advance(0.5)
    assert b.allow() is True


@checks.hidden("ex3_tests")
def threshold_and_cooldown_are_honoured(learner):
    "another threshold and cooldown"
    clock, b = breaker(learner, 1, 0.5)
    b.record_failure()
    assert b.value("state") == "open"
    clock.advance(0.25)
    assert b.allow() is False
    clock.advance(0.25)
    assert b.allow() is True
    _, b = breaker(learner, 5, 1)
    fail_times(b, 4)
    assert b.value("state") == "closed"
    b.record_failure()
    assert b.value("state") == "open"


# END HIDDEN CHECKS
