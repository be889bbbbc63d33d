"""Record the traces in this folder: client raw events plus the server's truth where it exists.

    .venv/bin/python datasets/traces/record.py scripted        # scripted upstream, ~10 s
    .venv/bin/python datasets/traces/record.py vllm --base-url http://127.0.0.1:8401/v1

Each trace is ``NAME.jsonl`` (one raw-event record a line) with ``NAME.meta.json`` (command,
hardware, date, load, the scripted timing) and, for the scripted upstream, ``NAME.server.jsonl``
(what the server really sent: reference_stack.scripted records).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from reference_stack.scripted import ScriptedUpstream  # noqa: E402
from servelab.bench import events  # noqa: E402
from servelab.bench.client import Target  # noqa: E402
from servelab.bench.loadgen import Load, Workload, run_sync  # noqa: E402
from servelab.bench.prompts import load_prompts  # noqa: E402

PROMPTS = load_prompts("short_chat")[:8]


#: name -> (scripted defaults, per-request overrides, workload extra body, concurrency, requests)
SCRIPTED = {
    # plain stream, one token a chunk, usage at the end
    "scripted_basic": ({"ttft_ms": 50, "itl_ms": 10, "chunks": 8}, None, {}, 4, 16),
    # a role-only first chunk 5 ms in: TTFT (5 ms) < time to first content token (50 ms)
    "scripted_role_chunk": (
        {"ttft_ms": 50, "itl_ms": 10, "chunks": 8, "role_chunk_ms": 5},
        None,
        {},
        2,
        8,
    ),
    # four tokens a chunk, running usage on every chunk (vLLM's continuous_usage_stats)
    "scripted_multi_token": (
        {"ttft_ms": 40, "itl_ms": 20, "chunks": 6, "tokens_per_chunk": 4},
        None,
        {"stream_options": {"continuous_usage_stats": True}},
        2,
        8,
    ),
    # the server sends no usage: output tokens fall back to counting chunks
    "scripted_no_usage": (
        {"ttft_ms": 30, "itl_ms": 10, "chunks": 8, "no_usage": True},
        None,
        {},
        2,
        8,
    ),
    # zero output tokens: one empty finish chunk, usage says 0
    "scripted_zero_tokens": ({"ttft_ms": 30, "itl_ms": 10, "chunks": 0}, None, {}, 2, 4),
    # failures: dropped mid-stream, SSE error event, 429 and 503 at once, and successes between
    "scripted_errors": (
        {"ttft_ms": 30, "itl_ms": 10, "chunks": 8},
        [
            {"fail_after": 3},
            {"fail_after": 2, "fail_mode": "error"},
            {"status": 429},
            {"status": 503},
            {},
            {"fail_after": 0},
            {},
            {},
        ],
        {},
        2,
        8,
    ),
}


def record_scripted(out: Path) -> None:
    for name, (script, per_request, extra, concurrency, n) in SCRIPTED.items():
        prompts = PROMPTS
        if per_request:
            prompts = [
                p | {"extra_body": {"scripted": o}}
                for p, o in zip(PROMPTS, per_request, strict=True)
            ]
        with ScriptedUpstream(**script) as up:
            target = Target(up.base_url + "/v1", "scripted")
            workload = Workload(prompts, max_tokens=None, extra_body=extra, name="short_chat[:8]")
            run = run_sync(
                target, workload, Load(max_concurrency=concurrency, num_requests=n), progress=False
            )
            time.sleep(0.2)
            server = up.records()
        meta = run.meta | {
            "source": "measured: servelab.bench against reference_stack.scripted (loopback)",
            "command": "python datasets/traces/record.py scripted",
            "scripted": script,
            "per_request_overrides": per_request,
        }
        events.save_jsonl(out / f"{name}.jsonl", run.records, meta)
        (out / f"{name}.server.jsonl").write_text(
            "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in server)
        )
        print(f"{name}: {len(run.records)} client records, {len(server)} server records")


def record_engine(
    out: Path, name: str, base_url: str, model: str, concurrency: int, n: int, max_tokens: int
) -> None:
    target = Target(base_url, model)
    extra = {"ignore_eos": True, "stream_options": {"continuous_usage_stats": True}}
    workload = Workload(
        load_prompts("short_chat"), max_tokens=max_tokens, extra_body=extra, name="short_chat"
    )
    run = run_sync(
        target,
        workload,
        Load(max_concurrency=concurrency, num_requests=n, warmup=2),
        progress=False,
    )
    meta = run.meta | {
        "source": f"measured: servelab.bench against {name} (loopback)",
        "command": "python datasets/traces/record.py " + shlex.join(sys.argv[1:]),
    }
    events.save_jsonl(out / f"{name}_c{concurrency}.jsonl", run.records, meta)
    print(f"{name}_c{concurrency}: {len(run.records)} records")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("source", choices=["scripted", "vllm"])
    ap.add_argument("--base-url", default="http://127.0.0.1:8401/v1")
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--num-requests", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=32)
    args = ap.parse_args()
    if args.source == "scripted":
        record_scripted(HERE)
    else:
        record_engine(
            HERE,
            "vllm_cpu",
            args.base_url,
            args.model,
            args.concurrency,
            args.num_requests,
            args.max_tokens,
        )


if __name__ == "__main__":
    main()
