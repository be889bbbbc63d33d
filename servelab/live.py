"""Live cells that degrade instead of failing: bounded in time, with progress, never graded.

A lab's live section measures the learner's own machine, and a laptop can be slow, busy or
have its stack down. ``live.run`` wraps that work so the notebook always goes on:

- while nbgrader validates or autogrades the notebook (it sets ``NBGRADER_EXECUTION``), the
  live work is skipped: grading reads recorded data, and Validate must not wait on a benchmark;
- the services the work needs are checked first; one that is down gives one line saying how to
  start it, not a traceback;
- the work runs with a progress bar and a time budget; past it, or when the stack fails, the
  learner gets one line saying what happened and the recorded result instead.

``SERVELAB_LIVE_SIZE=small`` (or ``live.set_size("small")``) shrinks every live workload that
asks ``live.scaled(full, small)``, for slow machines and for the test suite.
``SERVELAB_LIVE_PATIENCE`` scales every time budget: ``3`` waits three times longer on a slow
laptop whose owner would rather wait than read a recording; ``0.5`` gives up sooner.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tqdm.std import tqdm

T = TypeVar("T")

#: Set by nbgrader in the kernel it validates or autogrades in ("validate" / "autograde").
GRADING_ENV = "NBGRADER_EXECUTION"
#: "full" (default) or "small": how much work live sections do.
SIZE_ENV = "SERVELAB_LIVE_SIZE"
SIZES = ("full", "small")
_size_override: str | None = None
#: a factor on every live section's time budget (default 1)
PATIENCE_ENV = "SERVELAB_LIVE_PATIENCE"


def grading() -> bool:
    """True while nbgrader validates or autogrades this notebook."""
    return bool(os.environ.get(GRADING_ENV))


def size() -> str:
    """How much live work to do: "full" or "small"."""
    chosen = _size_override or os.environ.get(SIZE_ENV, "full").strip().lower()
    return chosen if chosen in SIZES else "full"


def set_size(value: str) -> None:
    """Choose the live workload size for this kernel (a widget or a cell may call it)."""
    global _size_override
    if value not in SIZES:
        raise ValueError(f"size must be one of {SIZES}, not {value!r}")
    _size_override = value


def patience() -> float:
    """The factor on every time budget (``SERVELAB_LIVE_PATIENCE``; 1 when unset or not a
    positive number)."""
    try:
        value = float(os.environ.get(PATIENCE_ENV, "1"))
    except ValueError:
        return 1.0
    return value if value > 0 else 1.0


def scaled(full: T, small: T) -> T:
    """``full`` normally, ``small`` when live work is shrunk."""
    return small if size() == "small" else full


@dataclass
class Progress:
    """Handed to the live work: report progress, and stop early when asked."""

    bar: Any
    cancelled: threading.Event = field(default_factory=threading.Event)

    def update(self, n: int = 1) -> None:
        self.bar.update(n)

    def stopped(self) -> bool:
        """True once the time budget is spent: long loops should check it and return."""
        return self.cancelled.is_set()


@dataclass
class Outcome:
    """What a live section produced: the measured value, or the recorded one and why."""

    value: Any
    live: bool
    message: str = ""


def _services_down(needs: Iterable[str]) -> list[str]:
    from servelab.doctor import port_in_use, services
    from servelab_base.config import get_settings

    settings = get_settings()
    known = services(settings)
    down = []
    for name in needs:
        port, _ = known[name]
        if not port_in_use(settings.host, port):
            down.append(name)
    return down


def _recorded(recorded: Callable[[], T] | T | None) -> T | None:
    return recorded() if callable(recorded) else recorded


def run(
    title: str,
    work: Callable[[Progress], T],
    *,
    seconds: float,
    total: int | None = None,
    needs: Iterable[str] = (),
    recorded: Callable[[], T] | T | None = None,
) -> Outcome:
    """Run ``work(progress)`` live within ``seconds``; fall back to ``recorded`` (see module doc).

    ``seconds`` is scaled by ``patience()``. ``total`` is the number of steps the progress bar
    counts (``progress.update()`` per step).
    The result's ``value`` is the live one when ``live`` is True, else the recorded one (or
    None); ``message`` says what happened, in one line, and is printed too.
    """
    if grading():
        return _fallback(title, "skipped while the notebook is graded", recorded, print_it=False)
    down = _services_down(needs)
    if down:
        why = f"{', '.join(down)} not running; start the stack with `make up` (or `servelab up`)"
        return _fallback(title, why, recorded)
    seconds *= patience()
    result: dict[str, Any] = {}
    # a text bar (not a widget): a notebook saved after it ran shows text, never a widget view
    # whose model is gone when the notebook is reopened
    bar = tqdm(total=total, desc=title, leave=False, file=sys.stderr, ncols=80)
    progress = Progress(bar)

    def target() -> None:
        try:
            result["value"] = work(progress)
        except BaseException as exc:  # noqa: BLE001 - reported below, in one line
            result["error"] = exc

    started = time.monotonic()
    thread = threading.Thread(target=target, name=f"live: {title}", daemon=True)
    thread.start()
    thread.join(seconds)
    elapsed = time.monotonic() - started
    bar.close()
    if thread.is_alive():
        progress.cancelled.set()
        why = f"your machine took more than {seconds:g} s"
        return _fallback(title, why, recorded)
    if "error" in result:
        exc = result["error"]
        why = f"the live run failed ({type(exc).__name__}: {str(exc)[:160]})"
        return _fallback(title, why, recorded)
    message = f"{title}: measured live in {elapsed:.1f} s"
    print(message)
    return Outcome(result.get("value"), True, message)


def _fallback(
    title: str, why: str, recorded: Callable[[], Any] | Any, print_it: bool = True
) -> Outcome:
    value = _recorded(recorded)
    tail = "here is the recorded result instead" if value is not None else "nothing to show"
    message = f"{title}: {why}; {tail}."
    if print_it or grading():
        print(message)
    return Outcome(value, False, message)
