"""A small process supervisor: start a profile's services, wait for health, stop them cleanly.

State lives under .cache/stack/: one ``NAME.json`` per running service (pid, port, start time)
and one ``logs/NAME.log`` with its stdout and stderr. Each service runs in its own process
group (session), so `stop` can end the service AND every process it spawned (vLLM starts an
engine process; a stop that killed only the parent would leave it holding memory and a port).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from reference_stack.stack.profile import Profile, Service, placeholders, render
from servelab_base.config import Settings
from servelab_base.paths import CACHE, ROOT

#: pid files and logs; SERVELAB_STACK_DIR gives a second stack (other ports) its own state
STATE_DIR = Path(os.environ.get("SERVELAB_STACK_DIR", CACHE / "stack"))
LOG_DIR = STATE_DIR / "logs"
#: how often `up` polls /health: fast enough that a 1 s start-up is not padded much
POLL_INTERVAL_S = 0.5
#: how often `up` prints "still waiting": often enough to show life, rarely enough to read
PROGRESS_EVERY_S = 5.0
#: a loopback /health answers in milliseconds; 2 s tolerates a laptop busy decoding
HEALTH_TIMEOUT_S = 2.0
#: SIGTERM grace before SIGKILL. vLLM shuts its engine down in 1-3 s; 15 s covers a busy laptop
STOP_GRACE_S = 15.0
LOG_TAIL_LINES = 15


class StackError(RuntimeError):
    """A service could not be started; the message names it and says what to do."""


@dataclass
class Record:
    """What `up` wrote about a service it started (the pid file, as JSON)."""

    name: str
    pid: int
    create_time: float  # to tell our process from a later one that reused the pid
    port: int
    profile: str
    command: list[str]

    @property
    def path(self) -> Path:
        return STATE_DIR / f"{self.name}.json"

    def save(self) -> None:
        """Write the pid file atomically: a reader never sees half of it (and `records` deletes
        files it cannot parse)."""
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(f".{self.name}.json.{os.getpid()}")
        partial.write_text(json.dumps(self.__dict__, indent=2))
        os.replace(partial, self.path)

    def alive(self) -> bool:
        """True while the very process we started is still running (not a zombie)."""
        try:
            proc = psutil.Process(self.pid)
            return (
                abs(proc.create_time() - self.create_time) < 1.0
                and proc.status() != psutil.STATUS_ZOMBIE
            )
        except psutil.Error:
            return False


def log_path(name: str) -> Path:
    return LOG_DIR / f"{name}.log"


def records() -> list[Record]:
    """Every service `up` started and has not stopped (running or crashed since)."""
    out = []
    for path in sorted(STATE_DIR.glob("*.json")):
        try:
            out.append(Record(**json.loads(path.read_text())))
        except (OSError, ValueError, TypeError):
            path.unlink(missing_ok=True)  # a half-written file from a killed `up`
    return out


def record(name: str) -> Record | None:
    return next((r for r in records() if r.name == name), None)


def log_tail(name: str, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = log_path(name).read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


def healthy(host: str, port: int, path: str = "/health") -> bool:
    try:
        return httpx.get(f"http://{host}:{port}{path}", timeout=HEALTH_TIMEOUT_S).status_code == 200
    except httpx.HTTPError:
        return False


def port_owner(port: int) -> str | None:
    """Who listens on ``port`` (``"pid 123 (python)"``), or None when it is free."""
    import socket

    with socket.socket() as s:
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
            return None
        except OSError:
            pass
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN:
                if conn.pid:
                    return f"pid {conn.pid} ({psutil.Process(conn.pid).name()})"
    except (psutil.Error, PermissionError):
        pass
    return "another process"


@contextlib.contextmanager
def locked() -> Iterator[None]:
    """Serialise `up` / `down` between concurrent callers (two terminals, two test sessions)."""
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    with (STATE_DIR / "lock").open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def resolve_command(service: Service, values: dict) -> list[str]:
    """The argv of ``service``; a bare program name is looked up next to this Python first."""
    argv = [render(part, values) for part in service.command]
    program = argv[0]
    if os.sep not in program:
        here = Path(sys.executable).parent / program
        argv[0] = str(here) if here.exists() else (shutil.which(program) or program)
    return argv


def environment(service: Service, values: dict) -> dict[str, str]:
    env = dict(os.environ)
    env.update({k: render(v, values) for k, v in service.env.items()})
    for key in service.unset_env:
        env.pop(key, None)
    env.setdefault("PYTHONUNBUFFERED", "1")  # logs appear as they happen
    return env


def start(service: Service, profile: Profile, settings: Settings) -> Record:
    """Start one service in its own process group, output to its log; raise StackError if not."""
    values = placeholders(settings, service, profile)
    port = values["port"]
    for template in service.requires:
        path = Path(render(template, values))
        if not path.exists():
            raise StackError(
                f"{service.name}: {path} is missing (not prepared or not built). "
                "Run `servelab prepare` (or `make setup`), then `servelab up` again."
            )
    owner = port_owner(port)
    if owner is not None:
        hint = (
            f" or set SERVELAB_{service.port.upper()}=<free port>"
            if isinstance(service.port, str) and not service.port.isdigit()
            else ""
        )
        raise StackError(
            f"{service.name}: port {port} on {settings.host} is taken by {owner}. "
            f"Stop that process{hint}, then `servelab up` again."
        )
    argv = resolve_command(service, values)
    program = Path(argv[0])
    if program.is_absolute() and not program.exists():
        raise StackError(f"{service.name}: program {program} not found. Run `servelab prepare`.")
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with log_path(service.name).open("ab") as log:
        log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} $ {' '.join(argv)}\n".encode())
        log.flush()
        try:
            proc = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=ROOT,
                env=environment(service, values),
                start_new_session=True,
            )
        except OSError as e:
            raise StackError(f"{service.name}: cannot run {argv[0]}: {e}") from None
    rec = Record(
        service.name, proc.pid, psutil.Process(proc.pid).create_time(), port, profile.name, argv
    )
    rec.save()
    return rec


def wait_healthy(
    services: list[Service],
    settings: Settings,
    profile: Profile,
    say: Callable[[str], None] = print,
) -> dict[str, str | None]:
    """Wait until each service answers its health path; name -> None (healthy) or the error."""
    result: dict[str, str | None] = {}
    waiting = {s.name: s for s in services}
    started = time.monotonic()
    last_progress = started
    while waiting:
        for name, service in list(waiting.items()):
            rec = record(name)
            port = service.resolved_port(settings)
            if healthy(settings.host, port, service.health):
                say(f"  {name} healthy after {time.monotonic() - started:.1f} s")
                result[name] = None
                del waiting[name]
            elif rec is None or not rec.alive():
                code = _exit_code(rec)
                result[name] = (
                    f"{name} exited during start-up{code}. Last lines of "
                    f"{log_path(name)}:\n{_indent(log_tail(name))}"
                )
                del waiting[name]
                if rec is not None:
                    stop(rec)
            elif time.monotonic() - started > service.startup_timeout_s:
                result[name] = (
                    f"{name} did not become healthy within "
                    f"{service.startup_timeout_s:.0f} s (http://{settings.host}:{port}"
                    f"{service.health}). Last lines of {log_path(name)}:\n"
                    f"{_indent(log_tail(name))}"
                )
                del waiting[name]
                stop(rec)
        if waiting:
            now = time.monotonic()
            if now - last_progress >= PROGRESS_EVERY_S:
                last_progress = now
                say(f"  waiting for {', '.join(waiting)} ... {now - started:.0f} s")
            time.sleep(POLL_INTERVAL_S)
    return result


def _exit_code(rec: Record | None) -> str:
    if rec is None:
        return ""
    try:  # our child: reap it so it does not stay a zombie, and learn its exit status
        pid, status = os.waitpid(rec.pid, os.WNOHANG)
        if pid == 0:  # still running: the pid file no longer names it (see Record.alive)
            return " (its process is still running but no longer matches its pid file)"
        if os.WIFEXITED(status):
            return f" with exit code {os.WEXITSTATUS(status)}"
        if os.WIFSIGNALED(status):
            return f" killed by signal {signal.Signals(os.WTERMSIG(status)).name}"
    except (ChildProcessError, OSError, ValueError):
        pass
    return ""


def _indent(text: str) -> str:
    return "\n".join("    | " + line for line in text.splitlines())


def stop(rec: Record, grace_s: float = STOP_GRACE_S) -> bool:
    """Stop a service and every process in its group; True if something was running."""
    was_running = rec.alive()
    procs: list[psutil.Process] = []
    if was_running:
        try:
            parent = psutil.Process(rec.pid)
            procs = [parent, *parent.children(recursive=True)]
        except psutil.Error:
            procs = []
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(rec.pid, signal.SIGTERM)  # the group id is the pid: start_new_session
        for p in procs:  # children that left the group still get the signal
            with contextlib.suppress(psutil.Error):
                p.terminate()
        _, alive = psutil.wait_procs(procs, timeout=grace_s)
        for p in alive:
            with contextlib.suppress(psutil.Error):
                p.kill()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(rec.pid, signal.SIGKILL)
        psutil.wait_procs(alive, timeout=5)
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(rec.pid, os.WNOHANG)
    rec.path.unlink(missing_ok=True)
    return was_running
