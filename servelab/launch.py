"""How JupyterLab starts for a learner (``make lab``) and an instructor (``make instructor``).

Both read the course's JupyterLab settings from ``jupyter/`` in the checkout, through
JUPYTER_CONFIG_PATH, so nothing is written to a user's global Jupyter settings:

- ``jupyter/course/``: for everyone: no "Jupyter news?" pop-up, no update check, Markdown opens
  rendered, the file browser gives folder names its whole width.
- ``jupyter/learner/``: nbgrader's instructor UI (formgrader, Create Assignment, course list)
  switched off, in the page and in the server.

A learner's JupyterLab is rooted at their working copy (``servelab.workspace``) and opens on its
START page. An instructor's is rooted at the course root, where the formgrader's links to
solutions/ and labs/ resolve. On one machine nbgrader's exchange is a folder of the course
(``grading/exchange/``, gitignored), so the Assignments tab and the formgrader answer instead of
failing on a missing ``/srv`` folder; a course server sets SERVELAB_EXCHANGE_DIR (and wins).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from servelab import start_page, workspace
from servelab_base.paths import GRADING, ROOT

CONFIG = ROOT / "jupyter"
DEFAULT_PORT = 8890
#: The nbgrader course id (grading/nbgrader_config.py): its folder in the local exchange.
COURSE_ID = "servelab"


@dataclass
class Launch:
    """A JupyterLab command line, its environment, and the page to open first."""

    argv: list[str]
    env: dict[str, str]
    root: Path
    first_page: str  # path of the URL, e.g. /lab/tree/START.md

    def url(self, port: int) -> str:
        return f"http://127.0.0.1:{port}{self.first_page}"


def config_path(role: str) -> list[Path]:
    """JUPYTER_CONFIG_PATH for ``role`` ("learner" or "instructor"), highest priority first."""
    dirs = [CONFIG / "learner"] if role == "learner" else []
    return [*dirs, CONFIG / "course", GRADING]


def environment(
    role: str, base: dict[str, str] | None = None, grading: Path = GRADING
) -> dict[str, str]:
    """The server's environment: the course's config path, offline hub, this venv first, and
    nbgrader's exchange (SERVELAB_EXCHANGE_DIR, else ``grading``/exchange, created)."""
    env = dict(os.environ if base is None else base)
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(str(p) for p in config_path(role))
    env["HF_HUB_OFFLINE"] = "1"
    # terminals opened in JupyterLab find `servelab` without an activated venv
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    exchange = Path(env.setdefault("SERVELAB_EXCHANGE_DIR", str(grading / "exchange")))
    if not exchange.exists():  # a course server's exchange is made by `servelab course hub-setup`
        (exchange / COURSE_ID / "outbound").mkdir(parents=True)
    return env


def command(root: Path, port: int, first_page: str, extra: list[str] | None = None) -> list[str]:
    """``jupyter lab`` on ``root`` and ``port``, opening ``first_page`` (no browser is started)."""
    argv = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.default_url={first_page}",
    ]
    # JupyterLab refuses to run as root unless told: containers and CI machines often are root.
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")
    return argv + list(extra or [])


def learner(
    port: int = DEFAULT_PORT,
    work: Path | None = None,
    extra: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> tuple[Launch, workspace.SyncReport]:
    """Prepare the learner's working copy and START page; the JupyterLab that opens them."""
    work = work or Path(os.environ.get("SERVELAB_WORKSPACE", workspace.DEFAULT_WORKSPACE))
    report = workspace.sync(work)
    start_page.write(work, workspace.released_labs())
    environ = environment("learner", env)
    first = f"/lab/tree/{start_page.FILE}"
    return Launch(command(work, port, first, extra), environ, work, first), report


def instructor(
    port: int = DEFAULT_PORT,
    course_root: Path = ROOT,
    extra: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> Launch:
    """JupyterLab on the course root with the formgrader (its links resolve from there)."""
    grading = course_root / "grading"
    environ = environment("instructor", env, grading)
    if course_root != ROOT:  # grading/nbgrader_config.py reads these
        environ["SERVELAB_COURSE_ROOT"] = str(course_root)
        environ["SERVELAB_GRADING_DIR"] = str(grading)
    first = "/lab"
    return Launch(command(course_root, port, first, extra), environ, course_root, first)
