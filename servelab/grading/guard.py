"""Inside a graded kernel: a cell that prints too much fails, at the print that crosses the line.

The sandbox starts every kernel with ``install(limit)`` (IPKernelApp.exec_lines, before any
learner code). From then on each cell may write ``limit`` characters to stdout/stderr; the write
that goes past it raises OutputLimitExceeded inside the learner's own code, so the cell errors and
scores zero like any failing answer.

This is the *cooperative* layer: code determined to cheat can undo it (it runs in the same
interpreter). What keeps the grader safe regardless is outside the kernel: the grader counts and
drops output, refuses ZeroMQ messages over 64 MiB and kills a kernel that keeps flooding
(servelab/grading/execute.py, sandbox.py). Without this layer a fast print loop fills ipykernel's
buffer faster than it is sent, the kernel runs out of memory in its output thread, the output is
lost and the cell still "passes".
"""

from __future__ import annotations

import sys
from typing import Any, TextIO


class OutputLimitExceeded(RuntimeError):
    """A cell printed more than the grading sandbox allows."""


class _Budget:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def reset(self, *_: Any) -> None:
        self.used = 0


class CappedStream:
    """A text stream that raises once the cell's budget of characters is spent."""

    def __init__(self, stream: TextIO, budget: _Budget) -> None:
        self._stream = stream
        self._budget = budget

    def write(self, text: str) -> int:
        self._budget.used += len(text)
        if self._budget.used > self._budget.limit:
            raise OutputLimitExceeded(
                f"this cell printed more than {self._budget.limit} characters, the limit of "
                "the grading sandbox"
            )
        return self._stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def install(limit: int) -> None:
    """Cap what each cell of this IPython kernel may print to ``limit`` characters."""
    budget = _Budget(limit)
    sys.stdout = CappedStream(sys.stdout, budget)
    sys.stderr = CappedStream(sys.stderr, budget)
    get_ipython = getattr(sys.modules.get("IPython"), "get_ipython", None)
    shell = get_ipython() if get_ipython else None
    if shell is not None:
        shell.events.register("pre_run_cell", budget.reset)
