"""servelab_base.token_bucket: the one bucket behind gateway quotas and stand-in rate limits."""

from __future__ import annotations

import pytest

from servelab_base.clock import FakeClock
from servelab_base.token_bucket import TokenBucket


def test_a_full_minute_can_go_in_one_burst_then_refills_pro_rata():
    clock = FakeClock()
    bucket = TokenBucket(60, clock=clock)  # one a second
    assert bucket.capacity == 60 and bucket.wait_for(60) == 0.0
    bucket.take(60)
    assert bucket.wait_for(1) == pytest.approx(1.0)
    clock.advance(0.5)
    assert bucket.wait_for(1) == pytest.approx(0.5)
    assert bucket.until_full() == pytest.approx(59.5)


def test_debt_is_paid_back_by_refilling():
    clock = FakeClock()
    bucket = TokenBucket(100, clock=clock)
    bucket.take(160)  # settled afterwards: 60 in debt
    assert bucket.level == pytest.approx(-60)
    assert bucket.wait_for(0) == pytest.approx(36.0)
    clock.advance(36)
    assert bucket.wait_for(0) == 0.0


def test_a_short_window_spreads_the_minute():
    bucket = TokenBucket(600, window_s=1, clock=FakeClock())
    assert bucket.capacity == 10  # Azure-style: one second's worth at a time


def test_never_more_than_full():
    clock = FakeClock()
    bucket = TokenBucket(60, clock=clock)
    clock.advance(1000)
    assert bucket.level == 60


def test_a_zero_allowance_is_refused():
    with pytest.raises(ValueError):
        TokenBucket(0)
