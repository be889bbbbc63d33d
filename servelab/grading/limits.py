"""What one learner's notebook may use while it is graded: the sandbox's limits, in one place.

Each limit is a named constant with where its value comes from. The sandbox applies them to the
kernel that runs the learner's code (see servelab/grading/jail.py for which layer enforces which).
"""

from __future__ import annotations

from dataclasses import dataclass, field

MIB = 2**20
GIB = 2**30

# Wall clock for a whole notebook. A lab notebook runs in well under a minute against recorded
# data; nbgrader's per-cell limit (Execute.timeout, 120 s in grading/nbgrader_config.py) stops a
# single stuck cell, this stops a notebook of many slow cells.
WALL_SECONDS = 600
# CPU seconds per process (RLIMIT_CPU). Same order as the wall limit: a busy-looping process
# (or each child of a fork bomb) is killed by the kernel once it has burnt this much CPU.
CPU_SECONDS = 600
# Address space per process (RLIMIT_AS). An ipykernel that has imported numpy, pandas,
# matplotlib and openai maps about 0.55 GiB of virtual memory on x86-64 Linux with
# MALLOC_ARENA_MAX=2 (measured in the sandbox from /proc/self/status VmSize, Nov 2026); 4 GiB
# leaves room for a lab's data frames and stops a memory hog long before it hurts a 16 GiB
# laptop or CI runner.
MEMORY_BYTES = 4 * GIB
# Processes and threads of the sandbox user (RLIMIT_NPROC; each sandbox gets its own uid, so
# this is per submission). An ipykernel runs about 10 threads; 128 leaves room for a learner's
# thread pool and stops a fork bomb.
MAX_PROCESSES = 128
# Largest file the learner's code may write (RLIMIT_FSIZE); a lab writes small CSV/JSON results.
FILE_BYTES = 64 * MIB
# Open files per process (RLIMIT_NOFILE); the kernel itself needs a few dozen.
OPEN_FILES = 1024
# Size of the private scratch space (tmpfs at /tmp holding the working directory, plus
# /dev/shm): all the learner's code can write in total, so disk cannot fill up.
SCRATCH_BYTES = 256 * MIB
SHM_BYTES = 64 * MIB
# Data files the submission brings along (copied into the scratch space); a lab's data is small.
SUBMISSION_FILES_BYTES = 64 * MIB
# Output kept in the graded notebook, per notebook. Feedback is read by a person: 1 MiB of text is
# already more than anyone reads; the rest is replaced by a note.
OUTPUT_KEPT_BYTES = 1 * MIB
# Output received from the kernel after which the cell is interrupted (KeyboardInterrupt):
# printing this much is misbehaviour, not a result.
OUTPUT_INTERRUPT_BYTES = 32 * MIB
# Output received after which the kernel is killed (it ignored the interrupt).
OUTPUT_KILL_BYTES = 128 * MIB
# Kernel log lines (the kernel's own stderr, not cell output) forwarded to the grader's log.
KERNEL_LOG_BYTES = 64 * 1024
# Scheduling priority of learner code (nice): the grader stays responsive while a learner's
# busy loop runs.
NICENESS = 10


@dataclass(frozen=True)
class Limits:
    """The resource limits of one sandboxed kernel (defaults: the constants above)."""

    wall_seconds: float = WALL_SECONDS
    cpu_seconds: int = CPU_SECONDS
    memory_bytes: int = MEMORY_BYTES
    max_processes: int = MAX_PROCESSES
    file_bytes: int = FILE_BYTES
    open_files: int = OPEN_FILES
    scratch_bytes: int = SCRATCH_BYTES
    shm_bytes: int = SHM_BYTES
    output_kept_bytes: int = OUTPUT_KEPT_BYTES
    output_interrupt_bytes: int = OUTPUT_INTERRUPT_BYTES
    output_kill_bytes: int = OUTPUT_KILL_BYTES
    #: loopback ports of the host the notebook may connect to (e.g. the embedded stack's)
    allowed_ports: tuple[int, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        assert self.wall_seconds > 0 and self.cpu_seconds > 0
        assert self.memory_bytes >= 256 * MIB, "a Python kernel needs a few hundred MiB"
        assert self.max_processes >= 16, "ipykernel alone runs about 10 threads"
        assert self.output_kept_bytes <= self.output_interrupt_bytes <= self.output_kill_bytes
        assert all(0 < p < 65536 for p in self.allowed_ports)
