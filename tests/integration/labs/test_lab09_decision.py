"""lab09_decision and datasets/lab09: the data lab 09 decides on, its plots and live probe."""

from __future__ import annotations

import math
import socket

import matplotlib
import pandas as pd
import pytest

from servelab.labs import lab09_decision as decision
from servelab_base.config import get_settings

matplotlib.use("Agg")


def test_recorded_paths_match_the_catalog_and_selfhosted_table():
    # paths.csv is what grading reads; it must be a fresh build_paths() (regenerate: see README).
    recorded = pd.read_csv(decision.LAB09 / "paths.csv")
    fresh = decision.build_paths()
    pd.testing.assert_frame_equal(
        recorded, fresh.astype(recorded.dtypes.to_dict()), check_exact=False
    )


def test_scores_cover_every_pattern_and_criterion_on_the_scale():
    scores = decision.load_scores()
    assert list(scores.index) == decision.PATTERNS
    assert list(scores.columns) == decision.CRITERIA
    assert scores.isin(range(decision.MIN_SCORE, decision.MAX_SCORE + 1)).all().all()
    assert decision.load_reasoning().str.len().min() > 50  # every score is argued


def test_cases_are_the_four_reference_cases_with_valid_criteria():
    cases = decision.load_cases()
    assert set(cases) == {"consumer-chatbot", "hr-assistant", "document-batch", "mobile-offline"}
    for case in cases.values():
        assert sum(case["weights"].values()) > 0
        assert {"requests", "input_tokens", "output_tokens"} <= set(case["workload"])


def test_every_path_says_where_its_numbers_come_from():
    paths = decision.load_paths()
    assert paths.basis.str.contains("published|modelled|measured").all()
    assert paths.source.str.len().min() > 10
    # interactive paths have all four latency stages; batch paths (self-hosted batch, and a
    # provider's batch tier: a window_hours) have none (not interactive)
    stages = paths[["network_rtt_ms", "queue_ms", "ttft_ms", "per_token_ms"]]
    batch = (paths.pattern == "self-hosted-batch") | paths.window_hours.notna()
    assert (stages.isna().all(axis=1) == batch).all()
    assert paths.window_hours.notna().sum() == len(decision.BATCH_PATHS)


def test_unknown_criterion_in_a_case_is_refused(tmp_path, monkeypatch):
    (tmp_path / "cases.yaml").write_text(
        "cases:\n  x:\n    weights: {latncy: 1}\n    workload: {}\n"
    )
    monkeypatch.setattr(decision, "LAB09", tmp_path)
    with pytest.raises(ValueError, match="latncy"):
        decision.load_cases()


def _mean_scores(scores: pd.DataFrame, weights: dict) -> pd.Series:
    total = sum(weights.values())
    return (sum(scores[c] * w for c, w in weights.items()) / total).sort_values(ascending=False)


def test_plots_draw_with_a_learners_functions():
    scores, cases, paths = decision.load_scores(), decision.load_cases(), decision.load_paths()
    decision.plot_scores(scores)
    rankings = {n: _mean_scores(scores, c["weights"]) for n, c in cases.items()}
    fig = decision.plot_rankings(rankings, {n: r.index[0] for n, r in rankings.items()})
    assert len(fig.axes) == 4

    def cost(workload, path):
        return workload["requests"] * 0.001

    priced = paths.unit.isin(["per_million_tokens", "per_gpu_hour"])
    tiers = paths.window_hours.notna()
    ax = decision.plot_cost_curves(paths, cost, 1000, 100)  # interactive: no batch tier
    assert len(ax.lines) == (priced & ~tiers).sum()
    ax = decision.plot_cost_curves(paths, cost, 1000, 100, deadline_h=72)  # 24 h windows fit
    assert len(ax.lines) == priced.sum()
    ax = decision.plot_cost_curves(paths, cost, 1000, 100, deadline_h=12)
    assert len(ax.lines) == (priced & ~tiers).sum()
    ax = decision.plot_latency_budget(paths, 100, slo_ms=2000)
    assert len(ax.patches) == 4 * paths.ttft_ms.notna().sum()  # four stages per interactive path
    widget = decision.weight_explorer(scores, _mean_scores, cases["hr-assistant"]["weights"])
    assert widget is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_probe_paths_degrades_when_every_service_is_down(monkeypatch):
    port = _free_port()
    for var in ("SERVELAB_VLLM_PORT", "SERVELAB_MANAGED_PORT", "SERVELAB_CLOUD_PORT"):
        monkeypatch.setenv(var, str(port))
    for var in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "AZURE_OPENAI_API_KEY",
        "AZURE_OPENAI_ENDPOINT",
    ):
        monkeypatch.delenv(var, raising=False)
    get_settings.cache_clear()
    try:
        table = decision.probe_paths()
    finally:
        get_settings.cache_clear()
    assert len(table) == len(decision.MIXED_PATHS)
    assert table.status.str.startswith("down: start the stack").all(), table.status.tolist()
    assert table.ttft_ms.isna().all()


@pytest.mark.stack
def test_probe_paths_reaches_the_self_hosted_engine(stack):
    table = decision.probe_paths()
    vllm = table.loc["ingestion (self-hosted vLLM)"]
    assert vllm.status == "ok", vllm.status
    assert vllm.tokens and vllm.tokens > 0 and vllm.answer
    assert 0 < vllm.ttft_ms <= vllm.e2e_ms
    for role, row in table.iterrows():  # the stand-ins answer, or the row says what to start
        assert row.status == "ok" or row.status.startswith("down:"), (role, row.status)
        assert row.status != "ok" or not math.isnan(row.e2e_ms)
