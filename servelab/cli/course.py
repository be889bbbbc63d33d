"""`servelab course release|check|goldens`: keep labs/ and the goldens generated from solutions/;
`servelab course new NN name`: a new lab from the template (docs/adding-a-lab.md);
`servelab course keys|hub-setup`: run the course on a JupyterHub (docs/course-server.md)."""

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
    new = sub.add_parser(
        "new", help="create a lab from the template: every place a lab lives (adding-a-lab.md)"
    )
    new.add_argument("number", help="two digits, e.g. 10")
    new.add_argument("name", help="snake_case, e.g. levers")
    new.set_defaults(func=run_new)
    _register_course_server(sub)


def _register_course_server(sub: argparse._SubParsersAction) -> None:
    """`servelab course keys` and `servelab course hub-setup` (docs/course-server.md)."""
    from pathlib import Path

    keys = sub.add_parser(
        "keys", help="issue each learner on the roster a gateway key (hashed at rest)"
    )
    keys.add_argument("--roster", type=Path, required=True, help="roster.csv (username, ...)")
    keys.add_argument(
        "--keys-file",
        type=Path,
        required=True,
        help="the gateway's key file to write (SERVELAB_GATEWAY_KEYS_FILE of the class's stack)",
    )
    keys.add_argument(
        "--model",
        action="append",
        default=[],
        help="model alias a key may call (repeatable; default: the labs' aliases)",
    )
    keys.add_argument("--requests-per-minute", type=int, help="per learner (default: 300)")
    keys.add_argument("--tokens-per-minute", type=int, help="per learner (default: 100000)")
    keys.add_argument(
        "--rotate", action="append", default=[], help="give this learner a new key (repeatable)"
    )
    keys.add_argument(
        "--no-homes",
        action="store_true",
        help="do not deliver keys into learners' homes (~/.servelab/gateway-key)",
    )
    keys.add_argument(
        "--plaintext-csv",
        type=Path,
        help="also write the NEW keys, in plain text, to this file (0600) to hand out",
    )
    keys.set_defaults(func=run_keys)
    hub = sub.add_parser(
        "hub-setup",
        help="prepare this machine's course for JupyterHub: exchange, instructor owns the course",
    )
    hub.add_argument("--instructor", required=True, help="the instructor's user name")
    hub.add_argument("--exchange", type=Path, help="exchange root (default: the course config's)")
    hub.set_defaults(func=run_hub_setup)


def run_keys(args: argparse.Namespace) -> int:
    import sys

    from servelab.course_server import keys
    from servelab.course_server.roster import RosterError, read_roster

    try:
        learners = read_roster(args.roster)
        issued = keys.issue(
            learners,
            args.keys_file,
            models=args.model or None,
            requests_per_minute=args.requests_per_minute or keys.CLASS_REQUESTS_PER_MINUTE,
            tokens_per_minute=args.tokens_per_minute or keys.CLASS_TOKENS_PER_MINUTE,
            rotate=set(args.rotate),
            to_homes=not args.no_homes,
            plaintext_csv=args.plaintext_csv,
        )
    except (RosterError, keys.KeyIssueError) as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"{len(issued.new)} new, {len(issued.kept)} kept, {len(issued.revoked)} revoked keys")
    if issued.revoked:
        print("revoked (no longer on the roster): " + ", ".join(issued.revoked))
    print(f"hashes -> {issued.keys_file} (restart the gateway to load them)")
    for path in issued.delivered:
        print(f"delivered -> {path}")
    if issued.handout:
        print(f"NEW KEYS IN PLAIN TEXT -> {issued.handout}: hand them out, then delete the file")
    return 0


def run_hub_setup(args: argparse.Namespace) -> int:
    from servelab.course_server import exchange, ownership
    from servelab.grading.coursedir import Course

    course = Course.load()
    root = args.exchange or course.exchange
    path = exchange.prepare(root, course.course_id, args.instructor)
    print(f"exchange ready: {path} (owned by {args.instructor})")
    ownership.give_course(course, args.instructor)
    print(f"{course.source} and {course.grading} belong to {args.instructor}, private (0700)")
    return 0


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


def run_new(args: argparse.Namespace) -> int:
    import sys

    from servelab.grading import goldens, template
    from servelab_base.paths import ROOT, SOLUTIONS

    try:
        written = template.new_lab(args.number, args.name)
    except template.TemplateError as exc:
        print(exc, file=sys.stderr)
        return 2
    lab = template.parse(args.number, args.name)
    for path in written:
        print(f"wrote {path.relative_to(ROOT)}")
    for path in goldens.update(SOLUTIONS / lab.folder):
        print(f"wrote {path}")
    print(
        f"next: write the lab (docs/adding-a-lab.md), then `servelab course goldens "
        f"{lab.folder}` and `servelab course release {lab.folder}`"
    )
    return 0
