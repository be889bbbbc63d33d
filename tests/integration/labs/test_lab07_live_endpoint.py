"""lab07_failover's LiveEndpoint against a real managed stand-in (real HTTP, the openai SDK):
the stand-in's fault plan becomes the same EndpointError / EndpointTimeout the scripted
endpoints raise, so a policy graded on scripts runs unchanged on the wire."""

from __future__ import annotations

import socket

import pytest

from reference_stack.providers.faults import FaultPlan, FaultRule
from reference_stack.providers.testing import MANAGED_KEY, managed_standin
from servelab.labs.lab07_failover import (
    Answer,
    EndpointError,
    EndpointTimeout,
    LiveEndpoint,
    RealClock,
)


def test_live_errors_carry_status_and_retry_after():
    plan = FaultPlan(
        seed=1,
        rules=[
            FaultRule(kind="rate_limit_storm", requests=(0, 1), retry_after_s=1.5),
            FaultRule(kind="outage", status=503, requests=(1, 2)),
            FaultRule(kind="error", status=404, requests=(2, 3)),
        ],
    )
    clock = RealClock()
    with managed_standin(seed=2, plan=plan) as (url, _):
        endpoint = LiveEndpoint("managed", url + "/v1", "gpt-4o-mini", MANAGED_KEY)
        seen = []
        for _ in range(3):
            with pytest.raises(EndpointError) as raised:
                endpoint.call(clock, timeout_s=10)
            seen.append((raised.value.status, raised.value.retry_after))
        answer = endpoint.call(clock, timeout_s=10)
    # the stand-in sends Retry-After in whole seconds, rounded up, as OpenAI does: 1.5 s -> 2
    assert seen[0] == (429, 2.0) and seen[1][0] == 503 and seen[2] == (404, None)
    assert type(answer) is Answer and answer.served_by == "managed" and answer.text
    assert len(endpoint.calls) == 4


def test_nothing_listening_is_an_outage_and_a_slow_answer_a_timeout():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free once the block ends: nothing listens there
    down = LiveEndpoint("down", f"http://127.0.0.1:{port}/v1", "m")
    with pytest.raises(EndpointError) as raised:
        down.call(RealClock(), timeout_s=2)
    assert raised.value.status == 503
    plan = FaultPlan(seed=1, rules=[FaultRule(kind="slow_first_token", extra_ms=2000)])
    with managed_standin(seed=2, plan=plan, latency_scale=1.0) as (url, _):
        slow = LiveEndpoint("slow", url + "/v1", "gpt-4o-mini", MANAGED_KEY)
        with pytest.raises(EndpointTimeout):
            slow.call(RealClock(), timeout_s=0.3)
