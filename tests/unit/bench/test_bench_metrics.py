"""Every derived metric and edge case, on hand-made records and on recorded traces."""

from __future__ import annotations

import json
import math
import statistics

import pytest

from reference_stack.scripted import truth
from servelab.bench import events, metrics
from servelab_base.paths import DATASETS

TRACES = DATASETS / "traces"


def rec(chunks, sent=10.0, usage=None, status=200, error=None, rid="r"):
    """A raw-event record from (t, text, n_tokens) tuples."""
    return {
        "request_id": rid,
        "sent_at": sent,
        "status": status,
        "error": error,
        "upstream": None,
        "usage": usage,
        "chunks": [
            {"t": t, "text": text, "n_tokens": n, "finish_reason": None} for t, text, n in chunks
        ],
    }


def trace(name: str) -> list[dict]:
    return events.load(TRACES / f"{name}.jsonl").records


def server(name: str) -> dict[str, dict]:
    lines = (TRACES / f"{name}.server.jsonl").read_text().splitlines()
    return {r["client_request_id"]: r for r in map(json.loads, lines)}


# -- hand-made records: the definitions ----------------------------------------------------
def test_plain_stream():
    r = rec(
        [(10.1, "a", None), (10.15, "b", None), (10.25, "c", None)],
        usage={"prompt_tokens": 5, "completion_tokens": 3},
    )
    assert metrics.ttft(r) == pytest.approx(0.1)
    assert metrics.ttfct(r) == pytest.approx(0.1)
    assert metrics.itls(r) == pytest.approx([0.05, 0.1])
    assert metrics.e2e(r) == pytest.approx(0.25)
    assert metrics.tpot(r) == pytest.approx((0.25 - 0.1) / 2)
    assert metrics.output_tokens(r) == (3, "usage")


def test_role_only_first_chunk_counts_for_ttft_not_ttfct():
    r = rec(
        [(10.01, "", None), (10.2, "Hi", None), (10.3, "!", None)],
        usage={"prompt_tokens": 5, "completion_tokens": 2},
    )
    assert metrics.ttft(r) == pytest.approx(0.01)
    assert metrics.ttfct(r) == pytest.approx(0.2)
    assert metrics.itls(r) == pytest.approx([0.1])  # the empty chunk makes no gap
    assert metrics.tpot(r) == pytest.approx((0.3 - 0.01) / 1)  # docs/metrics.md: E2E - TTFT


def test_several_tokens_per_chunk():
    r = rec(
        [(10.1, "a b c d", 4), (10.3, "e f g h", 4)],
        usage={"prompt_tokens": 1, "completion_tokens": 8},
    )
    assert metrics.itls(r) == pytest.approx([0.2])  # per chunk ...
    assert metrics.itls_per_token(r) == pytest.approx([0.05])  # ... is not per token
    assert metrics.tpot(r) == pytest.approx(0.2 / 7)


def test_missing_usage_falls_back_and_says_so():
    known = rec([(10.1, "ab", 2), (10.2, "cd", 2)])
    assert metrics.output_tokens(known) == (4, "chunks")
    unknown = rec([(10.1, "ab", None), (10.2, "cd", None)])
    assert metrics.output_tokens(unknown) == (2, "chunk_count")


def test_zero_output_tokens():
    r = rec([(10.05, "", None)], usage={"prompt_tokens": 3, "completion_tokens": 0})
    assert metrics.ttft(r) == pytest.approx(0.05)
    assert metrics.ttfct(r) is None and metrics.itls(r) == [] and metrics.tpot(r) is None
    assert metrics.e2e(r) == pytest.approx(0.05)  # falls back to the last chunk
    assert metrics.ok(r)


def test_error_mid_stream_keeps_partial_timing_but_is_not_ok():
    r = rec([(10.1, "a", None), (10.2, "b", None)], error="ConnectionError: dropped")
    assert not metrics.ok(r)
    assert metrics.ttft(r) == pytest.approx(0.1)
    frame = metrics.summarize([r, rec([(10.1, "x", None)], rid="ok")])
    assert frame.loc["ttft", "count"] == 1
    assert frame.attrs["run"]["failed"] == 1


def test_no_chunks_at_all():
    r = rec([], status=429, error="HTTP 429")
    assert metrics.ttft(r) is None and metrics.e2e(r) is None and not metrics.ok(r)


def test_summarize_units_percentiles_and_goodput():
    recs = [
        rec(
            [(10 + 0.1 * i, "a", None), (10 + 0.1 * i + 0.02, "b", None)],
            usage={"prompt_tokens": 4, "completion_tokens": 2},
            rid=str(i),
        )
        for i in range(1, 11)
    ]
    frame = metrics.summarize(recs, slos={"ttft": 550}, percentiles=(50, 90))
    assert list(frame.index) == ["ttft", "ttfct", "itl", "tpot", "e2e"]
    assert frame.loc["ttft", "p50"] == pytest.approx(550)  # ms, linear interpolation
    assert frame.loc["itl", "mean"] == pytest.approx(20)
    run = frame.attrs["run"]
    assert run["good_requests"] == 5  # TTFT 100..500 ms meet 550; 600..1000 do not
    assert run["goodput"] == pytest.approx(5 / run["duration_s"])
    assert run["output_throughput"] == pytest.approx(20 / run["duration_s"])


def test_goodput_tpot_with_one_token_counts_as_met_and_unknown_slo_is_refused():
    one = rec([(10.1, "a", None)], usage={"prompt_tokens": 1, "completion_tokens": 1})
    assert metrics.meets_slos(one, {"tpot": 1, "e2el": 200})
    with pytest.raises(ValueError, match="unknown SLO"):
        metrics.meets_slos(one, {"itl": 5})


def test_warmup_is_left_out():
    warm = rec([(10.1, "a", None)], rid="w") | {"warmup": True}
    frame = metrics.summarize([warm, rec([(10.2, "a", None)])])
    assert frame.loc["ttft", "count"] == 1
    assert len(metrics.per_request([warm], include_warmup=True)) == 1


# -- recorded traces: the same definitions on real measurements ----------------------------
def test_basic_trace_never_beats_the_truth():
    recs, truth_by_id = trace("scripted_basic"), server("scripted_basic")
    assert len(recs) == 16 and all(metrics.ok(r) for r in recs)
    for r in recs:
        s = truth_by_id[r["request_id"]]
        # same clock on both sides: a client cannot see a chunk before it was sent
        assert metrics.ttft(r) >= truth.ttft(s)
        assert metrics.e2e(r) >= truth.e2e(s)
        assert len(metrics.itls(r)) == len(truth.itls(s)) == 7
        assert sum(metrics.itls(r)) == pytest.approx(metrics.e2e(r) - metrics.ttfct(r))
        assert metrics.output_tokens(r) == (8, "usage")
        assert "".join(c["text"] for c in r["chunks"]) == "".join(c["text"] for c in s["chunks"])


def test_role_chunk_trace():
    for r in trace("scripted_role_chunk"):
        assert r["chunks"][0]["text"] == ""
        assert metrics.ttft(r) < metrics.ttfct(r)
        assert metrics.ttfct(r) - metrics.ttft(r) > 0.03  # role chunk at 5 ms, content at 50
        assert len(metrics.itls(r)) == 7


def test_multi_token_trace():
    frame = metrics.per_request(trace("scripted_multi_token"))
    assert (frame.output_tokens == 24).all() and (frame.token_source == "usage").all()
    for r in trace("scripted_multi_token"):
        assert [c["n_tokens"] for c in r["chunks"]] == [4] * 6
        # 24 tokens in 6 chunks: TPOT spreads 5 gaps over 23 tokens, so the per-chunk gap is
        # about 4x the per-token time
        gaps = metrics.itls(r)
        assert metrics.tpot(r) * 23 == pytest.approx(sum(gaps))
        assert metrics.tpot(r) < statistics.mean(gaps) / 4


def test_no_usage_trace():
    frame = metrics.per_request(trace("scripted_no_usage"))
    assert (frame.token_source == "chunk_count").all() and (frame.output_tokens == 8).all()
    assert frame.tpot.notna().all()


def test_zero_tokens_trace():
    frame = metrics.per_request(trace("scripted_zero_tokens"))
    assert frame.ok.all() and (frame.output_tokens == 0).all()
    assert frame.ttfct.isna().all() and frame.tpot.isna().all() and frame.ttft.notna().all()
    summary = metrics.summarize(trace("scripted_zero_tokens"))
    assert summary.loc["ttfct", "count"] == 0 and math.isnan(summary.loc["ttfct", "p50"])


def test_errors_trace():
    recs = {r["request_id"][-1]: r for r in trace("scripted_errors")}  # last digit = prompt
    assert recs["0"]["status"] == 200 and "ConnectionError" in recs["0"]["error"]
    assert len(recs["0"]["chunks"]) == 3  # the chunks before the drop are kept
    assert "scripted failure after 2" in recs["1"]["error"] and len(recs["1"]["chunks"]) == 2
    assert recs["2"]["status"] == 429 and recs["3"]["status"] == 503
    assert recs["5"]["chunks"] == [] and recs["5"]["error"]
    run = metrics.summarize(trace("scripted_errors")).attrs["run"]
    assert (run["completed"], run["failed"]) == (3, 5)


def test_client_counts_tokens_per_chunk_only_from_running_usage():
    from servelab.bench.client import handle_event, new_record

    def chunk(text, usage=None):
        obj = {"id": "x", "choices": [{"delta": {"content": text}, "finish_reason": None}]}
        return json.dumps(obj | ({"usage": usage} if usage else {}))

    running = new_record("a")
    for i, text in enumerate(["", "ab", "cd"]):
        handle_event(running, chunk(text, {"prompt_tokens": 3, "completion_tokens": 2 * i}), 1.0)
    assert [c["n_tokens"] for c in running["chunks"]] == [0, 2, 2]
    late = new_record("b")  # usage only on the last chunk: no per-chunk attribution
    handle_event(late, chunk("ab"), 1.0)
    handle_event(late, chunk("cd", {"prompt_tokens": 3, "completion_tokens": 4}), 1.1)
    assert [c["n_tokens"] for c in late["chunks"]] == [None, None]
    assert metrics.output_tokens(late) == (4, "usage")
    handle_event(late, '{"error": {"message": "boom"}}', 1.2)
    assert late["error"] == "boom"


def test_vllm_trace_role_chunk_and_running_usage():
    recs = metrics.measured(trace("vllm_cpu_c4"))
    assert len(recs) == 16 and all(metrics.ok(r) for r in recs)
    for r in recs:
        first = r["chunks"][0]
        assert first["text"] == "" and first["n_tokens"] == 0  # vLLM's role chunk
        assert metrics.ttft(r) <= metrics.ttfct(r)
        assert sum(c["n_tokens"] for c in r["chunks"]) == r["usage"]["completion_tokens"] == 32
        assert r["chunks"][-1]["finish_reason"] == "length"  # ignore_eos, max_tokens 32
