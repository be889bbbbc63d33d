"""Lab 10: one text, several tokenizers, all offline.

A provider bills and paces in *its own* tokens. The bundled model's tokenizer comes with the
model (``tokenizer.json`` beside the vLLM checkpoint); the others are files a package ships:

- ``o200k_base`` (GPT-4o, GPT-4.1, GPT-5 family) and ``cl100k_base`` (GPT-4, GPT-3.5) are
  tiktoken encodings. tiktoken downloads them on first use, which an offline laptop cannot;
  the ``litellm`` wheel ships both files, named as tiktoken's cache names them, so pointing
  ``TIKTOKEN_CACHE_DIR`` at that folder loads them with no network;
- ``claude (legacy)``: the tokenizer Anthropic published for its early Claude models, shipped in
  the same wheel (Anthropic's current models use a tokenizer that is not published: count with
  their API's ``count_tokens`` endpoint instead);
- ``deepseek``: DeepSeek's published tokenizer, shipped in the same wheel.

The ``litellm`` package is located, never imported (importing it starts network look-ups).
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from servelab_base.paths import CACHE, DATASETS

MODEL_TOKENIZER = CACHE / "models" / "smollm2-135m-instruct" / "tokenizer.json"
TOKENIZERS = ("smollm2", "o200k_base", "cl100k_base", "claude_legacy", "deepseek")


def shipped_files() -> Path:
    """The folder of tokenizer files inside the installed ``litellm`` wheel."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("litellm is not installed: run `make setup`")
    return Path(next(iter(spec.submodule_search_locations))) / "litellm_core_utils" / "tokenizers"


@lru_cache
def encoder(name: str) -> Callable[[str], list[int]]:
    """A function text -> token ids for one of :data:`TOKENIZERS`."""
    if name in ("o200k_base", "cl100k_base"):
        os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(shipped_files()))
        import tiktoken

        encoding = tiktoken.get_encoding(name)
        return lambda text: encoding.encode(text, disallowed_special=())
    from tokenizers import Tokenizer

    files = {
        "smollm2": MODEL_TOKENIZER,
        "claude_legacy": shipped_files() / "anthropic_tokenizer.json",
        "deepseek": shipped_files() / "deepseek_tokenizer.json",
    }
    if name not in files:
        raise KeyError(f"unknown tokenizer {name!r}; known: {', '.join(TOKENIZERS)}")
    if not files[name].exists():
        raise FileNotFoundError(f"{files[name]} is missing: run `make setup`")
    tokenizer = Tokenizer.from_file(str(files[name]))
    return lambda text: tokenizer.encode(text, add_special_tokens=False).ids


def count_all(text: str) -> dict[str, int]:
    """Token counts of ``text`` under every tokenizer of :data:`TOKENIZERS`."""
    return {name: len(encoder(name)(text)) for name in TOKENIZERS}


def load_texts(path: Path = DATASETS / "lab10" / "texts.json") -> list[dict[str, str]]:
    """The texts the tokenizer table was counted on (constructed for the course)."""
    return json.loads(path.read_text())["texts"]


def pieces(text: str, name: str) -> list[str]:
    """How ``name`` cuts ``text``: the text of each token (for showing, not for counting)."""
    ids = encoder(name)(text)
    if name in ("o200k_base", "cl100k_base"):
        import tiktoken

        encoding = tiktoken.get_encoding(name)
        return [encoding.decode([i]) for i in ids]
    from tokenizers import Tokenizer

    path = {
        "smollm2": MODEL_TOKENIZER,
        "claude_legacy": shipped_files() / "anthropic_tokenizer.json",
        "deepseek": shipped_files() / "deepseek_tokenizer.json",
    }[name]
    tokenizer = Tokenizer.from_file(str(path))
    return [tokenizer.decode([i]) for i in ids]
