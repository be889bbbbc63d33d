"""Lab 10: the orchestration layer, shown not named.

Two questions, both answered against real processes:

1. **What does a framework client cost?** The same chat request through the ``openai`` SDK,
   LangChain's ``ChatOpenAI`` and LiteLLM's ``completion``, each pointed at an OpenAI-compatible
   base URL (the gateway, a stand-in, a real provider) with no other change: added latency per
   call and lines of code (:func:`client_overhead`).
2. **What does a router library do that the course gateway does, and what not?** LiteLLM's
   ``Router`` and the course gateway get the same failover chain (the managed-API stand-in
   first, the Azure-style stand-in in Sweden Central second) and the same injected faults
   (:data:`SCENARIOS`): an outage, a 429 with ``Retry-After``, a stream cut after three tokens,
   and a request whose data must stay in the EU (:func:`compare_routers`).

Both sides talk to private stand-ins on free ports (reference_stack/providers/testing.py), so
nothing here touches the shared stack's fault plans; the gateway is a real process
(reference_stack/gateway/process.py) whose two upstreams are pointed at them.

LiteLLM is imported only inside these functions, after ``LITELLM_LOCAL_MODEL_COST_MAP`` is set:
otherwise its import tries to download a price list.
"""

from __future__ import annotations

import os
import statistics
import time
import warnings
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pandas as pd

#: (scenario, what is injected, on which upstream). The primary is the managed-API stand-in.
SCENARIOS: dict[str, dict[str, Any]] = {
    "outage": {"rules": [{"kind": "outage", "status": 503}], "stream": False, "eu": False},
    "429 + Retry-After": {
        "rules": [{"kind": "rate_limit_storm", "retry_after_s": 2.0}],
        "stream": False,
        "eu": False,
    },
    "stream cut after 3 tokens": {
        "rules": [{"kind": "disconnect", "after_tokens": 3}],
        "stream": True,
        "eu": False,
    },
    "EU-only data": {"rules": [], "stream": False, "eu": True},
}
MESSAGES = [{"role": "user", "content": "Say hello in five words."}]

#: The three clients, as a learner would write them (shown in the notebook, lines counted).
SNIPPETS = {
    "openai SDK": """from openai import OpenAI
client = OpenAI(base_url=BASE_URL, api_key=KEY)
reply = client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=8,
                                       temperature=0)
text = reply.choices[0].message.content""",
    "LangChain (langchain-openai)": """from langchain_openai import ChatOpenAI
llm = ChatOpenAI(base_url=BASE_URL, api_key=KEY, model=MODEL, max_tokens=8, temperature=0)
text = llm.invoke(MESSAGES).content""",
    "LiteLLM (completion)": """import litellm
reply = litellm.completion(model="openai/" + MODEL, api_base=BASE_URL, api_key=KEY,
                           messages=MESSAGES, max_tokens=8, temperature=0)
text = reply.choices[0].message.content""",
}


def _quiet_litellm() -> Any:
    """Import litellm offline: its bundled price list, no telemetry, no network at import."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("LITELLM_TELEMETRY", "False")
    # pydantic's notes on litellm's own typed dicts: about litellm's code, not the learner's
    warnings.filterwarnings("ignore", message=".*ReadOnly.*", category=UserWarning)
    import litellm

    litellm.telemetry = False
    litellm.suppress_debug_info = True
    return litellm


def clients(base_url: str, key: str, model: str) -> dict[str, Callable[[], str]]:
    """Each snippet of :data:`SNIPPETS` as a function that makes one call and returns the text."""
    from langchain_openai import ChatOpenAI
    from openai import OpenAI

    litellm = _quiet_litellm()
    sdk = OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=60)
    chain = ChatOpenAI(
        base_url=base_url, api_key=key, model=model, max_tokens=8, temperature=0, max_retries=0
    )

    def via_sdk() -> str:
        reply = sdk.chat.completions.create(
            model=model, messages=MESSAGES, max_tokens=8, temperature=0
        )
        return reply.choices[0].message.content or ""

    def via_langchain() -> str:
        return str(chain.invoke(MESSAGES).content)

    def via_litellm() -> str:
        reply = litellm.completion(
            model="openai/" + model,
            api_base=base_url,
            api_key=key,
            messages=MESSAGES,
            max_tokens=8,
            temperature=0,
            num_retries=0,
        )
        return reply.choices[0].message.content or ""

    return dict(zip(SNIPPETS, (via_sdk, via_langchain, via_litellm), strict=True))


def client_overhead(base_url: str, key: str, model: str, repeats: int = 5) -> pd.DataFrame:
    """Median wall time per call for each client (temperature 0, so every call writes the same
    tokens), interleaved so load hits all three alike; ``added_ms`` is the median minus the
    openai SDK's. On a shared machine a difference of a few ms either way is noise."""
    calls = clients(base_url, key, model)
    for call in calls.values():  # warm-up: imports, connection pools
        call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            started = time.perf_counter()
            call()
            times[name].append(1000 * (time.perf_counter() - started))
    rows = [
        {
            "client": name,
            "median_ms": statistics.median(ms),
            "lines": len(SNIPPETS[name].split("\n")),
        }
        for name, ms in times.items()
    ]
    table = pd.DataFrame(rows)
    table["added_ms"] = table.median_ms - table.median_ms.iloc[0]
    return table


@dataclass(frozen=True)
class Outcome:
    """What one router did with one scenario, as its client saw it."""

    router: str
    scenario: str
    answered_by: str  # the upstream that produced the answer, or "none"
    ok: bool
    text: str
    error: str
    seconds: float


def _plan(rules: list[dict]) -> Any:
    from reference_stack.providers.faults import FaultPlan

    return FaultPlan.model_validate({"seed": 1, "rules": rules})


def _via_gateway(scenario: str, managed_url: str, cloud_url: str) -> Outcome:
    """The scenario through a real gateway process whose chain starts at the two stand-ins."""
    from openai import APIError, OpenAI

    from reference_stack.gateway.process import GatewayProcess
    from reference_stack.gateway.settings import LOCAL_LEARNER_KEY  # its own gateway's key
    from reference_stack.providers.testing import CLOUD_KEY, MANAGED_KEY

    spec = SCENARIOS[scenario]
    env = {
        "SERVELAB_GATEWAY_MANAGED_URL": managed_url + "/v1",
        "SERVELAB_GATEWAY_AZURE_SWEDENCENTRAL_URL": cloud_url,
        "SERVELAB_MANAGED_STANDIN_KEY": MANAGED_KEY,
        "SERVELAB_CLOUD_STANDIN_KEY": CLOUD_KEY,
    }
    headers = {"x-servelab-data-class": "personal-eu"} if spec["eu"] else {}
    started = time.perf_counter()
    with GatewayProcess(env=env, audit=os.devnull) as gateway:
        client = OpenAI(
            base_url=gateway.base_url + "/v1", api_key=LOCAL_LEARNER_KEY, max_retries=0, timeout=30
        )
        started = time.perf_counter()
        text, error, upstream = "", "", "none"
        try:
            if spec["stream"]:
                raw = client.chat.completions.with_raw_response.create(
                    model="gpt-4o-mini",
                    messages=MESSAGES,
                    max_tokens=16,
                    stream=True,
                    extra_headers=headers,
                )
                upstream = raw.headers.get("x-servelab-upstream", "?")
                for chunk in raw.parse():
                    for choice in chunk.choices:
                        text += choice.delta.content or ""
            else:
                raw = client.chat.completions.with_raw_response.create(
                    model="gpt-4o-mini", messages=MESSAGES, max_tokens=16, extra_headers=headers
                )
                upstream = raw.headers.get("x-servelab-upstream", "?")
                text = raw.parse().choices[0].message.content or ""
        except APIError as exc:
            error = f"{type(exc).__name__}: {str(exc)[:120]}"
    return Outcome(
        "course gateway", scenario, upstream, not error, text, error, time.perf_counter() - started
    )


def _via_litellm(scenario: str, managed_url: str, cloud_url: str) -> Outcome:
    """The same scenario through LiteLLM's Router with the same two-step chain as fallbacks."""
    from reference_stack.providers.testing import CLOUD_KEY, MANAGED_KEY

    litellm = _quiet_litellm()
    spec = SCENARIOS[scenario]
    router = litellm.Router(
        model_list=[
            {
                "model_name": "gpt-4o-mini",
                "litellm_params": {
                    "model": "openai/gpt-4o-mini",
                    "api_base": managed_url + "/v1",
                    "api_key": MANAGED_KEY,
                },
                "model_info": {"id": "managed-openai"},
            },
            {
                "model_name": "gpt-4o-mini-sweden",
                "litellm_params": {
                    "model": "azure/gpt-4o-mini",
                    "api_base": cloud_url,
                    "api_key": CLOUD_KEY,
                    "api_version": "2024-10-21",
                },
                "model_info": {"id": "azure-swedencentral"},
            },
        ],
        fallbacks=[{"gpt-4o-mini": ["gpt-4o-mini-sweden"]}],
        num_retries=0,
        timeout=30,
    )
    started = time.perf_counter()
    text, error, upstream = "", "", "none"
    try:
        reply = router.completion(
            model="gpt-4o-mini", messages=MESSAGES, max_tokens=16, stream=spec["stream"]
        )
        if spec["stream"]:
            for chunk in reply:
                text += chunk.choices[0].delta.content or "" if chunk.choices else ""
        else:
            text = reply.choices[0].message.content or ""
        info = getattr(reply, "_hidden_params", {}) or {}
        upstream = info.get("model_id") or "?"
    except Exception as exc:  # LiteLLM raises its own exception classes; report, do not stop
        error = f"{type(exc).__name__}: {str(exc)[:120]}"
    return Outcome(
        "LiteLLM Router", scenario, upstream, not error, text, error, time.perf_counter() - started
    )


def run_scenario(scenario: str) -> list[Outcome]:
    """One scenario through both routers, each with fresh stand-ins carrying the faults."""
    from reference_stack.providers.testing import cloud_standin, managed_standin

    if scenario not in SCENARIOS:
        raise KeyError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")
    outcomes = []
    for via in (_via_gateway, _via_litellm):
        with ExitStack() as stack:
            managed_url, _ = stack.enter_context(
                managed_standin(seed=1, plan=_plan(SCENARIOS[scenario]["rules"]))
            )
            cloud_url, _ = stack.enter_context(cloud_standin("swedencentral", seed=1))
            outcomes.append(via(scenario, managed_url, cloud_url))
    return outcomes


def compare_routers(scenarios: list[str] | None = None, say=print) -> pd.DataFrame:
    """Every scenario through both routers: who answered, with what, after how long."""
    rows = []
    for scenario in scenarios or list(SCENARIOS):
        say(f"  {scenario} ...")
        rows += [vars(o) for o in run_scenario(scenario)]
    return pd.DataFrame(rows)


def live_orchestration(scenario: str = "EU-only data", seconds: float = 120.0) -> Any:
    """What the three clients add (against a stand-in), one call each through the stack's
    gateway, and one router scenario; skipped while graded, bounded by ``seconds``."""
    from reference_stack.providers.testing import MANAGED_KEY, managed_standin
    from servelab import live
    from servelab.course_server.learner import gateway_key
    from servelab_base.config import get_settings

    settings = get_settings()
    repeats = live.scaled(5, 2)

    def work(progress: live.Progress) -> dict[str, Any]:
        with managed_standin(seed=1) as (url, _):  # scripted tokens: the libraries' own cost
            overhead = client_overhead(url + "/v1", MANAGED_KEY, "gpt-4o-mini", repeats)
        progress.update()
        calls = clients(settings.gateway_url + "/v1", gateway_key(), settings.model)
        answers = {name: call() for name, call in calls.items()}
        progress.update()
        routers = compare_routers([scenario], say=lambda _line: None)
        progress.update()
        return {"overhead": overhead, "answers": answers, "routers": routers}

    return live.run(
        f"three clients and two routers ({scenario})",
        work,
        seconds=seconds,
        total=3,
        needs=["gateway"],
    )
