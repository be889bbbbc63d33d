"""`servelab grade`: the instructor's workflow (docs/instructor.md).

servelab grade collect LAB --from EXPORT_DIR     (or --exchange)
servelab grade autograde LAB [LAB ...] [--jobs N]    sandboxed, parallel
servelab grade feedback LAB                      HTML without hidden tests
servelab grade export [--lms canvas --lms moodle --roster roster.csv]   + LMS import files
servelab grade all LAB --from EXPORT_DIR         the four steps in order
servelab grade all LAB LAB ... --from EXPORT_DIR     several labs: EXPORT_DIR/LAB/ for each,
                                                 graded by one pool of workers
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from servelab_base.config import get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("grade", help="collect, autograde (sandboxed), feedback, export")
    sub = p.add_subparsers(dest="grade_command", metavar="STEP", required=True)

    collect = sub.add_parser("collect", help="copy submissions into grading/submitted/")
    _source_args(collect)
    collect.add_argument("lab")
    collect.set_defaults(func=run_collect)

    autograde = sub.add_parser("autograde", help="run every submission in the sandbox, grade")
    autograde.add_argument("labs", nargs="+", metavar="LAB")
    _autograde_args(autograde)
    autograde.set_defaults(func=run_autograde)

    feedback = sub.add_parser("feedback", help="HTML feedback per student (no hidden tests)")
    feedback.add_argument("lab")
    feedback.add_argument("--student", action="append", default=[], help="only these students")
    feedback.add_argument(
        "--release",
        action="store_true",
        help="then release it through nbgrader's exchange (as root: each file its learner's)",
    )
    feedback.set_defaults(func=run_feedback)

    export = sub.add_parser("export", help="grades as CSV (per student, per question) + plot")
    export.add_argument("--lab", action="append", default=[], help="only these labs")
    export.add_argument("--out", type=Path, help="folder (default: grading/exports/)")
    export.add_argument(
        "--lms",
        action="append",
        default=[],
        choices=["canvas", "moodle"],
        help="also write the LMS's grade import file: canvas.csv, moodle.csv",
    )
    export.add_argument("--roster", type=Path, help="roster.csv: names and LMS ids (--lms)")
    export.add_argument(
        "--canvas-assignment",
        action="append",
        default=[],
        metavar="LAB=ID",
        help="update Canvas assignment ID with LAB's scores (default: Canvas creates one)",
    )
    export.set_defaults(func=run_export)

    everything = sub.add_parser("all", help="collect, autograde, feedback and export LAB(s)")
    everything.add_argument(
        "labs",
        nargs="+",
        metavar="LAB",
        help="one lab, or several (then --from holds one folder per lab, named after it)",
    )
    _source_args(everything)
    _autograde_args(everything)
    everything.set_defaults(func=run_all)
    for step in (collect, autograde, feedback, export, everything):
        step.set_defaults(func=_handing_back(step.get_default("func")))


def _handing_back(func):
    """Run a grading step, then give the grading folder back to the course's owner: on a
    course server the instructor owns the course and root only runs the sandbox
    (servelab/course_server/ownership.py); on a laptop nothing changes."""

    def run(args: argparse.Namespace) -> int:
        from servelab.course_server.ownership import hand_back

        try:
            return func(args)
        finally:
            try:
                hand_back(_course().grading)
            except FileNotFoundError:
                pass

    return run


def _source_args(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--from",
        dest="source",
        type=Path,
        help="a folder of submissions: one folder per student, or files named "
        "<student>_<...>.ipynb (an LMS export)",
    )
    src.add_argument("--exchange", action="store_true", help="nbgrader's exchange")
    p.add_argument("--pattern", help="regex with a (?P<student>...) group for flat file names")


def _autograde_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--student", action="append", default=[], help="only these students")
    p.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="submissions graded at the same time (default: CPU cores)",
    )
    p.add_argument(
        "--allow-port",
        type=int,
        action="append",
        default=[],
        help="host loopback port the notebooks may connect to",
    )
    p.add_argument(
        "--allow-stack",
        action="store_true",
        help="let notebooks reach the embedded stack's loopback ports",
    )
    p.add_argument("--cell-timeout", type=int, help="seconds per cell (default: course config)")
    p.add_argument("--wall-timeout", type=float, help="seconds per notebook (default: 600)")
    p.add_argument("--memory-mb", type=int, help="address space per process (default: 4096)")


def _course():
    from servelab.grading.coursedir import Course

    return Course.load()


def run_collect(args: argparse.Namespace) -> int:
    from servelab.grading.collect import DEFAULT_PATTERN, collect_exchange, collect_folder

    course = _course()
    if args.exchange:
        result = collect_exchange(course, args.lab)
        print(result.get("log", ""))
        if not result["success"]:
            print(result.get("error", ""), file=sys.stderr)
        return 0 if result["success"] else 1
    if not args.source or not args.source.is_dir():
        print("give --from FOLDER (a folder of submissions) or --exchange", file=sys.stderr)
        return 2
    got = collect_folder(course, args.lab, args.source, args.pattern or DEFAULT_PATTERN)
    for line in got.skipped:
        print(f"skipped {line}")
    print(f"collected {len(got.students)} submissions of {args.lab} into {course.submitted}")
    return 0 if got.students else 1


def run_autograde(args: argparse.Namespace) -> int:
    from servelab.grading.autograde import SandboxOptions, autograde_labs

    ports = list(args.allow_port)
    if args.allow_stack:
        s = get_settings()
        ports += [s.gateway_port, s.vllm_port, s.llamacpp_port, s.managed_port, s.cloud_port]
    overrides = {}
    if args.wall_timeout:
        overrides["wall_seconds"] = args.wall_timeout
    if args.memory_mb:
        overrides["memory_bytes"] = args.memory_mb * 2**20
    options = SandboxOptions(
        allowed_ports=tuple(sorted(set(ports))),
        limit_overrides=overrides,
        cell_timeout=args.cell_timeout,
    )
    several = len(args.labs) > 1

    def progress(r) -> None:
        status = f"{r.score:g}/{r.max_score:g}" if r.success else "FAILED"
        who = f"{r.lab} {r.student}" if several else r.student
        print(f"  {who:<24} {status:>10}  {r.seconds:5.1f} s", flush=True)
        if not r.success:
            print("    " + r.error.strip().splitlines()[-1] if r.error.strip() else "", flush=True)

    course = _course()
    print(f"autograding {', '.join(args.labs)} with {args.jobs} jobs (sandboxed)")
    students = args.student or None
    by_lab = autograde_labs(
        course, dict.fromkeys(args.labs, students), args.jobs, options, progress
    )
    rc = 0
    for lab, results in by_lab.items():
        failed = [r.student for r in results if not r.success]
        print(
            f"{lab}: graded {len(results) - len(failed)} of {len(results)} submissions"
            + (f"; FAILED: {', '.join(failed)}" if failed else "")
        )
        rc = rc or (1 if failed or not results else 0)
    return rc


def run_feedback(args: argparse.Namespace) -> int:
    from servelab.grading.feedback import generate_feedback

    course = _course()
    results = generate_feedback(course, args.lab, args.student or None)
    ok = all(r["success"] for r in results.values())
    if not ok:
        for r in results.values():
            print(r.get("log", ""), r.get("error", ""), file=sys.stderr)
    print(f"feedback for {args.lab} in {course.feedback}" if ok else "feedback FAILED")
    if ok and getattr(args, "release", False):
        from servelab.course_server.exchange import release_feedback

        released = release_feedback(course, args.lab)
        print(released.get("log", ""))
        ok = bool(released["success"])
        print("feedback released through the exchange" if ok else "release FAILED")
    return 0 if ok else 1


def run_export(args: argparse.Namespace) -> int:
    from servelab.grading.export import export

    course = _course()
    done = export(course, args.lab or None, args.out)
    print(
        f"{done.student_rows} rows -> {done.students_csv}\n"
        f"{done.question_rows} rows -> {done.questions_csv}\nplot -> {done.plot}"
    )
    if getattr(args, "lms", None):
        return _export_lms(course, args)
    return 0


def _export_lms(course, args: argparse.Namespace) -> int:
    from servelab.course_server.roster import RosterError, read_roster
    from servelab.grading.export import export_lms, question_rows, student_rows

    try:
        roster = read_roster(args.roster) if args.roster else None
    except RosterError as exc:
        print(exc, file=sys.stderr)
        return 2
    ids = {}
    for item in args.canvas_assignment:
        lab, sep, number = item.partition("=")
        if not sep or not number.strip():
            print(f"--canvas-assignment {item!r}: use LAB=ID", file=sys.stderr)
            return 2
        ids[lab.strip()] = number.strip()
    for path in export_lms(course, args.lms, args.lab or None, roster, args.out, ids).values():
        print(f"LMS import file -> {path}")
    waiting = sorted(
        {
            (r["student"], r["lab"])
            for r in student_rows(question_rows(course, args.lab or None))
            if r["needs_manual_grade"]
        }
    )
    if waiting:
        print(
            f"note: {len(waiting)} submissions still need manual grading (formgrader); their "
            "LMS score is the automatic part only: " + ", ".join(f"{s}/{lab}" for s, lab in waiting)
        )
    return 0


def run_all(args: argparse.Namespace) -> int:
    several = len(args.labs) > 1
    if args.source or args.exchange:
        sources = {
            lab: args.source / lab if several and args.source else args.source for lab in args.labs
        }
        missing = [lab for lab, path in sources.items() if several and path and not path.is_dir()]
        for lab in missing:  # all checked before anything is collected
            print(
                f"{lab}: no folder {sources[lab]} (with several labs, --from holds one folder "
                "per lab, named after it)",
                file=sys.stderr,
            )
        if missing:
            return 2
        for lab, source in sources.items():
            rc = run_collect(argparse.Namespace(**{**vars(args), "lab": lab, "source": source}))
            if rc:
                return rc
    rc = run_autograde(args)
    feedback_rc = 0
    for lab in args.labs:
        feedback_rc |= run_feedback(argparse.Namespace(lab=lab, student=args.student))
    export_rc = run_export(argparse.Namespace(lab=list(args.labs), out=None, lms=[]))
    return rc or feedback_rc or export_rc
