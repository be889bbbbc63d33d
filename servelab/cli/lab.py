"""`servelab lab`: open the course in JupyterLab, as a learner (default) or as the instructor.

Learner: copies the released labs into the working copy (``my-labs/``, never overwritten),
writes its START page and opens JupyterLab there. Instructor (``--instructor``): JupyterLab on
the course root with nbgrader's formgrader. ``make lab`` and ``make instructor`` run these.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from servelab import launch


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "lab",
        help="open the labs in JupyterLab (your own copy in my-labs/), or --instructor",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--instructor", action="store_true", help="the course root, with formgrader")
    p.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("SERVELAB_JUPYTER_PORT", launch.DEFAULT_PORT)),
        help="port (default SERVELAB_JUPYTER_PORT or 8890)",
    )
    p.add_argument(
        "--workspace",
        type=Path,
        default=None,
        help="the learner's working copy (default SERVELAB_WORKSPACE or my-labs/)",
    )
    p.add_argument(
        "--jupyter-args",
        default=os.environ.get("SERVELAB_JUPYTER_ARGS", ""),
        help="more arguments for `jupyter lab`, as one string (default SERVELAB_JUPYTER_ARGS)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from servelab.doctor import port_in_use

    if port_in_use("127.0.0.1", args.port):
        print(
            f"[lab] ERROR: port {args.port} is taken (another JupyterLab?). Stop it, or use "
            "--port / SERVELAB_JUPYTER_PORT=<free port>.",
            file=sys.stderr,
        )
        return 1
    extra = shlex.split(args.jupyter_args)
    if args.instructor:
        lab = launch.instructor(args.port, extra=extra)
        print(f"[lab] the course root in JupyterLab, with the formgrader: {lab.url(args.port)}")
        print(
            f"[lab] formgrader: http://127.0.0.1:{args.port}/formgrader (or Nbgrader > Formgrader)"
        )
    else:
        lab, report = launch.learner(args.port, work=args.workspace, extra=extra)
        for line in report.lines(lab.root):
            print(f"[lab] {line}")
        print(f"[lab] your labs are in {lab.root}; JupyterLab opens on START.md there")
        print(f"[lab] open {lab.url(args.port)}")
    sys.stdout.flush()
    os.execvpe(lab.argv[0], lab.argv, lab.env)
    return 0  # not reached: exec replaces this process
