"""`servelab course release|check`: keep labs/ generated from solutions/."""

from __future__ import annotations

import argparse

from servelab.grading import release as course


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "course", help="regenerate labs/ from solutions/, or check it is current"
    )
    sub = p.add_subparsers(dest="course_command", metavar="ACTION", required=True)
    rel = sub.add_parser(
        "release", help="regenerate labs/ from solutions/ (nbgrader generate_assignment)"
    )
    rel.add_argument("labs", nargs="*", help="lab folder names (default: all)")
    rel.set_defaults(func=run_release)
    chk = sub.add_parser("check", help="fail when labs/ differs from a fresh release of solutions/")
    chk.set_defaults(func=run_check)


def run_release(args: argparse.Namespace) -> int:
    for lab in course.release(labs=args.labs or None):
        print(f"released labs/{lab}")
    return 0


def run_check(args: argparse.Namespace) -> int:
    stale = course.stale_files()
    if stale:
        print("labs/ is stale; run `make release` and commit. Differences:")
        print("\n".join(f"  {f}" for f in stale))
        return 1
    print("labs/ matches solutions/")
    return 0
