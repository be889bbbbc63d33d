"""Run a server as a child process: start it, wait until it serves, keep its log, stop it.

Tests, benchmarks and labs start real servers (the gateway, the scripted upstream, the
provider stand-ins, llama-server) and every one needs the same four things done the same way:

- **start** the command, with everything it prints (stdout and stderr) going to a log file. A
  pipe nobody reads fills up after 64 KiB and then blocks the server mid-request; a file never
  does, and it is still there to read when something went wrong;
- **wait** until it is ready: for the line it prints once it listens (``wait_for_line``; how a
  server started on port 0 says which port it got) and/or until its health URL answers 200
  (``wait_for_health``). A server that exits or never gets ready raises ``ChildServerError``
  with the end of its log, so the reason is in the error;
- **stop**: SIGTERM, a grace period to finish, then SIGKILL.

    with ChildServer([sys.executable, "-m", "reference_stack.scripted", "--port", "0"]) as child:
        url = child.wait_for_line(re.compile(r"listening on (http://\\S+)")).group(1)
        child.wait_for_health(url + "/health")
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

#: How often a waiting ``wait_for_*`` looks again.
POLL_INTERVAL_S = 0.01
#: How long a stopped server may take to exit after SIGTERM before it is killed.
STOP_TIMEOUT_S = 10.0
#: Lines of the log quoted in an error.
TAIL_LINES = 30


class ChildServerError(RuntimeError):
    """The child exited or did not get ready in time (the message ends with its log)."""


class ChildServer:
    """One server child process; ``argv`` is its command line.

    ``log`` is the file its output goes to (appended to; by default an anonymous temporary
    file that disappears on ``stop``). ``cpu`` pins it to that CPU (Linux), so a benchmark's
    server does not share a core with its client."""

    def __init__(
        self,
        argv: Sequence[str | os.PathLike[str]],
        *,
        name: str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        log: str | os.PathLike[str] | None = None,
        cpu: int | None = None,
    ) -> None:
        self.argv = [str(a) for a in argv]
        self.name = name or Path(self.argv[0]).name
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.log_path = Path(log) if log is not None else None
        self.cpu = cpu
        self.proc: subprocess.Popen | None = None
        self._log: IO[bytes] | None = None
        self._offset = 0  # where this run's output starts in the log file
        self._last_log = ""  # what the log held when the child was stopped

    # --- start ----------------------------------------------------------------------------------
    def start(self) -> ChildServer:
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("ab+")
        else:
            self._log = tempfile.TemporaryFile()
        self._offset = self._log.seek(0, os.SEEK_END)
        try:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
            )
        except OSError:
            self._close_log()
            raise
        if self.cpu is not None and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(self.proc.pid, {self.cpu})
        return self

    # --- wait until it serves -------------------------------------------------------------------
    def wait_for_line(self, pattern: re.Pattern[str], timeout_s: float = 60.0) -> re.Match[str]:
        """The first match of ``pattern`` in the log, once the child has printed it (only whole
        lines are searched: a line still being written could match cut short)."""
        deadline = time.monotonic() + timeout_s
        while True:
            printed = self.read_log()
            match = pattern.search(printed[: printed.rfind("\n") + 1])
            if match:
                return match
            self._fail_if_exited(f"before printing {pattern.pattern!r}")
            if time.monotonic() > deadline:
                self._give_up(f"did not print {pattern.pattern!r} within {timeout_s:.0f} s")
            time.sleep(POLL_INTERVAL_S)

    def wait_for_health(self, url: str, timeout_s: float = 60.0) -> None:
        """Return once ``url`` answers 200 (any error or other status: try again)."""
        deadline = time.monotonic() + timeout_s
        while True:
            self._fail_if_exited("before it became healthy")
            try:
                wait = max(0.1, min(5.0, deadline - time.monotonic()))
                with urllib.request.urlopen(url, timeout=wait) as reply:
                    if reply.status == 200:
                        return
            except OSError:  # not listening yet, or an HTTP error status while loading
                pass
            if time.monotonic() > deadline:
                self._give_up(f"did not become healthy ({url}) within {timeout_s:.0f} s")
            time.sleep(POLL_INTERVAL_S)

    # --- while it runs --------------------------------------------------------------------------
    @property
    def pid(self) -> int:
        assert self.proc is not None, "not started"
        return self.proc.pid

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def poll(self) -> int | None:
        """The exit code, or None while it runs (or was never started)."""
        return None if self.proc is None else self.proc.poll()

    def read_log(self) -> str:
        """Everything this run of the child has printed so far (stdout and stderr)."""
        if self._log is None:
            return self._last_log
        fd = self._log.fileno()  # read from the start without moving the child's offset
        size = os.fstat(fd).st_size - self._offset
        return os.pread(fd, max(0, size), self._offset).decode("utf-8", "replace")

    def log_tail(self, lines: int = TAIL_LINES) -> str:
        return "\n".join(self.read_log().splitlines()[-lines:])

    # --- stop -----------------------------------------------------------------------------------
    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> str:
        """SIGTERM, up to ``timeout_s`` to exit, then SIGKILL. Returns the child's log."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=timeout_s)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        if self._log is not None:
            self._last_log = self.read_log()
            self._close_log()
        return self._last_log

    def __enter__(self) -> ChildServer:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- failing with the reason ----------------------------------------------------------------
    def _fail_if_exited(self, when: str) -> None:
        code = self.poll()
        if code is not None:
            self._give_up(f"exited with code {code} {when}")

    def _give_up(self, what: str) -> None:
        log = self.stop()
        tail = "\n".join(log.splitlines()[-TAIL_LINES:])
        where = f" (log: {self.log_path})" if self.log_path else ""
        raise ChildServerError(f"{self.name} {what}{where}. Its output:\n{tail}")

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
