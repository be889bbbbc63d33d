"""Start the gateway as a real child process (tests, benchmarks, labs).

with GatewayProcess(routing="my-routing.yaml", env={"MY_KEY": "..."}) as gw:
    client = openai.OpenAI(base_url=gw.base_url + "/v1", api_key=LOCAL_LEARNER_KEY)
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from servelab_base.child_server import ChildServer, ChildServerError

#: A fresh interpreter imports FastAPI, pydantic and aiohttp in about 1-2 s; 2-core CI under
#: load can take several times that.
START_TIMEOUT_S = 60.0
#: How long the gateway may take to drain its requests when stopped, before it is killed.
STOP_TIMEOUT_S = 15.0
_LISTENING = re.compile(r"listening on (http://\S+)")


class GatewayProcess:
    """``python -m reference_stack.gateway`` on a free loopback port (``--port 0``).

    ``settings`` become ``SERVELAB_GATEWAY_<NAME>`` variables (``max_attempts=2``). ``cwd``
    runs the gateway of the checkout there instead of this one."""

    def __init__(
        self,
        routing: str | Path | None = None,
        keys: str | Path | None = None,
        audit: str | Path | None = None,
        env: dict[str, str] | None = None,
        cpu: int | None = None,
        cwd: str | Path | None = None,
        **settings: object,
    ) -> None:
        args = ["--host", "127.0.0.1", "--port", "0"]
        for flag, value in (("--routing", routing), ("--keys", keys), ("--audit", audit)):
            if value is not None:
                args += [flag, str(value)]
        full_env = {**os.environ, **(env or {})}
        for name, value in settings.items():
            full_env[f"SERVELAB_GATEWAY_{name.upper()}"] = str(value)
        self.child = ChildServer(
            [sys.executable, "-m", "reference_stack.gateway", *args],
            name="gateway",
            env=full_env,
            cpu=cpu,
            cwd=cwd,  # another checkout's gateway (benchmarks compare two versions)
        )
        self.base_url = ""

    @property
    def proc(self) -> subprocess.Popen | None:
        """The running gateway process (None before start and after stop)."""
        return self.child.proc if self.child.running else None

    @property
    def pid(self) -> int:
        return self.child.pid

    def start(self) -> GatewayProcess:
        self.child.start()
        try:
            self.base_url = self.child.wait_for_line(_LISTENING, START_TIMEOUT_S).group(1)
            self.child.wait_for_health(self.base_url + "/health", START_TIMEOUT_S)
        except ChildServerError as exc:
            raise RuntimeError(f"gateway did not start: {exc}") from None
        return self

    def read_log(self) -> str:
        """What the gateway has printed (its log) so far."""
        return self.child.read_log()

    def stop(self) -> str:
        """Stop it; returns what it printed (its log)."""
        return self.child.stop(STOP_TIMEOUT_S)

    def __enter__(self) -> GatewayProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
