"""Scripted endpoints and a fake clock, so a failover policy can be graded exactly (lab 07).

A real outage is slow and never repeats the same way. Here an endpoint follows a *script*: the
n-th call to it gets the n-th outcome (the last one repeats), and time only moves when a call
takes time or the policy sleeps. The same policy on the same scenario always gives the same
answer, the same attempts and the same elapsed time.

    clock = FakeClock()
    primary = ScriptedEndpoint("primary", [Fail(429, 0.05, retry_after=2.0), Ok(0.4)])
    answer = primary.call(clock, timeout_s=5)      # raises EndpointError(429, retry_after=2.0)
    clock.sleep(2.0)
    answer = primary.call(clock, timeout_s=5)      # Answer(text=..., served_by="primary")

Scenarios ship in ``datasets/lab07/scenarios.yaml`` (constructed, not measured).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from servelab_base.clock import FakeClock, RealClock  # noqa: F401  (the notebook imports both here)
from servelab_base.paths import DATASETS
from servelab_base.retry_after import parse_retry_after

LAB07 = DATASETS / "lab07"


@dataclass(frozen=True)
class Ok:
    """The endpoint answers after ``latency_s``."""

    latency_s: float = 0.3
    text: str = ""


@dataclass(frozen=True)
class Fail:
    """The endpoint answers ``status`` after ``latency_s`` (with Retry-After for 429 / 503)."""

    status: int
    latency_s: float = 0.05
    retry_after: float | None = None


@dataclass(frozen=True)
class Hang:
    """The endpoint never answers: the caller's timeout decides how long it waits."""


Outcome = Ok | Fail | Hang


class EndpointError(Exception):
    """An HTTP error answer, as the ``openai`` SDK would raise it (status and Retry-After)."""

    def __init__(self, endpoint: str, status: int, retry_after: float | None = None) -> None:
        super().__init__(f"{endpoint} answered {status}")
        self.endpoint, self.status, self.retry_after = endpoint, status, retry_after


class EndpointTimeout(Exception):
    """No answer within the caller's timeout."""

    def __init__(self, endpoint: str, waited_s: float) -> None:
        super().__init__(f"{endpoint}: no answer within {waited_s} s")
        self.endpoint, self.waited_s = endpoint, waited_s


@dataclass(frozen=True)
class Answer:
    text: str
    served_by: str


@dataclass
class ScriptedEndpoint:
    """An endpoint whose n-th call gets ``script[n]`` (the last entry repeats forever)."""

    name: str
    script: list[Outcome]
    calls: list[float] = field(default_factory=list)  # clock time of each call

    def call(self, clock: FakeClock, timeout_s: float = 10.0) -> Answer:
        """One attempt: advances ``clock`` by the time it takes, then answers or raises."""
        outcome = self.script[min(len(self.calls), len(self.script) - 1)]
        self.calls.append(clock.now())
        if isinstance(outcome, Hang) or outcome.latency_s > timeout_s:
            clock.advance(timeout_s)
            raise EndpointTimeout(self.name, timeout_s)
        clock.advance(outcome.latency_s)
        if isinstance(outcome, Fail):
            raise EndpointError(self.name, outcome.status, outcome.retry_after)
        return Answer(outcome.text or f"answer from {self.name}", self.name)


def _outcome(spec: dict[str, Any]) -> Outcome:
    kind = spec["kind"]
    if kind == "ok":
        return Ok(spec.get("latency_s", 0.3), spec.get("text", ""))
    if kind == "fail":
        return Fail(spec["status"], spec.get("latency_s", 0.05), spec.get("retry_after"))
    if kind == "hang":
        return Hang()
    raise ValueError(f"unknown outcome kind {kind!r} (ok, fail, hang)")


def load_scenarios(path: Path | None = None) -> dict[str, dict[str, Any]]:
    """Scenario name -> {"description": str, "chain": [name, ...], "scripts": {name: [spec]}}."""
    data = yaml.safe_load((path or LAB07 / "scenarios.yaml").read_text())
    return data["scenarios"]


def build(scenario: dict[str, Any]) -> tuple[FakeClock, list[ScriptedEndpoint]]:
    """A fresh clock and the scenario's endpoints, in chain order."""
    endpoints = [
        ScriptedEndpoint(name, [_outcome(s) for s in scenario["scripts"][name]])
        for name in scenario["chain"]
    ]
    return FakeClock(), endpoints


def attempts_table(endpoints: list[ScriptedEndpoint]):
    """Every call made during a run, as a DataFrame (endpoint, call number, start time)."""
    import pandas as pd

    rows = [
        {"endpoint": e.name, "call": i, "t_s": t} for e in endpoints for i, t in enumerate(e.calls)
    ]
    return pd.DataFrame(rows, columns=["endpoint", "call", "t_s"]).sort_values("t_s")


def plot_run(endpoints: list[ScriptedEndpoint], ax=None, title: str = ""):
    """Timeline of one run: a marker per attempt, one row per endpoint of the chain."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(9, 0.6 + 0.5 * len(endpoints)))[1]
    for row, endpoint in enumerate(endpoints):
        ax.scatter(endpoint.calls, [row] * len(endpoint.calls), marker="|", s=400)
    ax.set_yticks(range(len(endpoints)), [e.name for e in endpoints])
    ax.invert_yaxis()
    ax.set_xlabel("seconds since the request began (fake clock)")
    ax.set_title(title or "attempts per endpoint")
    return ax


@dataclass
class LiveEndpoint:
    """A real OpenAI-compatible endpoint behind the same ``call(clock, timeout_s)`` interface.

    The ``openai`` SDK's errors become ``EndpointError`` (with the Retry-After header) and
    ``EndpointTimeout``, so a policy written against scripted endpoints runs unchanged here.
    The SDK's own retries are off: one retry loop only, the policy's.
    """

    name: str
    base_url: str
    model: str
    api_key: str = "local"
    calls: list[float] = field(default_factory=list)

    def call(self, clock: Any, timeout_s: float = 10.0) -> Answer:
        import openai

        self.calls.append(clock.now())
        client = openai.OpenAI(
            base_url=self.base_url, api_key=self.api_key, max_retries=0, timeout=timeout_s
        )
        try:
            reply = client.chat.completions.create(
                model=self.model,
                max_tokens=16,
                messages=[{"role": "user", "content": "Say hello in three words."}],
            )
        except openai.APITimeoutError as e:
            raise EndpointTimeout(self.name, timeout_s) from e
        except openai.APIConnectionError as e:
            raise EndpointError(self.name, 503) from e  # nothing listening: as good as down
        except openai.APIStatusError as e:
            after = parse_retry_after(e.response.headers)
            raise EndpointError(self.name, e.status_code, after) from e
        return Answer(reply.choices[0].message.content or "", self.name)
