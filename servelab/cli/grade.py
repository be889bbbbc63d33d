"""`servelab grade`: the instructor's workflow (docs/instructor.md).

servelab grade collect LAB --from EXPORT_DIR     (or --exchange)
servelab grade autograde LAB [--jobs N]          sandboxed, parallel
servelab grade feedback LAB                      HTML without hidden tests
servelab grade export                            CSV per student / per question + plot
servelab grade all LAB --from EXPORT_DIR         the four steps in order
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
    autograde.add_argument("lab")
    _autograde_args(autograde)
    autograde.set_defaults(func=run_autograde)

    feedback = sub.add_parser("feedback", help="HTML feedback per student (no hidden tests)")
    feedback.add_argument("lab")
    feedback.add_argument("--student", action="append", default=[], help="only these students")
    feedback.set_defaults(func=run_feedback)

    export = sub.add_parser("export", help="grades as CSV (per student, per question) + plot")
    export.add_argument("--lab", action="append", default=[], help="only these labs")
    export.add_argument("--out", type=Path, help="folder (default: grading/exports/)")
    export.set_defaults(func=run_export)

    everything = sub.add_parser("all", help="collect, autograde, feedback and export LAB")
    everything.add_argument("lab")
    _source_args(everything)
    _autograde_args(everything)
    everything.set_defaults(func=run_all)


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
    from servelab.grading.autograde import SandboxOptions, autograde

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

    def progress(r) -> None:
        status = f"{r.score:g}/{r.max_score:g}" if r.success else "FAILED"
        print(f"  {r.student:<24} {status:>10}  {r.seconds:5.1f} s", flush=True)
        if not r.success:
            print("    " + r.error.strip().splitlines()[-1] if r.error.strip() else "", flush=True)

    course = _course()
    print(f"autograding {args.lab} with {args.jobs} jobs (sandboxed)")
    results = autograde(course, args.lab, args.student or None, args.jobs, options, progress)
    failed = [r.student for r in results if not r.success]
    print(
        f"graded {len(results) - len(failed)} of {len(results)} submissions"
        + (f"; FAILED: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed or not results else 0


def run_feedback(args: argparse.Namespace) -> int:
    from servelab.grading.feedback import generate_feedback

    course = _course()
    results = generate_feedback(course, args.lab, args.student or None)
    ok = all(r["success"] for r in results.values())
    if not ok:
        for r in results.values():
            print(r.get("log", ""), r.get("error", ""), file=sys.stderr)
    print(f"feedback for {args.lab} in {course.feedback}" if ok else "feedback FAILED")
    return 0 if ok else 1


def run_export(args: argparse.Namespace) -> int:
    from servelab.grading.export import export

    done = export(_course(), args.lab or None, args.out)
    print(
        f"{done.student_rows} rows -> {done.students_csv}\n"
        f"{done.question_rows} rows -> {done.questions_csv}\nplot -> {done.plot}"
    )
    return 0


def run_all(args: argparse.Namespace) -> int:
    if args.source or args.exchange:
        rc = run_collect(args)
        if rc:
            return rc
    rc = run_autograde(args)
    feedback_rc = run_feedback(argparse.Namespace(lab=args.lab, student=args.student))
    export_rc = run_export(argparse.Namespace(lab=[args.lab], out=None))
    return rc or feedback_rc or export_rc
