"""What the browser tier (tests/browser) costs: wall time, and the CPU-seconds behind it.

Wall time on a shared machine says little (other work competes for the 2 cores), so the run is
also measured in CPU-seconds: the test process and everything it starts (JupyterLab, kernels,
Validate's kernels, Chromium) in a cgroup of its own (cgroup v1 ``cpuacct``, when the machine
has it and this runs as root), plus the CPU the embedded stack's processes spent meanwhile (an
upper bound: anyone else using the stack counts too). CPU-seconds / 2 is the least wall time a
quiet 2-core machine could need.

    .venv/bin/python benchmarks/browser_tier.py                 # the whole tier
    .venv/bin/python benchmarks/browser_tier.py -- -k 07_failover

Prints the tier's own per-lab table (pytest's summary), then one line of totals.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil

from servelab_base.paths import ROOT

CPUACCT = Path("/sys/fs/cgroup/cpuacct")


def stack_cpu_s() -> float:
    """CPU-seconds used so far by the embedded stack's processes (and their children)."""
    from reference_stack.stack import supervisor

    total = 0.0
    for record in supervisor.records():
        if not record.alive():
            continue
        root = psutil.Process(record.pid)
        for proc in [root, *root.children(recursive=True)]:
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                pass
    return total


def run_in_cgroup(argv: list[str]) -> tuple[int, float | None]:
    """Run ``argv`` (and its children) in a fresh cpuacct cgroup; exit code and CPU-seconds."""
    group = CPUACCT / f"servelab-browser-tier-{os.getpid()}"
    try:
        group.mkdir()
    except OSError:
        return subprocess.call(argv, cwd=ROOT), None
    try:

        def join() -> None:
            (group / "tasks").write_text(str(os.getpid()))

        code = subprocess.call(argv, cwd=ROOT, preexec_fn=join)
        used = int((group / "cpuacct.usage").read_text()) / 1e9
    finally:
        for pid in (group / "tasks").read_text().split():  # leftovers go back to the root
            (CPUACCT / "tasks").write_text(pid)
        group.rmdir()
    return code, used


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments (after --)")
    args = parser.parse_args()
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/browser"]
    env_note = f"load average before: {os.getloadavg()[0]:.1f}"
    stack_before = stack_cpu_s()
    started = time.monotonic()
    code, tier_cpu = run_in_cgroup(argv + args.pytest_args)
    wall = time.monotonic() - started
    stack = stack_cpu_s() - stack_before
    cpu = "n/a (no cpuacct cgroup)" if tier_cpu is None else f"{tier_cpu:.0f} CPU-s"
    floor = "" if tier_cpu is None else f"; quiet 2-core floor >= {(tier_cpu + stack) / 2:.0f} s"
    print(
        f"[browser tier] wall {wall:.0f} s; tests and their processes {cpu}; "
        f"stack {stack:.0f} CPU-s (upper bound){floor}; {env_note}; "
        f"after: {os.getloadavg()[0]:.1f}; exit {code}"
    )
    return code


if __name__ == "__main__":
    sys.exit(main())
