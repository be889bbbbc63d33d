"""Inside the sandbox: prepare a private world for one learner's kernel, then run it unprivileged.

`servelab.grading.sandbox` starts this module as root under ``unshare`` (new pid, mount, network,
ipc and uts namespaces), so it is process 1 of its own process tree. In order, it:

1. reads the submission's data files and the kernel's connection file (root-only paths);
2. brings up the loopback of its new network namespace and hands listening sockets for the
   allowed ports to the grader's bridge (the only way out of the namespace);
3. hides the gradebook, solutions, other submissions and the grader's secrets behind empty
   read-only mounts, and gives the learner a size-limited tmpfs as /tmp (its working dir);
   private, empty tmpfs cover the other places anyone may write (/var/tmp, /dev/shm, /run and
   with it /run/lock and /var/lock, /dev/mqueue), and then every other mount is made read-only,
   so nothing the learner writes can outlive the sandbox, whatever the host's permissions;
4. forks the kernel, which sets rlimits, drops to the sandbox uid (no capabilities, no new
   privileges) and execs ipykernel with a clean environment;
5. reaps processes until the kernel exits; when process 1 exits, Linux kills every process left
   in the namespace, so nothing the learner started outlives the grading of its notebook.

Run as: ``python -m servelab.grading.jail SPEC.json -- KERNEL_ARGV...``.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import re
import resource
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from pathlib import Path

# Linux constants (linux/fs.h, linux/prctl.h, linux/sockios.h, net/if.h).
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC = 1, 2, 4, 32, 4096, 16384
MS_PRIVATE = 1 << 18
MS_NOEXEC, MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 8, 1024, 2048, 1 << 21
MOUNT_FLAGS = {
    "nosuid": MS_NOSUID,
    "nodev": MS_NODEV,
    "noexec": MS_NOEXEC,
    "noatime": MS_NOATIME,
    "nodiratime": MS_NODIRATIME,
    "relatime": MS_RELATIME,
}
PR_SET_NO_NEW_PRIVS = 38
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
_libc = ctypes.CDLL(None, use_errno=True)
# Writable places a learner gets, each a private, size-limited tmpfs (besides /tmp, the scratch
# space). /run covers /run/lock (and /var/lock, a link to it); /dev/mqueue is covered so a
# POSIX message queue cannot be left in the host's (it is otherwise the host namespace's queue).
PRIVATE_TMPFS = ("/var/tmp", "/dev/shm", "/run", "/dev/mqueue")
#: Namespaces a warm kernel joins, in the order setns(2) is called (servelab/grading/zygote.py);
#: the mount namespace last: after it the paths of the template's world are gone.
NAMESPACES = ("net", "ipc", "uts", "pid", "mnt")
#: How often process 1 looks whether a warm kernel (not its child) has ended.
WARM_POLL_S = 0.05


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def mount(source: str, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    """mount(2), which Python's os module lacks."""
    _check(
        _libc.mount(
            source.encode(),
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() or None,
        ),
        f"mount {target}",
    )


def loopback_up() -> None:
    """Set ``lo`` up: a new network namespace starts with its loopback down."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(s, SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | IFF_UP))


def read_submission_files(folder: str, max_bytes: int) -> dict[str, bytes]:
    """The submission's own data files (not notebooks: the kernel is sent cells, not files)."""
    files: dict[str, bytes] = {}
    total = 0
    base = Path(folder)
    for path in sorted(base.rglob("*")):
        rel = path.relative_to(base)
        if path.is_symlink() or not path.is_file() or path.suffix == ".ipynb":
            continue
        if any(part.startswith(".") for part in rel.parts):
            continue
        total += path.stat().st_size
        if total > max_bytes:
            raise RuntimeError(f"submission files exceed {max_bytes} bytes")
        files[str(rel)] = path.read_bytes()
    return files


def offer_ports(ports: list[int], bridge_path: str) -> None:
    """Listen on 127.0.0.1:PORT here for each allowed port; send the sockets to the grader.

    The grader's bridge (servelab/grading/bridge.py) accepts on them from outside this network
    namespace and connects each connection to the same port on the host's loopback.
    """
    listeners = []
    for port in ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(64)
        listeners.append(s)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(bridge_path)
        socket.send_fds(conn, [json.dumps(ports).encode()], [s.fileno() for s in listeners])
    for s in listeners:
        s.close()


def hide(path: str, keep: list[str]) -> None:
    """Cover ``path`` with something empty and read-only (a file with /dev/null).

    Paths in ``keep`` below ``path`` (the Python installation, the servelab package) are put back,
    read-only, inside the empty cover: the kernel needs them, and can reach them even where an
    ancestor is private to root (a Python installed under /root).
    """
    if not os.path.isdir(path) or os.path.islink(path):
        if os.path.exists(path):
            mount("/dev/null", path, None, MS_BIND)
            mount("none", path, None, MS_BIND | MS_REMOUNT | MS_RDONLY)
        return
    inner = [k for k in keep if Path(path) in Path(k).parents and os.path.isdir(k)]
    originals = [os.open(k, os.O_PATH) for k in inner]  # still reachable once covered
    mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755")
    for target, fd in zip(inner, originals, strict=True):
        os.makedirs(target, mode=0o755, exist_ok=True)
        mount(f"/proc/self/fd/{fd}", target, None, MS_BIND | MS_REC)
        mount("none", target, None, MS_BIND | MS_REMOUNT | MS_RDONLY)
        os.close(fd)
    mount("none", path, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def build_scratch(spec: dict, files: dict[str, bytes], connection: bytes) -> None:
    """The learner's only writable places: size-limited tmpfs at /tmp, /var/tmp and /dev/shm."""
    uid, gid = spec["uid"], spec["gid"]
    limits = spec["limits"]
    flags = MS_NOSUID | MS_NODEV
    # A checkout (and its .venv) may itself live under /tmp (a CI clone, say): keep what the
    # kernel needs reachable, with the covers already mounted inside it, before /tmp goes private.
    under_tmp = [k for k in spec["keep"] if Path("/tmp") in Path(k).parents and os.path.isdir(k)]
    outermost = [k for k in under_tmp if not any(Path(o) in Path(k).parents for o in under_tmp)]
    originals = [os.open(k, os.O_PATH) for k in outermost]
    mount("tmpfs", "/tmp", "tmpfs", flags, f"size={limits['scratch_bytes']},mode=1777")
    for target, fd in zip(outermost, originals, strict=True):
        os.makedirs(target, mode=0o755, exist_ok=True)
        mount(f"/proc/self/fd/{fd}", target, None, MS_BIND | MS_REC)
        mount("none", target, None, MS_BIND | MS_REMOUNT | MS_RDONLY)
        os.close(fd)
    for extra in PRIVATE_TMPFS:
        if os.path.isdir(extra) and not os.path.islink(extra):
            mount("tmpfs", extra, "tmpfs", flags, f"size={limits['shm_bytes']},mode=1777")
    work = Path(spec["workdir"])
    work.mkdir(mode=0o700, parents=True)
    for rel, data in files.items():
        target = work / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    (work / "kernel.json").write_bytes(connection)
    for path in [work, *work.rglob("*")]:
        os.chown(path, uid, gid)


def mounts() -> list[tuple[str, int]]:
    """(mount point, its per-mount flags) for every mount here, from /proc/self/mountinfo."""
    out = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
        options = set(fields[5].split(","))
        flags = sum(bit for name, bit in MOUNT_FLAGS.items() if name in options)
        out.append((point, flags))
    return out


def seal(writable: tuple[str, ...]) -> list[str]:
    """Remount everything read-only but ``writable`` (and /proc); returns what could not be.

    Host directories open to everyone (/run/lock, a world-writable cache) would otherwise keep
    what a learner writes after the sandbox is gone. Each mount keeps its other flags (nosuid,
    nodev, noexec). A mount that refuses is reported; it is not fatal, since the kernel runs
    under its own uid and only places writable by anyone could still be written.
    """
    failed = []
    for point, flags in mounts():
        inside = [w for w in writable if point == w or point.startswith(w.rstrip("/") + "/")]
        if inside or point == "/proc" or point.startswith("/proc/"):
            continue  # a private tmpfs, or a kept path already bound read-only inside one
        try:
            mount("none", point, None, MS_BIND | MS_REMOUNT | MS_RDONLY | flags)
        except OSError as exc:
            failed.append(f"{point}: {exc}")
    return failed


def drop_privileges_and_exec(spec: dict, argv: list[str], log_fd: int) -> None:
    """In the forked child: limits, unprivileged uid, no new privileges, clean env, exec."""
    limit_and_drop(spec, log_fd)
    os.execve(argv[0], argv, spec["env"])


def limit_and_drop(spec: dict, log_fd: int) -> None:
    """Become the kernel's process: rlimits, nice, no groups, the sandbox uid (no capabilities),
    no new privileges, the working directory, stdin from /dev/null, stdout and stderr to the
    log pipe, every other descriptor closed. Used before ``exec`` here and by a warm kernel
    (servelab/grading/zygote.py)."""
    limits = spec["limits"]
    for res, value in [
        (resource.RLIMIT_CPU, limits["cpu_seconds"]),
        (resource.RLIMIT_AS, limits["memory_bytes"]),
        (resource.RLIMIT_NPROC, limits["max_processes"]),
        (resource.RLIMIT_FSIZE, limits["file_bytes"]),
        (resource.RLIMIT_NOFILE, limits["open_files"]),
        (resource.RLIMIT_CORE, 0),
    ]:
        resource.setrlimit(res, (value, value))
    os.nice(spec["niceness"])
    os.setgroups([])
    os.setresgid(spec["gid"], spec["gid"], spec["gid"])
    os.setresuid(spec["uid"], spec["uid"], spec["uid"])  # clears all capabilities
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
    os.chdir(spec["workdir"])
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.closerange(3, 65536)


def forward_log(read_fd: int, max_bytes: int) -> None:
    """Copy the kernel's own stderr to ours, up to ``max_bytes``; drain and drop the rest."""
    sent = 0
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        while chunk := pipe.read(65536):
            if sent < max_bytes:
                os.write(2, chunk[: max_bytes - sent])
                sent += len(chunk)


def main(argv: list[str]) -> int:
    if os.getpid() != 1 or "--" not in argv:
        print(
            "servelab.grading.jail runs as process 1 of a new pid namespace (via unshare)",
            file=sys.stderr,
        )
        return 2
    spec = json.loads(Path(argv[0]).read_text())
    kernel_argv = argv[argv.index("--") + 1 :]
    warm = connect_warm(spec.get("warm_socket"))  # before its path is covered
    mount("none", "/", None, MS_REC | MS_PRIVATE)  # nothing we mount leaks to the host
    files = read_submission_files(spec["copy_from"], spec["submission_files_bytes"])
    connection = Path(spec["connection_file"]).read_bytes()
    loopback_up()
    if spec["allowed_ports"]:
        offer_ports(spec["allowed_ports"], spec["bridge_socket"])
    for path in sorted(spec["hide"], key=len):  # broad covers first, then paths inside kept ones
        hide(path, spec["keep"])
    build_scratch(spec, files, connection)
    for problem in seal(PRIVATE_TMPFS + ("/tmp",)):
        print(f"servelab sandbox: could not make read-only: {problem}", file=sys.stderr)

    if warm is not None:
        from servelab.grading.zygote import kernel_args

        args = kernel_args(kernel_argv)
        if args is not None:
            return run_warm(warm, spec, kernel_argv, args)
        warm.close()

    # Interrupts go to the kernel (the grader signals the whole process group); process 1 ignores
    # them (from before the fork on), and passes a terminate request on.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    read_fd, write_fd = os.pipe()
    child = os.fork()
    if child == 0:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.close(read_fd)
        try:
            drop_privileges_and_exec(spec, kernel_argv, write_fd)
        except BaseException:
            traceback.print_exc()
        os._exit(127)
    os.close(write_fd)
    threading.Thread(
        target=forward_log, args=(read_fd, spec["kernel_log_bytes"]), daemon=True
    ).start()
    signal.signal(signal.SIGTERM, lambda *_: os.kill(child, signal.SIGTERM))
    while True:  # reap every orphan; leave when the kernel itself has exited
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 0
        except InterruptedError:
            continue
        if pid == child:
            return os.waitstatus_to_exitcode(status) & 0xFF


def connect_warm(path: str | None) -> socket.socket | None:
    """A connection to the grader's warm kernel template, if it has one (else None)."""
    if not path:
        return None
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
    except OSError as exc:
        print(f"servelab sandbox: no warm kernel ({exc}); starting one", file=sys.stderr)
        conn.close()
        return None
    return conn


def run_warm(conn: socket.socket, spec: dict, argv: list[str], args: list[str]) -> int:
    """Have the warm template start the kernel inside this sandbox; stay until it exits.

    The template joins this process's namespaces (sent as descriptors) and forks the kernel
    into them, under the same limits and uid as the ``exec`` path. The kernel is not this
    process's child, so interrupts and terminate requests are forwarded to it by pid, and its
    end is seen by polling. Orphans it leaves are reaped here as before.
    """
    ns_fds = [os.open(f"/proc/self/ns/{kind}", os.O_RDONLY) for kind in NAMESPACES]
    log_read, log_write = os.pipe()
    pid_read, pid_write = os.pipe()
    request = {"spec": spec, "argv": argv, "kernel_args": args}
    with conn:
        socket.send_fds(conn, [json.dumps(request).encode()], [*ns_fds, log_write, pid_write])
        answer = conn.recv(512)
    for fd in (*ns_fds, log_write, pid_write):
        os.close(fd)
    if answer != b"ok":
        print(f"servelab sandbox: warm kernel refused: {answer[:300]!r}", file=sys.stderr)
        return 127
    with os.fdopen(pid_read, "rb") as pipe:
        kernel = int(pipe.read(32) or b"0")
    if kernel <= 1:
        return 127
    threading.Thread(
        target=forward_log, args=(log_read, spec["kernel_log_bytes"]), daemon=True
    ).start()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda sig, _frame: _signal(kernel, sig))
    while _running(kernel):
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass
        time.sleep(WARM_POLL_S)
    return 0


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _running(pid: int) -> bool:
    """The process exists and is not a zombie (its parent, outside, reaps it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
