"""Grading from outside the kernel, in process: plain data, rebuild from the release, checks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from servelab.grading import checks as api
from servelab.grading import collect, wire
from servelab.grading.rebuild import rebuild


class Float(float):
    pass


class AlwaysEqual:
    def __eq__(self, other):
        return True


@pytest.mark.parametrize("value", [1, 2.5, "x", None, True, [1, [2]], {"a": (1, 2)}])
def test_plain_data_crosses(value):
    assert wire.from_plain(wire.loads(wire.dumps(wire.to_plain(value)))) == (
        json.loads(json.dumps(value))
    )


@pytest.mark.parametrize(
    "value", [Float(1.0), AlwaysEqual(), (x for x in []), {1: "a"}, [Float(2)]]
)
def test_anything_else_is_refused(value):
    with pytest.raises(wire.NotPlainData):
        wire.to_plain(value)


def test_a_dataframe_crosses_as_records():
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", None]})
    back = wire.from_plain(wire.loads(wire.dumps(wire.to_plain(frame))))
    assert list(back.columns) == ["a", "b"] and back.a.tolist() == [1, 2]
    assert back.b.tolist()[0] == "x" and back.b.isna().tolist() == [False, True]


def test_a_dataframe_keeps_an_index_that_is_not_the_default():
    table = pd.DataFrame({"concurrency": [4, 1], "n": [2, 3]}).set_index("concurrency")
    back = wire.from_plain(wire.loads(wire.dumps(wire.to_plain(table))))
    assert back.index.name == "concurrency" and list(back.index) == [4, 1]
    assert back.loc[1, "n"] == 3
    plain = wire.to_plain(pd.DataFrame({"a": [1, 2]}))
    assert set(plain[wire.DATAFRAME]) == {"columns", "records"}  # 0..n-1 is not sent


def checks_for_add() -> api.Checks:
    checks = api.Checks()

    @checks.visible("t")
    def small(learner):
        "small numbers"
        assert learner.add(1, 2) == 3

    @checks.hidden("t", weight=3)
    def negatives(learner):
        "negatives"
        assert learner.add(-1, 1) == 0, "SECRET"

    return checks


def results(namespace: dict) -> list[api.Result]:
    learner = api.LocalLearner(namespace)
    return [api.run_check(c, learner) for c in checks_for_add().for_cell("t")]


def test_partial_credit_is_the_weighted_share_of_passing_checks():
    half_right = results({"add": lambda a, b: a + b if a > 0 else 99})
    assert [r.passed for r in half_right] == [True, False]
    assert api.score(half_right, 2.0) == 0.5
    assert api.score(results({"add": lambda a, b: a + b}), 2.0) == 2.0


def test_hidden_failures_show_their_title_only_and_odd_answers_say_why():
    lines = [r.line() for r in results({"add": lambda a, b: AlwaysEqual()})]
    assert all("not plain data" in line for line in lines)
    hidden = results({"add": lambda a, b: 5})[1]
    assert not hidden.passed and "SECRET" not in hidden.line()
    missing = results({})[0]
    assert "`add` is not defined" in missing.message


def test_raises_needs_builtins_own_exception():
    class ValueError(Exception):  # noqa: A001 - a learner's look-alike
        pass

    def bad(x):
        raise ValueError("fake")

    learner = api.LocalLearner({"f": bad})
    with pytest.raises(AssertionError):
        with api.raises("ValueError"):
            learner.f(1)


def test_release_strips_hidden_blocks_and_refuses_unpaired_markers():
    source = "a\n# BEGIN HIDDEN CHECKS\nsecret\n# END HIDDEN CHECKS\nb\n"
    assert api.strip_hidden(source) == "a\nb\n"
    with pytest.raises(ValueError):
        api.strip_hidden("# BEGIN HIDDEN CHECKS\nsecret\n")


def meta(grade_id: str, **flags) -> dict:
    return {"nbgrader": {"grade_id": grade_id, "locked": not flags.get("solution"), **flags}}


def release_notebook() -> nbformat.NotebookNode:
    return new_notebook(
        cells=[
            new_markdown_cell("intro", metadata=meta("intro")),
            new_code_cell("HELPER = 1", metadata=meta("helper")),
            new_code_cell(
                "def add(a, b):\n    raise NotImplementedError", metadata=meta("ans", solution=True)
            ),
            new_code_cell('run_checks("t")', metadata=meta("t", grade=True, points=2)),
        ]
    )


def test_rebuild_takes_only_answers_and_reports_the_rest(tmp_path):
    nb = release_notebook()
    nb.cells[2].source = "def add(a, b):\n    return a + b"
    del nb.cells[1]  # the locked helper cell, deleted
    nb.cells[-1].source = "pass"  # the test cell, emptied
    nb.cells[-1].metadata["nbgrader"]["points"] = 100
    nb.cells.append(new_code_cell("x = 1", metadata=meta("new", grade=True, points=50)))
    path = tmp_path / "lab.ipynb"
    nbformat.write(nb, path)
    out = rebuild(release_notebook(), path)
    sources = [c.source for c in out.notebook.cells]
    assert sources == [
        "intro",
        "HELPER = 1",
        "def add(a, b):\n    return a + b",
        'run_checks("t")',
        "x = 1",
    ]
    assert out.notebook.cells[3].metadata["nbgrader"]["points"] == 2
    assert "nbgrader" not in out.notebook.cells[4].metadata
    report = " ".join(out.tampering)
    assert "deleted" in report and "edited" in report and "claims grade" in report


def test_a_notebook_that_is_not_json_is_graded_as_untouched(tmp_path):
    path = tmp_path / "lab.ipynb"
    path.write_text("{not json")
    out = rebuild(release_notebook(), path)
    assert out.answers_found == 0 and out.tampering
    assert [c.source for c in out.notebook.cells] == [c.source for c in release_notebook().cells]


def test_collection_never_takes_the_learners_timestamp(tmp_path):
    class Course:
        submitted = tmp_path / "submitted"
        release = tmp_path / "release"

    (Course.release / "lab").mkdir(parents=True)
    (Course.release / "lab" / "lab.ipynb").write_text("{}")
    export = tmp_path / "export" / "alice"
    export.mkdir(parents=True)
    (export / "lab.ipynb").write_text("{}")
    os.utime(export / "lab.ipynb", (1_700_000_000, 1_700_000_000))
    (export / "timestamp.txt").write_text("2000-01-01 00:00:00 UTC")
    collect.collect_folder(Course, "lab", tmp_path / "export")
    written = (Course.submitted / "alice" / "lab" / "timestamp.txt").read_text()
    assert written.startswith("2023-11-14 22:13:20")
    assert Path(export / "timestamp.txt").read_text().startswith("2000")


def test_a_series_crosses_with_its_index():
    row = pd.Series({"output_tokens": 500, "elapsed_s": 2.0}, name=64)
    back = wire.from_plain(wire.loads(wire.dumps(wire.to_plain(row))))
    assert type(back) is pd.Series and back.name == 64
    assert back["output_tokens"] == 500 and list(back.index) == ["output_tokens", "elapsed_s"]


def test_course_value_objects_cross_and_others_do_not():
    from servelab_base.catalog import Price

    price = Price("per_million_tokens", 1.0, 2.0, None, "list", "s")
    back = wire.from_plain(wire.loads(wire.dumps(wire.to_plain(price))))
    assert back == price and type(back) is Price
    forged = {wire.VALUE: {"type": "subprocess.Popen", "fields": {"args": "true"}}}
    with pytest.raises(wire.NotPlainData):
        wire.from_plain(forged)
    wrong_fields = {wire.VALUE: {"type": "servelab_base.catalog.Price", "fields": {"x": 1}}}
    with pytest.raises(wire.NotPlainData):
        wire.from_plain(wrong_fields)


def test_a_grader_side_function_is_called_in_the_grader():
    calls = []

    class Send:
        __remote_methods__ = ("__call__",)

        def __call__(self, n):
            calls.append(n)
            return n * 2

    learner = api.LocalLearner({"twice_through": lambda send: [send(1), send(2)]})
    assert learner.twice_through(Send()) == [2, 4]
    assert calls == [1, 2]
