"""lag.py: the gateway's own event-loop stalls are measured, and a Deadline does not count them.

The scenario of the metastable storm, in one process: an answer arrives while the event loop
is stalled (here: a callback blocks it), and the timeout's timer, just as late, runs first. A
plain ``asyncio.timeout`` then blames the "upstream"; a ``Deadline`` gives the stall back.
Both loops the gateway may run on (asyncio's and uvloop's) are checked.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
import uvloop

from reference_stack.gateway.lag import PROBE_INTERVAL_S, Deadline, LoopLag

LOOPS = {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
STALL_S = 0.25
TIMEOUT_S = 0.2
#: How late a timer may fire on a busy 2-core CI runner. Lower bounds are exact (a timer never
#: fires early); upper bounds only catch a timeout that never comes, never measure speed.
LATE_S = 1.0


def run(coro_fn, loop: str):
    with asyncio.Runner(loop_factory=LOOPS[loop]) as runner:
        return runner.run(coro_fn())


async def _answer_during_a_stall(make_timeout) -> str:  # noqa: ANN001
    """Wait for an answer that arrives 0.1 s in, while the loop is blocked from 0.05 s to
    0.3 s; ``make_timeout()`` makes the timeout (0.2 s) around the wait."""
    loop = asyncio.get_running_loop()
    answer = loop.create_future()
    loop.call_later(0.05, time.sleep, STALL_S)  # the loop stalls (CPU starvation, a backlog)

    def arrive() -> None:
        time.sleep(0.1)  # the "upstream" answers on time, from outside the loop
        loop.call_soon_threadsafe(answer.set_result, "answer")

    threading.Thread(target=arrive).start()
    async with make_timeout():
        return await answer


@pytest.mark.parametrize("loop", LOOPS)
def test_a_plain_timeout_blames_the_upstream_for_the_loops_stall(loop):
    """The problem, shown: the answer was there at 0.1 s, the timeout still fires."""
    with pytest.raises(TimeoutError):
        run(lambda: _answer_during_a_stall(lambda: asyncio.timeout(TIMEOUT_S)), loop)


@pytest.mark.parametrize("loop", LOOPS)
def test_a_deadline_gives_the_stall_back(loop):
    async def main() -> str:
        lag = LoopLag()
        lag.start()
        try:
            return await _answer_during_a_stall(lambda: Deadline(TIMEOUT_S, lag))
        finally:
            lag.stop()

    assert run(main, loop) == "answer"


@pytest.mark.parametrize("loop", LOOPS)
def test_a_deadline_still_times_out_a_slow_answer(loop):
    async def main() -> float:
        lag = LoopLag()
        lag.start()
        started = time.monotonic()
        try:
            async with Deadline(TIMEOUT_S, lag):
                await asyncio.sleep(10)
        except TimeoutError:
            return time.monotonic() - started
        finally:
            lag.stop()
        raise AssertionError("no timeout")

    # (libuv's timers run on a 1 ms grid: up to a millisecond early)
    assert TIMEOUT_S - 0.005 <= run(main, loop) < TIMEOUT_S + LATE_S


@pytest.mark.parametrize("loop", LOOPS)
def test_the_lag_probe_measures_a_stall(loop):
    async def main() -> tuple[float, float]:
        lag = LoopLag()
        lag.start()
        await asyncio.sleep(0.05)
        quiet = lag.total()
        time.sleep(STALL_S)  # blocks the loop
        stalled = lag.total() - quiet  # counted at once, before the probe has even run
        lag.stop()
        return quiet, stalled

    quiet, stalled = run(main, loop)
    assert quiet < STALL_S / 2  # nothing like the stall itself, even on a busy machine
    # measured to within one probe interval (the stall began before the probe was due)
    assert STALL_S - PROBE_INTERVAL_S - 0.01 <= stalled <= STALL_S + LATE_S


@pytest.mark.parametrize("loop", LOOPS)
def test_restart_gives_a_new_budget_and_extend_keeps_the_start(loop):
    async def main() -> tuple[float, float]:
        timings = []
        for change in ("restart", "extend"):
            started = time.monotonic()
            try:
                async with Deadline(0.1) as deadline:
                    await asyncio.sleep(0.05)
                    if change == "restart":
                        deadline.restart(0.2)  # 0.05 + 0.2
                    else:
                        deadline.extend_to(0.2)  # 0 + 0.2
                    await asyncio.sleep(10)
            except TimeoutError:
                timings.append(time.monotonic() - started)
        return timings[0], timings[1]

    restarted, extended = run(main, loop)
    assert 0.245 <= restarted < 0.25 + LATE_S
    assert 0.195 <= extended < 0.2 + LATE_S
