"""The instructor's seat: `make instructor` opens JupyterLab on the course root, whose formgrader
lists every lab and whose links reach the notebooks (a server rooted at labs/ gave 404s)."""

from __future__ import annotations

import re

import pytest

from servelab.grading.release import lab_names

pytestmark = pytest.mark.slow


def test_the_formgrader_lists_the_labs_and_its_links_open_the_notebooks(
    instructor_page, instructor_course
):
    page, server = instructor_page.page, instructor_page.server
    failures: list[str] = []
    page.context.on(
        "response",
        lambda r: (
            failures.append(f"{r.status} {r.url}")
            if r.status >= 400
            and r.url.startswith(server.url)
            and r.request.resource_type == "document"
            else None
        ),
    )
    page.goto(server.page("/lab"))
    instructor_page.wait("JupyterLab to load", lambda: page.evaluate("!!window.jupyterapp"), 60)
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile("^Nbgrader$")).click()
    labels = page.locator(".lm-Menu:visible .lm-Menu-itemLabel").all_inner_texts()
    assert "Formgrader" in labels, labels
    page.keyboard.press("Escape")

    page.goto(f"{server.url}/formgrader/manage_assignments")
    labs = lab_names(instructor_course)
    first = page.locator("a", has_text=re.compile(f"^{labs[0]}$"))
    first.wait_for(timeout=120_000)
    body = page.inner_text("body")
    for lab in labs:
        assert lab in body, f"the formgrader does not list {lab}"
    assert "does not exist" not in body, body[:2000]  # the exchange is there

    with page.context.expect_page() as opened:  # the assignment's link opens a new tab
        first.click()
    folder = opened.value  # the lab's source folder, in Notebook's file browser
    notebook = folder.locator(".jp-DirListing-itemText", has_text=f"{labs[0]}.ipynb").first
    notebook.wait_for(timeout=60_000)
    with page.context.expect_page() as opened_nb:
        notebook.dblclick()
    nb = opened_nb.value
    nb.locator(".jp-Notebook", has_text=f"Lab {labs[0][:2]}").wait_for(timeout=60_000)
    assert not failures, failures
