"""lab05_edge and lab 05's data: a private llama-server, its introspection, the recording."""

from __future__ import annotations

import math

import pytest
from openai import OpenAI

from servelab.labs import lab05_edge as edge
from servelab.labs import sizing

GGUF_BYTES = 98_362_432  # reference_stack/engines/model_files.py


def test_recording_says_where_it_comes_from():
    rec = edge.load_recording()
    meta = rec["meta"]
    assert meta["basis"] == "measured" and meta["command"] and meta["date"]
    assert "cores" in meta["hardware"]
    readme = (edge.LAB05 / "README.md").read_text()
    assert "record_lab05.py" in readme and "measured" in readme
    assert rec["memory_bandwidth_gb_s"] > 0


def test_recorded_kv_growth_matches_the_model_shape():
    # idle RSS grows with --ctx-size by the fp16 KV cache: 22.5 KiB per token for SmolLM2-135M
    servers = sorted(
        (s for s in edge.load_recording()["servers"] if s["threads"] == 1),
        key=lambda s: s["ctx_size"],
    )
    assert [s["ctx_size"] for s in servers] == [1024, 2048, 4096, 8192]
    slope = (servers[-1]["rss_idle_bytes"] - servers[0]["rss_idle_bytes"]) / (
        servers[-1]["ctx_size"] - servers[0]["ctx_size"]
    )
    assert math.isclose(slope, sizing.MODELS["SmolLM2 135M"].kv_bytes_per_token(), rel_tol=0.05)
    assert all(s["rss_idle_bytes"] > GGUF_BYTES for s in servers)  # the weights are resident


def test_recorded_probes_carry_llama_server_timings():
    probes = edge.load_recording()["probes"]
    assert len(probes) == 8
    for p in probes:
        t = p["timings"]
        assert t["predicted_n"] >= 1 and t["predicted_ms"] > 0 and t["prompt_n"] >= 1
        assert p["correct"] == any(w in p["answer"].lower() for w in p["expected_any"])


def test_llama_server_counts_decode_steps_not_tokens():
    # llama.cpp 0c1e57098 (tools/server/server-common.h): the first generated token comes from
    # prefill, so predicted_per_second is (predicted_n - 1) / predicted_ms: lab 05's exercise 1
    for probe in edge.load_recording()["probes"]:
        t = probe["timings"]
        steps = t["predicted_n"] - 1
        assert math.isclose(t["predicted_per_second"], steps / t["predicted_ms"] * 1000)
        assert math.isclose(t["predicted_per_token_ms"], t["predicted_ms"] / steps)


def test_server_records_count_their_answers():
    rec = edge.load_recording()
    probes = rec["probes"]
    first = rec["servers"][0]
    assert all(s["answers"] == len(probes) for s in rec["servers"])
    assert first["decode_tokens"] == sum(p["timings"]["predicted_n"] for p in probes)
    assert math.isclose(first["decode_ms"], sum(p["timings"]["predicted_ms"] for p in probes))


def test_devices_cite_published_specs():
    devices = edge.load_devices()
    assert (devices.memory_gb > 0).all() and (devices.bandwidth_gb_s > 0).all()
    assert devices.source.str.startswith("https://").all()
    assert set(devices.basis) <= {"published", "derived"}


def test_use_cases_are_well_formed():
    import pandas as pd

    cases = pd.read_csv(edge.LAB05 / "use_cases.csv")
    assert set(cases.capability) <= {"small", "medium", "frontier"}
    assert cases.offline_required.dtype == bool and (cases.first_token_budget_ms > 0).all()


@pytest.mark.slow
def test_a_private_server_loads_answers_and_stops():
    reason = edge.edge_unavailable()
    if reason:
        pytest.skip(reason)
    with edge.start_private_server(ctx_size=1024) as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert 0 < server.load_s < edge.LOAD_TIMEOUT_S
        assert server.rss_bytes() > GGUF_BYTES
        info = edge.props(server.url)
        assert info["n_ctx"] == 1024 and info["model_ftype"] == "Q4_1" and info["total_slots"] == 1
        client = OpenAI(base_url=server.url + "/v1", api_key="local", max_retries=0, timeout=60)
        reply = edge.ask(client, "Say hello.", max_tokens=8)
        assert reply["text"] and 1 <= reply["timings"]["predicted_n"] <= 8
        assert reply["usage"]["completion_tokens"] == reply["timings"]["predicted_n"]
        t = reply["timings"]
        if t["predicted_n"] >= 2:  # the first token is prefill's (lab 05, exercise 1)
            rate = (t["predicted_n"] - 1) / t["predicted_ms"] * 1000
            assert math.isclose(t["predicted_per_second"], rate, rel_tol=1e-6)
        counters = edge.metrics(server.url)
        assert counters["llamacpp:tokens_predicted_total"] >= reply["timings"]["predicted_n"]
        process = server.process
    assert process.poll() is not None  # stopped on leaving the block


def test_a_missing_binary_is_explained(monkeypatch, tmp_path):
    monkeypatch.setattr(edge, "binaries", lambda: (tmp_path / "llama-server", tmp_path / "m.gguf"))
    assert "servelab prepare" in edge.edge_unavailable()
    with pytest.raises(RuntimeError, match="servelab prepare"):
        edge.start_private_server()
