"""How many learners does one course server hold? Hub + N learner servers + the shared stack.

For N = 1, 5, 10, 20 learners (added cumulatively), on this machine:

1. **Memory**: N real accounts, each with their own Jupyter server started by JupyterHub as
   their uid and one kernel open (an idle Python kernel; ``--lab-imports`` measures once what
   importing a lab's libraries adds). PSS (proportional set size: shared pages split between
   the processes sharing them, so the figures add up) of the hub + proxy, of each learner's
   processes, and of the shared embedded stack (vLLM, llama-server, gateway, stand-ins).
2. **TTFT through the gateway**: every learner sends one streaming chat completion (SmolLM2 on
   the CPU vLLM, ``--max-tokens`` tokens) every ``--interval`` seconds (uniform jitter, first
   request at a random offset), through a class gateway that holds one key per learner
   (`servelab course keys`), for ``--duration`` seconds. Time to first content token, as the
   client sees it, p50 / p95 / max, and failures.
3. **One stack per learner instead**: the stack's measured PSS times N (the alternative the
   course server does not take), against the machine's memory.

The requests are sent from this process (one thread per learner, each with its own key), not
from inside the learners' kernels: the servers and kernels are there for their memory.

    sudo .venv/bin/python benchmarks/hub_capacity.py                 # N = 1,5,10,20 (~10 min)
    sudo .venv/bin/python benchmarks/hub_capacity.py --n 1,5 --duration 20

Needs root (accounts), the embedded stack running (`servelab up`) and configurable-http-proxy
(`make setup`). Everything it creates is removed at the end. Results: a table on stdout and
every number in .cache/bench/hub_capacity-<time>.json. On a machine shared with other work the
numbers are noisy: the script prints the load average beside them.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import pwd
import random
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "integration" / "hub"))  # the test's course server

from hub_support import new_server  # noqa: E402

from reference_stack.gateway.process import GatewayProcess  # noqa: E402
from servelab.course_server import keys  # noqa: E402
from servelab.course_server.roster import Learner  # noqa: E402
from servelab_base.config import get_settings  # noqa: E402
from servelab_base.paths import CACHE  # noqa: E402

#: A learner waiting for the first token of an answer in a notebook: 2 s at p95 is the bound
#: the course server is sized for (docs/course-server.md).
TTFT_BOUND_S = 2.0
MODEL = "smollm2-135m-instruct"
PROMPT = "In one sentence: what is time to first token?"


def pss(procs: list[psutil.Process]) -> int:
    total = 0
    for proc in procs:
        try:
            total += proc.memory_full_info().pss
        except psutil.Error:
            pass
    return total


def processes_of(uids: set[int]) -> list[psutil.Process]:
    return [
        p for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real in uids
    ]


def tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def stack_processes() -> list[psutil.Process]:
    """The embedded stack's processes: whoever listens on its loopback ports, and children."""
    s = get_settings()
    ports = {s.gateway_port, s.vllm_port, s.llamacpp_port, s.managed_port, s.cloud_port}
    ports |= {s.cloud_port + i for i in range(1, 5)}
    pids = set()
    for conn in psutil.net_connections("tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port in ports and conn.pid:
            pids.add(conn.pid)
    found = {}
    for pid in pids:
        for proc in tree(pid):
            found[proc.pid] = proc
    return list(found.values())


def one_request(url: str, key: str, max_tokens: int) -> float:
    """Seconds to the first content token of one streamed chat completion."""
    body = {
        "model": MODEL,
        "stream": True,
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": PROMPT}],
    }
    started = time.perf_counter()
    first = None
    with (
        httpx.Client(timeout=120) as client,
        client.stream(
            "POST",
            url + "/v1/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {key}"},
        ) as response,
    ):
        response.raise_for_status()
        for line in response.iter_lines():
            if first is None and line.startswith("data: {"):
                choices = json.loads(line[6:]).get("choices") or [{}]
                if (choices[0].get("delta") or {}).get("content"):
                    first = time.perf_counter() - started
    if first is None:
        raise RuntimeError("no content token in the stream")
    return first


def load(url: str, learner_keys: list[str], interval: float, duration: float, max_tokens: int):
    """Each learner: a request every ``interval`` s (jittered) for ``duration`` s."""
    ttfts: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + duration

    def learner(key: str, seed: int) -> None:
        rng = random.Random(seed)
        time.sleep(rng.uniform(0, interval))
        while time.monotonic() < deadline:
            sent = time.monotonic()
            try:
                ttft = one_request(url, key, max_tokens)
                with lock:
                    ttfts.append(ttft)
            except Exception as exc:  # counted, not fatal: the table shows them
                with lock:
                    failures.append(repr(exc)[:200])
            time.sleep(max(0.0, sent + rng.uniform(0.5, 1.5) * interval - time.monotonic()))

    with ThreadPoolExecutor(len(learner_keys)) as pool:
        list(pool.map(learner, learner_keys, range(len(learner_keys))))
    return ttfts, failures


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def lab_kernel_pss() -> int:
    """PSS of one kernel after importing what lab 00 imports (measured once, as root)."""
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3")
    try:
        kc.execute_interactive(
            "import numpy, pandas, matplotlib.pyplot, openai, httpx\n"
            "import servelab.clients, servelab.bench, servelab.grading.checks",
            timeout=120,
        )
        return pss(tree(km.provisioner.pid))
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", default="1,5,10,20", help="learner counts, ascending")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between requests")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load per N")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--lab-imports", action="store_true", help="also measure a lab kernel")
    args = parser.parse_args()
    counts = [int(x) for x in args.n.split(",")]
    if os.geteuid() != 0:
        print("needs root: it creates real accounts", file=sys.stderr)
        return 2
    stack = stack_processes()
    if not stack:
        print("the embedded stack is not running: `servelab up` first", file=sys.stderr)
        return 2
    results = {
        "machine": {
            "cpus": psutil.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "platform": platform.platform(),
        },
        "settings": vars(args),
        "ttft_bound_s": TTFT_BOUND_S,
        "rows": [],
    }
    if args.lab_imports:
        results["lab_kernel_pss_mib"] = round(lab_kernel_pss() / 2**20)
    server = new_server()
    server.learners = []
    gateway = None
    try:
        server.start()
        hub = server.hub
        sessions = {}
        for n in counts:
            new = [
                f"{server.instructor.replace('slhi', 'slhl')}x{i:02d}"
                for i in range(len(sessions), n)
            ]
            hub.add_users(new)
            server.learners += new
            for name in new:
                sessions[name] = hub.as_user(name)
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(lambda name: sessions[name].start_server(), new))
                list(
                    pool.map(
                        lambda name: sessions[name].server("POST", "api/kernels", json={}), new
                    )
                )
            # every learner's key is issued afresh each round (rotated), to read them back
            issued_file = server.base / "class-keys.yaml"
            keys.issue(
                [Learner(u) for u in server.learners],
                issued_file,
                to_homes=False,
                rotate=set(server.learners),
                plaintext_csv=server.base / "handout.csv",
            )
            with (server.base / "handout.csv").open() as f:
                handout = {r["username"]: r["key"] for r in csv.DictReader(f)}
            if gateway:
                gateway.stop()
            gateway = GatewayProcess(
                keys=issued_file, audit=server.base / "audit.jsonl", mode="production"
            ).start()
            time.sleep(3)  # let the kernels settle before measuring
            learners_pss = pss(processes_of({pwd.getpwnam(u).pw_uid for u in server.learners}))
            # the hub and its proxy: its process tree, less the servers it started as learners
            hub_pss = pss([p for p in tree(server.process.pid) if p.uids().real == 0])
            stack_pss = pss(stack_processes())
            load_before = os.getloadavg()
            ttfts, failures = load(
                gateway.base_url,
                [handout[u] for u in server.learners],
                args.interval,
                args.duration,
                args.max_tokens,
            )
            row = {
                "learners": n,
                "hub_and_proxy_mib": round(hub_pss / 2**20),
                "learners_mib": round(learners_pss / 2**20),
                "per_learner_mib": round(learners_pss / n / 2**20),
                "shared_stack_mib": round(stack_pss / 2**20),
                "total_mib": round((hub_pss + learners_pss + stack_pss) / 2**20),
                "one_stack_each_mib": round((hub_pss + learners_pss + n * stack_pss) / 2**20),
                "requests": len(ttfts),
                "failures": len(failures),
                "failure_examples": failures[:3],
                "ttft_p50_s": round(percentile(ttfts, 0.5), 3),
                "ttft_p95_s": round(percentile(ttfts, 0.95), 3),
                "ttft_max_s": round(max(ttfts), 3) if ttfts else None,
                "ttft_mean_s": round(statistics.fmean(ttfts), 3) if ttfts else None,
                "load_average_before": [round(x, 1) for x in load_before],
                "load_average_after": [round(x, 1) for x in os.getloadavg()],
            }
            results["rows"].append(row)
            print(json.dumps(row), flush=True)
    finally:
        if gateway:
            gateway.stop()
        server.close()
    rows = results["rows"]
    stack_mib = max(r["shared_stack_mib"] for r in rows)
    total_gib = results["machine"]["memory_gib"]
    results["one_stack_each_max_learners"] = int((total_gib * 1024) // stack_mib)
    within = [r["learners"] for r in rows if r["ttft_p95_s"] <= TTFT_BOUND_S and not r["failures"]]
    results["max_learners_within_bound"] = max(within) if within else 0
    out = CACHE / "bench" / f"hub_capacity-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(
        f"\n{'N':>3} {'hub+proxy':>9} {'per learner':>11} {'stack':>7} {'total':>7} "
        f"{'1 stack each':>12} {'reqs':>5} {'fail':>4} {'TTFT p50':>8} {'p95':>6} {'max':>6}  load"
    )
    for r in rows:
        print(
            f"{r['learners']:>3} {r['hub_and_proxy_mib']:>7} MB {r['per_learner_mib']:>8} MB "
            f"{r['shared_stack_mib']:>4} MB {r['total_mib']:>4} MB {r['one_stack_each_mib']:>9} MB "
            f"{r['requests']:>5} {r['failures']:>4} {r['ttft_p50_s']:>7.2f}s "
            f"{r['ttft_p95_s']:>5.2f}s "
            f"{r['ttft_max_s'] or float('nan'):>5.2f}s  {r['load_average_before'][0]}"
        )
    print(
        f"\nshared stack: p95 TTFT <= {TTFT_BOUND_S} s with no failures up to "
        f"N = {results['max_learners_within_bound']} of those measured; one stack per learner "
        f"({stack_mib} MB each) fits at most {results['one_stack_each_max_learners']} in "
        f"{total_gib} GiB, before any learner's server.\nall numbers: {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
