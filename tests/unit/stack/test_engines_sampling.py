"""The model card's sampling reaches both engines: vLLM through the checkpoint's
generation_config.json, llama-server through the cpu profile's flags (in-process; the answers
they give are checked in tests/integration/stack/test_engines_sense.py)."""

from __future__ import annotations

import json

import pytest

from reference_stack.engines import model_files, sampling
from reference_stack.stack import profile


def test_generation_config_gets_the_sampling_and_keeps_the_token_ids(tmp_path):
    # what transformers' save_pretrained wrote for the converted checkpoint: token ids only
    original = {"bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 2}
    (tmp_path / "generation_config.json").write_text(json.dumps(original))
    assert sampling.write_generation_config(tmp_path) is True
    written = json.loads((tmp_path / "generation_config.json").read_text())
    assert written == {**original, "do_sample": True, "temperature": 0.2, "top_p": 0.9}
    # a second prepare finds them in place and leaves the file alone
    assert sampling.write_generation_config(tmp_path) is False


def test_an_old_value_is_replaced_and_a_missing_file_created(tmp_path):
    (tmp_path / "generation_config.json").write_text(json.dumps({"temperature": 1.0}))
    assert sampling.write_generation_config(tmp_path) is True
    assert json.loads((tmp_path / "generation_config.json").read_text())["temperature"] == 0.2
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    assert sampling.write_generation_config(fresh) is True
    assert json.loads((fresh / "generation_config.json").read_text()) == sampling.RECOMMENDED


def test_a_broken_file_is_a_model_error_that_says_what_to_do(tmp_path):
    (tmp_path / "generation_config.json").write_text("{not json")
    with pytest.raises(model_files.ModelError, match="servelab prepare"):
        model_files.prepare_sampling(tmp_path, say=lambda m: None)


def test_prepare_says_whether_it_wrote_the_defaults(tmp_path):
    said: list[str] = []
    model_files.prepare_sampling(tmp_path, say=said.append)
    model_files.prepare_sampling(tmp_path, say=said.append)
    assert "servelab down && servelab up" in said[0] and "in place" in said[1]


def test_the_cpu_profile_starts_both_engines_with_the_model_card_settings():
    cpu = profile.load("cpu")
    vllm = cpu.service("vllm").command
    assert vllm[vllm.index("--generation-config") + 1] == "auto"  # read generation_config.json
    llama = cpu.service("llamacpp").command
    flags = sampling.llama_server_flags()
    start = llama.index(flags[0])
    assert llama[start : start + len(flags)] == flags
    values = dict(zip(flags[::2], flags[1::2], strict=True))
    assert float(values["--temp"]) == sampling.RECOMMENDED["temperature"]
    assert float(values["--top-p"]) == sampling.RECOMMENDED["top_p"]
    # the temperature is applied before the cuts, as transformers and vLLM apply it
    chain = values["--samplers"].split(";")
    assert chain.index("temperature") < chain.index("top_p")
