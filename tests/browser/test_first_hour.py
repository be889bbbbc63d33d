"""A learner's first minutes in JupyterLab, in Chromium: where it opens, what it shows, what it
hides, and that opening a lab leaves the checkout's tracked files alone."""

from __future__ import annotations

import hashlib
import re
import subprocess

import pytest

from servelab.workspace import released_labs
from servelab_base.paths import LABS, ROOT

pytestmark = pytest.mark.slow


def load(learner_page, path: str = "/") -> None:
    page = learner_page.page
    page.goto(learner_page.server.page(path))
    learner_page.wait("JupyterLab to load", lambda: page.evaluate("!!window.jupyterapp"), 60)
    page.evaluate("() => window.jupyterapp.restored")


def test_jupyterlab_opens_on_the_start_page_whose_links_open_the_labs(learner_page):
    load(learner_page)
    page = learner_page.page
    assert page.url.split("?")[0].endswith("/lab/tree/START.md")
    rendered = page.locator(".jp-RenderedMarkdown", has_text="servelab doctor")
    rendered.wait_for()  # START.md, rendered (not its source in an editor)
    links = rendered.locator("a[href*='/files/']")  # JupyterLab resolves relative links
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    expected = [f"{lab}/{lab}.ipynb" for lab in released_labs()]
    assert [h.split("/files/", 1)[1].split("?")[0] for h in hrefs] == expected
    for path in expected:  # every link names a notebook of the working copy
        assert learner_page.server.get(f"/api/contents/{path}").status_code == 200, path
    rendered.locator("a", has_text=re.compile("inference path", re.I)).click()
    lab00 = expected[0]  # lab 00's notebook, in the working copy
    learner_page.wait(
        "lab 00 to open from the start page", lambda: learner_page.probe("cells", lab00), 60
    )


def test_no_news_pop_up(learner_page):
    load(learner_page, "/lab")
    page = learner_page.page
    # JupyterLab asks about news once the app is restored and its settings and config answered
    page.wait_for_load_state("networkidle")
    toasts = page.locator(".Toastify__toast, .jp-toast-message")
    texts = [toasts.nth(i).inner_text() for i in range(toasts.count())]
    assert not [t for t in texts if "news" in t.lower()], texts
    status = page.locator(".jp-Notification-Status")  # the bell: how many notifications
    assert status.inner_text().strip() in ("", "0"), status.inner_text()


def test_every_lab_folder_name_is_whole_in_the_file_browser(learner_page):
    load(learner_page, "/lab")
    page = learner_page.page
    page.locator(".jp-DirListing-itemText", has_text="00_inference_path").wait_for()
    shown = page.evaluate(
        """() => [...document.querySelectorAll('.jp-DirListing-itemText')].map(e =>
              [e.textContent.trim(), e.scrollWidth <= e.clientWidth + 1])"""
    )
    names = {name: whole for name, whole in shown}
    for lab in released_labs():
        assert lab in names, f"{lab} missing from the file browser: {sorted(names)}"
        assert names[lab], f"{lab} is cut off in the file browser"


def test_learners_get_the_assignment_list_and_no_instructor_ui(learner_page):
    load(learner_page, "/lab")
    page = learner_page.page
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile("^Nbgrader$")).click()
    items = page.locator(".lm-Menu:visible .lm-Menu-item:visible .lm-Menu-itemLabel")
    labels = [t for t in items.all_inner_texts() if t.strip()]
    assert labels == ["Assignment List"], labels
    items.first.click()
    panel = page.locator(".jp-MainAreaWidget", has_text="Released assignments")
    panel.locator("text=There are no assignments to fetch.").wait_for()
    text = panel.inner_text()
    assert "error" not in text.lower() and "does not exist" not in text, text
    commands = page.evaluate("() => window.jupyterapp.commands.listCommands()")
    assert not [c for c in commands if "formgrader" in c or "create-assignment" in c]
    assert learner_page.server.get("/formgrader").status_code == 404


def digest(folder) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def git_status(folder) -> str:
    out = subprocess.run(
        ["git", "status", "--porcelain", "--", str(folder)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return out.stdout if out.returncode == 0 else f"(not a git checkout: {out.stderr.strip()})"


def test_opening_and_saving_a_lab_changes_no_tracked_file(learner_page):
    """The learner works in my-labs/: kernel metadata and autosave land there, not in labs/."""
    lab = "00_inference_path"
    path = f"{lab}/{lab}.ipynb"
    released = LABS / lab
    before, status_before = digest(released), git_status(released)
    copy = learner_page.server.root / path
    saved_before = copy.stat().st_mtime_ns
    learner_page.open(path)
    page = learner_page.page
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell").first.click()
    learner_page.menu("Run", "Run Selected Cell")
    learner_page.kernel_idle(path, 120)
    page.keyboard.press("Control+s")  # what autosave does, without waiting its 2 minutes
    learner_page.wait(
        "the notebook to be saved", lambda: copy.stat().st_mtime_ns > saved_before, 60
    )
    assert digest(released) == before, f"opening {lab} changed its files under labs/"
    assert git_status(released) == status_before
    assert learner_page.server.get("/api/contents/../labs").status_code in (403, 404)
