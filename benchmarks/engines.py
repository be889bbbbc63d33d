"""The two embedded engines side by side: set-up time, start-up time, latency, throughput, memory.

Measures, in one run on this machine:
  setup   `servelab prepare` from an empty cache (sdist download, llama.cpp build, model
          conversion) and again with everything cached (SERVELAB_CACHE=a temporary directory,
          so the real .cache/ is untouched). Add --full-setup to time `bash scripts/setup.sh` in
          a fresh copy of the checkout (creates a second 2.5 GB .venv; about 15-25 min).
  up      `servelab up` of the whole cpu profile until healthy, as a second stack on its own
          ports (9400-9420) with its own pid files, so a running stack is left alone.
  load    vLLM and llama.cpp on the same prompts (datasets/prompts/short_chat.jsonl), 64
          output tokens each (ignore_eos), greedy, alternating engine by engine:
          single stream (TTFT, inter-token latency) and 8 concurrent streams (aggregate
          output tokens/s); peak RSS of each server's process tree sampled every 0.1 s.

    .venv/bin/python benchmarks/engines.py [--phases setup,up,load] [--rounds 2] [--out FILE]

Timings on a shared 2-core laptop are noisy: compare the two engines within one run (ratios),
not across runs. Metric names follow docs/metrics.md (servelab.bench computes them).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from servelab.bench import Load, Target, Workload, load_prompts, run_sync, summarize  # noqa: E402
from servelab_base.config import get_settings  # noqa: E402
from servelab_base.paths import CACHE, ROOT  # noqa: E402

ENGINES = ("vllm", "llamacpp")
OUTPUT_TOKENS = 64  # enough decode steps for stable inter-token latency, short enough for 2 cores
# 8 single-stream requests give 8 x 63 inter-token gaps; 24 at concurrency 8 keep all 8 slots
# busy for 3 waves. Small on purpose: the whole load phase takes a few minutes on 2 cores.
SINGLE = Load(max_concurrency=1, num_requests=8, warmup=1)
CONCURRENT = Load(max_concurrency=8, num_requests=24, warmup=8)
RSS_SAMPLE_S = 0.1


def servelab(*args: str, env: dict | None = None) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "servelab.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    return time.perf_counter() - started, result


def phase_setup(full: bool) -> dict:
    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="servelab-bench-") as tmp:
        env = {**os.environ, "SERVELAB_CACHE": tmp}
        for label in ("prepare_from_nothing_s", "prepare_second_s"):
            print(f"[setup] servelab prepare with an empty cache ({label})", flush=True)
            seconds, result = servelab("prepare", env=env)
            if result.returncode != 0:
                raise SystemExit(f"prepare failed:\n{result.stdout}\n{result.stderr}")
            out[label] = round(seconds, 1)
            print(f"[setup]   {seconds:.1f} s", flush=True)
    if full:
        out.update(full_setup())
    return out


def full_setup() -> dict:
    """`bash scripts/setup.sh` twice in a fresh copy of the checkout (tracked + untracked files)."""
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    ).stdout.split()
    out = {}
    with tempfile.TemporaryDirectory(prefix="servelab-clone-") as tmp:
        for name in files:
            source, target = ROOT / name, Path(tmp) / name
            if source.is_file():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SERVELAB_")}
        for label in ("setup_sh_from_nothing_s", "setup_sh_second_s"):
            print(f"[setup] bash scripts/setup.sh in a fresh copy ({label})", flush=True)
            started = time.perf_counter()
            result = subprocess.run(
                ["bash", "scripts/setup.sh"], cwd=tmp, env=env, capture_output=True, text=True
            )
            if result.returncode != 0:
                raise SystemExit(f"setup.sh failed:\n{result.stdout[-3000:]}\n{result.stderr}")
            out[label] = round(time.perf_counter() - started, 1)
            print(f"[setup]   {out[label]} s", flush=True)
    return out


#: The benchmark runs its own stack on these ports, with its own pid files and logs, so it
#: neither disturbs nor is disturbed by a stack a learner (or a test session) is using.
BENCH_PORTS = {
    "SERVELAB_GATEWAY_PORT": "9400",
    "SERVELAB_VLLM_PORT": "9401",
    "SERVELAB_LLAMACPP_PORT": "9402",
    "SERVELAB_MANAGED_PORT": "9410",
    "SERVELAB_CLOUD_PORT": "9420",
}


def bench_env(state_dir: str) -> dict:
    return {**os.environ, **BENCH_PORTS, "SERVELAB_STACK_DIR": state_dir}


def phase_up(env: dict, services: list[str]) -> dict:
    what = " ".join(f"--service {s}" for s in services) or "(whole cpu profile)"
    print(f"[up] servelab up {what} on the benchmark's ports", flush=True)
    seconds, result = servelab(
        "up", "--profile", "cpu", *[a for s in services for a in ("--service", s)], env=env
    )
    if result.returncode != 0:
        servelab("down", env=env)
        raise SystemExit(f"up failed:\n{result.stdout}\n{result.stderr}")
    per_service = {}
    for line in result.stdout.splitlines():
        if " healthy after " in line:
            name, rest = line.strip().split(" healthy after ")
            per_service[name] = float(rest.split()[0])
    print(f"[up]   healthy in {seconds:.1f} s {per_service}", flush=True)
    return {"up_to_healthy_s": round(seconds, 1), "service_healthy_after_s": per_service}


class PeakRss:
    """Samples the resident memory of each engine's whole process tree in a thread."""

    def __init__(self, names: tuple[str, ...], state_dir: str):
        pids = {n: json.loads((Path(state_dir) / f"{n}.json").read_text())["pid"] for n in names}
        self.roots = {n: psutil.Process(pid) for n, pid in pids.items()}
        self.peak = dict.fromkeys(names, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def rss(self, name: str) -> int:
        root = self.roots[name]
        total = 0
        for proc in [root, *root.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _loop(self) -> None:
        while not self._stop.is_set():
            for name in self.peak:
                self.peak[name] = max(self.peak[name], self.rss(name))
            time.sleep(RSS_SAMPLE_S)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def measure(engine: str, load: Load, prompts: list[dict]) -> dict:
    settings = get_settings()
    port = {
        "vllm": BENCH_PORTS["SERVELAB_VLLM_PORT"],
        "llamacpp": BENCH_PORTS["SERVELAB_LLAMACPP_PORT"],
    }[engine]
    url = settings.url(int(port))
    workload = Workload(
        prompts,
        max_tokens=OUTPUT_TOKENS,
        name="short_chat",
        extra_body={"ignore_eos": True, "temperature": 0},
    )
    # a new connection per request, for both engines: llama-server closes a connection after a
    # streamed reply, and a client that reuses it fails every other request (seen with
    # servelab.bench's keep-alive pool); closing costs both engines the same ~0.1 ms on loopback
    target = Target(f"{url}/v1", model=settings.model, headers={"connection": "close"})
    run = run_sync(target, workload, load, progress=False)
    table = summarize(run.records)
    stats = table.attrs["run"]
    if stats["failed"]:
        raise SystemExit(f"{engine}: {stats['failed']} requests failed")
    return {
        "ttft_ms_p50": round(table.loc["ttft", "p50"], 1),
        "ttft_ms_p90": round(table.loc["ttft", "p90"], 1),
        "itl_ms_p50": round(table.loc["itl", "p50"], 2),
        "itl_ms_p90": round(table.loc["itl", "p90"], 2),
        "tpot_ms_p50": round(table.loc["tpot", "p50"], 2),
        "output_tokens_per_s": round(stats["output_throughput"], 1),
        "requests": stats["completed"],
    }


def phase_load(rounds: int, state_dir: str) -> dict:
    prompts = load_prompts("short_chat")
    results: dict = {e: {"single": [], "concurrent_8": []} for e in ENGINES}
    with PeakRss(ENGINES, state_dir) as memory:
        idle = {e: round(memory.rss(e) / 2**20) for e in ENGINES}
        for r in range(rounds):
            for label, load in (("single", SINGLE), ("concurrent_8", CONCURRENT)):
                for engine in ENGINES if r % 2 == 0 else reversed(ENGINES):
                    print(f"[load] round {r + 1}/{rounds} {engine} {label}", flush=True)
                    row = measure(engine, load, prompts)
                    print(f"[load]   {row}", flush=True)
                    results[engine][label].append(row)
    for engine in ENGINES:
        results[engine]["idle_rss_mib"] = idle[engine]
        results[engine]["peak_rss_mib"] = round(memory.peak[engine] / 2**20)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--phases", default="setup,up,load")
    parser.add_argument("--full-setup", action="store_true")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--single-requests", type=int, default=SINGLE.num_requests)
    parser.add_argument("--concurrent-requests", type=int, default=CONCURRENT.num_requests)
    parser.add_argument("--out", default=str(CACHE / "bench" / "engines.json"))
    args = parser.parse_args()
    phases = args.phases.split(",")
    SINGLE.num_requests, CONCURRENT.num_requests = args.single_requests, args.concurrent_requests
    result: dict = {
        "source": "measured by benchmarks/engines.py",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "hardware": {
            "cpu": _cpu_model(),
            "cores": os.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "platform": platform.platform(),
        },
        "load_model": (
            f"closed loop; single stream {SINGLE.num_requests} requests "
            f"(+{SINGLE.warmup} warm-up), 8 streams {CONCURRENT.num_requests} "
            f"(+{CONCURRENT.warmup} warm-up); {OUTPUT_TOKENS} output tokens, "
            "ignore_eos, temperature 0, prompts datasets/prompts/short_chat.jsonl"
        ),
    }
    if "setup" in phases:
        result["setup"] = phase_setup(args.full_setup)
    with tempfile.TemporaryDirectory(prefix="servelab-bench-stack-") as state_dir:
        env = bench_env(state_dir)
        print(
            f"[bench] second stack's state in {state_dir}; if this run is killed, stop it with "
            f"`SERVELAB_STACK_DIR={state_dir} servelab down`",
            flush=True,
        )
        try:
            if "up" in phases:
                result["up"] = phase_up(env, [])
            if "load" in phases:
                if "up" not in phases:
                    phase_up(env, list(ENGINES))
                result["load"] = phase_load(args.rounds, state_dir)
        finally:
            servelab("down", env=env)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    print(f"written to {out}")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    main()
