"""lab03_live's switches and fallbacks that need no process: the size, a graded run, the rows."""

from __future__ import annotations

import pandas as pd
import pytest

from servelab.labs import lab03_live as live
from servelab.labs.lab03_job import SIZES


@pytest.mark.parametrize(
    ("value", "size"), [(None, "small"), ("", "small"), ("small", "small"), (" FULL ", "full")]
)
def test_the_live_size_comes_from_the_environment(value, size):
    env = {} if value is None else {live.LIVE_SIZE_ENV: value}
    assert live.live_size(env) == size


def test_an_unknown_live_size_is_refused_naming_the_choices():
    with pytest.raises(ValueError, match="SERVELAB_LIVE_SIZE='huge': use one of full, small"):
        live.live_size({live.LIVE_SIZE_ENV: "huge"})


def test_sizes_fit_the_corpus_and_small_has_every_queue():
    from servelab.labs.lab03_batch import LABELS, load_corpus

    docs = load_corpus()
    assert SIZES["full"] == len(docs)
    assert {d["label"] for d in docs[: SIZES["small"]]} == set(LABELS)
    assert set(live.TIME_LIMIT_S) == set(SIZES)


def test_a_graded_run_shows_the_recording_without_starting_the_job(monkeypatch, capsys):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    monkeypatch.setattr(live.subprocess, "Popen", None)  # starting a process would fail loudly
    result = live.run_job(size="small", progress=False)
    assert not result.live and result.output_tokens_per_s is None
    assert list(result.rows.id) == list(live.load_outputs().id[: SIZES["small"]])
    assert "Graded run" in capsys.readouterr().out


def test_agreement_sets_live_answers_beside_the_recorded_ones():
    recorded = pd.DataFrame({"id": ["a", "b"], "text": ["billing", "no idea"]})
    fresh = pd.DataFrame(
        {"id": ["b", "a"], "label": ["account", "billing"], "text": ["?", "billing"]}
    )
    both = live.agreement(fresh, recorded)
    assert both.set_index("id").same.to_dict() == {"a": True, "b": False}
    assert list(both.columns) == ["id", "label", "text_live", "text_recorded", "same"]


def test_throughput_counts_classification_time_only():
    rows = pd.DataFrame({"output_tokens": [10, 30]})
    result = live.JobResult(True, rows, "live", setup_s=8.0, elapsed_s=2.0)
    assert result.output_tokens_per_s == 20.0  # 40 tokens / 2 s; the 8 s start-up left out
    assert live.summary(result)["start_up_s"] == 8.0


def test_a_mistyped_size_setting_runs_the_small_job(monkeypatch, capsys):
    monkeypatch.setenv("NBGRADER_EXECUTION", "validate")
    monkeypatch.setenv(live.LIVE_SIZE_ENV, "large")
    result = live.run_job(progress=False)
    assert len(result.rows) == SIZES["small"]
    assert "SERVELAB_LIVE_SIZE='large'" in capsys.readouterr().out


def test_an_unknown_size_argument_is_refused():
    with pytest.raises(ValueError, match="use one of full, small"):
        live.run_job(size="medium", progress=False)
