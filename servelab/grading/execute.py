"""nbgrader's Execute step, with the kernel in the sandbox, its output capped, and the checks
run from outside it.

What differs from nbgrader's own ``Execute``:

- the kernel is started by SandboxedKernelManager (servelab/grading/sandbox.py);
- **test cells are not executed in the learner's kernel.** The learner's cells run first, top to
  bottom; then, with the network bridge closed, each grade cell's checks (the instructor's
  ``instructor_checks.py``, loaded here in the grader) drive the learner's functions through
  servelab/grading/remote.py. The test cell's outputs are written by the grader: one line per
  check and the points earned (an ``execute_result`` nbgrader reads as partial credit). Hidden
  checks, expected values and comparisons never enter the kernel, its history or its output;
- every message a kernel sends is counted, display updates, comm (widget) messages and metadata
  included: beyond OUTPUT_KEPT_BYTES it is dropped (a note says so), beyond
  OUTPUT_INTERRUPT_BYTES the cell is interrupted, beyond OUTPUT_KILL_BYTES the kernel is killed.
  Widget state is never stored in the graded notebook;
- when the kernel dies (memory limit, fork bomb, wall-clock limit, output flood), the cell that
  was running and every later cell get an error output saying why, so they score zero and the
  grading of the notebook still finishes (nbgrader alone would abort it and record nothing).
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from nbgrader.utils import is_grade, is_solution
from traitlets import Unicode

from servelab.grading import checks as checks_api
from servelab.grading.remote import KernelLearner
from servelab.grading.sandbox import SandboxedKernelManager

SANDBOX_ERROR = "SandboxLimit"


def message_bytes(msg: dict[str, Any]) -> int:
    """Size of one message's content (text, data, metadata, comm state): what keeping it costs."""
    try:
        return len(json.dumps(msg.get("content", {}), default=str))
    except (TypeError, ValueError):
        return len(str(msg.get("content", "")))


def is_test_cell(cell: NotebookNode) -> bool:
    """An autograded test cell: a grade cell that is code and not an answer."""
    return cell.cell_type == "code" and is_grade(cell) and not is_solution(cell)


def limit_error(reason: str) -> NotebookNode:
    """An error output (scores zero in nbgrader) that tells the learner which limit was hit."""
    return new_output(
        "error", ename=SANDBOX_ERROR, evalue=reason, traceback=[f"{SANDBOX_ERROR}: {reason}"]
    )


class SandboxedExecute(Execute):
    """Execute each notebook in a sandboxed kernel (see the module docstring)."""

    checks_file = Unicode(
        "", help="The lab's instructor_checks.py; empty: test cells run in the kernel (nbgrader)"
    ).tag(config=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("kernel_manager_class", SandboxedKernelManager)
        super().__init__(*args, **kwargs)

    def preprocess(self, nb: NotebookNode, resources: Any = None, km: Any = None) -> Any:
        self._received = 0
        self._kept = 0
        self._interrupted = False
        self._dead_reason: str | None = None
        self._checks = checks_api.load(Path(self.checks_file)) if self.checks_file else None
        self._test_cells: list[NotebookNode] = []
        # nbconvert's ExecutePreprocessor.preprocess, with the grader's checks after the cells
        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        with self.setup_kernel():
            info = self.wait_for_reply(self.kc.kernel_info())
            self.nb.metadata["language_info"] = info["content"]["language_info"]
            for index, cell in enumerate(self.nb.cells):
                self.preprocess_cell(cell, resources, index)
            if self._checks is not None:
                self.run_grader_checks()
        return self.nb, self.resources

    def set_widgets_metadata(self) -> None:
        """Never: widget state is the learner's to fill, and the grader keeps none of it."""

    def process_message(self, msg: dict[str, Any], cell: NotebookNode, cell_index: int) -> Any:
        kind = msg["msg_type"]
        if kind == "update_display_data" or kind.startswith("comm"):
            size = message_bytes(msg)  # these never reach output(): count them here
            self._count(size)
            if kind.startswith("comm"):
                return None
            if self._kept + size > self.km.limits.output_kept_bytes:
                return None  # an update would grow a kept output past the cap
            self._kept += size
        return super().process_message(msg, cell, cell_index)

    def run_grader_checks(self) -> None:
        """Each test cell's checks, run here against the learner's kernel (see module doc).

        Every visible check of the notebook runs before the first hidden one. A visible
        check's message may quote what the learner's code returned; run first, that code has
        not yet seen any hidden input, so no message can carry one out. Hidden checks report
        their title and a verdict only.
        """
        bridge = getattr(self.km, "_bridge", None)
        if bridge is not None:
            bridge.close()  # the learner's code reaches no network while it is checked
        learner = KernelLearner(self.kc, self.km)
        cells = [
            (cell, self._checks.for_cell(cell.metadata.nbgrader.get("grade_id", "")))
            for cell in self._test_cells
        ]
        results: dict[int, checks_api.Result] = {}
        for hidden in (False, True):
            for _, found in cells:
                for check in found:
                    if check.hidden is hidden:
                        if self._dead_reason:
                            learner.gone = self._dead_reason
                        results[id(check)] = checks_api.run_check(check, learner)
        for cell, found in cells:
            points = float(cell.metadata.nbgrader.get("points", 0))
            mine = [results[id(c)] for c in found]
            earned = checks_api.score(mine, points)
            lines = [r.line() for r in mine] or ["[FAIL] no checks are defined for this cell"]
            lines.append(f"{earned:g} of {points:g} points")
            cell.outputs = [
                new_output("stream", name="stdout", text="\n".join(lines) + "\n"),
                new_output(
                    "execute_result", data={"text/plain": repr(earned)}, execution_count=None
                ),
            ]

    def preprocess_cell(self, cell: NotebookNode, resources: Any, index: int) -> Any:
        if cell.cell_type != "code":
            return super().preprocess_cell(cell, resources, index)
        if self._checks is not None and is_test_cell(cell):
            cell.outputs = []  # filled in by run_grader_checks; never executed in the kernel
            self._test_cells.append(cell)
            return cell, self.resources
        if self._dead_reason:
            cell.outputs = [limit_error(f"not run: {self._dead_reason}")]
            return cell, self.resources
        try:
            return super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self._dead_reason = (
                getattr(self.km, "sandbox_event", None)
                or "the kernel died: it hit a resource limit (memory, "
                "processes or CPU time) or was killed"
            )
            cell.outputs.append(limit_error(self._dead_reason))
        except CellTimeoutError:  # replied, but its output never finished (flood, broken kernel)
            cell.outputs.append(
                limit_error(
                    "the cell's output did not finish in time (output flood or broken kernel)"
                )
            )
        except Exception as exc:  # noqa: BLE001 - the kernel's messages are the learner's to forge
            # A kernel whose messages cannot be read (a patched serializer, forged headers) has
            # left the protocol: stop it, and grade the rest of the notebook as not run.
            self._dead_reason = (
                f"the kernel sent messages the grader cannot read ({type(exc).__name__}); "
                "it was stopped"
            )
            self.km.sandbox_event = self._dead_reason
            self.km.signal_sandbox(signal.SIGKILL)
            cell.outputs.append(limit_error(self._dead_reason))
        return cell, self.resources

    def output(
        self, outs: list[NotebookNode], msg: dict[str, Any], display_id: str | None, cell_index: int
    ) -> NotebookNode | None:
        size = message_bytes(msg)
        self._count(size)
        limits = self.km.limits
        if msg["msg_type"] == "error":  # errors are kept: they decide the grade
            return super().output(outs, msg, display_id, cell_index)
        if self._kept + size > limits.output_kept_bytes:
            if self._kept <= limits.output_kept_bytes:
                self._kept = limits.output_kept_bytes + 1
                outs.append(
                    new_output(
                        "stream",
                        name="stdout",
                        text=(
                            f"[servelab: output beyond {limits.output_kept_bytes} "
                            "bytes per notebook is not kept]\n"
                        ),
                    )
                )
            return None
        self._kept += size
        return super().output(outs, msg, display_id, cell_index)

    def _count(self, size: int) -> None:
        """Everything received counts toward the interrupt and kill limits."""
        self._received += size
        limits = self.km.limits
        if self._received > limits.output_kill_bytes and not self._dead_reason:
            self.km.sandbox_event = (
                f"the notebook printed more than {limits.output_kill_bytes} bytes of output"
            )
            self.km.signal_sandbox(signal.SIGKILL)
        elif self._received > limits.output_interrupt_bytes and not self._interrupted:
            self._interrupted = True
            self.km.signal_sandbox(signal.SIGINT)
