"""Entry point of the `servelab` console script.

Each subcommand lives in its own module under servelab/cli/ and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to the function that runs it
(returning the process exit code). Add a command by adding its module name here.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES = [
    "servelab.cli.doctor",
    "servelab.cli.stack",
    "servelab.cli.course",
    "servelab.cli.bench",
    "servelab.cli.grade",
    "servelab.cli.check",
    "servelab.cli.lab",
]


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="servelab", description="servelab: LLM serving labs and their reference stack"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; returns its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
