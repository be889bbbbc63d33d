"""A real course server for one test module: JupyterHub on loopback, real Linux accounts, a
temporary course and exchange. Everything it creates (accounts, homes, processes, folders) is
removed by ``close``, also when a step fails."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from servelab.course_server.hub import HubSettings
from servelab.course_server.hubapi import Hub, UserSession
from servelab.course_server.runtime import learner_python
from servelab_base.paths import GRADING, ROOT

LAB = "00_inference_path"
HUB_CONFIG = ROOT / "deploy" / "jupyterhub" / "jupyterhub_config.py"
SERVELAB = [sys.executable, "-m", "servelab.cli.main"]
STEP_TIMEOUT_S = 300

#: Run as another uid: reports, for each path, whether it could be read or listed.
PROBE = """
import json, os, sys
out = {}
for path in sys.argv[1:]:
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            open(path, "rb").read(1)
        out[path] = "read"
    except PermissionError:
        out[path] = "denied"
    except FileNotFoundError:
        out[path] = "missing"
print(json.dumps(out))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class CourseServer:
    """The hub, its people and the course, plus a log of how long each step took."""

    base: Path
    instructor: str
    learners: list[str]
    settings: HubSettings | None = None
    hub: Hub | None = None
    sessions: dict[str, UserSession] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    timings: dict[str, float] = field(default_factory=dict)
    python: Path | None = None

    @property
    def course(self) -> Path:
        return self.base / "course"

    @property
    def exchange(self) -> Path:
        return self.base / "exchange"

    @property
    def people(self) -> list[str]:
        return [self.instructor, *self.learners]

    def timed(self, name: str, started: float) -> None:
        self.timings[name] = round(time.perf_counter() - started, 2)

    # --- environment ------------------------------------------------------------------------
    def course_env(self) -> dict[str, str]:
        """What the instructor's commands see: the course config, the temporary course."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SERVELAB_HUB_")}
        env.update(
            JUPYTER_CONFIG_PATH=str(GRADING),
            SERVELAB_COURSE_ROOT=str(self.course),
            SERVELAB_GRADING_DIR=str(self.course / "grading"),
            SERVELAB_EXCHANGE_DIR=str(self.exchange),
            HF_HUB_OFFLINE="1",
            PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '/usr/bin:/bin')}",
        )
        return env

    def run_root(self, *args: str) -> subprocess.CompletedProcess:
        """A `servelab ...` command as root (what the instructor runs with sudo)."""
        return subprocess.run(
            [*SERVELAB, *args],
            env=self.course_env(),
            cwd=self.base,
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT_S,
        )

    def cli(self, *args: str) -> int:
        """`servelab ...` as root, in this process (no interpreter start-up), course env set."""
        from servelab.cli.main import main

        saved = dict(os.environ)
        os.environ.update(self.course_env())
        try:
            return main(list(args))
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def run_as(self, user: str, argv: list[str], env: dict[str, str] | None = None):
        """A command as ``user`` (their uid, their groups only), from their home."""
        import pwd

        home = pwd.getpwnam(user).pw_dir
        base_env = {
            "HOME": home,
            "USER": user,
            "LANG": "C.UTF-8",
            "PATH": f"{self.python.parent}:/usr/bin:/bin",
        }
        return subprocess.run(
            argv,
            env={**base_env, **(env or {})},
            cwd=home,
            user=user,
            group=pwd.getpwnam(user).pw_gid,
            extra_groups=[],
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT_S,
        )

    def probe(self, user: str, paths: list[Path]) -> dict[str, str]:
        """As ``user``: could each path be read (a file) or listed (a folder)?"""
        out = self.run_as(user, [str(self.python), "-c", PROBE, *map(str, paths)])
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    # --- life cycle -------------------------------------------------------------------------
    def start(self) -> None:
        started = time.perf_counter()
        token = secrets.token_hex(32)
        state = self.base / "state"
        state.mkdir(mode=0o700)
        token_file = state / "admin-token"
        token_file.write_text(token)
        token_file.chmod(0o600)
        port, hub_port, proxy_port = free_port(), free_port(), free_port()
        env = {
            **os.environ,
            "SERVELAB_HUB_PORT": str(port),
            "SERVELAB_HUB_HUB_PORT": str(hub_port),
            "SERVELAB_HUB_PROXY_API_PORT": str(proxy_port),
            "SERVELAB_HUB_STATE_DIR": str(state),
            "SERVELAB_HUB_ADMIN_TOKEN_FILE": str(token_file),
            "SERVELAB_HUB_INSTRUCTORS": self.instructor,
            "SERVELAB_HUB_COURSE_ROOT": str(self.course),
            "SERVELAB_HUB_EXCHANGE_DIR": str(self.exchange),
            "SERVELAB_HUB_START_TIMEOUT": "180",
        }
        self.settings = HubSettings(
            **{
                "course_root": self.course,
                "exchange_dir": self.exchange,
                "state_dir": state,
                "instructors": self.instructor,
            }
        )
        self.python = learner_python(self.settings.runtime_dir)
        self.log = open(self.base / "hub.log", "w")  # noqa: SIM115 (closed in close())
        self.process = subprocess.Popen(
            [str(Path(sys.executable).parent / "jupyterhub"), "-f", str(HUB_CONFIG)],
            cwd=state,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.hub = Hub(f"http://127.0.0.1:{port}", token)
        self.hub.wait_ready(timeout=120)
        self.timed("hub start", started)

    def hub_log(self) -> str:
        return (self.base / "hub.log").read_text()[-6000:]

    def close(self) -> None:
        """Stop the hub and everything it started; remove the accounts and the folders."""
        import pwd

        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # the hub stops the servers it started
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if getattr(self, "log", None):
            self.log.close()
        uids = set()
        for name in self.people:
            try:
                uids.add(pwd.getpwnam(name).pw_uid)
            except KeyError:
                pass
        # processes the test's accounts left (kernels, servers): ended by pid, then accounts go
        for proc in psutil.process_iter(["uids"]):
            if proc.info["uids"] and proc.info["uids"].real in uids:
                try:
                    proc.kill()
                except psutil.Error:
                    pass
        for name in self.people:
            subprocess.run(["userdel", "--remove", name], capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)


def new_server() -> CourseServer:
    """Names unique to this run (two test sessions may run at once), folders under /tmp."""
    tag = f"{os.getpid() % 100000:05d}"
    base = Path(tempfile.mkdtemp(prefix="servelab-hub-", dir="/tmp"))
    base.chmod(0o711)  # every account may pass through to the exchange and course; not list
    return CourseServer(base, f"slhi{tag}", [f"slha{tag}", f"slhb{tag}"])
