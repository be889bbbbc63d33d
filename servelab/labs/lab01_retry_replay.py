"""Replay a recorded sequence of provider answers against a retry policy, on a fake clock.

A managed API answers an overloaded client with ``429 Too Many Requests`` and a ``Retry-After``
header, and sometimes with a 5xx. Whether a retry policy handles that well cannot be graded live
(timing varies, waiting is slow), so lab 01 records the answers the managed stand-in gave
(``scripts/record_lab01.py`` -> ``datasets/lab01/retry_*.json``) and replays them here:

- the policy under test is any function ``policy(send, sleep, **kwargs)``: it calls ``send()``
  to make one attempt and ``sleep(seconds)`` to wait, exactly as it would call
  ``client.chat.completions.create(...)`` and ``time.sleep`` live;
- ``send()`` returns the next recorded answer: for a 200 the recorded completion
  (``ReplayedCompletion``: the body as data, read like the SDK's ``ChatCompletion``), and for an
  error the exception the SDK raises (``openai.RateLimitError`` for a 429,
  ``openai.InternalServerError`` for a 5xx ...: servelab/labs/lab01_errors.py), with the
  recorded headers on ``e.response``;
- ``sleep`` only advances a fake clock, so a replay takes microseconds and every wait is exact;
- a retry sent before the last ``Retry-After`` has elapsed is refused again with a 429 (as the
  real rate limiter would) and does NOT move the recording on: ignoring ``Retry-After`` costs
  attempts, just as it does against the real service.

The same ``replay`` grades the learner from outside the kernel: there ``policy`` is the
grader's handle on the notebook's ``call_with_retries`` (servelab/grading/checks.py), and
``send`` and ``sleep`` are grader-side functions (``__remote_methods__ = ("__call__",)``): each
call the learner's code makes runs here, so the recording, the clock and the log of attempts
never enter the learner's process.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from openai.types.chat import ChatCompletion

from servelab.grading.checks import LearnerRaised
from servelab.labs import lab01_errors
from servelab_base.clock import FakeClock
from servelab_base.paths import DATASETS
from servelab_base.retry_after import parse_retry_after

LAB01 = DATASETS / "lab01"
#: A policy that keeps trying past this many attempts is stopped: no sane policy gets near it
#: (lab 01's policy allows 5), and without a cap a never-give-up loop would hang the grader.
MAX_REPLAY_ATTEMPTS = 50
#: Two fake-clock times closer than this count as equal (float sums of waits like 0.5 + 1 + 2).
CLOCK_EPSILON_S = 1e-9


@dataclass(frozen=True)
class Answer:
    """One recorded answer: HTTP status, headers (lower-case names), JSON body, when it came."""

    status: int
    headers: dict[str, str]
    body: dict[str, Any]
    t: float = 0.0  # seconds after the first attempt, on the recording client's clock

    @property
    def retry_after_s(self) -> float | None:
        return parse_retry_after(self.headers)


@dataclass(frozen=True)
class Recording:
    """A named sequence of answers and where it came from (``meta``)."""

    name: str
    answers: tuple[Answer, ...]
    meta: dict[str, Any] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """One row per recorded answer, for display."""
        return pd.DataFrame(
            [
                {
                    "t_s": round(a.t, 3),
                    "status": a.status,
                    "retry-after": a.headers.get("retry-after"),
                    "remaining-requests": a.headers.get("x-ratelimit-remaining-requests"),
                    "remaining-tokens": a.headers.get("x-ratelimit-remaining-tokens"),
                    "message": (a.body.get("error") or {}).get("message", "")[:90],
                }
                for a in self.answers
            ]
        )


def load_recording(name: str, folder: Path = LAB01) -> Recording:
    """``datasets/lab01/retry_<name>.json`` (see that folder's README for how it was recorded)."""
    path = folder / f"retry_{name}.json"
    if not path.exists():
        known = sorted(p.stem.removeprefix("retry_") for p in folder.glob("retry_*.json"))
        raise FileNotFoundError(f"no recording {name!r} in {folder}; available: {known}")
    data = json.loads(path.read_text())
    answers = tuple(
        Answer(
            a["status"], {k.lower(): v for k, v in a["headers"].items()}, a["body"], a.get("t", 0.0)
        )
        for a in data["answers"]
    )
    if not answers:
        raise ValueError(f"{path} holds no answers")
    return Recording(name, answers, data.get("meta", {}))


class PolicyRanAway(Exception):  # noqa: N818 - it names what happened
    """Raised into a policy that passed MAX_REPLAY_ATTEMPTS, by every later ``send`` and
    ``sleep``: a loop that swallows it at one still meets it at the other. (An Exception, not a
    BaseException, so that it can be re-created in a learner's kernel when graded.)"""


def status_error(answer: Answer) -> lab01_errors.APIStatusError:
    """The exception the openai SDK raises for this answer (same class, headers and body)."""
    return lab01_errors.status_error(answer.status, answer.headers, answer.body)


@dataclass(frozen=True)
class ReplayedCompletion:
    """A recorded 200 answer as ``send()`` returns it: the JSON body, as data.

    It reads like the SDK's ``ChatCompletion`` (``.choices[0].message.content``, ``.usage``):
    every attribute it lacks comes from the body parsed by the SDK's own model. Being a frozen
    dataclass of the course, it crosses the grader's data-only channel as itself."""

    body: str

    @property
    def completion(self) -> ChatCompletion:
        return ChatCompletion.model_validate_json(self.body)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.completion, name)


class GraderSide:
    """A function the policy calls (``send``, ``sleep``). When graded it stays in the grader:
    the learner's code gets a stand-in whose calls run here (``__remote_methods__``)."""

    __remote_methods__ = ("__call__",)

    def __init__(self, function: Callable[..., Any]) -> None:
        self._function = function

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._function(*args, **kwargs)


class ReplayEndpoint:
    """Serves a recording one answer per ``send()``, on a fake clock."""

    def __init__(self, recording: Recording, clock: FakeClock) -> None:
        self.recording = recording
        self.clock = clock
        self.next = 0  # index of the next recorded answer to serve
        self.log: list[dict[str, Any]] = []
        self._not_before = 0.0  # a retry earlier than this is refused (last Retry-After)
        self.ran_away = False  # the policy passed MAX_REPLAY_ATTEMPTS: every call now refuses

    def send(self) -> ReplayedCompletion:
        if self.ran_away or len(self.log) >= MAX_REPLAY_ATTEMPTS:
            self.ran_away = True
            raise PolicyRanAway(f"the policy made more than {MAX_REPLAY_ATTEMPTS} attempts")
        now = self.clock.now()
        if now + CLOCK_EPSILON_S < self._not_before:
            # Too early: the limiter refuses again and says how long is left.
            left = self._not_before - now
            answer = Answer(
                429,
                {
                    "retry-after": str(max(1, math.ceil(left - CLOCK_EPSILON_S))),
                    "x-ratelimit-remaining-requests": "0",
                },
                {
                    "error": {
                        "message": f"Rate limit reached: retried {left:.3g}s too "
                        "early. Please honour Retry-After.",
                        "type": "requests",
                        "param": None,
                        "code": "rate_limit_exceeded",
                    }
                },
                now,
            )
            premature = True
        else:
            # Past the end of the recording the service keeps giving its last answer.
            answer = self.recording.answers[min(self.next, len(self.recording.answers) - 1)]
            self.next += 1
            premature = False
            if answer.retry_after_s is not None:
                self._not_before = now + answer.retry_after_s
        self.log.append(
            {
                "attempt": len(self.log) + 1,
                "t_s": now,
                "status": answer.status,
                "retry_after": answer.headers.get("retry-after"),
                "premature": premature,
            }
        )
        if answer.status == 200:
            return ReplayedCompletion(json.dumps(answer.body))
        raise status_error(answer)

    def sleep(self, seconds: float) -> None:
        """The policy's wait, on the fake clock (refused once the policy has run away)."""
        if self.ran_away:
            raise PolicyRanAway(f"the policy made more than {MAX_REPLAY_ATTEMPTS} attempts")
        self.clock.sleep(seconds)


@dataclass
class ReplayResult:
    """What a policy did with a recording."""

    outcome: str  # "ok", the class name of the exception that escaped the policy, "ran away"
    attempts: int
    sleeps: list[float]
    premature: int  # attempts made before the last Retry-After had elapsed
    elapsed_s: float  # fake seconds from the first attempt to the policy's return
    log: list[dict[str, Any]]
    waits: list[tuple[float, float]] = field(default_factory=list)  # (start, seconds)
    returned: Any = None
    error: BaseException | None = None

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.log)


def error_name(error: BaseException) -> str:
    """The class name of what escaped a policy; for the learner's code seen from the grader
    (``LearnerRaised``), the name of the learner's exception class."""
    if isinstance(error, LearnerRaised):
        return error.type.rsplit(".", 1)[-1]
    return type(error).__name__


def replay(policy: Callable[..., Any], recording: Recording | str, **kwargs: Any) -> ReplayResult:
    """Run ``policy(send, sleep, **kwargs)`` against a recording on a fresh fake clock.

    ``policy`` is a function in this process, or the grader's handle on a learner's function:
    either way ``send`` and ``sleep`` run here. An ``AssertionError`` (a check's own verdict,
    such as "the notebook defines no call_with_retries") is not an outcome: it propagates."""
    if isinstance(recording, str):
        recording = load_recording(recording)
    clock = FakeClock()
    endpoint = ReplayEndpoint(recording, clock)
    returned, error, outcome = None, None, "ok"
    try:
        returned = policy(GraderSide(endpoint.send), GraderSide(endpoint.sleep), **kwargs)
    except AssertionError:
        raise
    except Exception as e:  # the policy gave up (or broke): its exception is the outcome
        error, outcome = e, error_name(e)
    if endpoint.ran_away:
        outcome = "ran away"
    elif outcome == "ok" and type(returned) is not ReplayedCompletion:
        outcome = f"returned {type(returned).__name__}, not the completion send() gave"
    premature = sum(1 for row in endpoint.log if row["premature"])
    return ReplayResult(
        outcome,
        len(endpoint.log),
        list(clock.sleeps),
        premature,
        clock.now(),
        endpoint.log,
        list(clock.intervals),
        returned,
        error,
    )


STATUS_COLOURS = {200: "tab:green", 429: "tab:orange"}


def plot_replay(result: ReplayResult, title: str = "", ax: plt.Axes | None = None) -> plt.Axes:
    """Attempts on the fake time line: waits as grey bars, answers as coloured dots."""
    ax = ax or plt.subplots(figsize=(9, 2.4), layout="constrained")[1]
    for row in result.log:
        colour = STATUS_COLOURS.get(row["status"], "tab:red")
        marker = "x" if row["premature"] else "o"
        ax.plot(row["t_s"], 0, marker, color=colour, markersize=10)
        ax.annotate(
            str(row["status"]) + (" (early)" if row["premature"] else ""),
            (row["t_s"], 0),
            textcoords="offset points",
            xytext=(0, 10),
            ha="center",
            fontsize=8,
        )
    for start, wait in result.waits:
        ax.barh(0, wait, left=start, height=0.2, color="lightgrey", edgecolor="white", zorder=0)
    ax.set_yticks([])
    ax.set_xlabel("fake clock (s since the first attempt)")
    ax.set_title(title or f"{result.attempts} attempts, outcome: {result.outcome}")
    ax.set_ylim(-0.5, 0.8)
    return ax
