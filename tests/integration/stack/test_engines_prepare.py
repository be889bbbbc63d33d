"""The embedded model as `servelab prepare` left it: a checkpoint both engines load, and a second
`prepare` that reuses everything (needs the set-up done: `make setup`)."""

from __future__ import annotations

import json

from stack_support import servelab

from reference_stack.engines import model_files


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
