"""Lab 10's helpers: /metrics parsing, probes that say why instead of raising, the economics
options from the catalog, the tokenizers, and the recordings' provenance."""

from __future__ import annotations

import json
import socket

import pytest

from servelab.labs import lab10_levers as lab
from servelab.labs import lab10_orchestration as orch
from servelab.labs import lab10_tokens as tok
from servelab_base.catalog import load

METRICS = """# HELP vllm:prefix_cache_queries_total Prefix cache queries
# TYPE vllm:prefix_cache_queries_total counter
vllm:prefix_cache_queries_total{engine="0",model_name="m"} 1500.0
vllm:prefix_cache_queries_total{engine="1",model_name="m"} 500.0
vllm:prefix_cache_hits_total{engine="0",model_name="m"} 1200.0
vllm:prefix_cache_queries_created{engine="0",model_name="m"} 1.79e+09
vllm:num_requests_running{engine="0"} 3.0
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_counters_are_summed_over_labels_and_other_series_ignored():
    got = lab.parse_counters(METRICS)
    assert got == {
        "vllm:prefix_cache_queries_total": 2000.0,
        "vllm:prefix_cache_hits_total": 1200.0,
    }
    assert lab.parse_counters("", ("x",)) == {"x": 0.0}


def test_probes_against_a_closed_port_say_why_and_return_none():
    url = f"http://127.0.0.1:{free_port()}"
    said = []
    assert lab.scrape(url, timeout=0.5) is None
    assert lab.is_up(url, timeout=0.5) is False
    assert lab.prefix_run(url, "m", ["q"], "n", say=said.append) is None
    assert said and "make up" in said[0]


def test_the_shared_prefix_starts_with_its_nonce_and_is_long():
    a, b = lab.shared_prefix("abc"), lab.shared_prefix("xyz")
    assert a.startswith("Session abc.") and b.startswith("Session xyz.")
    assert a.split("\n", 1)[1] == b.split("\n", 1)[1]  # everything after the nonce is shared
    assert len(a.split()) > 900


def test_catalog_tiers_are_sourced_and_batch_is_half_the_synchronous_price():
    cat = load()
    rows = cat.rows["tiers"]
    assert {r["tier"] for r in rows} == {"cached_input", "batch"}
    for r in rows:
        assert r["basis"] == "published" and r["source"].startswith("https://"), r
        sync = cat.price(r["provider"], r["model"], r["deployment_type"])
        tier = cat.tier(r["provider"], r["model"], r["tier"], r["deployment_type"])
        assert sync is not None and tier.input_usd < sync.input_usd, r
        if r["tier"] == "batch":
            assert tier.input_usd == pytest.approx(sync.input_usd / 2), r
            assert tier.output_usd == pytest.approx(sync.output_usd / 2), r
            assert tier.window_hours == 24.0
        else:
            assert tier.output_usd is None and tier.window_hours is None
    assert cat.tier("openai", "gpt-4o-mini", "no-such-tier") is None


def test_batch_options_come_from_the_catalog_and_lab09():
    options = lab.batch_options()
    names = [o["name"] for o in options]
    assert len(names) == len(set(names)) == 5
    assert set(options[0]) == {"name", "input_usd", "output_usd", "fixed_usd", "window_h"}
    by_name = {o["name"]: o for o in options}
    assert by_name["OpenAI gpt-4o-mini, batch tier"]["window_h"] == 24.0
    always_on = by_name["self-hosted H100 (Llama 3.1 8B FP8), on all month"]
    assert always_on["fixed_usd"] == pytest.approx(6.88 * 730)


def test_five_tokenizers_count_offline():
    counts = tok.count_all("Serving language models on a laptop, offline.")
    assert set(counts) == set(tok.TOKENIZERS)
    assert all(0 < n < 30 for n in counts.values()), counts
    assert "".join(tok.pieces("hello world", "o200k_base")) == "hello world"
    with pytest.raises(KeyError, match="unknown tokenizer"):
        tok.encoder("nope")


def test_recorded_tokens_match_the_tokenizers_today():
    table = lab.load_csv("tokenizers")
    texts = {t["id"]: t["text"] for t in tok.load_texts()}
    for row in table.to_dict("records"):
        assert tok.count_all(texts[row["text_id"]]) == {n: row[n] for n in tok.TOKENIZERS}


@pytest.mark.parametrize("name", ["prefix_cache", "speculative", "structured", "orchestration"])
def test_every_recording_says_how_it_was_measured(name):
    meta = lab.load_json(name)["meta"]
    assert meta["source"] == "measured"
    assert meta["command"].startswith("python scripts/record_lab10.py")
    assert meta["hardware"] and meta["date"]


def test_tables_say_measured_or_published_in_their_first_line():
    folder = lab.LAB10
    assert (folder / "quantization.csv").read_text().startswith("# measured:")
    assert (folder / "tokenizers.csv").read_text().startswith("# measured:")
    published = (folder / "quantization_published.csv").read_text().splitlines()[0]
    assert published.startswith("# published:") and "https://" in published
    assert json.loads((folder / "texts.json").read_text())["meta"]["source"] == "constructed"


def test_a_missing_recording_names_the_ones_there():
    with pytest.raises(FileNotFoundError, match="prefix_cache"):
        lab.load_json("nope")


def test_router_scenarios_and_snippets():
    assert set(orch.SCENARIOS) == {
        "outage",
        "429 + Retry-After",
        "stream cut after 3 tokens",
        "EU-only data",
    }
    with pytest.raises(KeyError, match="unknown scenario"):
        orch.run_scenario("meteor strike")
    for snippet in orch.SNIPPETS.values():
        compile(snippet, "<snippet>", "exec")  # what the notebook shows is valid Python
