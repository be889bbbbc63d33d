"""Lab 08: residency cases, the checker that grades a routing policy, and the live gateway demo.

A *case* is one request meeting one failover chain on a bad day: its data class, the chain of
upstreams the router would try in order, and which of them are down. The right answer is fixed
by three rules, those that ``reference_stack/gateway/residency.py`` enforces in the gateway:

1. screen first: an upstream may process a request only if it is a known upstream, its
   jurisdiction is allowed for the data class, and its retention (when known) is within the
   class's limit; an unknown class, an unknown upstream or an unknown retention where a limit
   applies is NOT allowed (fail closed);
2. then fail over: the first allowed upstream in chain order that is up serves the request;
3. when none is left, deny: never "the nearest healthy one".

``generate_cases(seed, n)`` draws cases (questions only) from a seeded RNG, so a hidden check can
draw fresh ones that no learner has seen; ``check(route_fn, cases)`` lists where a learner's
router disagrees with the cases' ``expected`` answers. ``load_cases()`` reads the recorded
cases of ``datasets/lab08/cases.jsonl``, which come with their answers. This module holds no
answer key: the recorded answers are written by ``scripts/record_lab08.py`` (through the
gateway's policy code), and the lab's hidden checks answer their fresh cases in the grader's
process with that same code.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import yaml

from reference_stack.gateway.settings import LOCAL_LEARNER_KEY
from servelab_base.paths import DATASETS, ROOT

LAB08 = DATASETS / "lab08"
RECORDED_SEED, RECORDED_N = 8, 120  # the cases shipped in datasets/lab08/cases.jsonl
UNKNOWN_CLASS = "biometric-us"  # a class the policy does not define (fail closed)
UNKNOWN_UPSTREAM = "partner-endpoint"  # an upstream nobody catalogued (fail closed)
ON_PREM = [("onprem-vllm", "self-hosted online (vLLM)"), ("onprem-batch", "self-hosted batch")]


# -- the data ---------------------------------------------------------------------------------
def load_policy() -> dict[str, dict[str, Any]]:
    """Data class -> {"jurisdictions": [...], "max_retention_days": int | None, "description"}."""
    return yaml.safe_load((LAB08 / "policy.yaml").read_text())["data_classes"]


def build_upstreams(catalog: Any | None = None) -> pd.DataFrame:
    """Every provider region of the catalog, plus our own machines, as upstreams.

    ``retention_days`` comes from the provider's terms in the catalog (providers.yaml); a
    provider whose terms were not catalogued gets an empty cell: unknown, not zero.
    """
    from servelab_base.catalog import load

    catalog = catalog or load()
    rows = []
    for p in catalog.rows["providers"]:
        for r in catalog.regions(p["id"]):
            rows.append(
                {
                    "upstream": f"{p['id']}/{r.region}",
                    "provider": p["id"],
                    "pattern": p["pattern"],
                    "region": r.region,
                    "jurisdiction": r.jurisdiction,
                    "country": r.country,
                    "retention_days": p.get("retention_days"),
                    "source": "datasets/providers (regions.csv, providers.yaml)",
                }
            )
    for name, what in ON_PREM:
        rows.append(
            {
                "upstream": name,
                "provider": "self",
                "pattern": what,
                "region": "own",
                "jurisdiction": "on-prem",
                "country": "own",
                "retention_days": 0,
                "source": "our own engine: nothing is stored",
            }
        )
    df = pd.DataFrame(rows)
    df["retention_days"] = df["retention_days"].astype("Int64")
    return df.set_index("upstream")


def load_upstreams() -> pd.DataFrame:
    """The recorded upstream table (``datasets/lab08/upstreams.csv``), index = upstream id."""
    df = pd.read_csv(LAB08 / "upstreams.csv", dtype={"retention_days": "Int64"})
    return df.set_index("upstream")


# -- the cases ----------------------------------------------------------------------------------
def generate_cases(
    seed: int, n: int, policy: dict | None = None, upstreams: pd.DataFrame | None = None
) -> list[dict[str, Any]]:
    """``n`` random cases from ``seed`` (same seed, same cases): questions, without answers.

    A chain mixes the upstreams of ``upstreams`` with ``UNKNOWN_UPSTREAM``; about one case in
    twenty asks for ``UNKNOWN_CLASS``, a class ``policy`` does not define.
    """
    policy = policy if policy is not None else load_policy()
    upstreams = upstreams if upstreams is not None else load_upstreams()
    rng = random.Random(seed)
    classes = sorted(policy)
    names = sorted(upstreams.index) + [UNKNOWN_UPSTREAM]
    cases = []
    for i in range(n):
        chain = rng.sample(names, rng.randint(1, 5))
        down = sorted(u for u in chain if rng.random() < 0.35)
        data_class = rng.choice(classes) if rng.random() > 0.05 else UNKNOWN_CLASS
        cases.append(
            {"id": f"s{seed}-{i:03d}", "data_class": data_class, "chain": chain, "down": down}
        )
    return cases


def load_cases() -> list[dict[str, Any]]:
    """The recorded cases of ``datasets/lab08/cases.jsonl``, each with its ``expected`` outcome
    (written by ``scripts/record_lab08.py``)."""
    lines = (LAB08 / "cases.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def check(
    route_fn: Callable[[dict], Any], cases: list[dict], key: str | None = "route"
) -> list[dict[str, Any]]:
    """Cases where ``route_fn(case)`` differs from ``case["expected"][key]`` (the whole expected
    record when ``key`` is None); empty: all right. ``route_fn`` gets the case without its
    answer; an exception counts as a wrong answer.
    """
    wrong = []
    for case in cases:
        question = {k: v for k, v in case.items() if k != "expected"}
        want = case["expected"] if key is None else case["expected"][key]
        try:
            got = route_fn(question)
        except Exception as e:  # noqa: BLE001 (the learner's error is reported, not raised)
            got = f"{type(e).__name__}: {e}"
        if got != want:
            wrong.append(
                {
                    "id": case["id"],
                    "data_class": case["data_class"],
                    "chain": case["chain"],
                    "down": case["down"],
                    "expected": want,
                    "got": got,
                }
            )
    return wrong


# -- plots ------------------------------------------------------------------------------------
def plot_allowed(matrix: pd.DataFrame, ax: Any = None) -> Any:
    """Heat map of a data class x upstream matrix of True / False (what may go where)."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(10, 3.2))[1]
    ax.imshow(matrix.astype(float).values, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(matrix.columns)), matrix.columns, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(matrix.index)), matrix.index)
    ax.set_title("where each data class may be processed (green: allowed)")
    return ax


#: How `plot_chain` colours an upstream, by what the audit record says happened to it.
CHAIN_STATES = {
    "served": "tab:green",
    "excluded by the policy": "tab:red",
    "down: failed over": "tab:grey",
    "not tried": "#dddddd",
}


def plot_chain(case: dict, record: dict, ax: Any = None) -> Any:
    """One case's chain, a box per upstream in failover order, coloured by what the audit
    ``record`` (``audit_record``'s answer) says happened to it; upstreams that are down are
    hatched."""
    import matplotlib.pyplot as plt

    chain = case["chain"]
    ax = ax or plt.subplots(figsize=(2.3 * len(chain), 1.6))[1]
    seen = set()
    for i, upstream in enumerate(chain):
        if upstream == record.get("route"):
            state = "served"
        elif upstream in record.get("excluded", []):
            state = "excluded by the policy"
        elif upstream in record.get("failed_over", []):
            state = "down: failed over"
        else:
            state = "not tried"
        ax.barh(
            0,
            0.94,
            left=i,
            color=CHAIN_STATES[state],
            hatch="//" if upstream in case["down"] else None,
            label=state if state not in seen else None,
        )
        seen.add(state)
        ax.text(i + 0.47, 0, upstream.replace("/", "/\n"), ha="center", va="center", fontsize=8)
    ax.set_xlim(0, len(chain))
    ax.set_yticks([])
    ax.set_xticks([])
    ax.set_xlabel("failover order, left to right (hatched: down)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    ax.set_title(f"{case['data_class']}: {record.get('decision')}")
    return ax


def plot_outcomes(cases: list[dict], ax: Any = None) -> Any:
    """Stacked bars: per data class, how many cases were served, rerouted or denied."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(7, 3))[1]
    df = pd.DataFrame(
        [{"data_class": c["data_class"], "decision": c["expected"]["decision"]} for c in cases]
    )
    table = df.value_counts().unstack(fill_value=0)
    table = table.reindex(columns=["served", "rerouted", "denied"], fill_value=0)
    table.plot.barh(stacked=True, ax=ax, color=["tab:green", "tab:orange", "tab:red"])
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_xlabel("cases")
    ax.set_title("outcomes of the recorded cases: failover never crosses the policy")
    return ax


# -- live: the gateway enforcing a policy ------------------------------------------------------
GATEWAY_ROUTING = LAB08 / "gateway_routing.yaml"
GATEWAY_START_TIMEOUT_S = 20.0  # the gateway imports FastAPI and starts in 1-3 s on 2 cores
# The lab's own gateway reads the stack's default keys: LOCAL_LEARNER_KEY may set any data class.


@contextmanager
def lab_gateway(routing: Path = GATEWAY_ROUTING) -> Iterator[dict[str, Any]]:
    """Start a gateway of the reference stack with ``routing`` on a free loopback port, with its
    own audit file (read it with ``reference_stack.gateway.audit.read_audit`` inside the
    ``with``); yields {"url", "audit", "error"} and stops it afterwards. When it cannot
    start, "url" is None and "error" says why (the lab then explains instead of failing)."""
    from servelab.clients import CLOUD_STANDIN_KEY, MANAGED_STANDIN_KEY

    tmp = Path(tempfile.mkdtemp(prefix="servelab-lab08-"))
    audit = tmp / "audit.jsonl"
    env = dict(
        os.environ,
        SERVELAB_MANAGED_STANDIN_KEY=MANAGED_STANDIN_KEY,
        SERVELAB_CLOUD_STANDIN_KEY=CLOUD_STANDIN_KEY,
        PYTHONUNBUFFERED="1",
    )
    cmd = [
        sys.executable,
        "-m",
        "reference_stack.gateway",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--routing",
        str(routing),
        "--audit",
        str(audit),
        "--mode",
        "local",
    ]
    log = (tmp / "gateway.log").open("w+")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log, text=True)
    info: dict[str, Any] = {"url": None, "audit": audit, "error": None}
    try:
        deadline = time.monotonic() + GATEWAY_START_TIMEOUT_S
        line = proc.stdout.readline() if proc.stdout else ""
        if "listening on " in line:
            url = line.strip().rsplit(" ", 1)[-1]
            while time.monotonic() < deadline:
                try:
                    if httpx.get(url + "/health", timeout=1).status_code == 200:
                        info["url"] = url
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
        if info["url"] is None:
            log.seek(0)
            info["error"] = f"the gateway did not start: {(line + log.read()).strip()[-400:]}"
        yield info
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


def gateway_request(
    url: str,
    key: str,
    model: str,
    data_class: str | None = None,
    prompt: str = "Summarise this employee's sick-leave record.",
    timeout_s: float = 60.0,
) -> httpx.Response:
    """One chat completion through the gateway with the raw HTTP response (status, headers,
    the refusal body), which the ``openai`` SDK would turn into an exception."""
    headers = {"authorization": f"Bearer {key}"}
    if data_class:
        headers["x-servelab-data-class"] = data_class
    body = {
        "model": model,
        "max_tokens": 12,
        "temperature": 0,  # the model's most likely answer, the same on every run
        "messages": [{"role": "user", "content": prompt}],
    }
    return httpx.post(url + "/v1/chat/completions", json=body, headers=headers, timeout=timeout_s)


# -- the live section: bounded in time, the recording when it cannot run -----------------------
#: Seconds the live section may take: the gateway starts in 1-3 s, the reroute waits on vLLM.
LIVE_BUDGET_S = 40.0
LIVE_RECORDING = LAB08 / "live_gateway.json"


def gateway_demo(timeout_s: float = LIVE_BUDGET_S) -> dict[str, Any]:
    """Start the lab's gateway (`lab_gateway`), send it the section's two requests and read its
    audit log: {"denied": {status, code, message}, "rerouted": {status, served_by}, "audit":
    [records]}. Raises RuntimeError, with the gateway's own words, when it cannot start."""
    from reference_stack.gateway.audit import read_audit

    with lab_gateway() as gw:
        if gw["url"] is None:
            raise RuntimeError(gw["error"])
        denied = gateway_request(
            gw["url"], LOCAL_LEARNER_KEY, "us-only", "personal-eu", timeout_s=timeout_s
        )
        onprem = gateway_request(
            gw["url"], LOCAL_LEARNER_KEY, "gpt-4o-mini", "restricted", timeout_s=timeout_s
        )
        error = denied.json().get("error", {})
        return {
            "denied": {
                "status": denied.status_code,
                "code": error.get("code"),
                "message": error.get("message"),
            },
            "rerouted": {
                "status": onprem.status_code,
                "served_by": onprem.headers.get("x-servelab-upstream", "nobody"),
            },
            "audit": read_audit(gw["audit"]),
        }


def load_gateway_demo(path: Path = LIVE_RECORDING) -> dict[str, Any]:
    """The recorded `gateway_demo` (``scripts/record_lab08.py --live``), without its meta."""
    recorded = json.loads(path.read_text())
    recorded.pop("meta", None)
    return recorded


def live_gateway() -> Any:
    """`gateway_demo` within `LIVE_BUDGET_S` (a ``servelab.live.Outcome``); the recording when
    it cannot run. It needs no running stack: without vLLM the reroute is refused, live."""
    from servelab.live import run as run_live

    return run_live(
        "the lab's gateway",
        lambda progress: gateway_demo(),
        seconds=LIVE_BUDGET_S,
        recorded=load_gateway_demo,
    )
