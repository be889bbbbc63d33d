"""lab03_batch and lab 03's recorded data: the corpus, the guard, the engine, the recordings."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from servelab.labs import lab03_batch as batch

RECORDED_BATCH_SIZES = [1, 4, 16, 64]


def test_corpus_is_balanced_and_labelled():
    docs = batch.load_corpus()
    assert len(docs) == 64
    assert len({d["id"] for d in docs}) == 64
    assert {d["label"] for d in docs} == set(batch.LABELS)
    assert {d["label"] for d in docs[:4]} == set(batch.LABELS)  # the live prefix has all four
    assert batch.load_corpus(limit=16) == docs[:16]


def test_a_bad_corpus_line_is_refused(tmp_path):
    bad = tmp_path / "corpus.jsonl"
    bad.write_text(json.dumps({"id": "x", "text": "hello", "label": "sales"}) + "\n")
    with pytest.raises(ValueError, match="bad document"):
        batch.load_corpus(bad)


def test_messages_ask_for_one_of_the_labels():
    system, user = batch.messages_for("My parcel is late")
    assert system["role"] == "system"
    assert all(label in system["content"] for label in batch.LABELS)
    assert user == {"role": "user", "content": "My parcel is late"}


def test_chunks_cover_everything_in_order():
    parts = [list(c) for c in batch.chunks(list(range(10)), 4)]
    assert parts == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    with pytest.raises(ValueError):
        list(batch.chunks([1], 0))


def test_recorded_runs_are_complete_and_say_where_they_come_from():
    runs = batch.load_runs()
    assert list(runs.batch_size) == RECORDED_BATCH_SIZES
    assert (runs.documents == 64).all() and (runs.elapsed_s > 0).all()
    assert (runs.prompt_tokens == runs.prompt_tokens.iloc[0]).all()  # same prompts every time
    meta = json.loads((batch.LAB03 / "meta.json").read_text())
    assert meta["basis"] == "measured" and meta["command"] and meta["date"]
    assert "cores" in meta["hardware"]
    readme = (batch.LAB03 / "README.md").read_text()
    assert "measured" in readme and "record_lab03.py" in readme


def test_recorded_outputs_match_the_corpus():
    outputs = batch.load_outputs()
    gold = {d["id"]: d["label"] for d in batch.load_corpus()}
    assert dict(zip(outputs.id, outputs.label, strict=True)) == gold
    assert (outputs.output_tokens >= 1).all()


def test_gpu_prices_cite_their_source():
    prices = batch.load_gpu_prices()
    assert (prices.usd_per_gpu_hour > 0).all()
    assert prices.source.str.startswith("https://").all()


def test_the_guard_explains_a_memory_capped_process():
    # the grading sandbox caps address space at 4 GiB: the guard must refuse, not crash
    code = (
        "import resource; resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30)); "
        "from servelab.labs.lab03_batch import engine_unavailable; print(engine_unavailable())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "RLIMIT_AS" in out.stdout or "not installed" in out.stdout or "missing" in out.stdout


def test_the_guard_skips_the_engine_on_a_busy_machine(monkeypatch):
    from reference_stack.engines.model_files import hf_checkpoint_ready

    if not hf_checkpoint_ready():
        pytest.skip("the converted checkpoint is not prepared")
    monkeypatch.setattr(batch.resource, "getrlimit", lambda _: (batch.resource.RLIM_INFINITY,) * 2)
    monkeypatch.setattr(batch.os, "getloadavg", lambda: (1000.0, 1000.0, 1000.0))
    assert "busy" in batch.engine_unavailable()


@pytest.mark.slow
def test_the_offline_engine_classifies_a_small_batch():
    reason = batch.engine_unavailable(check_load=False)
    if reason:
        pytest.skip(reason)
    llm = batch.load_llm(max_num_seqs=4)
    docs = batch.load_corpus(limit=4)
    run = batch.run_batch(llm, docs, batch_size=4, max_tokens=8, progress=False)
    assert [o["id"] for o in run.outputs] == [d["id"] for d in batch.load_corpus(limit=4)]
    assert all(1 <= o["output_tokens"] <= 8 for o in run.outputs)
    assert all(o["prompt_tokens"] > 20 for o in run.outputs)  # system prompt + message, templated
    summary = run.summary()
    assert summary["documents"] == 4 and summary["elapsed_s"] > 0
    assert summary["output_tokens"] == sum(o["output_tokens"] for o in run.outputs)
