"""Accounting: one call per outcome writes the metrics, the audit record and the token quota."""

from __future__ import annotations

import pytest
from gateway_support import upstream, write_table
from prometheus_client import generate_latest

from reference_stack.gateway.accounting import Accounting
from reference_stack.gateway.audit import AuditLog, read_audit
from reference_stack.gateway.auth import ApiKey
from reference_stack.gateway.context import RequestContext
from reference_stack.gateway.errors import RateLimited, ResidencyDenied, UpstreamUnavailable
from reference_stack.gateway.failover import OK, Attempt, Outcome, Reason
from reference_stack.gateway.metrics import GatewayMetrics
from reference_stack.gateway.protocol import ChatCompletionRequest
from reference_stack.gateway.quotas import Quotas
from reference_stack.gateway.relay.streaming import RelayResult
from reference_stack.gateway.residency import ResidencyPolicy
from reference_stack.gateway.routing import Router, RoutingTable
from reference_stack.gateway.timing import StageTimer


class _Opened:  # what ``streamed`` reads of an OpenedStream
    first_token_s = 0.05


@pytest.fixture
def world(tmp_path):
    ups = {"a": upstream("http://127.0.0.1:1", "EU"), "b": upstream("http://127.0.0.1:2", "EU")}
    table = RoutingTable.load(write_table(tmp_path / "r.yaml", ups, {"m": ["a", "b"]}))
    policy = ResidencyPolicy(table)
    metrics, quotas = GatewayMetrics(), Quotas()
    audit = AuditLog(tmp_path / "audit.jsonl")
    accounting = Accounting(metrics, audit, quotas, policy, table.models)
    key = ApiKey(
        name="k",
        owner="o",
        kind="team",
        sha256="0" * 64,
        data_classes=["public"],
        requests_per_minute=100,
        tokens_per_minute=100,
    )
    chain = Router(table).chain("m")
    ctx = RequestContext(
        "req-1",
        key,
        "public",
        "m",
        ChatCompletionRequest(model="m", messages=[{"role": "user", "content": "hi"}]),
        policy.screen("public", chain),
        StageTimer(),
    )
    yield {"acc": accounting, "metrics": metrics, "quotas": quotas, "ctx": ctx, "chain": chain}
    audit.close()


def _value(metrics: GatewayMetrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value("servelab_gateway_" + name, labels) or 0.0


def test_a_refusal_counts_once_with_a_bounded_label(world):
    error = RateLimited("slow down", code="requests_per_minute_exceeded")
    world["acc"].refused("no-such-model", error)
    m = world["metrics"]
    assert _value(m, "requests_total", model="unknown", outcome="rate_limited") == 1
    assert _value(m, "rate_limited_total", limit="requests_per_minute_exceeded") == 1


def test_a_stream_cut_short_counts_against_its_upstream_and_settles_tokens(world):
    result = RelayResult(reason=Reason.UPSTREAM_LOST, usage={"prompt_tokens": 30})
    result.gaps = [0.01, 0.02]
    world["acc"].streamed(world["ctx"], "a", _Opened(), result)
    m = world["metrics"]
    assert _value(m, "requests_total", model="m", outcome="upstream_lost") == 1
    assert _value(m, "upstream_attempts_total", upstream="a", outcome="failed_mid_stream") == 1
    assert _value(m, "upstream_inter_token_seconds_count", upstream="a") == 2
    assert _value(m, "tokens_total", upstream="a", kind="prompt") == 30
    assert world["quotas"]._buckets(world["ctx"].key)[1].level == pytest.approx(70, abs=1)


def test_a_client_hanging_up_mid_stream_is_no_failure(world):
    result = RelayResult(reason=Reason.CLIENT_DISCONNECTED)
    world["acc"].streamed(world["ctx"], "a", _Opened(), result)
    m = world["metrics"]
    text = generate_latest(m.registry).decode()
    assert "failed_mid_stream" not in text
    assert 'outcome="client_disconnected"' in text


def test_a_failover_is_audited_once_when_routed(world, tmp_path):
    a, b = world["chain"]
    outcome = Outcome(
        "answer",
        b,
        [Attempt("a", "EU", Reason.SERVER_ERROR.value, "boom"), Attempt("b", "EU", OK)],
    )
    world["acc"].routed(world["ctx"], outcome)
    (record,) = read_audit(tmp_path / "audit.jsonl")
    assert record["decision"] == "rerouted" and record["chosen"] == "b"
    assert "failed over from a" in record["why"] and len(record["attempts"]) == 2


def test_first_choice_answering_writes_no_audit(world, tmp_path):
    a, _ = world["chain"]
    world["acc"].routed(world["ctx"], Outcome("answer", a, [Attempt("a", "EU", OK)]))
    assert read_audit(tmp_path / "audit.jsonl") == []


def test_an_outage_is_not_a_residency_denial(world, tmp_path):
    """Every compliant upstream cooling down is an outage: counted and audited as one, never
    as a residency denial (the policy allowed them)."""
    outcome = Outcome(None, None, [Attempt("a", "EU", "skipped_breaker_open")])
    error = UpstreamUnavailable("all cooling down")
    world["acc"].failed(world["ctx"], error, outcome)
    m = world["metrics"]
    text = generate_latest(m.registry).decode()
    assert "residency_denials_total{" not in text
    assert _value(m, "requests_total", model="m", outcome="upstream_unavailable") == 1
    (record,) = read_audit(tmp_path / "audit.jsonl")
    assert record["decision"] == "failed" and record["error"] == "upstream_unavailable"
    assert record["why"] == "all cooling down"


def test_a_residency_denial_is_counted_and_audited_as_one(world, tmp_path):
    world["acc"].residency_denied(world["ctx"], ResidencyDenied("no EU upstream"))
    m = world["metrics"]
    assert (
        _value(
            m,
            "residency_denials_total",
            model="m",
            data_class="public",
            why="no_compliant_in_chain",
        )
        == 1
    )
    (record,) = read_audit(tmp_path / "audit.jsonl")
    assert record["decision"] == "denied" and record["error"] == "residency_denied"


@pytest.mark.parametrize(
    "usage",
    [
        {"prompt_tokens": -5, "completion_tokens": 3},
        {"prompt_tokens": 1e400, "completion_tokens": 3},  # JSON 1e400 is inf
        {"prompt_tokens": "12", "completion_tokens": 3},
        {"prompt_tokens": 2.5, "completion_tokens": 3},
        {"prompt_tokens": True, "completion_tokens": 3},
        {"prompt_tokens": 10**12, "completion_tokens": 3},
        "not an object",
    ],
)
def test_unbelievable_usage_from_an_upstream_is_ignored(world, usage):
    """Token counts are the upstream's word: a broken or hostile one must not crash the
    accounting (negative counter increments raise) nor drain a key's quota."""
    result = RelayResult(usage=usage)
    world["acc"].streamed(world["ctx"], "a", _Opened(), result)
    m = world["metrics"]
    assert _value(m, "tokens_total", upstream="a", kind="prompt") == 0
    assert world["quotas"]._buckets(world["ctx"].key)[1].level == pytest.approx(100, abs=1)
