"""Record what lab 01 grades on, from the managed-API stand-in, with the real openai SDK.

    .venv/bin/python scripts/record_lab01.py                  # stand-in in-process, scripted tokens
    .venv/bin/python scripts/record_lab01.py --source engine  # tokens from the running vLLM
    .venv/bin/python scripts/record_lab01.py --retries long_wait long_outage  # only these

Starts its own managed-API stand-in (reference_stack/providers/managed) on a free loopback port,
drives its fault injection (POST /admin/faults) and rate limiter (POST /admin/limits), and writes
datasets/lab01/:

- ``usage_log.csv``       the ``usage`` of 60 chat completions (prompts of a support assistant)
- ``stream_<name>.json``  streamed completions, every SSE chunk as the SDK parsed it, with the
                          client's arrival time (``time.perf_counter``)
- ``retry_<name>.json``   the answers (status, headers, body) one call met while a simple client
                          retried it, honouring Retry-After;
                          servelab.labs.lab01_retry_replay replays them

Every file carries a ``meta`` block (or, for the CSV, a ``#`` header) saying what it is. The
latency the stand-in adds is the catalog's MODELLED profile of the OpenAI API
(datasets/providers/latency.csv); the timestamps are measured on this machine. Re-running
replaces the recordings: then run `servelab course goldens 01_managed_api` and review the diff.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
from openai import OpenAI

from reference_stack.providers.faults import FaultInjector
from reference_stack.providers.managed.routes import build_app
from reference_stack.providers.managed.serving import STANDIN_KEY, ManagedServing
from reference_stack.providers.server import serve_in_thread
from reference_stack.providers.tokens import make_source
from servelab.labs.lab01_retry_replay import LAB01
from servelab_base.catalog import load

SEED = 101  # seeds the stand-in's scripted tokens and drawn latencies: same seed, same files
MODEL = "gpt-4o-mini"
USAGE_CALLS = 60
USAGE_CONCURRENCY = 6  # well inside the catalogued 500 RPM of gpt-4o-mini
# Headers that say nothing about the API (transport details) are left out of the recordings.
DROPPED_HEADERS = {"date", "server", "content-length", "transfer-encoding", "connection"}
# The recording client's own policy: Retry-After when given, else 0.5 s doubling; give up after 8.
RECORD_MAX_ATTEMPTS = 8
RECORD_BACKOFF_S = 0.5

SYSTEM = (
    "You are the support assistant of an online bookshop. Answer in two or three short "
    "sentences, politely, and never invent an order status you were not given."
)
QUESTIONS = [
    "Where is my order 4411? It was due yesterday.",
    "Can I return a book I bought three weeks ago?",
    "Do you ship to Norway, and how long does it take?",
    "I was charged twice for the same order. What should I do?",
    "Is the new edition of 'Designing Data-Intensive Applications' in stock?",
    "How do I change the delivery address on an order that has not shipped yet?",
    "Can I buy a gift card and send it by email?",
    "The e-book I bought will not open on my reader. Can you help?",
    "Do you offer discounts for schools ordering class sets?",
    "What is your privacy policy on storing my payment details?",
    "My parcel arrived damaged. Can I get a replacement?",
    "Can I pre-order a book that has not been released yet?",
]

# Fault plans for the retry recordings: (name, plan, note[, request overrides]). Each plan numbers
# requests from 0; a scenario without a plan meets the stand-in's own answers (its validation, its
# model list), with the request changed as given.
RETRY_SCENARIOS = [
    (
        "storm",
        {
            "seed": 1,
            "rules": [{"kind": "rate_limit_storm", "requests": [0, 3], "retry_after_s": 2}],
        },
        "a 429 storm on the first three attempts, each with Retry-After: 2",
    ),
    (
        "outage",
        {"seed": 1, "rules": [{"kind": "outage", "status": 503, "requests": [0, 2]}]},
        "two 503 'engine overloaded' answers without Retry-After, then recovery",
    ),
    (
        "mixed",
        {
            "seed": 1,
            "rules": [
                {"kind": "error", "status": 500, "requests": [0, 1]},
                {"kind": "rate_limit_storm", "requests": [1, 2], "retry_after_s": 3},
            ],
        },
        "a 500, then a 429 with Retry-After: 3, then success",
    ),
    (
        "long_storm",
        {
            "seed": 1,
            "rules": [{"kind": "rate_limit_storm", "requests": [0, 100], "retry_after_s": 1}],
        },
        "a storm longer than any sensible policy waits: every attempt gets 429, Retry-After: 1",
    ),
    (
        "long_wait",
        {
            "seed": 1,
            "rules": [{"kind": "rate_limit_storm", "requests": [0, 1], "retry_after_s": 20}],
        },
        "one 429 whose Retry-After (20 s) is longer than any backoff cap, then success",
    ),
    (
        "long_outage",
        {"seed": 1, "rules": [{"kind": "outage", "status": 503, "requests": [0, 100]}]},
        "an outage longer than any sensible policy waits: every attempt gets 503, no Retry-After",
    ),
    (
        "bad_request",
        None,
        "a request the API refuses (temperature 5, above its maximum of 2): 400, not retried",
        {"temperature": 5},
    ),
    (
        "bad_model",
        None,
        "a model the API does not serve: 404 model_not_found, not retried",
        {"model": "gpt-4o-mini-no-such-snapshot"},
    ),
]
# Stream recordings: (name, max_tokens, fault plan or None, note)
STREAMS = [
    ("short", 48, None, "a streamed answer with stream_options.include_usage"),
    (
        "slow_first",
        48,
        {"seed": 1, "rules": [{"kind": "slow_first_token", "extra_ms": 1200}]},
        "the same kind of call with an injected slow first token (+1200 ms)",
    ),
    (
        "stall",
        64,
        {"seed": 1, "rules": [{"kind": "stall", "after_tokens": 6, "stall_ms": 900}]},
        "a stream that stalls 900 ms after its sixth token",
    ),
]


def cpu_model() -> str:
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def base_meta(args: argparse.Namespace, source_name: str) -> dict:
    return {
        "source": "recorded from the managed-API stand-in (reference_stack/providers/managed), "
        "not from OpenAI",
        "command": f"python scripts/record_lab01.py --source {args.source}"
        + (f" --retries {' '.join(args.retries)}" if args.retries else ""),
        "token_source": source_name,
        "latency": "modelled: the stand-in adds the OpenAI profile of "
        "datasets/providers/latency.csv (network, queueing, TTFT, pace); the "
        "timestamps themselves are measured on the client",
        "hardware": f"{cpu_model()}, {os.cpu_count()} cores, no GPU",
        "date": dt.date.today().isoformat(),
        "openai_sdk": openai.__version__,
        "seed": SEED,
    }


def messages(question: str) -> list[dict]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]


def keep(headers) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items() if k.lower() not in DROPPED_HEADERS}


def record_usage(client: OpenAI, meta: dict) -> None:
    def one(i: int) -> dict:
        q = QUESTIONS[i % len(QUESTIONS)]
        c = client.chat.completions.create(
            model=MODEL, messages=messages(q), max_tokens=120, seed=i
        )
        return {
            "call": i,
            "model": c.model,
            "question": q,
            "prompt_tokens": c.usage.prompt_tokens,
            "completion_tokens": c.usage.completion_tokens,
            "total_tokens": c.usage.total_tokens,
        }

    with ThreadPoolExecutor(USAGE_CONCURRENCY) as pool:
        rows = sorted(pool.map(one, range(USAGE_CALLS)), key=lambda r: r["call"])
    path = LAB01 / "usage_log.csv"
    with path.open("w", newline="") as f:
        for key in ("source", "command", "token_source", "hardware", "date"):
            f.write(f"# {key}: {meta[key]}\n")
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"usage_log.csv: {len(rows)} calls")


def attempt(client: OpenAI, t0: float, **overrides) -> dict:
    """One non-streamed call; its status, headers and body, however it ended."""
    t = time.perf_counter() - t0
    request = {"model": MODEL, "messages": messages(QUESTIONS[0]), "max_tokens": 32, "seed": 0}
    try:
        raw = client.chat.completions.with_raw_response.create(**(request | overrides))
        return {
            "t": round(t, 4),
            "status": raw.status_code,
            "headers": keep(raw.headers),
            "body": raw.parse().model_dump(mode="json"),
        }
    except openai.APIStatusError as e:
        return {
            "t": round(t, 4),
            "status": e.status_code,
            "headers": keep(e.response.headers),
            "body": e.response.json(),
        }


def record_call(client: OpenAI, **overrides) -> list[dict]:
    """Retry one call the way a careful client does, keeping every answer it met."""
    answers, t0 = [], time.perf_counter()
    for n in range(RECORD_MAX_ATTEMPTS):
        a = attempt(client, t0, **overrides)
        answers.append(a)
        if a["status"] == 200 or a["status"] not in (429, 500, 502, 503):
            break
        retry_after = a["headers"].get("retry-after")
        time.sleep(float(retry_after) if retry_after else RECORD_BACKOFF_S * 2**n)
    return answers


def write(name: str, data: dict) -> None:
    (LAB01 / name).write_text(json.dumps(data, indent=1) + "\n")


def record_retries(
    client: OpenAI,
    bad_client: OpenAI,
    admin: httpx.Client,
    meta: dict,
    only: list[str] | None = None,
) -> None:
    for name, plan, note, *request in RETRY_SCENARIOS:
        if only is not None and name not in only:
            continue
        if plan:
            admin.post("/admin/faults", json=plan).raise_for_status()
        else:
            admin.delete("/admin/faults").raise_for_status()
        overrides = request[0] if request else {}
        answers = record_call(client, **overrides)
        scenario = {"scenario": note, "fault_plan": plan} | (
            {"request": overrides} if request else {}
        )
        write(f"retry_{name}.json", {"meta": {**meta, **scenario}, "answers": answers})
        print(f"retry_{name}.json: {[a['status'] for a in answers]}")
    admin.delete("/admin/faults").raise_for_status()
    if only is not None:
        return

    answers = record_call(bad_client)
    write(
        "retry_bad_key.json",
        {
            "meta": {**meta, "scenario": "a wrong API key: 401, which no retry can fix"},
            "answers": answers,
        },
    )
    print(f"retry_bad_key.json: {[a['status'] for a in answers]}")

    # The real token bucket: a small TPM budget, drained by a burst, then one recorded call.
    limits = {"rpm": 500, "tpm": 600}
    admin.post("/admin/limits", json=limits).raise_for_status()
    for _ in range(20):  # drain: each call reserves its prompt estimate + max_tokens (32)
        if attempt(client, time.perf_counter())["status"] == 429:
            break
    answers = record_call(client)
    admin.delete("/admin/limits").raise_for_status()
    write(
        "retry_tpm.json",
        {
            "meta": {
                **meta,
                "scenario": "the stand-in's real token bucket at "
                "600 TPM, drained by a burst just before the call",
                "limits": limits,
            },
            "answers": answers,
        },
    )
    print(f"retry_tpm.json: {[a['status'] for a in answers]}")


def record_streams(client: OpenAI, admin: httpx.Client, meta: dict) -> None:
    for i, (name, max_tokens, plan, note) in enumerate(STREAMS):
        if plan:
            admin.post("/admin/faults", json=plan).raise_for_status()
        q = QUESTIONS[(i * 5) % len(QUESTIONS)]
        sent_at = time.perf_counter()
        stream = client.chat.completions.create(
            model=MODEL,
            messages=messages(q),
            max_tokens=max_tokens,
            stream=True,
            seed=i,
            stream_options={"include_usage": True},
        )
        chunks = [
            {"t": time.perf_counter(), "data": c.model_dump(mode="json", exclude_unset=True)}
            for c in stream
        ]
        admin.delete("/admin/faults").raise_for_status()
        write(
            f"stream_{name}.json",
            {
                "meta": {
                    **meta,
                    "scenario": note,
                    "fault_plan": plan,
                    "clock": "time.perf_counter (seconds)",
                },
                "request": {"model": MODEL, "messages": messages(q), "max_tokens": max_tokens},
                "sent_at": sent_at,
                "chunks": chunks,
            },
        )
        print(f"stream_{name}.json: {len(chunks)} chunks")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", choices=["scripted", "engine"], default="scripted")
    p.add_argument(
        "--retries",
        nargs="+",
        metavar="NAME",
        choices=[s[0] for s in RETRY_SCENARIOS],
        help="record only these retry scenarios (leave every other recording as it is)",
    )
    args = p.parse_args()
    source = make_source(args.source, seed=SEED)
    serving = ManagedServing(source, load(), seed=SEED, faults=FaultInjector())
    meta = base_meta(args, source.name)
    LAB01.mkdir(parents=True, exist_ok=True)
    with serve_in_thread(build_app(serving)) as url:
        client = OpenAI(base_url=url + "/v1", api_key=STANDIN_KEY, max_retries=0, timeout=120)
        bad = OpenAI(base_url=url + "/v1", api_key="sk-not-a-valid-key-0000", max_retries=0)
        with httpx.Client(base_url=url, timeout=10) as admin:
            if args.retries:
                record_retries(client, bad, admin, meta, only=args.retries)
            else:
                record_usage(client, meta)
                record_streams(client, admin, meta)
                record_retries(client, bad, admin, meta)
    print("wrote", LAB01)


if __name__ == "__main__":
    main()
