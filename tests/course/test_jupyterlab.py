"""README's first command ends in JupyterLab on the learner's copy of the labs: it starts, serves
the START page and lab 00, runs a kernel, with the course's settings and no instructor UI.

No browser needed (tests/browser drives the same server in Chromium)."""

from __future__ import annotations

import json
import re

import pytest
from jupyter_support import TEST_ARGS, free_port, isolated_env, start

from servelab import launch


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory):
    home = tmp_path_factory.mktemp("jupyter-home")
    env = isolated_env(home)
    env["SERVELAB_EXCHANGE_DIR"] = str(home / "exchange")
    port = free_port()
    lab, _ = launch.learner(port, work=home / "my-labs", extra=TEST_ARGS, env=env)
    server = start(lab, port, home / "jupyter.log")
    yield server
    server.stop()


def test_lab_page_start_page_and_lab00_are_served(jupyter):
    assert jupyter.get("/lab").status_code == 200
    start_page = jupyter.get("/api/contents/START.md")
    assert start_page.status_code == 200
    lab00 = "00_inference_path"
    assert f"{lab00}/{lab00}.ipynb" in start_page.json()["content"]
    nb = jupyter.get(f"/api/contents/{lab00}/{lab00}.ipynb")
    assert nb.status_code == 200
    assert nb.json()["content"]["cells"], "lab 00 opened empty"


def test_the_server_opens_on_the_start_page(jupyter):
    r = jupyter.get("/", follow_redirects=False)
    assert r.status_code == 302 and "/lab/tree/START.md" in r.headers["location"]


def test_lab_extensions_are_installed(jupyter):
    page = jupyter.get("/lab").text
    assert "nbgrader" in page and "@jupyter-widgets/jupyterlab-manager" in page


def defaults(jupyter, plugin: str) -> dict:
    """A plugin's settings defaults as JupyterLab serves them (the course's overrides applied)."""
    schema = jupyter.get(f"/lab/api/settings/{plugin}").json()["schema"]
    return {name: spec.get("default") for name, spec in schema["properties"].items()}


def page_config(jupyter) -> dict:
    page = jupyter.get("/lab").text
    found = re.search(r'id="jupyter-config-data"[^>]*>(.*?)</script>', page, re.S)
    return json.loads(found.group(1))


def test_the_course_settings_apply(jupyter):
    """The news pop-up is off, folder names get the file browser's width, Markdown renders."""
    notification = defaults(jupyter, "@jupyterlab/apputils-extension:notification")
    assert notification["fetchNews"] == "false" and notification["checkForUpdates"] is False
    browser = defaults(jupyter, "@jupyterlab/filebrowser-extension:browser")
    assert browser["showLastModifiedColumn"] is False
    docs = defaults(jupyter, "@jupyterlab/docmanager-extension:plugin")
    assert docs["defaultViewers"]["markdown"] == "Markdown Preview"


def test_the_instructor_ui_is_off_for_learners(jupyter):
    assert jupyter.get("/formgrader").status_code == 404
    disabled = set(page_config(jupyter)["disabledExtensions"])
    for plugin in ("formgrader", "create-assignment", "course-list"):
        assert f"@jupyter/nbgrader:{plugin}" in disabled
    assert "@jupyter/nbgrader:assignment-list" not in disabled
    assert "@jupyter/nbgrader:validate-assignment" not in disabled


def test_a_kernel_starts(jupyter):
    r = jupyter.post("/api/kernels", {"name": "python3"})
    assert r.status_code == 201, r.text
    jupyter.delete(f"/api/kernels/{r.json()['id']}")
