"""Every lab, as a learner meets it: in JupyterLab, in Chromium, against the embedded stack.

For each folder of labs/: the learner's working copy is opened in a real JupyterLab (started as
`make lab` starts it, with SERVELAB_LIVE_SIZE=small), the solved copy (the release with the
solution's answers) is run with *Run > Run All Cells*; then no cell may show an error or be left
unrun, every figure must be drawn, every widget view rendered, and every knob turned once must
change its cell's output and keep its figure. nbgrader's Validate button must then pass the
solved copy and fail the untouched release.

An untouched lab, run with *Run All*, must reach its last cell: the release tags the cells that
fail on unfinished work ``raises-exception`` (servelab/grading/release.py), and JupyterLab runs
on past their errors. One lab shows it in the browser (the rule is the same for every lab, and
tests/course checks labs/ is exactly a fresh release).

This is each notebook's one execution in the suite (with Validate's own two): it replaces
executing and validating the solutions outside a browser. Each lab's time is printed at the end.
"""

from __future__ import annotations

import shutil
import time

import pytest
from lab_driver import elapsed
from lab_notebooks import write_solved

from servelab.grading.release import RAISES
from servelab.workspace import released_labs

LABS = released_labs()
RUN_ALL_TIMEOUT_S = 300  # a lab should run in under 2 min on a quiet 2-core machine
VALIDATE_TIMEOUT_S = 300  # Validate executes the notebook again, live sections skipped
#: The lab whose untouched release is run in the browser: answers used by later cells (a plot
#: and a table fail with them), and live work of a few seconds.
UNTOUCHED_LAB = "08_residency"


@pytest.mark.stack
@pytest.mark.slow
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("lab", LABS)
def test_lab_runs_in_the_browser_and_validates(lab, stack, learner_server, learner_page, lab_times):
    solved = write_solved(lab, learner_server.root / lab)
    solved_path, untouched_path = f"{lab}/{solved.name}", f"{lab}/{lab}.ipynb"
    phases: dict[str, float] = {}
    t = time.monotonic()
    learner_page.open(solved_path)
    phases["open"] = elapsed(t)

    t = time.monotonic()
    learner_page.run_all(solved_path, RUN_ALL_TIMEOUT_S)
    phases["run all"] = elapsed(t)
    problems = learner_page.problems(solved_path)

    t = time.monotonic()
    problems += learner_page.turn_knobs(solved_path)
    phases["knobs"] = elapsed(t)

    t = time.monotonic()
    solved_result = learner_page.validate(VALIDATE_TIMEOUT_S)
    phases["validate solved"] = elapsed(t)

    t = time.monotonic()
    untouched_result = learner_page.validate_by_api(untouched_path)  # the button's own request
    phases["validate untouched"] = elapsed(t)
    lab_times(lab, phases)

    assert not problems, f"{lab} in the browser:\n" + "\n".join(problems)
    assert solved_result.passed, f"Validate fails the solved {lab}:\n{solved_result.text[:3000]}"
    assert not untouched_result.passed, (
        f"the untouched {lab} passes Validate: its tests prove nothing"
    )
    assert untouched_result.failed, untouched_result.text


@pytest.mark.stack
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_an_untouched_lab_runs_to_its_last_cell_and_fails_validate(
    stack, learner_server, learner_page, lab_times
):
    lab = UNTOUCHED_LAB
    name = f"{lab}_untouched.ipynb"  # the release as it is, beside the learner's own copy
    shutil.copy(learner_server.root / lab / f"{lab}.ipynb", learner_server.root / lab / name)
    path = f"{lab}/{name}"
    phases: dict[str, float] = {}
    t = time.monotonic()
    learner_page.open(path)
    learner_page.run_all(path, RUN_ALL_TIMEOUT_S)
    phases["run all"] = elapsed(t)
    cells = [c for c in learner_page.probe("cells", path) if c["type"] == "code"]
    summary = "\n".join(
        f"cell {c['index']}: count {c['count']}, tags {c['tags']}, "
        f"errors {[o['ename'] for o in c['outputs'] if o['type'] == 'error']}"
        for c in cells
    )
    never_ran = [c["index"] for c in cells if not c["empty"] and c["count"] is None]
    assert not never_ran, f"Run All stopped before cells {never_ran} of {lab}:\n{summary}"
    failed = [c for c in cells if any(o["type"] == "error" for o in c["outputs"])]
    assert failed, f"nothing failed in the untouched {lab}: its checks prove nothing"
    untagged = [c["index"] for c in failed if RAISES not in c["tags"]]
    assert not untagged, f"cells {untagged} failed without the {RAISES} tag"

    t = time.monotonic()
    result = learner_page.validate(VALIDATE_TIMEOUT_S)
    phases["validate"] = elapsed(t)
    lab_times(f"{lab} (untouched)", phases)
    assert not result.passed and result.failed, result.text[:3000]
