"""`servelab bench` end to end (real CLI process, real scripted upstream) and the plots."""

from __future__ import annotations

import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from reference_stack.scripted import ScriptedUpstream  # noqa: E402
from servelab.bench import events, floors, plots  # noqa: E402
from servelab_base.paths import DATASETS  # noqa: E402

TRACES = DATASETS / "traces"


def servelab(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "servelab.cli.main", "bench", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_serve_report_plot(tmp_path):
    with ScriptedUpstream(ttft_ms=10, itl_ms=2, chunks=4) as up:
        done = servelab(
            "serve",
            "--base-url",
            up.base_url,
            "--model",
            "scripted",
            "--max-concurrency",
            "2",
            "--num-prompts",
            "6",
            "--num-warmups",
            "2",
            "--goodput",
            "ttft:5000",
            "tpot:1000",
            "--disable-tqdm",
            "--save-result",
            "--result-dir",
            str(tmp_path),
            "--result-filename",
            "run.parquet",
        )
    assert done.returncode == 0, done.stderr
    assert "closed loop, concurrency 2" in done.stdout and "good_requests: 6" in done.stdout
    assert "client CPU" in done.stdout
    run = events.load(tmp_path / "run.parquet")
    assert len(run.records) == 8 and run.meta["slos_ms"] == {"ttft": 5000.0, "tpot": 1000.0}
    report = servelab("report", str(tmp_path / "run.parquet"), "--metric-percentiles", "50,99")
    assert report.returncode == 0 and "p99" in report.stdout and "goodput" in report.stdout
    plot = servelab("plot", str(tmp_path / "run.parquet"), "--out", str(tmp_path))
    assert plot.returncode == 0 and (tmp_path / "run.png").stat().st_size > 10_000


def test_bad_flags_fail_clearly():
    done = servelab("serve", "--goodput", "latency:5", "--num-prompts", "1")
    assert done.returncode == 2 and "--goodput takes NAME:MS" in done.stdout
    done = servelab("serve", "--dataset-name", "no_such_set", "--num-prompts", "1")
    assert done.returncode == 2 and "short_chat" in done.stdout


def test_floors_are_the_published_model():
    table = floors.floor_table()
    assert table.loc["H100 SXM", "llama3_8b_bf16_ms"] == pytest.approx(4.79, abs=0.01)
    assert table.loc["A100 40GB", "llama3_8b_bf16_ms"] == pytest.approx(10.33, abs=0.01)
    tp4 = floors.itl_floor(floors.MODEL_BYTES["Llama 3 70B AWQ"], 1.555e12, tensor_parallel=4)
    assert tp4 == pytest.approx(0.0064, abs=0.0002)
    assert floors.measure_memory_bandwidth(size_mb=8, repeats=2) > 1e8
    done = servelab("floors")
    assert done.returncode == 0 and "MODELLED" in done.stdout


def test_plots_draw_what_they_claim():
    basic = events.load(TRACES / "scripted_basic.jsonl").records
    errors = events.load(TRACES / "scripted_errors.jsonl").records
    fig, axes = plt.subplots(2, 2)
    ax = plots.latency_cdf({"basic": basic, "errors": errors}, "ttft", ax=axes[0, 0])
    assert len(ax.get_legend().get_texts()) == 2
    table = plots.sweep_table({1: errors, 4: basic})
    assert list(table.index) == [1, 4] and table.loc[4, "itl_p50"] > 0
    plots.vs_load(table, ax=axes[0, 1])
    ax = plots.timeline(errors, n=8, ax=axes[1, 0])
    labels = {t.get_text() for t in ax.get_legend().get_texts()}
    assert labels == {"waiting", "streaming"}
    assert any(t.get_text() == "error" for t in ax.texts)
    ax = plots.itl_vs_floor(basic, 0.00479, "H100", ax=axes[1, 1])
    assert "H100: 4.79 ms" in [t.get_text() for t in ax.get_legend().get_texts()]
    plt.close(fig)
    with pytest.raises(ValueError, match="unknown metric"):
        plots.values_ms(basic, "latency")
