"""servelab_base.clock: one fake clock for labs 01 and 07 (and the stand-ins' limiters)."""

from __future__ import annotations

import pytest

from servelab_base.clock import FakeClock, RealClock


def test_time_moves_only_when_told():
    clock = FakeClock()
    assert clock.now() == 0.0 and clock() == 0.0
    clock.advance(0.3)  # a call that took 0.3 s: not a wait
    clock.sleep(2)
    assert clock.now() == 2.3
    assert clock.sleeps == [2.0] and clock.intervals == [(0.3, 2.0)]


@pytest.mark.parametrize("bad", [-1, float("nan")])
def test_negative_or_nan_waits_are_refused(bad):
    with pytest.raises(ValueError):
        FakeClock().sleep(bad)


@pytest.mark.parametrize("bad", ["1", None, True])
def test_waits_that_are_not_numbers_are_refused(bad):
    with pytest.raises(TypeError):
        FakeClock().sleep(bad)


def test_the_lab_helpers_share_it():
    from servelab.labs import lab01_retry_replay, lab07_failover

    assert lab01_retry_replay.FakeClock is FakeClock is lab07_failover.FakeClock
    assert lab07_failover.RealClock is RealClock


def test_real_clock_moves():
    clock = RealClock()
    before = clock.now()
    clock.sleep(0.001)
    assert clock.now() > before
