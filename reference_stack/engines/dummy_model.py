"""A model directory for `vllm serve --load-format dummy`: real shapes, random weights, no token.

Decode time depends on the shapes (bytes of weights read per token, KV cache per token), not on
the values of the weights. So a GPU host without access to the gated Llama 3 repository can
still measure true timing: vLLM reads config.json from the repository's configs/ folder and
fills every weight with random numbers.

vLLM still needs a tokenizer, and Llama 3's is gated too. We write a synthetic one whose
vocabulary has exactly the model's size (token ``<t123>`` is id 123, split on whitespace), so
prompts of N words are N tokens and every id the random model emits decodes. Its text is
meaningless; `vllm bench serve --dataset-name random` builds prompts from token ids, which is
all a timing run needs.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from servelab_base.paths import CACHE

PROFILES_DIR = Path(__file__).resolve().parent.parent / "profiles"
DUMMY_DIR = CACHE / "dummy"
#: a chat template for the synthetic tokenizer: the message contents, separated by spaces
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['content'] }} {% endfor %}"
    "{% if add_generation_prompt %}<t1>{% endif %}"
)


def synthetic_tokenizer(vocab_size: int, bos_id: int, eos_id: int):
    """A whitespace word-level tokenizer with ``vocab_size`` tokens (``tokenizers`` library)."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {f"<t{i}>": i for i in range(vocab_size)}
    vocab = {("<unk>" if i == 0 else token): i for token, i in vocab.items()}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return tokenizer, f"<t{bos_id}>", f"<t{eos_id}>"


def checkpoint_dir(dummy_config: str) -> Path:
    """``.cache/dummy/NAME/``: the shipped config files plus a synthetic tokenizer (made once)."""
    source = PROFILES_DIR / dummy_config
    config_path = source / "config.json"
    if not config_path.exists():
        raise FileNotFoundError(
            f"no {config_path}: dummy_config must name a folder of "
            f"reference_stack/profiles/ holding a config.json"
        )
    target = DUMMY_DIR / source.name
    if (target / "tokenizer.json").exists() and (
        (target / "config.json").read_text() == config_path.read_text()
    ):
        return target
    config = json.loads(config_path.read_text())
    target.mkdir(parents=True, exist_ok=True)
    for file in source.glob("*.json"):
        shutil.copy2(file, target / file.name)
    eos = config["eos_token_id"]
    eos = eos[0] if isinstance(eos, list) else eos
    tokenizer, bos_token, eos_token = synthetic_tokenizer(
        config["vocab_size"], config["bos_token_id"], eos
    )
    tokenizer.save(str(target / "tokenizer.json"))
    (target / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "PreTrainedTokenizerFast",
                "bos_token": bos_token,
                "eos_token": eos_token,
                "unk_token": "<unk>",
                "model_max_length": config.get("max_position_embeddings", 8192),
                "chat_template": CHAT_TEMPLATE,
            },
            indent=2,
        )
    )
    (target / "README.md").write_text(
        f"Random-weights stand-in for {source.name}: config.json is the real one, the tokenizer "
        "is synthetic (see reference_stack/engines/dummy_model.py). Serve with "
        "`--load-format dummy`; for timing only.\n"
    )
    return target
