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
The lab's live sections (`live_chain`, `live_gateway_failover`) run on the embedded stack within a
time budget (``servelab.live``) and show a stand-in result when they cannot: the same chain on
scripted endpoints, or the gateway's recorded answers (``datasets/lab07/gateway_failover.json``).
``run(call_with_fallback, scenario)`` is the harness: it builds the scenario, runs a policy on
it and reports what happened (who served, the time it took, every call and every wait). When a
lab is graded, the harness, the endpoints and the clock stay in the grader's process and the
learner's policy gets stand-ins for them (``__remote_methods__``, servelab/grading/checks.py),
so the record of calls and time is the grader's own, not something the policy could rewrite.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from servelab_base.clock import FakeClock, RealClock  # noqa: F401  (the notebook imports both here)
from servelab_base.paths import DATASETS
from servelab_base.retry_after import parse_retry_after

LAB07 = DATASETS / "lab07"
#: An endpoint called more often than this in one run stops the run: no sane policy gets near it
#: (the lab's allows a handful of calls), and a never-give-up loop would otherwise hang.
MAX_CALLS_PER_ENDPOINT = 100


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
    """An HTTP error answer, as the ``openai`` SDK would raise it (status and Retry-After).

    Its arguments are its fields, so the grader can re-create it in the learner's kernel when a
    grader-side endpoint raises it (servelab/grading/agent.py)."""

    def __init__(self, endpoint: str, status: int, retry_after: float | None = None) -> None:
        super().__init__(endpoint, status, retry_after)
        self.endpoint, self.status, self.retry_after = endpoint, status, retry_after

    def __str__(self) -> str:
        after = "" if self.retry_after is None else f" (Retry-After: {self.retry_after} s)"
        return f"{self.endpoint} answered {self.status}{after}"


class EndpointTimeout(Exception):
    """No answer within the caller's timeout."""

    def __init__(self, endpoint: str, waited_s: float) -> None:
        super().__init__(endpoint, waited_s)
        self.endpoint, self.waited_s = endpoint, waited_s

    def __str__(self) -> str:
        return f"{self.endpoint}: no answer within {self.waited_s} s"


class ScenarioClock(FakeClock):
    """The fake clock of one run. A policy may read it and sleep on it; only the endpoints (the
    time a call takes) and the grader ``advance`` it."""

    __remote_methods__ = ("now", "sleep")


@dataclass(frozen=True)
class Answer:
    text: str
    served_by: str


@dataclass
class ScriptedEndpoint:
    """An endpoint whose n-th call gets ``script[n]`` (the last entry repeats forever).

    It keeps its own record: the clock time of each call, the timeout each was given, and
    what each call gave back (the ``Answer`` or the exception)."""

    __remote_methods__ = ("call",)

    name: str
    script: list[Outcome]
    calls: list[float] = field(default_factory=list)  # clock time of each call
    timeouts: list[float] = field(default_factory=list)  # timeout_s of each call
    results: list[Answer | Exception] = field(default_factory=list)

    def call(self, clock: FakeClock, timeout_s: float = 10.0) -> Answer:
        """One attempt: advances ``clock`` by the time it takes, then answers or raises."""
        if len(self.calls) >= MAX_CALLS_PER_ENDPOINT:
            raise RuntimeError(f"{self.name}: more than {MAX_CALLS_PER_ENDPOINT} calls in one run")
        outcome = self.script[min(len(self.calls), len(self.script) - 1)]
        self.calls.append(clock.now())
        self.timeouts.append(timeout_s)
        if isinstance(outcome, Hang) or outcome.latency_s > timeout_s:
            clock.advance(timeout_s)
            return self._raise(EndpointTimeout(self.name, timeout_s))
        clock.advance(outcome.latency_s)
        if isinstance(outcome, Fail):
            return self._raise(EndpointError(self.name, outcome.status, outcome.retry_after))
        self.results.append(Answer(outcome.text or f"answer from {self.name}", self.name))
        return self.results[-1]

    def _raise(self, error: Exception) -> Answer:
        self.results.append(error)
        raise error


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


def build(scenario: dict[str, Any]) -> tuple[ScenarioClock, list[ScriptedEndpoint]]:
    """A fresh clock and the scenario's endpoints, in chain order."""
    endpoints = [
        ScriptedEndpoint(name, [_outcome(s) for s in scenario["scripts"][name]])
        for name in scenario["chain"]
    ]
    return ScenarioClock(), endpoints


def run(
    call_with_fallback: Callable[..., Any], scenario: str | dict[str, Any], **kwargs: Any
) -> dict[str, Any]:
    """Run a fallback policy on a scenario (a name of scenarios.yaml, or a scenario) and report
    what happened, from the endpoints' and the clock's own records:

    - ``outcome``: the endpoint that served (the ``Answer`` it gave came back unchanged),
      ``"cache"`` (``Answer(fallback_answer, "cache")``), ``"raised 503"`` / ``"raised
      timeout"`` (the policy raised the last error an endpoint gave), or a description of
      anything else it returned or raised;
    - ``elapsed_s``, ``sleeps`` (every wait), ``calls`` (per endpoint), ``timeouts`` (the
      ``timeout_s`` each call was given), and ``endpoints`` (for ``plot_run``).

    ``call_with_fallback`` is the learner's function in the notebook, or the grader's handle on
    it when graded (its exceptions then arrive as ``LearnerRaised``, with class and message).
    """
    from servelab.grading.checks import LearnerRaised

    if isinstance(scenario, str):
        scenario = load_scenarios()[scenario]
    clock, endpoints = build(scenario)
    try:
        result = call_with_fallback(endpoints, clock, **kwargs)
        outcome = _served_by(result, endpoints, kwargs.get("fallback_answer"))
    except (LearnerRaised, EndpointError, EndpointTimeout) as exc:
        outcome = _raised(exc, _last_error(endpoints))
    return {
        "outcome": outcome,
        "elapsed_s": round(clock.now(), 6),
        "sleeps": list(clock.sleeps),
        "calls": {e.name: len(e.calls) for e in endpoints},
        "timeouts": {e.name: list(e.timeouts) for e in endpoints},
        "endpoints": endpoints,
    }


def _served_by(result: Any, endpoints: list[ScriptedEndpoint], fallback: Any) -> str:
    """Who served ``result``; anything else is described by its type only (the outcome may be
    shown to the learner, so it never repeats text the policy made up)."""
    if type(result) is Answer:
        if fallback is not None and result == Answer(fallback, "cache"):
            return "cache"
        for endpoint in endpoints:
            if any(result == r for r in endpoint.results):
                return endpoint.name
        return "returned an Answer no endpoint gave"
    return f"returned a {type(result).__name__}, not an Answer"


def _last_error(endpoints: list[ScriptedEndpoint]) -> Exception | None:
    """The error of the last call made (None: no call failed). Calls are ordered by start time,
    then chain position, then call number: a policy goes down the chain, never back up."""
    failed = [
        ((t, n, i), r)
        for n, e in enumerate(endpoints)
        for i, (t, r) in enumerate(zip(e.calls, e.results, strict=False))
        if isinstance(r, Exception)
    ]
    return max(failed, key=lambda f: f[0])[1] if failed else None


def _raised(exc: Exception, last: Exception | None) -> str:
    """``"raised 503"`` / ``"raised timeout"`` when the policy raised the last error an endpoint
    gave; otherwise the class of what it raised, named only if the grader knows that class."""
    import builtins

    from servelab.grading.checks import LearnerRaised

    if isinstance(exc, LearnerRaised):
        kind, message = exc.type, exc.message
    else:
        kind, message = _qualified(type(exc)), str(exc)
    if last is not None and (kind, message) == (_qualified(type(last)), str(last)):
        return f"raised {getattr(last, 'status', 'timeout')}"
    short = kind.rsplit(".", 1)[-1]
    builtin = getattr(builtins, short, None)
    known = kind in (_qualified(EndpointError), _qualified(EndpointTimeout)) or (
        kind == f"builtins.{short}" and isinstance(builtin, type) and issubclass(builtin, Exception)
    )
    if kind in (_qualified(EndpointError), _qualified(EndpointTimeout)):
        return f"raised an {short} other than the last one an endpoint gave"
    return f"raised {short if known else 'an exception of its own class'}"


def _qualified(kind: type) -> str:
    return f"{kind.__module__}.{kind.__qualname__}"


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
    question: str = "What is the capital of France?"

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
                temperature=0,  # the model's most likely answer, the same on every run
                messages=[{"role": "user", "content": self.question}],
            )
        except openai.APITimeoutError as e:
            raise EndpointTimeout(self.name, timeout_s) from e
        except openai.APIConnectionError as e:
            raise EndpointError(self.name, 503) from e  # nothing listening: as good as down
        except openai.APIStatusError as e:
            after = parse_retry_after(e.response.headers)
            raise EndpointError(self.name, e.status_code, after) from e
        return Answer(reply.choices[0].message.content or "", self.name)


# -- live sections (servelab.live: bounded in time; a stand-in result when they cannot run) ---
#: Seconds each live section may take: a few calls to the stand-ins, one or two short answers
#: from vLLM on a CPU.
LIVE_BUDGET_S = 30.0
#: The outage the live chain installs on the managed stand-in (reference_stack/providers/faults.py)
OUTAGE = {"seed": 1, "rules": [{"kind": "outage", "status": 503}]}
#: The live chain on scripted endpoints: what the live cell shows when it cannot run.
LIVE_LIKE = {
    "description": "the live chain, scripted: the managed API is down, vLLM answers in 1 s",
    "chain": ["managed (outage)", "self-hosted vLLM"],
    "scripts": {
        "managed (outage)": [{"kind": "fail", "status": 503, "latency_s": 0.05}],
        "self-hosted vLLM": [{"kind": "ok", "latency_s": 1.0, "text": "(a scripted answer)"}],
    },
}
GATEWAY_FAILOVER = LAB07 / "gateway_failover.json"


def _drill_url(managed_url: str) -> str:
    """Where the outage goes: the stack's stand-in is shared (by the class, by other notebooks),
    so the kernel's own stand-in (servelab.labs.own_standin) takes its place; any other URL (a
    test's stand-in) is used as it is. Without ``/v1``."""
    from servelab import clients
    from servelab.labs import own_standin

    base = managed_url.rstrip("/").removesuffix("/v1")
    shared = clients.standin_url("managed").removesuffix("/v1")
    return own_standin.url() if base == shared else base


def live_chain(
    policy: Callable[..., Any],
    managed_url: str,
    managed_key: str,
    vllm_url: str,
    model: str,
    **kwargs: Any,
):
    """Run ``policy`` (the lab's ``call_with_fallback``) on real endpoints with the wall clock:
    the managed stand-in (the kernel's own in place of the stack's shared one), made to fail
    with `OUTAGE` for the run, then vLLM. ``kwargs`` go to
    the policy. Returns a ``servelab.live.Outcome`` whose value is {"served_by", "text",
    "calls"}; when the stack cannot run it, the same chain on scripted endpoints (`LIVE_LIKE`,
    fake clock) stands in, with "text" None."""
    import httpx

    from servelab.live import run as run_live

    def work(progress) -> dict[str, Any]:
        base = _drill_url(managed_url)
        admin = base + "/admin/faults"
        httpx.post(admin, json=OUTAGE, timeout=5).raise_for_status()
        chain = [
            LiveEndpoint("managed (outage)", base + "/v1", "gpt-4o-mini", managed_key),
            LiveEndpoint("self-hosted vLLM", vllm_url, model),
        ]
        try:
            answer = policy(chain, RealClock(), **kwargs)
        finally:
            httpx.delete(admin, timeout=5)  # the stand-in is healthy again for the next cell
        calls = {e.name: len(e.calls) for e in chain}
        return {"served_by": answer.served_by, "text": answer.text, "calls": calls}

    def scripted() -> dict[str, Any]:
        try:
            result = run(policy, LIVE_LIKE, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the learner's policy: said in one line
            return {"served_by": f"nobody ({type(exc).__name__})", "text": None, "calls": {}}
        return {"served_by": result["outcome"], "text": None, "calls": result["calls"]}

    return run_live(
        "your chain on real endpoints",
        work,
        seconds=LIVE_BUDGET_S,
        needs=["managed-standin", "vllm"],
        recorded=scripted,
    )


def gateway_failover(gateway_url: str, api_key: str, model: str) -> list[dict[str, Any]]:
    """One request through the gateway as usual, one with ``x-servelab-force-failover: 1``:
    the status, who served (``x-servelab-upstream``) and after how many attempts."""
    import httpx

    rows = []
    for force in ("0", "1"):
        reply = httpx.post(
            gateway_url + "/v1/chat/completions",
            timeout=LIVE_BUDGET_S,
            headers={"authorization": f"Bearer {api_key}", "x-servelab-force-failover": force},
            json={
                "model": model,
                "max_tokens": 12,
                "temperature": 0,
                "messages": [{"role": "user", "content": "What is the capital of France?"}],
            },
        )
        rows.append(
            {
                "force": force,
                "status": reply.status_code,
                "served_by": reply.headers.get("x-servelab-upstream"),
                "attempts": reply.headers.get("x-servelab-attempts"),
            }
        )
    return rows


def load_gateway_failover(path: Path = GATEWAY_FAILOVER) -> list[dict[str, Any]]:
    """The recorded `gateway_failover` rows (scripts/record_lab07.py)."""
    import json

    return json.loads(path.read_text())["rows"]


def live_gateway_failover(gateway_url: str, api_key: str, model: str):
    """`gateway_failover` within the budget; the recorded rows when the gateway cannot answer."""
    from servelab.live import run as run_live

    return run_live(
        "the gateway's failover",
        lambda progress: gateway_failover(gateway_url, api_key, model),
        seconds=LIVE_BUDGET_S,
        needs=["gateway"],
        recorded=load_gateway_failover,
    )
