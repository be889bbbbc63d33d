"""The browser checks can fail: a scratch copy of a lab with planted faults must be caught, each
by the check meant for it (and only a real lab passing them all means something)."""

from __future__ import annotations

import nbformat
import pytest
from lab_notebooks import solved_copy

pytestmark = pytest.mark.slow

LAB = "00_inference_path"

#: Each planted cell, and the words of the problem the harness must report for it.
PLANTS = {
    "a widget whose view cannot render": (
        """\
import ipywidgets as widgets
from traitlets import Unicode


class Broken(widgets.DOMWidget):
    _view_name = Unicode("NoSuchView").tag(sync=True)
    _view_module = Unicode("no-such-module").tag(sync=True)
    _view_module_version = Unicode("1.0.0").tag(sync=True)


Broken()""",
        "widget not rendered",
    ),
    "a knob that changes nothing": (
        "widgets.interact(lambda n: None, n=widgets.IntSlider(value=1, min=0, max=5));",
        "changed no output",
    ),
    "a knob whose redraw loses the figure": (
        """\
import matplotlib.pyplot as plt


def draw(n=1):
    if n == 1:
        plt.plot([0, 1], [0, n])
        plt.show()
    else:
        print("n is", n)


widgets.interact(draw, n=widgets.IntSlider(value=1, min=1, max=5));""",
        "its figure is gone",
    ),
    "a knob whose callback raises": (
        "widgets.interact(lambda n: 1 / (n - 2), n=widgets.IntSlider(value=1, min=1, max=3));",
        "a traceback is shown",
    ),
    "a blank figure": (
        "fig, ax = plt.subplots(figsize=(2, 2))\nax.axis('off')\nplt.show()",
        "blank",
    ),
    "a figure that cannot be decoded": (
        "from IPython.display import Image, display\n\n"
        "display(Image(data=b'not a png at all', format='png'))",
        "not decoded",
    ),
    "a plot that raises": (
        "fig, ax = plt.subplots()\nax.plot([1, 2, 3])\nraise ValueError('planted: the plot fails')",
        "ValueError: planted: the plot fails",
    ),
    "a cell after the failure": ("print('Run All stops before this')", "never ran"),
}


#: Healthy widgets written the way the labs write them: the harness must not report these.
HEALTHY = [
    """\
out = widgets.Output()
button = widgets.Button(description="draw")


def on_click(_):
    with out:
        out.clear_output(wait=True)
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.plot([0, 1], [0, len(out.outputs) + 1])
        plt.show()
        print("drawn, then printed")


button.on_click(on_click)
display(button, out)""",
    """\
def line(slope=1.0):
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, slope])
    plt.show()


widgets.interact(line, slope=widgets.FloatSlider(value=1.0, min=0.5, max=2.0, step=0.5));""",
]


def scratch_copy(folder) -> tuple[str, set[int]]:
    """Lab 00's solved copy up to its first code cell, then the plants (healthy ones first);
    the path, and the indices of the healthy cells."""
    nb = solved_copy(LAB)
    first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    nb.cells = nb.cells[: first_code + 1]
    sources = [source for source, _ in PLANTS.values()]
    imports = "import matplotlib.pyplot as plt\nfrom IPython.display import display"
    sources.insert(1, imports)  # after the plant that imports ipywidgets
    healthy = set(range(len(nb.cells) + 2, len(nb.cells) + 2 + len(HEALTHY)))
    for offset, source in enumerate(HEALTHY):
        sources.insert(2 + offset, source)
    nb.cells += [nbformat.v4.new_code_cell(source) for source in sources]
    name = "planted_faults.ipynb"
    nbformat.write(nb, folder / name)
    return f"{LAB}/{name}", healthy


def test_every_planted_fault_is_caught_and_nothing_else(learner_server, learner_page):
    path, healthy = scratch_copy(learner_server.root / LAB)
    learner_page.open(path)
    learner_page.run_all(path, 180)
    problems = learner_page.problems(path) + learner_page.turn_knobs(path)
    report = "\n".join(problems)
    missed = [plant for plant, (_, words) in PLANTS.items() if words not in report]
    assert not missed, f"not caught: {missed}\nwhat the harness reported:\n{report}"
    reported = {
        int(p.split(":")[0].removeprefix("cell ")) for p in problems if p.startswith("cell ")
    }
    assert min(reported) > 1, f"the lab's own first cells were reported:\n{report}"
    assert not reported & healthy, f"healthy widgets were reported:\n{report}"
