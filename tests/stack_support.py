"""Helpers of the stack tests: the `servelab` CLI of this checkout, run in a subprocess."""

from __future__ import annotations

import subprocess
import sys

#: `servelab up` waits for each service itself (vLLM's budget is 240 s); this only guards
#: against a hung `up`. Measured: 20-60 s on a 2-core laptop.
UP_TIMEOUT_S = 600


def servelab(
    *args: str, timeout: float = UP_TIMEOUT_S, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run the `servelab` CLI of this checkout in a subprocess, capturing its output."""
    return subprocess.run(
        [sys.executable, "-m", "servelab.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
