"""Autograde throughput: N copies of each lab's solution, serial (1 job) vs parallel (2 jobs).

Every submission runs in the grading sandbox (servelab/grading/), exactly as `servelab grade
autograde` runs it. For each lab in solutions/ the script builds a throw-away course (its own
gradebook and grading folder under a temp dir, the real solutions), submits the instructor's
solution N times, autogrades them with 1 job and then with 2, and checks every copy got full
automatic marks (a wrong score would make the timing meaningless).

    sudo .venv/bin/python benchmarks/grading_throughput.py              # 100 copies per lab
    .venv/bin/python benchmarks/grading_throughput.py --copies 20 --labs 00_inference_path

Prints one line per lab and mode, then the parallel speed-up as a ratio of the two runs; add
``--json FILE`` to keep the numbers. Needs root (the sandbox switches uid and makes namespaces).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from servelab_base.paths import ROOT

REPO_CONFIG = ROOT / "grading"


def build_course(lab: str, root: Path):
    """A temp course with only ``lab``: its source copied, its release and gradebook generated."""
    from nbgrader.converters import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.utils import capture_log
    from traitlets.config import Config

    from servelab.grading.coursedir import Course

    shutil.copytree(ROOT / "solutions" / lab, root / "solutions" / lab)
    (root / "labs").mkdir()
    (root / "grading").mkdir(mode=0o700)
    os.environ.update(
        SERVELAB_COURSE_ROOT=str(root),
        SERVELAB_GRADING_DIR=str(root / "grading"),
        JUPYTER_CONFIG_PATH=str(REPO_CONFIG),
    )
    course = Course.load(REPO_CONFIG)
    config = Config(course.config)
    config.CourseDirectory.assignment_id = lab
    app = GenerateAssignment(coursedir=CourseDirectory(config=config), config=config)
    app.force = True
    result = capture_log(app)
    if not result["success"]:
        raise RuntimeError(f"generate_assignment {lab} failed:\n{result.get('log')}")
    return course


def submit_copies(course, lab: str, copies: int) -> list[str]:
    students = [f"learner{i:03d}" for i in range(copies)]
    source = course.source / lab
    for student in students:
        target = course.submitted / student / lab
        shutil.copytree(source, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        (target / "timestamp.txt").write_text("2026-11-20 12:00:00.000000 UTC")
    return students


def auto_max(course, lab: str) -> float:
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url, course.course_id) as gb:
        return sum(
            c.max_score
            for nb in gb.find_assignment(lab).notebooks
            for c in nb.grade_cells
            if c.cell_type == "code"
        )


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(lab: str, copies: int, jobs_list: list[int]) -> list[dict]:
    from servelab.grading.autograde import autograde

    rows = []
    with tempfile.TemporaryDirectory(prefix="servelab-bench-") as tmp:
        course = build_course(lab, Path(tmp))
        students = submit_copies(course, lab, copies)
        expected = auto_max(course, lab)
        for jobs in jobs_list:
            # CPU of everything the run started (workers, sandboxes, kernels: all reaped by
            # the time autograde returns), a cost that does not depend on what else runs
            cpu_before = _children_cpu()
            started = time.perf_counter()
            results = autograde(course, lab, students, jobs=jobs)
            wall = time.perf_counter() - started
            cpu = _children_cpu() - cpu_before
            bad = [r.student for r in results if not r.success or r.score < expected]
            row = {
                "lab": lab,
                "copies": copies,
                "jobs": jobs,
                "wall_s": round(wall, 2),
                "per_submission_s": round(wall / copies, 3),
                "worker_mean_s": round(sum(r.seconds for r in results) / len(results), 3),
                "submissions_per_min": round(60 * copies / wall, 1),
                "cpu_s_per_submission": round(cpu / copies, 3),
                "auto_points": expected,
                "wrong_scores": len(bad),
            }
            rows.append(row)
            print(
                f"{lab:<28} jobs={jobs}  {wall:7.1f} s  {row['per_submission_s']:.2f} s/sub "
                f"(one submission in a worker: {row['worker_mean_s']:.2f} s)  "
                f"{row['submissions_per_min']:.1f} sub/min  "
                f"CPU {row['cpu_s_per_submission']:.2f} s/sub  wrong scores: {len(bad)}",
                flush=True,
            )
            if bad:
                print(f"  not full marks: {bad[:5]} {results[0].error[-800:]}", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=100)
    parser.add_argument("--labs", nargs="*", help="default: every lab in solutions/")
    parser.add_argument("--jobs", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--json", type=Path, help="write the rows and the machine here")
    args = parser.parse_args(argv)
    labs = args.labs or sorted(
        p.name for p in (ROOT / "solutions").iterdir() if p.is_dir() and any(p.glob("*.ipynb"))
    )
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{platform.python_version()}; {args.copies} copies per lab; load average "
        f"{os.getloadavg()[0]:.1f}",
        flush=True,
    )
    rows = []
    for lab in labs:
        lab_rows = run(lab, args.copies, args.jobs)
        rows += lab_rows
        if len(lab_rows) >= 2:
            print(
                f"{lab:<28} speed-up jobs={lab_rows[-1]['jobs']} vs jobs={lab_rows[0]['jobs']}:"
                f" {lab_rows[0]['wall_s'] / lab_rows[-1]['wall_s']:.2f}x",
                flush=True,
            )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": {
                        "cores": os.cpu_count(),
                        "python": platform.python_version(),
                        "date": time.strftime("%Y-%m-%d"),
                    },
                    "rows": rows,
                },
                indent=2,
            )
        )
    return 0 if all(r["wrong_scores"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
