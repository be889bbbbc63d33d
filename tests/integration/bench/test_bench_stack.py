"""A short live run against the embedded stack: gateway (which names its upstream) and vLLM."""

from __future__ import annotations

import pytest

from servelab.bench import Load, Target, Workload, load_prompts, metrics, run_sync

#: The gateway's local-only learner key (reference_stack/gateway/keys.yaml, README).
LEARNER_KEY = "sk-servelab-local-learner"


@pytest.mark.stack
def test_gateway_run_records_upstream_and_usage(stack):
    target = Target(stack.gateway_url + "/v1", stack.model, api_key=LEARNER_KEY)
    run = run_sync(
        target,
        Workload(load_prompts("short_chat"), max_tokens=8),
        Load(max_concurrency=2, num_requests=4, warmup=1),
        progress=False,
    )
    recs = metrics.measured(run.records)
    assert all(metrics.ok(r) for r in recs), [r["error"] for r in recs]
    assert all(r["upstream"] for r in recs)  # x-servelab-upstream
    assert all(metrics.output_tokens(r)[1] == "usage" for r in recs)
    summary = metrics.summarize(run.records)
    assert summary.loc["ttft", "count"] == 4 and summary.loc["ttft", "p50"] > 0


@pytest.mark.stack
def test_vllm_direct_with_per_chunk_token_counts(stack):
    target = Target(stack.vllm_url + "/v1", stack.model)
    extra = {"ignore_eos": True, "stream_options": {"continuous_usage_stats": True}}
    run = run_sync(
        target,
        Workload(load_prompts("short_chat"), max_tokens=6, extra_body=extra),
        Load(max_concurrency=2, num_requests=2),
        progress=False,
    )
    for r in run.records:
        assert metrics.ok(r), r["error"]
        assert metrics.output_tokens(r) == (6, "usage")
        content = metrics.content_chunks(r)
        assert sum(c["n_tokens"] for c in content) == 6
        # >= 0, not > 0: on a busy machine the client may read all six events in one read, and
        # events that arrive together share one arrival time (seen with other tests beside it)
        assert metrics.tpot(r) >= 0 and metrics.ttft(r) <= metrics.ttfct(r)
