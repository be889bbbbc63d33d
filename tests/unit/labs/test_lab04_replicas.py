"""Lab 04's replica experiment, in process: its workload, its rows, its gateway table, the
recording it left, and the live section's fallback."""

from __future__ import annotations

import pandas as pd
import yaml

from reference_stack.gateway.routing import RoutingTable
from servelab.labs import lab04_replicas as replicas


def test_every_config_gets_the_same_seeded_mix_of_answers():
    first, again = replicas.workload(500, seed=3), replicas.workload(500, seed=3)
    lengths = [e["max_tokens"] for e in first.prompts]
    assert lengths == [e["max_tokens"] for e in again.prompts]
    assert set(lengths) == {replicas.SHORT_TOKENS, replicas.LONG_TOKENS}
    share = lengths.count(replicas.LONG_TOKENS) / len(lengths)
    assert abs(share - replicas.LONG_SHARE) < 0.05, share
    assert lengths != [e["max_tokens"] for e in replicas.workload(500, seed=4).prompts]
    assert first.extra_body == {"ignore_eos": True}  # answers exactly as long as asked


def record(i, sent, chunk_times, status=200, error=None, config="one", rate=2.0, warmup=False):
    chunks = [{"t": t, "text": "w", "n_tokens": None, "finish_reason": None} for t in chunk_times]
    return {
        "request_id": f"r{i}",
        "sent_at": sent,
        "chunks": chunks,
        "usage": {"prompt_tokens": 5, "completion_tokens": len(chunks)} if chunks else None,
        "status": status,
        "error": error,
        "upstream": "pool/1",
        "config": config,
        "rate": rate,
        "max_tokens": 16,
        "warmup": warmup,
        "done_at": (chunk_times[-1] if chunk_times else sent) + 0.001,
    }


def test_rows_are_one_per_measured_request():
    frame = replicas.rows(
        [
            record(0, 9.0, [9.5], warmup=True),  # left out
            record(1, 10.0, [10.25, 10.5]),
            record(2, 10.5, [], status=0, error="connection refused"),
            record(3, 20.0, [20.125], config="load-aware"),
        ]
    )
    assert list(frame.request_id) == ["r1", "r2", "r3"]
    assert list(frame.sent_s) == [0.0, 0.5, 0.0]  # from each point's first send
    assert list(frame.ttft_ms[:1]) == [250.0] and pd.isna(frame.ttft_ms[1])
    assert list(frame.ok) == [True, False, True]
    assert list(frame.output_tokens) == [2, 0, 1]
    assert list(frame.columns) == [
        "config",
        "rate",
        "request_id",
        "sent_s",
        "ttft_ms",
        "e2e_ms",
        "output_tokens",
        "max_tokens",
        "ok",
        "upstream",
    ]


def test_the_private_gateway_table_is_valid_and_has_the_three_configs(tmp_path):
    path = tmp_path / "routing.yaml"
    path.write_text(yaml.safe_dump(replicas.routing_table(["http://a:1", "http://b:2"])))
    table = RoutingTable.load(path)
    assert set(table.models) == set(replicas.CONFIGS.values())
    assert table.models["rr"].balance == "round-robin"
    assert table.models["ll"].balance == "least-load"
    assert table.upstreams["single"].replicas == ["http://a:1/v1"]
    assert table.upstreams["pool"].replicas == ["http://a:1/v1", "http://b:2/v1"]


def test_the_recording_holds_every_config_at_every_rate():
    frame = replicas.load_requests()
    meta = replicas.load_meta()
    assert meta["kind"] == "measured" and meta["command"].startswith(
        "python scripts/record_lab04_replicas.py"
    )
    rates = sorted(frame.rate.unique())
    assert len(rates) >= 3
    counts = frame.groupby(["config", "rate"]).size()
    assert set(counts.index) == {(c, r) for c in replicas.CONFIGS for r in rates}
    for point in meta["points"]:
        assert counts[point["config"], point["rate"]] == point["requests"]
    two = frame[frame.config != "one"]
    assert two.upstream.str.endswith("/1").any() and two.upstream.str.endswith("/2").any()
    assert set(frame[frame.config == "one"].upstream.dropna()) == {"single/1"}


def test_the_live_section_shows_the_recording_while_graded(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    shown = replicas.live_compare("http://127.0.0.1:1", rate=4.2)
    assert not shown.live
    nearest = min(replicas.load_requests().rate.unique(), key=lambda r: abs(r - 4.2))
    assert set(shown.value.rate) == {nearest}
    assert set(shown.value.config) == set(replicas.STACK_ALIASES)
