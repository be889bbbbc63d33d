"""Start the gateway as a real child process (tests, benchmarks, labs).

with GatewayProcess(routing="my-routing.yaml", env={"MY_KEY": "..."}) as gw:
    client = openai.OpenAI(base_url=gw.base_url + "/v1", api_key=LOCAL_LEARNER_KEY)
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import IO

#: A fresh interpreter imports FastAPI, pydantic and aiohttp in about 1-2 s; 2-core CI under
#: load can take several times that.
START_TIMEOUT_S = 60.0
_LISTENING = re.compile(r"listening on (http://\S+)")


class GatewayProcess:
    """``python -m reference_stack.gateway`` on a free loopback port (``--port 0``).

    ``settings`` become ``SERVELAB_GATEWAY_<NAME>`` variables (``max_attempts=2``)."""

    def __init__(
        self,
        routing: str | Path | None = None,
        keys: str | Path | None = None,
        audit: str | Path | None = None,
        env: dict[str, str] | None = None,
        cpu: int | None = None,
        **settings: object,
    ) -> None:
        self.args = ["--host", "127.0.0.1", "--port", "0"]
        for flag, value in (("--routing", routing), ("--keys", keys), ("--audit", audit)):
            if value is not None:
                self.args += [flag, str(value)]
        self.env = {**os.environ, **(env or {})}
        for name, value in settings.items():
            self.env[f"SERVELAB_GATEWAY_{name.upper()}"] = str(value)
        self.cpu = cpu
        self.proc: subprocess.Popen | None = None
        self.log: IO[str] | None = None
        self.base_url = ""

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> GatewayProcess:
        # the log goes to a file: a pipe nobody reads would fill and block the gateway
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "reference_stack.gateway", *self.args],
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            env=self.env,
        )
        if self.cpu is not None and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(self.proc.pid, {self.cpu})
        line = self.proc.stdout.readline()
        match = _LISTENING.search(line or "")
        if not match:
            self.proc.wait(timeout=10)
            raise RuntimeError(f"gateway did not start: {line!r} {self.stop()}")
        self.base_url = match.group(1)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.base_url + "/health", timeout=5) as reply:
                    if reply.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("gateway did not become healthy")

    def read_log(self) -> str:
        """What the gateway has written to stderr (its log) so far."""
        if self.log is None:
            return ""
        fd = self.log.fileno()  # read from the start without moving the shared offset
        return os.pread(fd, os.fstat(fd).st_size, 0).decode("utf-8", "replace")

    def stop(self) -> str:
        """Stop it; returns what it wrote to stderr (its log)."""
        log = ""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            if self.proc.stdout:
                self.proc.stdout.close()
        if self.log is not None:
            self.log.seek(0)
            log = self.log.read()
            self.log.close()
            self.log = None
        self.proc = None
        return log

    def __enter__(self) -> GatewayProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
