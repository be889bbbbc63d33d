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
from pathlib import Path

#: Host places anyone may write to on a usual Linux; searched a few levels deep.
SCANNED = ("/tmp", "/var/tmp", "/dev/shm", "/run", "/var/lock", "/dev/mqueue", "/var/crash")
MAX_DEPTH = 4


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


def sweep(base: int, slots: int) -> list[str]:
    """Kill stray processes and remove stray files of the sandbox uids; what was found."""
    report = []
    for pid in stray_processes(base, slots):
        try:
            os.kill(pid, signal.SIGKILL)
            report.append(f"process {pid} of a sandbox uid (killed)")
        except ProcessLookupError:
            pass
    for path in stray_files(base, slots):
        report.append(f"{path} (removed)")
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return report
