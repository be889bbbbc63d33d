"""`servelab course release|check|goldens`: keep labs/ and the goldens generated from solutions/."""

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
    gold = sub.add_parser(
        "goldens", help="recompute each lab's expected values from its reference solution"
    )
    gold.add_argument("labs", nargs="*", help="lab folder names (default: all with checks)")
    gold.add_argument("--check", action="store_true", help="only report stale goldens")
    gold.set_defaults(func=run_goldens)


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


def run_goldens(args: argparse.Namespace) -> int:
    from servelab.grading import goldens
    from servelab.grading.checks import INSTRUCTOR_FILE
    from servelab_base.paths import SOLUTIONS

    labs = args.labs or [
        lab for lab in course.lab_names() if (SOLUTIONS / lab / INSTRUCTOR_FILE).exists()
    ]
    stale = []
    for lab in labs:
        stale += goldens.update(SOLUTIONS / lab, check_only=args.check)
    for path in stale:
        print(("stale: " if args.check else "wrote ") + path)
    if args.check and stale:
        print("run `servelab course goldens` and review the diff")
        return 1
    return 0
