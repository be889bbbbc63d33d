"""A real JupyterLab for the tests, started the way `make lab` / `make instructor` start it.

The server comes from ``servelab.launch`` (the same command, settings and root as a learner's or
an instructor's), on a free port with a known token, with every per-user Jupyter folder in a
temporary directory: a developer's own settings never leak into a test, and a test never
writes to them. ``exposeAppInBrowser`` lets the tests read JupyterLab's notebook model (outputs,
execution counts, kernel status) instead of guessing from pixels.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from servelab.launch import Launch

TOKEN = "servelab-browser-test"
START_TIMEOUT_S = 120  # JupyterLab with nbgrader's extensions: 5-20 s on a busy 2-core machine
TEST_ARGS = [f"--IdentityProvider.token={TOKEN}", "--LabApp.expose_app_in_browser=True"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def isolated_env(home: Path) -> dict[str, str]:
    """os.environ with every per-user Jupyter/IPython folder moved under ``home``."""
    dirs = {
        "JUPYTER_CONFIG_DIR": "config",
        "JUPYTER_DATA_DIR": "data",
        "JUPYTER_RUNTIME_DIR": "runtime",
        "JUPYTERLAB_SETTINGS_DIR": "lab-settings",
        "JUPYTERLAB_WORKSPACES_DIR": "lab-workspaces",
        "IPYTHONDIR": "ipython",
    }
    env = dict(os.environ)
    for name, sub in dirs.items():
        (home / sub).mkdir(parents=True, exist_ok=True)
        env[name] = str(home / sub)
    env["SERVELAB_LIVE_SIZE"] = "small"  # live sections shrink (servelab.live)
    return env


@dataclass
class Server:
    """A running JupyterLab: its base URL, root folder and log."""

    url: str
    root: Path
    log: Path
    proc: subprocess.Popen

    def page(self, path: str = "/lab") -> str:
        """A browser URL of this server, token included."""
        sep = "&" if "?" in path else "?"
        return f"{self.url}{path}{sep}token={TOKEN}"

    def get(self, path: str, **kw) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", params={"token": TOKEN}, timeout=30, **kw)

    def post(self, path: str, json: dict) -> httpx.Response:
        return httpx.post(f"{self.url}{path}", params={"token": TOKEN}, json=json, timeout=60)

    def post_form(self, path: str, data: dict, timeout: float = 600) -> httpx.Response:
        """A POST as JupyterLab's own UI sends it (form data, the token, an XSRF-free API call)."""
        return httpx.post(f"{self.url}{path}", params={"token": TOKEN, **data}, timeout=timeout)

    def delete(self, path: str) -> httpx.Response:
        return httpx.delete(f"{self.url}{path}", params={"token": TOKEN}, timeout=30)

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # shuts its kernels down too
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def start(launch: Launch, port: int, log: Path) -> Server:
    """Start ``launch`` (built with TEST_ARGS) and wait until its REST API answers."""
    url = f"http://127.0.0.1:{port}"
    with log.open("w") as out:
        proc = subprocess.Popen(launch.argv, env=launch.env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(url, launch.root, log, proc)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited ({proc.returncode}):\n{server.log_tail()}")
        try:
            if server.get("/api/status").status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    server.stop()
    raise RuntimeError(f"JupyterLab did not answer in {START_TIMEOUT_S} s:\n{server.log_tail()}")


def chromium_path() -> str | None:
    """The Chromium the browser tests drive: SERVELAB_CHROMIUM, else the system's chromium."""
    chosen = os.environ.get("SERVELAB_CHROMIUM")
    if chosen:
        return chosen
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None
