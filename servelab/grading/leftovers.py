"""After a grading run: anything the sandbox uids left on the host, found, removed, reported.

The sandbox is built so that nothing outlives it (servelab/grading/jail.py: private tmpfs for
every writable place, every other mount read-only, a pid namespace killed with its first
process). This is the tripwire behind that: if a host or kernel change ever opens a gap, the
run finds the files and processes owned by a sandbox uid, removes them and says so.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: Host places anyone may write to on a usual Linux; searched a few levels deep.
SCANNED = ("/tmp", "/var/tmp", "/dev/shm", "/run", "/var/lock", "/dev/mqueue", "/var/crash")
MAX_DEPTH = 4
#: Seconds a just-ended kernel's processes get to be reaped before they count as strays.
REAP_GRACE_S = 1.0


def sandbox_owned(uid: int, base: int, slots: int) -> bool:
    return base <= uid < base + slots


def stray_files(base: int, slots: int, roots: tuple[str, ...] = SCANNED) -> list[Path]:
    """Files and folders under ``roots`` owned by a sandbox uid (outermost ones only)."""
    found: list[Path] = []
    for root in roots:
        start = Path(root)
        if not start.is_dir() or start.is_symlink():
            continue
        stack = [(start, 0)]
        while stack:
            folder, depth = stack.pop()
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for entry in entries:
                try:
                    owner = entry.stat(follow_symlinks=False).st_uid
                except OSError:
                    continue
                if sandbox_owned(owner, base, slots):
                    found.append(Path(entry.path))
                elif entry.is_dir(follow_symlinks=False) and depth < MAX_DEPTH:
                    stack.append((Path(entry.path), depth + 1))
    return sorted(set(found))


def stray_processes(base: int, slots: int) -> list[int]:
    """Pids of live processes running as a sandbox uid."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            uid = entry.stat().st_uid
        except OSError:
            continue
        if sandbox_owned(uid, base, slots):
            pids.append(int(entry.name))
    return sorted(pids)


@contextmanager
def idle_uids(base: int, slots: int) -> Iterator[set[int]]:
    """The sandbox uids no one is using, held (their leases taken) while the block runs.

    Only a uid whose lease can be taken is idle: the others belong to sandboxes that are
    running now (this run's or another course's, even another test session's).
    """
    from servelab.grading.sandbox import try_lease

    held = {}
    try:
        for slot in range(slots):
            fd = try_lease(slot)
            if fd is not None:
                held[base + slot] = fd
        yield set(held)
    finally:
        for fd in held.values():
            os.close(fd)


def idle_strays(base: int, slots: int, idle: set[int]) -> list[int]:
    """Pids of live processes running as one of the ``idle`` uids, looked for twice: a kernel
    that has just ended may take a moment to be reaped."""
    pids = [p for p in stray_processes(base, slots) if _uid_of(p) in idle]
    if pids:
        time.sleep(REAP_GRACE_S)
        pids = [p for p in stray_processes(base, slots) if _uid_of(p) in idle]
    return pids


def sweep(base: int, slots: int, roots: tuple[str, ...] = SCANNED) -> list[str]:
    """Kill stray processes and remove stray files of the IDLE sandbox uids; what was found.

    Sandboxes running now (`idle_uids`) are left alone.
    """
    with idle_uids(base, slots) as idle:
        report = []
        for pid in idle_strays(base, slots, idle):
            try:
                os.kill(pid, signal.SIGKILL)
                report.append(f"process {pid} of a sandbox uid (killed)")
            except ProcessLookupError:
                pass
        for path in stray_files(base, slots, roots):
            try:
                owner = path.lstat().st_uid
            except OSError:
                continue
            if owner not in idle:
                continue
            report.append(f"{path} (removed)")
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        return report


def _uid_of(pid: int) -> int | None:
    try:
        return Path(f"/proc/{pid}").stat().st_uid
    except OSError:
        return None
