"""--max-running: a queue in front of the scripted upstream, and its phases on a timeline."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from reference_stack.scripted import ScriptedUpstream, truth  # noqa: E402
from servelab.bench import (  # noqa: E402
    Load,
    Target,
    Workload,
    load_prompts,
    metrics,
    plots,
    run_sync,
)


def run_with(up, concurrency: int, n: int):
    target = Target(up.base_url + "/v1", "scripted")
    return run_sync(
        target,
        Workload(load_prompts("short_chat"), max_tokens=None),
        Load(max_concurrency=concurrency, num_requests=n),
        progress=False,
    )


def test_queue_holds_requests_until_a_slot_frees():
    with ScriptedUpstream(ttft_ms=10, itl_ms=5, chunks=4, max_running=2) as up:
        run = run_with(up, concurrency=6, n=6)
        server = {r["client_request_id"]: r for r in up.records()}
    assert all(metrics.ok(r) for r in run.records)
    spans = sorted((s["started_perf"], s["done_perf"]) for s in server.values())
    for i, (start, _) in enumerate(spans):  # never more than 2 scripts running at once
        assert sum(1 for s, e in spans[:i] if e > start) <= 1
    queued = [s for s in server.values() if s["started_perf"] > s["received_perf"] + 0.005]
    assert len(queued) >= 3  # 6 arrive together, 2 slots
    for r in run.records:
        s = server[r["request_id"]]
        assert metrics.ttft(r) >= truth.ttft(s)  # the client sees the queue in its TTFT
        r["phases"] = truth.phases(s)
    names = {p["name"] for r in run.records for p in r["phases"]}
    assert names == {"queued", "prefill", "decode"}
    ax = plots.timeline(run.records)
    assert {t.get_text() for t in ax.get_legend().get_texts()} == names
