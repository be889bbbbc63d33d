"""lab04_online and lab 04's data: sweeps, staggered arrivals, vLLM /metrics, GPU profiles."""

from __future__ import annotations

import json
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from servelab.bench import Target
from servelab.bench.metrics import ok
from servelab.labs import lab04_online as online

METRICS_TEXT = """# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="m"} 3.0
vllm:num_requests_running{engine="1",model_name="m"} 2.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="m"} 1.0
# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.25
# HELP vllm:request_queue_time_seconds Histogram of time spent in WAITING phase for request.
# TYPE vllm:request_queue_time_seconds histogram
vllm:request_queue_time_seconds_bucket{engine="0",le="0.3",model_name="m"} 2.0
vllm:request_queue_time_seconds_bucket{engine="0",le="+Inf",model_name="m"} 3.0
vllm:request_queue_time_seconds_count{engine="0",model_name="m"} 3.0
vllm:request_queue_time_seconds_sum{engine="0",model_name="m"} 1.5
"""


class _MetricsHandler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        body = METRICS_TEXT.encode()
        self.send_response(200)
        self.send_header("content-type", "text/plain; version=0.0.4")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def metrics_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _MetricsHandler)
    # a short poll: shutdown() waits up to one poll interval (0.5 s by default)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/metrics"
    finally:
        server.shutdown()
        server.server_close()


def test_samples_flatten_gauges_and_histograms():
    frame = online.samples(METRICS_TEXT)
    running = frame[frame.name == "vllm:num_requests_running"]
    assert sorted(running.value) == [2.0, 3.0]
    assert {"engine": "1", "model_name": "m"} in list(running.labels)
    names = set(frame.name)
    assert {
        "vllm:request_queue_time_seconds_sum",
        "vllm:request_queue_time_seconds_count",
        "vllm:request_queue_time_seconds_bucket",
    } <= names


def test_watch_gauges_scrapes_until_the_work_ends(metrics_server):
    gauges, value = online.watch_gauges(metrics_server, lambda: 42, interval_s=0.01)
    assert value == 42
    assert len(gauges) >= 1
    last = gauges.iloc[-1]
    assert last.running == 5.0 and last.waiting == 1.0 and last.kv_cache_usage == 0.25


def test_watch_gauges_reraises_the_work_error(metrics_server):
    def boom():
        raise RuntimeError("load failed")

    with pytest.raises(RuntimeError, match="load failed"):
        online.watch_gauges(metrics_server, boom, interval_s=0.01)


def test_gpu_profiles_carry_their_floors():
    table = online.gpu_profiles()
    assert "cpu" not in table.index and len(table) >= 4
    h100 = table.loc["h100-llama3-8b"]
    assert math.isclose(h100.itl_floor_ms, 4.79, abs_tol=0.01)
    assert math.isclose(
        h100.weight_gb / (h100.bandwidth_tb_s * 1000) * 1000 * h100.gpus,
        h100.itl_floor_ms,
        rel_tol=0.01,
    )


def test_decode_points_label_measured_and_published():
    points = online.load_published()
    assert set(points.kind) == {"measured", "modelled/published"}
    published = points[points.kind == "modelled/published"]
    assert published.source.str.contains("https://").all()
    assert (points.itl_ms > 0).all() and (points.bandwidth_tb_s > 0).all()
    vllm = published[published.name.str.contains("vLLM v0.6.0")].iloc[0]
    assert vllm.itl_ms == 13.0 and vllm.bandwidth_tb_s == 3.35  # docs/metrics.md


def test_recorded_sweeps_are_tagged_and_sourced():
    short = online.load_sweep("sweep_short")
    levels = online.by_level(short)
    assert list(levels) == [1, 2, 4, 8, 16]
    for level, recs in levels.items():
        measured = [r for r in recs if not r["warmup"]]
        assert measured and all(ok(r) for r in measured), level
        assert all(r["usage"]["completion_tokens"] == r["max_tokens"] for r in measured)
    meta = json.loads((online.LAB04 / "sweep_short.meta.json").read_text())
    assert meta["kind"] == "measured" and "record_lab04.py" in meta["command"]
    assert meta["hardware"]["cores"] >= 1
    readme = (online.LAB04 / "README.md").read_text()
    assert "record_lab04.py" in readme and "modelled/published" in readme
    for name in ["before", "after_c1", "after_c8", "after_c16"]:
        assert "vllm:request_queue_time_seconds_count" in online.load_metrics_text(name)


def test_recorded_staggered_arrivals_follow_their_offsets():
    recs = sorted(online.load_sweep("staggered"), key=lambda r: r["sent_at"])
    assert [r["offset_ms"] for r in recs] == list(online.STAGGERED_OFFSETS_MS)
    t0 = recs[0]["sent_at"]
    for r in recs:
        assert 1000 * (r["sent_at"] - t0) >= r["offset_ms"] - 1.0  # never early


def test_staggered_against_the_scripted_upstream():
    from reference_stack.scripted import ScriptedUpstream

    with ScriptedUpstream(ttft_ms=20, itl_ms=5, chunks=6) as up:
        recs = online.staggered(
            Target(up.base_url + "/v1", model="scripted"), offsets_ms=(0, 50, 100), max_tokens=4
        )
        truth = up.records()
    assert len(recs) == 3 and all(ok(r) for r in recs)
    assert [r["offset_ms"] for r in recs] == [0, 50, 100]
    assert all(r["usage"]["completion_tokens"] == 4 for r in recs)
    assert len(truth) == 3
    # Never early against its own schedule. (Gaps between sends are not asserted: the first
    # request may leave late on a loaded machine, which shrinks the gap after it.)
    for r in recs:
        assert r["sent_at"] >= r["scheduled_at"] - 0.001, r
    due = [r["scheduled_at"] - recs[0]["scheduled_at"] for r in recs]
    assert due == pytest.approx([0.0, 0.05, 0.1])


def test_load_sweep_names_the_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="record_lab04.py"):
        online.load_sweep("nope", folder=tmp_path)


@pytest.mark.stack
@pytest.mark.slow
def test_live_point_and_metrics_against_vllm(stack):
    target = Target(stack.vllm_url + "/v1", model=stack.model)
    before = online.scrape(stack.vllm_url + "/metrics")
    recs = online.live_point(target, concurrency=2, max_tokens=4)
    after = online.scrape(stack.vllm_url + "/metrics")
    assert len(recs) == 4 and all(ok(r) and r["concurrency"] == 2 for r in recs)
    assert all(r["usage"]["completion_tokens"] == 4 for r in recs)  # ignore_eos honoured

    def count(text):
        frame = online.samples(text)
        return frame[frame.name == "vllm:e2e_request_latency_seconds_count"].value.sum()

    assert count(after) - count(before) >= 4
