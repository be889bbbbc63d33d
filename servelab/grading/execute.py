"""nbgrader's Execute step, with the kernel in the sandbox and the output it may produce capped.

Three things differ from nbgrader's own ``Execute``:

- the kernel is started by SandboxedKernelManager (servelab/grading/sandbox.py);
- output is counted as it arrives: beyond OUTPUT_KEPT_BYTES it is dropped (a note says so),
  beyond OUTPUT_INTERRUPT_BYTES the cell is interrupted, beyond OUTPUT_KILL_BYTES the kernel is
  killed; a notebook printing gigabytes fills neither the grader's memory nor the disk;
- when the kernel dies (memory limit, fork bomb, wall-clock limit, output flood), the cell that
  was running and every later cell get an error output saying why, so they score zero and the
  grading of the notebook still finishes (nbgrader alone would abort it and record nothing).
"""

from __future__ import annotations

import signal
from typing import Any

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute

from servelab.grading.sandbox import SandboxedKernelManager

SANDBOX_ERROR = "SandboxLimit"


def message_bytes(msg: dict[str, Any]) -> int:
    """Approximate size of one output message (its text and data), cheap to compute."""
    content = msg.get("content", {})
    size = len(content.get("text", "")) + len(content.get("evalue", ""))
    size += sum(len(line) for line in content.get("traceback", []))
    size += sum(len(str(value)) for value in content.get("data", {}).values())
    return size


def limit_error(reason: str) -> NotebookNode:
    """An error output (scores zero in nbgrader) that tells the learner which limit was hit."""
    return new_output(
        "error", ename=SANDBOX_ERROR, evalue=reason, traceback=[f"{SANDBOX_ERROR}: {reason}"]
    )


class SandboxedExecute(Execute):
    """Execute each notebook in a sandboxed kernel (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("kernel_manager_class", SandboxedKernelManager)
        super().__init__(*args, **kwargs)

    def preprocess(self, nb: NotebookNode, resources: Any = None, km: Any = None) -> Any:
        self._received = 0
        self._kept = 0
        self._interrupted = False
        self._dead_reason: str | None = None
        return super().preprocess(nb, resources, km)

    def preprocess_cell(self, cell: NotebookNode, resources: Any, index: int) -> Any:
        if cell.cell_type != "code":
            return super().preprocess_cell(cell, resources, index)
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
        return cell, self.resources

    def output(
        self, outs: list[NotebookNode], msg: dict[str, Any], display_id: str | None, cell_index: int
    ) -> NotebookNode | None:
        size = message_bytes(msg)
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
        if msg["msg_type"] == "error":  # errors are kept: they decide the grade
            return super().output(outs, msg, display_id, cell_index)
        if self._kept + size > limits.output_kept_bytes:
            if self._kept <= limits.output_kept_bytes:
                self._kept = limits.output_kept_bytes + 1
                outs.append(
                    new_output(
                        "stream",
                        name="stderr",
                        text=(
                            f"[servelab: output beyond {limits.output_kept_bytes} "
                            "bytes per notebook is not kept]\n"
                        ),
                    )
                )
            return None
        self._kept += size
        return super().output(outs, msg, display_id, cell_index)
