"""Overhead of the provider stand-ins over the local engine they take tokens from.

Part 1 (no engine needed): the stand-ins alone, with the scripted token source and shaping off,
so every millisecond measured is the stand-in's own work plus loopback HTTP: per request (TTFT)
and per streamed chunk.

Part 2 (needs vLLM): the same streamed chat requests (temperature 0, fixed max_tokens) sent
alternately straight to vLLM and through each stand-in with latency shaping off (only the
stand-in's own work is added); median TTFT and end-to-end time of each path and the difference.
Then, for reference, the same request through the running stack's stand-ins WITH their modelled
profiles (what a learner sees by default). Run with the stack up (``servelab up``):

    .venv/bin/python benchmarks/providers_overhead.py --requests 30 [--engine]

Without ``--engine`` part 2 relays a timing-exact scripted upstream (reference_stack/scripted)
instead of vLLM, so the overhead can be measured with no engine and little noise.

Numbers are for the machine it runs on; compare paths only within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

import openai

from reference_stack.providers.testing import CLOUD_KEY, MANAGED_KEY, cloud_standin, managed_standin
from reference_stack.providers.tokens import EngineSource
from reference_stack.scripted import ScriptedUpstream
from servelab import clients as providers
from servelab_base.config import get_settings

UNLIMITED = 10**9  # limits high enough never to refuse a benchmark request
MESSAGES = [{"role": "user", "content": "List three reasons to self-host a language model."}]


def timed_stream(client: openai.OpenAI, model: str, max_tokens: int) -> tuple | None:
    """(TTFT, E2E, content chunks) of one streamed request, in seconds (docs/metrics.md names);
    None when the request failed (counted, and reported as ``failed``)."""
    try:
        return _timed_stream(client, model, max_tokens)
    except openai.APIError as e:
        print(f"request failed: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        return None


def _timed_stream(client: openai.OpenAI, model: str, max_tokens: int) -> tuple[float, float, int]:
    sent = time.perf_counter()
    first = last = None
    chunks = 0
    stream = client.chat.completions.create(
        model=model, messages=MESSAGES, stream=True, max_tokens=max_tokens, temperature=0
    )
    for c in stream:
        now = time.perf_counter()
        if c.choices and first is None:
            first = now
        if c.choices and c.choices[0].delta.content:
            last, chunks = now, chunks + 1
    return first - sent, (last or first) - sent, chunks


def summarise(all_samples: list[tuple | None]) -> dict:
    samples = [s for s in all_samples if s is not None]
    if not samples:
        return {"failed": len(all_samples), "n": 0}
    return {
        "failed": len(all_samples) - len(samples),
        "ttft_ms_p50": round(statistics.median(s[0] for s in samples) * 1000, 1),
        "e2e_ms_p50": round(statistics.median(s[1] for s in samples) * 1000, 1),
        "chunks_p50": statistics.median(s[2] for s in samples),
        "n": len(samples),
    }


def standalone(requests: int, max_tokens: int) -> dict:
    """Part 1: each stand-in with scripted tokens and no shaping (its intrinsic cost)."""
    out = {}
    with managed_standin() as (m_url, managed), cloud_standin("swedencentral") as (c_url, cloud):
        managed.reset_limits(rpm=UNLIMITED, tpm=UNLIMITED)  # measure the stand-in, not its quota
        cloud.set_limits(rpm=UNLIMITED, tpm=UNLIMITED)
        clients = {
            "managed stand-in, scripted tokens": (
                openai.OpenAI(base_url=m_url + "/v1", api_key=MANAGED_KEY, max_retries=0),
                "gpt-4o-mini",
            ),
            "cloud stand-in, scripted tokens": (
                openai.AzureOpenAI(
                    azure_endpoint=c_url, api_key=CLOUD_KEY, max_retries=0, api_version="2024-10-21"
                ),
                "gpt-4o-mini",
            ),
        }
        for name, (client, model) in clients.items():
            runs = [timed_stream(client, model, max_tokens) for _ in range(requests + 5)][5:]
            summary = summarise(runs)
            per_chunk = [(s[1] - s[0]) / (s[2] - 1) for s in runs if s and s[2] > 1]
            summary["per_chunk_ms_p50"] = round(statistics.median(per_chunk) * 1000, 3)
            out[name] = summary
    return out


def relay(base_url: str, model: str, requests: int, max_tokens: int, label: str) -> dict:
    """Direct to an upstream vs through each stand-in (shaping off, limits off), interleaved."""
    direct = openai.OpenAI(base_url=base_url + "/v1", api_key="none", max_retries=0)
    with (
        managed_standin(source=EngineSource(base_url, model)) as (m_url, managed),
        cloud_standin("swedencentral", source=EngineSource(base_url, model)) as (c_url, cloud),
    ):
        managed.reset_limits(rpm=UNLIMITED, tpm=UNLIMITED)
        cloud.set_limits(rpm=UNLIMITED, tpm=UNLIMITED)
        paths = {
            f"{label} direct": (direct, model),
            "managed stand-in, shaping off": (
                openai.OpenAI(base_url=m_url + "/v1", api_key=MANAGED_KEY, max_retries=0),
                "gpt-4o-mini",
            ),
            "cloud stand-in, shaping off": (
                openai.AzureOpenAI(
                    azure_endpoint=c_url, api_key=CLOUD_KEY, max_retries=0, api_version="2024-10-21"
                ),
                "gpt-4o-mini",
            ),
        }
        for client, name in paths.values():  # warm-up (connections, prefix cache)
            for _ in range(3):
                timed_stream(client, name, max_tokens)
        samples = {name: [] for name in paths}
        for i in range(requests):  # interleaved, so drift hits every path alike
            for name, (client, m) in paths.items():
                samples[name].append(timed_stream(client, m, max_tokens))
            print(f"{label}: round {i + 1}/{requests}", file=sys.stderr, flush=True)
    results = {name: summarise(s) for name, s in samples.items()}
    base = results[f"{label} direct"]
    for r in results.values():
        if r["n"] and base["n"]:
            r["ttft_overhead_ms"] = round(r["ttft_ms_p50"] - base["ttft_ms_p50"], 1)
            r["e2e_overhead_ms"] = round(r["e2e_ms_p50"] - base["e2e_ms_p50"], 1)
            r["e2e_ratio"] = round(r["e2e_ms_p50"] / base["e2e_ms_p50"], 3)
    return results


def shaped_timings(max_tokens: int) -> dict:
    """The running stack's stand-ins with their modelled profiles (what a learner sees)."""
    out = {}
    for kind, region, model in [
        ("managed", None, "gpt-4o-mini"),
        ("cloud", "swedencentral", "gpt-4o-mini"),
        ("cloud", "swedencentral", "gpt-4o-mini-ptu"),
    ]:
        client = providers.client(kind, region, real=False, max_retries=0)
        out[f"{kind} {region or 'global'} {model}"] = summarise(
            [timed_stream(client, model, max_tokens) for _ in range(5)]
        )
    return out


def partial(report: dict) -> None:
    """Results so far, to stderr: a slow engine must not cost the parts already measured."""
    print("partial: " + json.dumps(report), file=sys.stderr, flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=30, help="per path, after 3 warm-up requests")
    p.add_argument("--max-tokens", type=int, default=32)
    p.add_argument("--standalone-requests", type=int, default=200)
    p.add_argument("--engine", action="store_true", help="also relay over the running vLLM")
    args = p.parse_args()
    report = {
        "host": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_1m_at_start": os.getloadavg()[0],
        "max_tokens": args.max_tokens,
        "standalone": standalone(args.standalone_requests, args.max_tokens),
    }
    # A timing-exact upstream (reference_stack/scripted): 50 ms TTFT, a chunk every 10 ms.
    with ScriptedUpstream(ttft_ms=50, itl_ms=10, chunks=args.max_tokens) as up:
        report["relay_scripted_upstream"] = relay(
            up.base_url, "scripted", args.requests, args.max_tokens, "scripted upstream"
        )
    partial(report)
    if args.engine:
        settings = get_settings()
        report["relay_vllm"] = relay(
            settings.vllm_url, settings.model, args.requests, args.max_tokens, "vLLM"
        )
        partial(report)
        report["shaped"] = shaped_timings(args.max_tokens)
    report["load_average_1m_at_end"] = os.getloadavg()[0]
    print(json.dumps(report, indent=2), flush=True)


if __name__ == "__main__":
    main()
