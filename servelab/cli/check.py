"""`servelab check NOTEBOOK`: the learner's check before submitting (unanswered exercises and
the visible checks), like ``otter check``. servelab/course_server/selfcheck.py does the work."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "check", help="before submitting: which exercises are unanswered, run the visible checks"
    )
    p.add_argument("notebook", type=Path, help="your lab notebook (.ipynb)")
    p.add_argument(
        "--no-run", action="store_true", help="only list unanswered exercises (no kernel)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from servelab.course_server.selfcheck import check, summary

    if not args.notebook.is_file():
        print(f"no notebook at {args.notebook}", file=sys.stderr)
        return 2
    try:
        found = check(args.notebook, run=not args.no_run)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(summary(args.notebook, found))
    return 0 if all(ex.answered and not ex.failed for ex in found) else 1
