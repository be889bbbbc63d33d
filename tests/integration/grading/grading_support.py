"""What the grading tests share: the test class's submissions, limits and readers of the results.

The test lab (tests/hostile/fixture_course.py) is submitted by two good learners, a partly wrong
one, one learner per hostile script and one per tampered notebook, and graded with 2 jobs in
the sandbox, then given feedback, as an instructor would. test_grading_sandbox.py checks the
sandbox against each misbehaviour; test_grading_attacks.py checks every attack class on the
verdict, the feedback and the host.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import uuid
from pathlib import Path

from hostile import fixture_course as fc

from servelab.grading.sandbox import SandboxUnavailable, check_available

try:
    check_available()
    SANDBOX = ""
except SandboxUnavailable as exc:  # not root / no util-linux: the sandbox cannot be built
    SANDBOX = str(exc)

GOOD = ["good_one", "good_two"]
# Small limits so the hostile run stays short; the defaults are in servelab/grading/limits.py.
TEST_LIMITS = {
    "wall_seconds": 90,
    "memory_bytes": 2**30,
    "output_interrupt_bytes": 4 * 2**20,
    "output_kill_bytes": 16 * 2**20,
    "scratch_bytes": 32 * 2**20,
}
#: generous: a nice-10 kernel gets little CPU on a 2-core runner busy with other tests (under
#: pytest-xdist a browser runs beside it); 15 s was seen to time out a one-line cell there
CELL_TIMEOUT = 30
#: Secrets in the grader's environment while it grades: none may reach a kernel.
GRADER_SECRETS = {
    "OPENAI_API_KEY": "sk-grader-" + uuid.uuid4().hex,
    "SERVELAB_HOSTILE_PROBE": "probe-" + uuid.uuid4().hex,
}


class Listener:
    """A loopback TCP server of the test: records connections, echoes one line back."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = conn.recv(100)
                self.received.append(data)
                conn.sendall(data)

    def close(self) -> None:
        self.sock.close()


def sha(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def grades(course, student: str) -> dict[str, float | None]:
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url, course.course_id) as gb:
        nb = gb.find_submission_notebook(fc.LAB, fc.LAB, student)
        return {g.name: g.auto_score for g in nb.grades}


def graded_notebook(course, student: str) -> dict:
    return json.loads((course.autograded / student / fc.LAB / f"{fc.LAB}.ipynb").read_text())


def feedback_page(course, student: str) -> str:
    return (course.feedback / student / fc.LAB / f"{fc.LAB}.html").read_text()
