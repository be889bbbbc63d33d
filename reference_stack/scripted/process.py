"""Start the scripted upstream as a real child process (for tests, grading and benchmarks).

with ScriptedUpstream(ttft_ms=50, itl_ms=10, chunks=8) as up:
    client = openai.OpenAI(base_url=up.base_url + "/v1", api_key="unused")
    ...
    truth = up.records()          # what the server really sent, per request
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

#: How long a fresh Python process may take to import and bind (2-core CI under load).
START_TIMEOUT_S = 30.0
_LISTENING = re.compile(r"listening on (http://\S+)")


class ScriptedUpstream:
    """A running ``python -m reference_stack.scripted`` on a free loopback port.

    Keyword arguments become command-line options (``ttft_ms=50`` -> ``--ttft-ms 50``;
    ``True`` -> a bare flag, e.g. ``no_usage=True``). Use as a context manager, or call
    ``start()`` / ``stop()``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        record: str | Path | None = None,
        cpu: int | None = None,
        **options: object,
    ) -> None:
        self.host = host
        self.args = ["--host", host, "--port", "0"]
        if record:
            self.args += ["--record", str(record)]
        for name, value in options.items():
            flag = "--" + name.replace("_", "-")
            if value is True:
                self.args.append(flag)
            elif value is False:  # flags only switch on; a silent no-op would hide a mistake
                raise ValueError(f"{name}=False: use the flag that switches it, e.g. no_usage=True")
            elif value is not None:
                self.args += [flag, str(value)]
        self.cpu = cpu  # pin the server to this CPU (Linux), so it does not share the client's
        self.proc: subprocess.Popen | None = None
        self.base_url = ""

    def start(self) -> ScriptedUpstream:
        cmd = [sys.executable, "-m", "reference_stack.scripted", *self.args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if self.cpu is not None and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(self.proc.pid, {self.cpu})
        deadline = time.monotonic() + START_TIMEOUT_S
        line = self.proc.stdout.readline()  # blocks until the server prints or exits
        match = _LISTENING.search(line or "")
        if not match or time.monotonic() > deadline:
            err = ""
            if not match:  # it exited (bad options, import error): show why
                self.proc.wait(timeout=10)
                err = self.proc.stderr.read()
            self.stop()
            raise RuntimeError(f"scripted upstream did not start: {line!r} {err}")
        self.base_url = match.group(1)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            for stream in (self.proc.stdout, self.proc.stderr):
                if stream:
                    stream.close()
        self.proc = None

    def __enter__(self) -> ScriptedUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def records(self, since: int = 0, clear: bool = False) -> list[dict]:
        """The server's records of finished requests (GET /debug/requests)."""
        url = f"{self.base_url}/debug/requests?since={since}" + ("&clear=1" if clear else "")
        with urllib.request.urlopen(url, timeout=30) as reply:
            return json.load(reply)["records"]

    def clear(self) -> None:
        request = urllib.request.Request(f"{self.base_url}/debug/requests", method="DELETE")
        urllib.request.urlopen(request, timeout=30).close()
