"""The failover table is the whole policy: the loop, the breaker and the relay only read it."""

from __future__ import annotations

import asyncio
import dataclasses
import random

import pytest
from gateway_support import upstream, write_table

from reference_stack.gateway import failover
from reference_stack.gateway.breaker import Breaker, State
from reference_stack.gateway.failover import (
    RULES,
    AttemptFailed,
    FailoverLoop,
    Reason,
    tell_breaker,
)
from reference_stack.gateway.routing import Router, RoutingTable

MID_STREAM = {
    Reason.UPSTREAM_LOST,
    Reason.TRUNCATED,
    Reason.UPSTREAM_ERROR_EVENT,
    Reason.CLIENT_DISCONNECTED,
}


def _loop(names):
    breakers = {n: Breaker(threshold=1, cooldown_s=30) for n in names}
    changes = []
    loop = FailoverLoop(
        breakers,
        max_attempts=4,
        backoff_base_s=0.001,
        backoff_max_s=0.002,
        max_retry_after_wait_s=0.5,
        rng=random.Random(1),
        on_breaker_change=lambda name, state: changes.append((name, state)),
    )
    return loop, breakers, changes


def _plan(tmp_path, names):
    ups = {n: upstream(f"http://127.0.0.1:{i + 1}", "EU") for i, n in enumerate(names)}
    table = RoutingTable.load(write_table(tmp_path / "r.yaml", ups, {"m": list(names)}))
    return Router(table).chain("m")


def _fail_first(reason, **kw):
    async def attempt(candidate, forced):
        if candidate.name == "a":
            raise AttemptFailed(reason, "failed", **kw)
        return candidate.name

    return attempt


@pytest.mark.parametrize("reason", sorted(set(Reason) - MID_STREAM - {Reason.FORCED}))
def test_the_loop_does_what_each_row_says(tmp_path, reason):
    loop, breakers, _ = _loop(["a", "b"])
    outcome = asyncio.run(loop.run(_plan(tmp_path, ["a", "b"]), _fail_first(reason)))
    rule = RULES[reason]
    assert (outcome.result == "b") is rule.fails_over
    assert (outcome.fatal is not None) is (not rule.fails_over)
    tripped = breakers["a"].state() is State.OPEN  # threshold 1
    assert tripped is rule.trips_breaker


def test_changing_a_row_changes_the_policy(tmp_path, monkeypatch):
    """The one-file edit: make 404s (CLIENT_ERROR) fail over, and the loop follows."""
    plan = _plan(tmp_path, ["a", "b"])
    loop, _, _ = _loop(["a", "b"])
    attempt = _fail_first(Reason.CLIENT_ERROR, status=404)
    assert asyncio.run(loop.run(plan, attempt)).fatal is not None
    edited = dataclasses.replace(RULES[Reason.CLIENT_ERROR], fails_over=True)
    monkeypatch.setitem(failover.RULES, Reason.CLIENT_ERROR, edited)
    assert asyncio.run(loop.run(plan, attempt)).result == "b"


@pytest.mark.parametrize("reason", list(Reason))
def test_retry_after_is_honoured_exactly_where_the_row_says(reason):
    breaker = Breaker(threshold=1, cooldown_s=30)
    tell_breaker(breaker, reason, retry_after_s=0.5)
    rule = RULES[reason]
    if not rule.trips_breaker:
        assert breaker.state() is State.CLOSED
    elif rule.honours_retry_after:
        assert 0.4 < breaker.retry_in() <= 0.5
    else:
        assert breaker.retry_in() > 29  # the cooldown, not the upstream's word


def test_only_429_and_5xx_honour_retry_after():
    honouring = {r for r, rule in RULES.items() if rule.honours_retry_after}
    assert honouring == {Reason.TOO_MANY_REQUESTS, Reason.SERVER_ERROR}


def test_nothing_after_the_first_byte_fails_over():
    assert not any(RULES[r].fails_over for r in MID_STREAM)


def test_an_answer_closes_the_breaker_and_a_non_verdict_frees_the_probe():
    breaker = Breaker(threshold=1, cooldown_s=0)
    breaker.record_failure()
    assert breaker.allow() and breaker.probing  # half-open: this attempt is the probe
    tell_breaker(breaker, Reason.CLIENT_ERROR)  # the request was wrong: no verdict
    assert not breaker.probing
    assert breaker.allow()
    tell_breaker(breaker, None)
    assert breaker.state() is State.CLOSED and breaker.failures == 0


def test_a_stream_ending_without_verdict_leaves_someone_elses_probe_alone():
    breaker = Breaker(threshold=1, cooldown_s=0)
    breaker.record_failure()
    assert breaker.allow()  # another request's probe is in flight
    tell_breaker(breaker, Reason.CLIENT_DISCONNECTED, holds_probe=False)
    assert breaker.probing
    tell_breaker(breaker, Reason.UPSTREAM_LOST, holds_probe=False)  # this one does count
    assert breaker.failures == 2 and not breaker.probing


def test_the_loop_reports_every_breaker_change(tmp_path):
    loop, breakers, changes = _loop(["a", "b"])
    asyncio.run(loop.run(_plan(tmp_path, ["a", "b"]), _fail_first(Reason.SERVER_ERROR)))
    assert changes == [("a", State.OPEN)]  # b answered and stayed closed: no change to report
    assert breakers["b"].state() is State.CLOSED


def test_panic_tries_the_nearest_cooling_upstream_once(tmp_path):
    """Every breaker open: one attempt anyway, at the upstream whose failures cooled longest,
    never at one that asked for its cooldown (Retry-After); a forced failure is not it."""
    loop, breakers, _ = _loop(["a", "b", "c"])
    breakers["a"].record_failure()  # opened by failures: may be tried in panic
    breakers["b"].record_failure(retry_after_s=20)  # the upstream asked: never in panic
    breakers["c"].record_failure()
    breakers["a"].open_until -= 10  # a's cooldown ends soonest
    tried = []

    async def attempt(candidate, forced):
        tried.append((candidate.name, forced))
        if forced:
            raise AttemptFailed(Reason.FORCED, "forced")
        return candidate.name

    outcome = asyncio.run(loop.run(_plan(tmp_path, ["a", "b", "c"]), attempt))
    assert outcome.panic and outcome.result == "a" and tried == [("a", False)]
    assert breakers["a"].state() is State.CLOSED  # it answered: closed again

    loop, breakers, _ = _loop(["a", "b"])
    for name in ("a", "b"):
        breakers[name].record_failure()
    tried.clear()
    outcome = asyncio.run(loop.run(_plan(tmp_path, ["a", "b"]), attempt, force_first=True))
    assert [forced for _, forced in tried] == [True, False] and outcome.result is not None


def test_no_panic_when_every_upstream_asked_to_be_left_alone(tmp_path):
    loop, breakers, _ = _loop(["a"])
    breakers["a"].record_failure(retry_after_s=20)

    async def attempt(candidate, forced):
        raise AssertionError("must not be called")

    outcome = asyncio.run(loop.run(_plan(tmp_path, ["a"]), attempt))
    assert outcome.tried == 0 and not outcome.panic and outcome.retry_in > 19
