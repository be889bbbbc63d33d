"""How `make lab` and `make instructor` start JupyterLab: roots, settings, exchange, START page."""

from __future__ import annotations

import json
import os
from pathlib import Path

from servelab import launch, start_page, workspace
from servelab_base.paths import GRADING, ROOT


def test_the_learner_opens_their_copy_on_the_start_page(tmp_path):
    env = {"PATH": "/usr/bin", "SERVELAB_EXCHANGE_DIR": str(tmp_path / "exchange")}
    lab, report = launch.learner(8899, work=tmp_path / "my-labs", env=env)
    assert lab.root == tmp_path / "my-labs"
    assert f"--ServerApp.root_dir={tmp_path / 'my-labs'}" in lab.argv
    assert "--LabApp.default_url=/lab/tree/START.md" in lab.argv
    assert (tmp_path / "my-labs" / start_page.FILE).exists()
    assert report.copied == workspace.released_labs()
    assert lab.url(8899) == "http://127.0.0.1:8899/lab/tree/START.md"


def test_the_learner_config_hides_the_instructor_ui_and_the_instructor_gets_it(tmp_path):
    base = {"SERVELAB_EXCHANGE_DIR": str(tmp_path)}
    learner = launch.environment("learner", base)["JUPYTER_CONFIG_PATH"].split(os.pathsep)
    instructor = launch.environment("instructor", base)["JUPYTER_CONFIG_PATH"].split(os.pathsep)
    learner = [Path(p) for p in learner]
    assert learner[0] == launch.CONFIG / "learner" and learner[-1] == GRADING
    assert [Path(p) for p in instructor] == [launch.CONFIG / "course", GRADING]
    learner_config = launch.CONFIG / "learner"
    page = json.loads((learner_config / "labconfig" / "page_config.json").read_text())
    assert page["disabledExtensions"]["@jupyter/nbgrader:formgrader"] is True
    server = json.loads((learner_config / "jupyter_server_config.json").read_text())
    assert (
        server["ServerApp"]["jpserver_extensions"]["nbgrader.server_extensions.formgrader"] is False
    )


def test_the_local_exchange_is_made_under_the_course_unless_one_is_set(tmp_path):
    env = launch.environment("instructor", {}, grading=tmp_path / "grading")
    assert env["SERVELAB_EXCHANGE_DIR"] == str(tmp_path / "grading" / "exchange")
    assert (tmp_path / "grading" / "exchange" / launch.COURSE_ID / "outbound").is_dir()
    server = launch.environment("learner", {"SERVELAB_EXCHANGE_DIR": "/srv/the-class"})
    assert server["SERVELAB_EXCHANGE_DIR"] == "/srv/the-class"  # a course server's own wins


def test_the_instructor_opens_the_course_root(tmp_path):
    lab = launch.instructor(8899, tmp_path, env={})
    assert f"--ServerApp.root_dir={tmp_path}" in lab.argv
    assert lab.env["SERVELAB_COURSE_ROOT"] == str(tmp_path)
    assert lab.env["SERVELAB_GRADING_DIR"] == str(tmp_path / "grading")
    default = launch.instructor(8899, env={"SERVELAB_EXCHANGE_DIR": str(tmp_path / "x")})
    assert default.root == ROOT and "SERVELAB_COURSE_ROOT" not in default.env
