"""`servelab doctor`: the pre-flight report (see servelab.doctor)."""

from __future__ import annotations

import argparse

from servelab.doctor import preflight


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("doctor", help="pre-flight report: versions, stack, keys, GPU, ports")
    p.add_argument(
        "--need",
        action="append",
        default=[],
        metavar="SERVICE",
        help="fail unless this service answers (gateway, vllm, llamacpp, ...)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    report = preflight(needs=args.need)
    print(report)
    print(
        "\nall required checks passed" if report.ok else "\nsome checks FAILED: see the fixes above"
    )
    return 0 if report.ok else 1
