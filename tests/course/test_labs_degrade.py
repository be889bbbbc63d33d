"""Every lab, run top to bottom on a laptop whose stack is down or whose machine is slow: it
must finish, every cell run, no exception shown, and each live section must say in one line
what happened and show the recorded result instead.

The solved copy (tests/lab_notebooks.py) runs in a plain kernel (nbclient, as JupyterLab's
*Run All* would, without a browser: tests/browser runs each lab there with the stack up):

- **stack down**: every service of the stack at a port where nothing listens;
- **machine slow**: the stack up, but ``SERVELAB_LIVE_PATIENCE`` so small that every live
  section runs out of time at once, as it would on a laptop far slower than the budget assumes.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
from pathlib import Path

import pytest
from lab_notebooks import solved_copy
from nbclient import NotebookClient

from servelab.live import GRADING_ENV, PATIENCE_ENV, SIZE_ENV
from servelab.workspace import released_labs
from servelab_base.paths import LABS as RELEASE

#: every lab twice more: `make test-all` (and CI) run these, `make test` does not
pytestmark = pytest.mark.system
LABS = released_labs()
CELL_TIMEOUT_S = 120
#: How a live section says it gave up: servelab.live's one line ("TITLE: WHY; here is the
#: recorded result instead."), or lab 03's job ("WHY" then "Showing the recorded answers ...").
GAVE_UP = re.compile(r"recorded result instead|recorded answers instead|nothing to show")
#: Reasons that fit each condition.
DOWN_REASONS = ("not running", "not answering", "could not run", "failed")
SLOW_REASONS = ("took more than", "did not finish within")
SERVICE_PORTS = ("GATEWAY", "VLLM", "LLAMACPP", "MANAGED", "CLOUD")
#: the cloud stand-in serves one region per port from its base port
CLOUD_REGIONS = 4


def _closed_ports(count: int) -> list[int]:
    """``count`` consecutive loopback ports where nothing listens (from a free one upward)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        ports = list(range(base, base + count))
        if ports[-1] < 65536 and all(_free(p) for p in ports):
            return ports
    raise RuntimeError("no free range of loopback ports")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def down_env() -> dict[str, str]:
    ports = _closed_ports(len(SERVICE_PORTS) - 1 + CLOUD_REGIONS)
    env = {
        f"SERVELAB_{name}_PORT": str(port) for name, port in zip(SERVICE_PORTS, ports, strict=False)
    }
    return env


def run_lab(lab: str, folder: Path, extra_env: dict[str, str]):
    """Execute the solved ``lab`` in ``folder`` (a copy of its release folder), all cells, on
    past errors; the executed notebook."""
    shutil.copytree(RELEASE / lab, folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return execute(solved_copy(lab), folder, extra_env)


def execute(nb, folder: Path, extra_env: dict[str, str]):
    """Run every cell of ``nb`` in a kernel working in ``folder``, on past errors (Run All)."""
    env = {k: v for k, v in os.environ.items() if k != GRADING_ENV}
    env.update({SIZE_ENV: "small", **extra_env})
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(folder)}},
    )
    client.execute(env=env, cwd=str(folder))
    return nb


def problems(nb) -> list[str]:
    """Cells that did not run, or that show an error or a traceback."""
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        if cell.get("execution_count") is None:
            found.append(f"cell {i}: never ran")
        for out in cell.get("outputs", []):
            text = out.get("text", "") if out.output_type == "stream" else ""
            if out.output_type == "error":
                found.append(f"cell {i}: {out.ename}: {out.evalue[:200]}")
            elif "Traceback (most recent call last)" in text:
                found.append(f"cell {i}: a traceback on {out.name}: {text[-300:]}")
    return found


def gave_up(nb) -> list[str]:
    """Each time a live section gave up: its message (with the line before, lab 03's reason)."""
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.output_type != "stream":
                continue
            lines = out.get("text", "").splitlines()
            for i, line in enumerate(lines):
                if GAVE_UP.search(line):
                    found.append(" ".join(lines[max(0, i - 1) : i + 1]))
    return found


@pytest.mark.stack
@pytest.mark.slow
@pytest.mark.parametrize("lab", LABS)
def test_the_lab_finishes_with_a_message_when_the_stack_is_down_or_the_machine_slow(
    lab, stack, tmp_path
):
    down = run_lab(lab, tmp_path / "down", down_env())
    slow = run_lab(lab, tmp_path / "slow", {PATIENCE_ENV: "0.0001"})
    assert not problems(down), f"{lab} with the stack down:\n" + "\n".join(problems(down))
    assert not problems(slow), f"{lab} on a slow machine:\n" + "\n".join(problems(slow))
    said_down, said_slow = gave_up(down), gave_up(slow)
    # every lab has live work, and on a slow machine every live section gives up; with the stack
    # down only those that need it do (a lab's own private server still answers)
    assert said_slow, f"{lab}: no live section said it gave up on a slow machine"
    assert len(said_down) <= len(said_slow), (said_down, said_slow)
    unclear = [m for m in said_down if not any(r in m for r in DOWN_REASONS)]
    assert not unclear, f"{lab} with the stack down, messages that do not say why: {unclear}"
    unclear = [m for m in said_slow if not any(r in m for r in SLOW_REASONS)]
    assert not unclear, f"{lab} on a slow machine, messages that do not say why: {unclear}"


def test_a_call_outside_a_live_section_or_a_silent_one_is_caught(tmp_path):
    """The checks above fail on a lab that calls the stack unguarded, and read a live
    section's message with its reason."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "from servelab import live\n"
            "live.run('probe', lambda p: 1, seconds=5, needs=['gateway'], recorded=0)"
        ),
        nbformat.v4.new_code_cell(
            "import httpx\nfrom servelab_base.config import get_settings\n"
            "httpx.get(get_settings().gateway_url + '/health')"
        ),
    ]
    done = execute(nb, tmp_path, down_env())
    found = problems(done)
    assert len(found) == 1 and found[0].startswith("cell 1: ConnectError"), found
    said = gave_up(done)
    assert len(said) == 1 and "gateway not running" in said[0], said
