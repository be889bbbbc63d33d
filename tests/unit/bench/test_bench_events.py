"""Raw events survive saving and loading in both formats; arrivals follow vLLM's model."""

from __future__ import annotations

import math

import numpy as np
import pytest

from servelab.bench import arrivals, events, metrics
from servelab_base.paths import DATASETS


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_round_trip_keeps_records_and_meta(tmp_path, suffix):
    run = events.load(DATASETS / "traces" / "scripted_errors.jsonl")
    # mixed shapes: usage None and present, zero chunks, an extra field on some rows only
    records = run.records + [run.records[0] | {"only_here": 1}]
    path = events.save(tmp_path / f"run{suffix}", records, run.meta)
    back = events.load(path)
    assert back.meta == run.meta
    assert [r["request_id"] for r in back.records] == [r["request_id"] for r in records]
    for a, b in zip(records, back.records, strict=True):
        for key in events.REQUIRED:
            assert a[key] == b[key], key
    assert metrics.summarize(back.records).equals(metrics.summarize(records))


def test_jsonl_meta_lives_beside_the_file(tmp_path):
    path = events.save(tmp_path / "x.jsonl", [], {"target": "t"})
    assert events.meta_path(path).name == "x.meta.json"
    assert events.load(path).meta == {"target": "t"}


def test_bad_records_and_names_are_refused(tmp_path):
    with pytest.raises(ValueError, match="lacks"):
        events.save(tmp_path / "x.jsonl", [{"request_id": "a"}])
    with pytest.raises(ValueError, match=".jsonl or .parquet"):
        events.save(tmp_path / "x.csv", [])


def test_poisson_and_gamma_arrivals_keep_the_rate():
    n, rate = 20_000, 8.0
    for burstiness in (0.5, 1.0, 4.0):
        gaps = arrivals.gaps(n, rate, burstiness, seed=1)
        assert gaps.mean() == pytest.approx(1 / rate, rel=0.05)
        # gamma: coefficient of variation = 1 / sqrt(shape); lower burstiness = burstier
        assert gaps.std() / gaps.mean() == pytest.approx(1 / math.sqrt(burstiness), rel=0.05)
    offsets = arrivals.send_offsets(5, rate, seed=3)
    assert offsets[0] == 0 and np.all(np.diff(offsets) >= 0)
    assert np.all(arrivals.send_offsets(4, math.inf) == 0)
    with pytest.raises(ValueError):
        arrivals.gaps(3, 0)
