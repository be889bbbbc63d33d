"""Fixtures of the browser tier: Chromium driven by Playwright, JupyterLab started as `make lab`.

The browser is the system's Chromium (Debian's ``chromium``, which scripts/setup.sh installs on
Debian and Ubuntu); Playwright never downloads one. Without it every test here skips, saying so.
SERVELAB_CHROMIUM points at another Chromium or Chrome binary.

On a failure the test's pages are kept under test-artefacts/browser/<test>/ (gitignored): a
full-page screenshot, the page's HTML, its console messages, and the JupyterLab server's log.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from jupyter_support import TEST_ARGS, Server, chromium_path, free_port, isolated_env, start
from lab_driver import LabPage

from servelab import launch
from servelab_base.paths import ROOT

ARTEFACTS = ROOT / "test-artefacts" / "browser"
#: Flags that let headless Chromium run in a container, offline, as root, with a fresh profile.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}  # a laptop's screen


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(scope="session")
def chromium() -> str:
    path = chromium_path()
    if not path:
        pytest.skip(
            "browser tests need Chromium: `apt-get install chromium` (scripts/setup.sh does it "
            "on Debian/Ubuntu when run as root), or set SERVELAB_CHROMIUM to a Chromium binary"
        )
    return path


# Module scope, not session: Playwright's sync API keeps an event loop running in the main
# thread for as long as it is open, and every later test that calls asyncio.run() would fail.
# Each browser module opens its own Chromium and JupyterLab, and closes them when it ends.
@pytest.fixture(scope="module")
def browser_context(chromium, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=VIEWPORT,
        )
        context.set_default_timeout(60_000)
        yield context
        context.close()


def _server_log(tmp_path_factory, name: str) -> Path:
    return tmp_path_factory.mktemp(f"{name}-server") / "jupyter.log"


@pytest.fixture(scope="module")
def learner_server(tmp_path_factory) -> Iterator[Server]:
    """A learner's JupyterLab exactly as `make lab` starts it, on a temporary working copy."""
    home = tmp_path_factory.mktemp("learner-home")
    env = isolated_env(home)
    env["SERVELAB_EXCHANGE_DIR"] = str(home / "exchange")
    port = free_port()
    lab, _ = launch.learner(port, work=home / "my-labs", extra=TEST_ARGS, env=env)
    server = start(lab, port, _server_log(tmp_path_factory, "learner"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def instructor_course(tmp_path_factory) -> Path:
    """A copy of the course (solutions/, labs/) for the instructor's server to work on."""
    root = tmp_path_factory.mktemp("course")
    for folder in ("solutions", "labs"):
        shutil.copytree(
            ROOT / folder, root / folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints")
        )
    (root / "grading").mkdir()
    return root


@pytest.fixture(scope="module")
def instructor_server(tmp_path_factory, instructor_course) -> Iterator[Server]:
    """An instructor's JupyterLab exactly as `make instructor` starts it, on a course copy."""
    home = tmp_path_factory.mktemp("instructor-home")
    port = free_port()
    lab = launch.instructor(port, instructor_course, extra=TEST_ARGS, env=isolated_env(home))
    server = start(lab, port, _server_log(tmp_path_factory, "instructor"))
    yield server
    server.stop()


def _keep_artefacts(request, page, console: list[str], server: Server | None) -> None:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:120]
    folder = ARTEFACTS / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    try:
        page.screenshot(path=str(folder / "page.png"), full_page=True)
        (folder / "page.html").write_text(page.content())
    except Exception as exc:  # a crashed page still leaves the rest
        (folder / "page-error.txt").write_text(repr(exc))
    (folder / "console.txt").write_text("\n".join(console))
    if server is not None and server.log.exists():
        shutil.copy(server.log, folder / "jupyter.log")


def _page(request, browser_context, server: Server) -> Iterator[LabPage]:
    page = browser_context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    lab_page = LabPage(page, server)
    lab_page.console = console
    yield lab_page
    failed = any(
        getattr(request.node, f"report_{when}", None) is not None
        and getattr(request.node, f"report_{when}").failed
        for when in ("setup", "call")
    )
    if failed:
        _keep_artefacts(request, page, console, server)
    page.close()


@pytest.fixture
def learner_page(request, browser_context, learner_server) -> Iterator[LabPage]:
    """A new tab on the learner's JupyterLab; kept as artefacts if the test fails."""
    yield from _page(request, browser_context, learner_server)
    learner_server_kernels_down(learner_server)


@pytest.fixture
def instructor_page(request, browser_context, instructor_server) -> Iterator[LabPage]:
    yield from _page(request, browser_context, instructor_server)


def learner_server_kernels_down(server: Server) -> None:
    """Shut down the kernels a test started (each lab's kernel holds ~200 MB)."""
    for kernel in server.get("/api/kernels").json():
        server.delete(f"/api/kernels/{kernel['id']}")


@pytest.fixture
def lab_times(request):
    """Record a lab's phases: ``lab_times(lab, {"run all": 12.3, ...})``. They travel with the
    test's report; tests/conftest.py prints them at the end of the run."""

    def record(lab: str, phases: dict[str, float]) -> None:
        request.node.user_properties.append(("lab_time", [lab, phases]))

    return record
