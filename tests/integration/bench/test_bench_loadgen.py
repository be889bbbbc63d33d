"""The load generator against the scripted upstream: real processes, real HTTP, checked against
what the server says it really did."""

from __future__ import annotations

import asyncio
import math

import pytest

from reference_stack.scripted import ScriptedUpstream, truth
from servelab.bench import Load, Target, Workload, load_prompts, metrics, run_sync
from servelab.bench.arrivals import send_offsets

PROMPTS = load_prompts("short_chat")


@pytest.fixture(scope="module")
def upstream():
    with ScriptedUpstream(ttft_ms=20, itl_ms=5, chunks=6) as up:
        up.target = Target(up.base_url + "/v1", "scripted")
        yield up


def _max_in_flight(server_records: list[dict]) -> int:
    edges = sorted(
        [(r["received_perf"], 1) for r in server_records]
        + [(r["done_perf"], -1) for r in server_records]
    )
    level = peak = 0
    for _, step in edges:
        level += step
        peak = max(peak, level)
    return peak


def test_closed_loop_matches_the_servers_truth(upstream):
    upstream.clear()
    run = run_sync(
        upstream.target,
        Workload(PROMPTS, max_tokens=None),
        Load(max_concurrency=4, num_requests=12, warmup=4),
        progress=False,
    )
    assert len(run.records) == 16 and sum(r["warmup"] for r in run.records) == 4
    server = {r["client_request_id"]: r for r in upstream.records()}
    assert set(server) == {r["request_id"] for r in run.records}
    assert _max_in_flight(list(server.values())) <= 4
    for r in run.records:
        s = server[r["request_id"]]
        assert metrics.ok(r) and r["response_id"] == s["id"]
        assert r["sent_at"] <= s["received_perf"]  # one clock for both processes
        sent = [c["sent_perf"] for c in s["chunks"]]
        assert all(c["t"] >= t for c, t in zip(r["chunks"], sent, strict=True))
        assert metrics.ttft(r) >= truth.ttft(s)
        assert r["usage"] == {"prompt_tokens": s["prompt_tokens"], "completion_tokens": 6}
        assert r["prompt_tokens"] is not None
    meta = run.meta
    assert meta["load"]["description"] == "closed loop, concurrency 4"
    assert meta["client"]["cpu_per_request_ms"] > 0 and meta["hardware"]["cores"] >= 1
    assert metrics.summarize(run.records).loc["ttft", "count"] == 12


def test_open_loop_follows_the_arrival_schedule(upstream):
    load = Load(max_concurrency=None, request_rate=40, burstiness=0.5, num_requests=10, seed=7)
    run = run_sync(upstream.target, Workload(PROMPTS, max_tokens=2), load, progress=False)
    recs = sorted(run.records, key=lambda r: r["request_id"])
    start = recs[0]["scheduled_at"]
    planned = send_offsets(10, 40, 0.5, seed=7)
    for r, offset in zip(recs, planned, strict=True):
        assert r["scheduled_at"] - start == pytest.approx(offset, abs=1e-9)
        assert r["sent_at"] >= r["scheduled_at"]  # never early; lateness is visible
        assert metrics.output_tokens(r) == (2, "usage")
    assert "gamma (burstiness 0.5) arrivals at 40 req/s" in run.meta["load"]["description"]


def test_duration_bounds_the_run(upstream):
    load = Load(max_concurrency=2, num_requests=None, duration_s=0.3)
    run = run_sync(upstream.target, Workload(PROMPTS, max_tokens=None), load, progress=False)
    last_send = max(r["sent_at"] for r in run.records) - min(r["sent_at"] for r in run.records)
    assert 2 <= len(run.records) and last_send < 0.3
    assert all(metrics.ok(r) for r in run.records)


def test_failures_become_records_and_connections_recover(upstream):
    prompts = [
        p | {"extra_body": {"scripted": o}}
        for p, o in zip(
            PROMPTS,
            [
                {"fail_after": 2},
                {"status": 429},
                {"fail_after": 1, "fail_mode": "error"},
                {},
            ],
            strict=False,
        )
    ]
    run = run_sync(
        upstream.target,
        Workload(prompts, max_tokens=None),
        Load(max_concurrency=1, num_requests=8),
        progress=False,
    )
    by_prompt = {}
    for r in sorted(run.records, key=lambda r: r["request_id"]):
        by_prompt.setdefault(int(r["request_id"][-6:]) % 4, []).append(r)
    for i in range(2):
        dropped, limited, event, fine = (by_prompt[k][i] for k in range(4))
        assert dropped["status"] == 200 and len(dropped["chunks"]) == 2 and dropped["error"]
        assert limited["status"] == 429 and "rate_limit_error" in limited["error"]
        assert "scripted failure after 1" in event["error"]
        assert metrics.ok(fine)


def test_non_streamed_requests(upstream):
    run = run_sync(
        upstream.target,
        Workload(PROMPTS, max_tokens=3, stream=False),
        Load(max_concurrency=2, num_requests=2),
        progress=False,
    )
    for r in run.records:
        assert len(r["chunks"]) == 1 and r["chunks"][0]["n_tokens"] == 3
        assert metrics.ttft(r) == metrics.e2e(r) and metrics.tpot(r) is not None


def test_run_sync_works_inside_a_running_loop(upstream):
    async def notebook_cell():  # Jupyter runs cells inside an event loop
        return run_sync(
            upstream.target,
            Workload(PROMPTS, max_tokens=1),
            Load(max_concurrency=1, num_requests=1),
            progress=False,
        )

    assert metrics.ok(asyncio.run(notebook_cell()).records[0])


def test_connection_refused_is_an_error_record():
    target = Target("http://127.0.0.1:9/v1", "m")  # port 9 (discard): nothing listens
    run = run_sync(
        target, Workload(PROMPTS), Load(max_concurrency=1, num_requests=1), progress=False
    )
    assert run.records[0]["status"] == 0 and "Error" in run.records[0]["error"]


def test_load_refuses_unbounded_or_bad_settings():
    with pytest.raises(ValueError, match="bound the run"):
        Load(num_requests=None, duration_s=None)
    with pytest.raises(ValueError):
        Load(max_concurrency=0)
    with pytest.raises(ValueError):
        Load(request_rate=-1)
    assert not Load(max_concurrency=None, request_rate=math.inf, num_requests=5).closed_loop


def test_malformed_stream_is_an_error_record_with_its_cause():
    async def handler(reader, writer):
        await reader.read(65536)
        body = b"data: {not json}\n\n"
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"content-length: %d\r\n\r\n%b" % (len(body), body)
        )
        await writer.drain()
        writer.close()

    async def scenario():
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            from servelab.bench.client import send
            from servelab.bench.http import Pool

            target = Target(f"http://127.0.0.1:{port}/v1", "m")
            return await send(Pool(target.base_url), target, {"stream": True}, "bad-1")

    record = asyncio.run(scenario())
    assert record["status"] == 200 and record["error"].startswith("JSONDecodeError")
    assert not metrics.ok(record)
