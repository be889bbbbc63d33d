"""The learner's working copy: copied once, never overwritten, told about newer releases."""

from __future__ import annotations

import json

import pytest

from servelab import workspace


@pytest.fixture
def release(tmp_path):
    labs = tmp_path / "labs"
    for lab in ("00_intro", "01_next"):
        (labs / lab).mkdir(parents=True)
        (labs / lab / f"{lab}.ipynb").write_text(json.dumps({"cells": [], "lab": lab}))
        (labs / lab / "checks.py").write_text("checks = None\n")
    (labs / "notes").mkdir()  # a folder without a notebook is not a lab
    return labs


def test_the_first_sync_copies_every_lab(tmp_path, release):
    work = tmp_path / "my-labs"
    report = workspace.sync(work, release)
    assert report.copied == ["00_intro", "01_next"] and not report.newer_release
    assert (work / "00_intro" / "00_intro.ipynb").read_text() == (
        release / "00_intro" / "00_intro.ipynb"
    ).read_text()
    assert not (work / "notes").exists()


def test_a_learners_work_is_never_overwritten(tmp_path, release):
    work = tmp_path / "my-labs"
    workspace.sync(work, release)
    mine = work / "00_intro" / "00_intro.ipynb"
    mine.write_text("my answers")
    (release / "00_intro" / "00_intro.ipynb").write_text("a new release")
    report = workspace.sync(work, release)
    assert mine.read_text() == "my answers"
    assert report.newer_release == ["00_intro"] and not report.copied
    assert "00_intro" in " ".join(report.lines(work)) and "rename" in " ".join(report.lines(work))


def test_work_on_an_unchanged_release_is_not_reported(tmp_path, release):
    work = tmp_path / "my-labs"
    workspace.sync(work, release)
    (work / "01_next" / "01_next.ipynb").write_text("my answers")
    report = workspace.sync(work, release)
    assert report == workspace.SyncReport()


def test_new_labs_and_new_files_are_added_without_touching_the_rest(tmp_path, release):
    work = tmp_path / "my-labs"
    workspace.sync(work, release)
    (work / "00_intro" / "checks.py").write_text("edited by the learner")
    (release / "02_more").mkdir()
    (release / "02_more" / "02_more.ipynb").write_text("{}")
    (release / "00_intro" / "data.csv").write_text("a,b\n")
    report = workspace.sync(work, release)
    assert report.copied == ["02_more"]
    assert report.added == ["00_intro/data.csv"]
    assert (work / "00_intro" / "checks.py").read_text() == "edited by the learner"
    assert report.newer_release == ["00_intro"]  # its release changed (a file was added)


def test_a_lab_started_before_the_record_existed_compares_by_content(tmp_path, release):
    work = tmp_path / "my-labs"
    workspace.sync(work, release)
    (work / workspace.RECORD).unlink()
    assert workspace.sync(work, release).newer_release == []
    (work / workspace.RECORD).unlink()
    (work / "01_next" / "01_next.ipynb").write_text("my answers")
    assert workspace.sync(work, release).newer_release == ["01_next"]
