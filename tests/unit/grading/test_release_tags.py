"""The release tags the cells that fail on unfinished work ``raises-exception``, so JupyterLab's
*Run All* goes on past them: an untouched lab runs to its last cell (tests/browser proves it in
JupyterLab), and only those cells, so a real error elsewhere still stops it."""

from __future__ import annotations

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from servelab.grading.release import RAISES, cells_that_may_fail, tag_cells_that_may_fail


def graded(source: str, grade_id: str, *, solution: bool = False, grade: bool = False):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade_id": grade_id, "solution": solution, "grade": grade}
    return cell


def untouched_lab():
    code = nbformat.v4.new_code_cell
    return nbformat.v4.new_notebook(
        cells=[
            code("import math\nrate = 2.0"),  # 0: set-up, runs
            nbformat.v4.new_markdown_cell("## Exercise"),  # 1
            graded(  # 2: the stub nbgrader releases
                "def area(r: float) -> float:\n    scale = 1\n    raise NotImplementedError()",
                "ex_solution",
                solution=True,
            ),
            graded("assert area(1) == math.pi", "ex_tests", grade=True),  # 3
            code("table = [area(r) for r in (1, 2)]"),  # 4: uses the answer
            code("print(max(table))"),  # 5: uses what 4 made
            code("%matplotlib inline\nprint(rate * 2)"),  # 6: IPython syntax, independent
            code("scale = 3\nprint(scale)"),  # 7: a name only the stub's body binds
            code("print(math.e)"),  # 8: the last cell
        ]
    )


def test_answers_tests_and_the_cells_that_use_them_are_found():
    assert cells_that_may_fail(untouched_lab()) == [2, 3, 4, 5]


def test_a_cell_that_does_not_parse_counts_as_one_that_may_fail():
    nb = untouched_lab()
    nb.cells.append(nbformat.v4.new_code_cell("print(("))
    assert cells_that_may_fail(nb)[-1] == len(nb.cells) - 1


def run_all(nb) -> list[int]:
    """Execute as Run All does (stop at an error unless the cell is tagged); cells never run."""
    try:
        NotebookClient(nb, timeout=60, allow_errors=False).execute()
    except CellExecutionError:
        pass
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and not c.execution_count]


def test_tagged_an_untouched_lab_runs_to_its_last_cell_and_its_test_still_fails(tmp_path):
    path = tmp_path / "lab.ipynb"
    nbformat.write(untouched_lab(), path)
    assert run_all(nbformat.read(path, as_version=4)) == [4, 5, 6, 7, 8]  # stopped at the test

    assert tag_cells_that_may_fail(path) == [2, 3, 4, 5]
    assert tag_cells_that_may_fail(path) == [2, 3, 4, 5]  # again: no second tag
    nb = nbformat.read(path, as_version=4)
    assert [c.metadata.get("tags", []).count(RAISES) for c in nb.cells] == [
        0,
        0,
        1,
        1,
        1,
        1,
        0,
        0,
        0,
    ]
    assert run_all(nb) == []
    errors = {
        i: o.ename
        for i, c in enumerate(nb.cells)
        for o in c.get("outputs", [])
        if o.output_type == "error"
    }
    assert errors == {3: "NotImplementedError", 4: "NotImplementedError", 5: "NameError"}


def test_an_error_in_an_untagged_cell_still_stops_run_all(tmp_path):
    path = tmp_path / "lab.ipynb"
    nb = untouched_lab()
    nb.cells[6].source = "print(undefined_name)"
    nbformat.write(nb, path)
    tag_cells_that_may_fail(path)
    assert run_all(nbformat.read(path, as_version=4)) == [7, 8]
