"""Start the scripted upstream as a real child process (for tests, grading and benchmarks).

with ScriptedUpstream(ttft_ms=50, itl_ms=10, chunks=8) as up:
    client = openai.OpenAI(base_url=up.base_url + "/v1", api_key="unused")
    ...
    truth = up.records()          # what the server really sent, per request
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

from servelab_base.child_server import ChildServer, ChildServerError

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
        self.child: ChildServer | None = None
        self.base_url = ""

    @property
    def proc(self) -> subprocess.Popen | None:
        """The running server process (None before start and after stop)."""
        return self.child.proc if self.child is not None and self.child.running else None

    def start(self) -> ScriptedUpstream:
        self.child = ChildServer(
            [sys.executable, "-m", "reference_stack.scripted", *self.args],
            name="scripted upstream",
            cpu=self.cpu,
        )
        self.child.start()
        try:
            self.base_url = self.child.wait_for_line(_LISTENING, START_TIMEOUT_S).group(1)
        except ChildServerError as exc:
            raise RuntimeError(f"scripted upstream did not start: {exc}") from None
        return self

    def read_log(self) -> str:
        """What the server has printed (its log) so far."""
        return self.child.read_log() if self.child else ""

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()

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
