"""A warm kernel template: one process that has imported the kernel's libraries, forked into
each sandbox instead of a kernel that starts from nothing.

A learner's kernel spends most of its CPU on start-up: Python, IPython and ipykernel, then the
libraries every lab imports (numpy, pandas, matplotlib, openai). Graded 3,000 times a term,
that is the grading. So each grading worker starts this process once. It imports those
libraries and nothing else (no course file, no gradebook, no grader state: it is started fresh,
never forked from the grader), then waits on a Unix socket that only root may reach.

For each kernel, the sandbox's process 1 (servelab/grading/jail.py), once it has built the
learner's private world, sends its namespaces (mount, network, IPC, UTS, pid) as file
descriptors, with the kernel's limits, uid, environment and arguments. The template forks; the
fork enters those namespaces, forks again so the kernel is inside the sandbox's pid namespace,
then does exactly what the jail's own child does before ``exec``: rlimits, nice, no groups, the
sandbox uid, no new privileges, the working directory, clean standard streams, a clean
environment; and runs ipykernel in place, with the libraries already loaded. The kernel's pid
goes back to process 1, which forwards interrupts to it and ends the sandbox when it exits
(Linux then kills everything left in the pid namespace, the kernel included).

Set SERVELAB_GRADING_WARM=0 to start every kernel from nothing (servelab/grading/jail.py's
``exec`` path), e.g. to compare the two (benchmarks/grading_throughput.py).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import importlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from servelab.grading.jail import NAMESPACES  # the order setns(2) is called in

#: Libraries a lab kernel imports; loaded once per grading worker instead of once per kernel.
WARM_MODULES = (
    "IPython",
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "numpy",
    "pandas",
    "matplotlib",
    "matplotlib.pyplot",
    "httpx",
    "openai",
    "servelab.grading.agent",
    "servelab.grading.guard",
)
CLONE_FLAGS = {"net": 0x40000000, "ipc": 0x08000000, "uts": 0x04000000, "pid": 0x20000000}
CLONE_FLAGS["mnt"] = 0x00020000
ENV_SWITCH = "SERVELAB_GRADING_WARM"
#: Seconds the template gets to import its libraries before a grader gives up on it.
START_TIMEOUT_S = 60.0
MAX_REQUEST_BYTES = 1 << 20
PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def enabled() -> bool:
    """Warm kernels are on unless SERVELAB_GRADING_WARM=0."""
    return os.environ.get(ENV_SWITCH, "1") != "0"


def _setns(fd: int, kind: str) -> None:
    if _libc.setns(fd, CLONE_FLAGS[kind]) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns({kind}): {os.strerror(err)}")


def kernel_args(argv: list[str]) -> list[str] | None:
    """ipykernel's own arguments from a kernel command line, or None if it is not ipykernel."""
    for i, arg in enumerate(argv[:-1]):
        if arg == "-m" and argv[i + 1] in ("ipykernel_launcher", "ipykernel"):
            return argv[i + 2 :]
    return None


def run_kernel(request: dict[str, Any], fds: list[int]) -> None:
    """In the forked child: join the sandbox, become the kernel there (never returns)."""
    from servelab.grading import jail

    *ns_fds, log_fd, pid_fd = fds
    code = 127
    try:
        for kind, fd in zip(NAMESPACES, ns_fds, strict=True):
            _setns(fd, kind)
            os.close(fd)
        kernel = os.fork()  # the first child inside the sandbox's pid namespace
        if kernel:
            os.close(log_fd)
            os.close(pid_fd)
            _, status = os.waitpid(kernel, 0)
            os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.write(pid_fd, str(os.getpid()).encode())
        os.close(pid_fd)
        spec = request["spec"]
        jail.limit_and_drop(spec, log_fd)
        os.environ.clear()
        os.environ.update(spec["env"])
        del sys.path[0]  # the template's folder; ipykernel_launcher drops its cwd entry too
        sys.argv = [request["argv"][0], *request["kernel_args"]]
        with contextlib.suppress(Exception):
            import numpy

            numpy.random.seed()  # not the template's state: fresh entropy per kernel
        from ipykernel import kernelapp

        kernelapp.launch_new_instance(argv=request["kernel_args"])
        code = 0
    except BaseException:  # noqa: BLE001 - nothing may escape a forked child
        import traceback

        traceback.print_exc()
    os._exit(code)


def serve(path: str) -> None:
    """The template's loop: import, then fork one kernel per request (see the module doc)."""
    for name in WARM_MODULES:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    import matplotlib

    matplotlib.use("Agg")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    os.chmod(path, 0o600)
    listener.listen(16)
    print("ready", flush=True)
    while True:
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        conn, _ = listener.accept()
        fds: list[int] = []
        try:
            message, fds, _, _ = socket.recv_fds(conn, MAX_REQUEST_BYTES, len(NAMESPACES) + 2)
            request = json.loads(message)
            if len(fds) != len(NAMESPACES) + 2:
                raise ValueError(f"expected {len(NAMESPACES) + 2} descriptors, got {len(fds)}")
            child = os.fork()
            if child == 0:
                listener.close()
                conn.close()
                run_kernel(request, fds)
            conn.sendall(b"ok")
        except Exception as exc:  # noqa: BLE001 - one bad request must not end the template
            with contextlib.suppress(OSError):
                conn.sendall(f"error: {exc}".encode()[:500])
        finally:
            for fd in fds:
                with contextlib.suppress(OSError):
                    os.close(fd)
            conn.close()


class Template:
    """The grader's handle on its warm kernel template (one per grading process)."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="servelab-warm-"))
        self.folder.chmod(0o700)
        self.socket_path = str(self.folder / "template.sock")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
        env |= {"MPLBACKEND": "Agg", "MPLCONFIGDIR": str(self.folder / "matplotlib")}
        env["MALLOC_ARENA_MAX"] = "2"  # as the kernel's own (servelab/grading/sandbox.py)
        if "PYTHONPATH" in os.environ:
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "servelab.grading.zygote", self.socket_path],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            env=env,
            cwd=str(self.folder),
            close_fds=True,
            preexec_fn=lambda: _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0),
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        ready = select.select([self.process.stdout], [], [], START_TIMEOUT_S)[0]
        line = self.process.stdout.readline() if ready and self.process.stdout else b""
        if line.strip() != b"ready" or time.monotonic() > deadline:
            self.close()
            raise RuntimeError("the warm kernel template did not start")

    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        with contextlib.suppress(Exception):
            self.process.wait(timeout=5)
        import shutil

        shutil.rmtree(self.folder, ignore_errors=True)


_template: Template | None = None


def template() -> Template | None:
    """This process's template, started on first use; None if warm kernels are off or broken."""
    global _template
    if not enabled():
        return None
    if _template is None or not _template.alive():
        try:
            _template = Template()
        except Exception:  # noqa: BLE001 - grading goes on, kernels start from nothing
            _template = None
        else:
            atexit.register(_template.close)
    return _template


if __name__ == "__main__":
    serve(sys.argv[1])
