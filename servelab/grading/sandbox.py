"""A Jupyter kernel manager that starts each kernel inside the sandbox.

nbgrader executes a notebook by starting a kernel and sending it cells. This manager changes only
*where* that kernel runs: under ``unshare`` (new pid, mount, network, ipc, uts namespaces) via
servelab/grading/jail.py, as a throw-away uid with rlimits. The grader talks to it over ZeroMQ
``ipc`` sockets (Unix socket files): they live in the sandbox's private /tmp and the grader
reaches them through ``/proc/PID/root``, the sandbox's view of the filesystem, which only root
can follow. TCP would not do: the kernel's network namespace cannot be reached from outside.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import zmq
import zmq.asyncio
from jupyter_client.manager import AsyncKernelManager
from traitlets import Dict, Int, List, Unicode

from servelab.grading import zygote
from servelab.grading.bridge import Bridge
from servelab.grading.limits import KERNEL_LOG_BYTES, NICENESS, SUBMISSION_FILES_BYTES, Limits
from servelab_base.config import Settings

# Sandbox uids: not in /etc/passwd and far above the ranges distributions give to people
# (1000-59999) and to rootless containers (subuid ranges start at 100000, 65536 each), so a
# fork bomb's RLIMIT_NPROC counts only that sandbox's processes.
UID_BASE = 1_500_000
UID_SLOTS = 256
# The kernel's working directory inside the sandbox (on its private tmpfs).
WORKDIR = "/tmp/work"
# Largest ZeroMQ message the grader accepts from a kernel: a single 1 GB print must not be read
# into the grader's memory. Above it ZeroMQ drops the connection and the cell times out.
MAX_MESSAGE_BYTES = 64 * 2**20
# The only environment variables a kernel inherits from the grader: an allow-list, so a secret
# in the grader's environment (an API key, a token, whatever its name) never reaches a learner.
# The stack's addresses (servelab_base.config.Settings, SERVELAB_*) pass so the lab finds the
# stack the grader allowed; none of them is a secret.
PASSED_ENV = (
    "NBGRADER_EXECUTION",
    "HF_HUB_OFFLINE",
    "JPY_SESSION_NAME",
    *(f"SERVELAB_{name.upper()}" for name in Settings.model_fields),
)
# Set to forward each kernel's own log (not its cell output) to the grader's stderr.
DEBUG_ENV = "SERVELAB_SANDBOX_DEBUG"
# Hidden from every kernel: the grader's and users' homes (SSH keys, cloud credentials, shell
# history). What Python and servelab need inside them is put back read-only.
ALWAYS_HIDDEN = ("/root", "/home")


class SandboxUnavailable(RuntimeError):
    """The OS cannot give this process a sandbox (not root, no unshare, no namespaces)."""


def check_available() -> None:
    """Raise SandboxUnavailable with the reason when sandboxed grading cannot work here."""
    if sys.platform != "linux":
        raise SandboxUnavailable("the grading sandbox needs Linux namespaces")
    if os.geteuid() != 0:
        raise SandboxUnavailable(
            "the grading sandbox needs root (to switch uid and create namespaces); run the "
            "grader as root, e.g. in the course's grading container"
        )
    for tool in ("unshare", "setpriv"):
        if not shutil.which(tool):
            raise SandboxUnavailable(f"`{tool}` (util-linux) is not installed")


def lease_dir() -> Path:
    """Where the uid leases live (one lock file per slot), private to the grader's uid."""
    lock_dir = Path(tempfile.gettempdir()) / f"servelab-sandbox-uids-{os.getuid()}"
    lock_dir.mkdir(mode=0o700, exist_ok=True)
    if lock_dir.stat().st_uid != os.getuid() or lock_dir.is_symlink():
        raise SandboxUnavailable(f"{lock_dir} belongs to someone else")
    return lock_dir


def try_lease(slot: int) -> int | None:
    """Hold slot ``slot``'s lock if no one does (a file descriptor), else None."""
    fd = os.open(lease_dir() / str(slot), os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


class UidLease:
    """One sandbox uid, held (by a file lock) for as long as one kernel runs.

    Every grading run on the host (any course, any instructor) takes its uids here, so two
    kernels never share a uid, and a uid nobody holds has no sandbox running as it.
    """

    def __init__(self) -> None:
        for slot in range(UID_SLOTS):
            fd = try_lease(slot)
            if fd is not None:
                self.uid = UID_BASE + slot
                self._fd: int | None = fd
                return
        raise SandboxUnavailable(f"all {UID_SLOTS} sandbox uids are in use")

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def kernel_env(grader_env: dict[str, str]) -> dict[str, str]:
    """The kernel's whole environment: fixed values plus a few non-secret ones passed on."""
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": WORKDIR,
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "PYTHONNOUSERSITE": "1",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": f"{WORKDIR}/.matplotlib",
        "IPYTHONDIR": f"{WORKDIR}/.ipython",
        "JUPYTER_RUNTIME_DIR": f"{WORKDIR}/.jupyter",
        # glibc reserves 64 MiB of address space per thread arena; two keep RLIMIT_AS meaningful
        "MALLOC_ARENA_MAX": "2",
    }
    env.update({key: grader_env[key] for key in PASSED_ENV if key in grader_env})
    return env


def needed_paths() -> list[str]:
    """What the kernel must be able to read: Python, the venv, the servelab checkout."""
    paths = {sys.base_prefix, sys.prefix, str(Path(__file__).resolve().parent.parent.parent)}
    return sorted(str(Path(p).resolve()) for p in paths)


def hideable_paths(paths: list[str]) -> list[str]:
    """The existing paths of ``paths``, minus any inside what the kernel needs to run Python.

    An ancestor of a needed path stays hideable: the jail covers it and puts the needed path
    back (servelab/grading/jail.py, ``hide``).
    """
    python = [
        Path(sys.prefix).resolve(),
        Path(sys.base_prefix).resolve(),
        Path(__file__).resolve().parent.parent,
    ]
    out = set()
    for raw in paths:
        path = Path(raw).resolve()
        if path.exists() and not any(p == path or p in path.parents for p in python):
            out.add(str(path))
    return sorted(out)


class SandboxedKernelManager(AsyncKernelManager):
    """An AsyncKernelManager whose kernels run in the grading sandbox."""

    hidden_paths = List(
        Unicode(),
        help="Paths the kernel must not see (gradebook, solutions, submissions, exchange)",
    ).tag(config=True)
    allowed_ports = List(
        Int(), help="Host loopback ports the kernel may connect to (e.g. the embedded stack)"
    ).tag(config=True)
    limit_overrides = Dict(help="Overrides of servelab.grading.limits.Limits fields").tag(
        config=True
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        check_available()
        self.transport = "ipc"
        self.ip = f"{WORKDIR}/.kernel"  # what the kernel binds, inside the sandbox
        self.limits = replace(
            Limits(**self.limit_overrides), allowed_ports=tuple(self.allowed_ports)
        )
        #: why the sandbox ended the kernel, if it did (read by SandboxedExecute)
        self.sandbox_event: str | None = None
        self._lease: UidLease | None = None
        self._staging: Path | None = None
        self._bridge: Bridge | None = None
        self._watchdog: threading.Timer | None = None
        self._client_context: zmq.asyncio.Context | None = None

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        self._lease = UidLease()
        self._staging = Path(tempfile.mkdtemp(prefix="servelab-sandbox-"))
        jail_connection = f"{WORKDIR}/kernel.json"
        argv = [jail_connection if arg == self.connection_file else arg for arg in kernel_cmd]
        argv[0] = shutil.which(argv[0]) or argv[0]
        if any("ipykernel" in arg for arg in argv):  # the cooperative output cap (guard.py)
            argv.append(
                "--IPKernelApp.exec_lines=import servelab.grading.guard as _g; "
                f"_g.install({self.limits.output_interrupt_bytes}); del _g"
            )
        spec = {
            "uid": self._lease.uid,
            "gid": self._lease.uid,
            "workdir": WORKDIR,
            "copy_from": str(kw.pop("cwd", None) or self._staging),
            "connection_file": self.connection_file,
            "hide": hideable_paths([*ALWAYS_HIDDEN, *self.hidden_paths]),
            "keep": needed_paths(),
            "limits": asdict(self.limits),
            "allowed_ports": list(self.limits.allowed_ports),
            "bridge_socket": str(self._staging / "bridge.sock"),
            "env": kernel_env(dict(kw.get("env") or os.environ)),
            "niceness": NICENESS,
            "submission_files_bytes": SUBMISSION_FILES_BYTES,
            "kernel_log_bytes": KERNEL_LOG_BYTES if os.environ.get(DEBUG_ENV) else 0,
            "warm_socket": warm.socket_path if (warm := zygote.template()) else None,
        }
        if self.limits.allowed_ports:
            self._bridge = Bridge(self._staging / "bridge.sock")
        spec_path = self._staging / "spec.json"
        spec_path.write_text(json.dumps(spec))
        spec_path.chmod(0o600)
        wrapped = [
            # if the grader dies, so does the sandbox (and, with --kill-child, all inside it)
            shutil.which("setpriv") or "setpriv",
            "--pdeathsig",
            "SIGKILL",
            shutil.which("unshare") or "unshare",
            "--pid",
            "--fork",
            "--kill-child",
            "--mount-proc",
            "--mount",
            "--net",
            "--ipc",
            "--uts",
            sys.executable,
            "-m",
            "servelab.grading.jail",
            str(spec_path),
            "--",
            *argv,
        ]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
        if "PYTHONPATH" in os.environ:
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        kw.update(cwd=str(self._staging), env=env)
        await super()._async_launch_kernel(wrapped, **kw)
        # From now on the grader reaches the kernel's sockets through the sandbox's root.
        self.ip = f"/proc/{self.provisioner.process.pid}/root{WORKDIR}/.kernel"
        self._watchdog = threading.Timer(self.limits.wall_seconds, self._wall_limit_reached)
        self._watchdog.daemon = True
        self._watchdog.start()

    def _wall_limit_reached(self) -> None:
        self.sandbox_event = (
            f"the notebook ran longer than {self.limits.wall_seconds:.0f} s (wall-clock limit)"
        )
        self.signal_sandbox(signal.SIGKILL)

    def signal_sandbox(self, signum: int) -> None:
        """Send ``signum`` to every process of the sandbox, synchronously (SIGKILL ends it)."""
        process = getattr(self.provisioner, "process", None)
        if process is None:
            return
        try:
            os.killpg(process.pid, signum)  # the kernel was started in its own session
        except (ProcessLookupError, PermissionError):
            pass

    def client(self, **kwargs: Any) -> Any:
        """A client whose sockets refuse messages over MAX_MESSAGE_BYTES."""
        if self._client_context is None:
            self._client_context = zmq.asyncio.Context()
            self._client_context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
        kwargs.setdefault("context", self._client_context)
        return super().client(**kwargs)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self._bridge is not None:
            self._bridge.close()
            self._bridge = None
        if self._lease is not None:
            self._lease.release()
            self._lease = None
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None
        self._client_context = None  # its sockets are closed by the client; it then ends

    cleanup_resources = _async_cleanup_resources  # the alias nbclient calls
