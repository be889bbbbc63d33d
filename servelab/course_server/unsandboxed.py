"""nbgrader's own autograde, refused: it would run learners' code unsandboxed.

On a course server the instructor's formgrader has an "Autograde" button, and ``nbgrader
autograde`` exists on the command line; both run nbgrader's autograde, which executes each
submission as the instructor, with the gradebook and every other submission in reach.
grading/nbgrader_config.py gives nbgrader's Autograde this exporter, which refuses to be made
unless the autograde's steps execute in the sandbox (``SandboxedExecute``, as
`servelab grade autograde` sets them: servelab/grading/autograde.py). It refuses when the
converter starts, before nbgrader removes the earlier graded notebook, so a click on the button
changes nothing.
"""

from __future__ import annotations

from typing import Any

from nbconvert.exporters import NotebookExporter

MESSAGE = (
    "nbgrader's own autograde runs learners' code unsandboxed, as you: it is switched off for "
    "this course. Autograde with `sudo servelab grade autograde <lab>` (sandboxed), then reload "
    "the formgrader (docs/course-server.md)."
)
SANDBOXED_STEP = "SandboxedExecute"


def sandboxed(steps: list[Any]) -> bool:
    """Do these autograde steps execute notebooks in servelab's sandbox?"""
    names = [step if isinstance(step, str) else getattr(step, "__name__", "") for step in steps]
    return any(name.rsplit(".", 1)[-1] == SANDBOXED_STEP for name in names)


class SandboxOnlyExporter(NotebookExporter):
    """nbgrader's notebook exporter, made only for an autograde whose steps are sandboxed."""

    def __init__(self, *args: Any, parent: Any = None, **kwargs: Any) -> None:
        steps = getattr(parent, "autograde_preprocessors", None)
        if steps is not None and not sandboxed(list(steps)):
            raise RuntimeError(MESSAGE)
        super().__init__(*args, parent=parent, **kwargs)
