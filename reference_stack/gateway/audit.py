"""Append-only audit log of every routing decision that denied or rerouted a request.

One JSON object per line: when, which request, who (key name and owner, never the key), the
data class and the jurisdictions it allows, every candidate considered with the verdict on it,
every attempt made, and what was decided and why. A served-as-planned request (first choice
answered) writes nothing: the log stays small enough to read.

The file is opened in append mode (``O_APPEND``: each write lands at the end, even with other
writers) and each record is one ``write`` of one line, flushed at once.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)

    def write(self, record: dict) -> None:
        line = json.dumps({"ts": round(time.time(), 6), **record}, separators=(",", ":"))
        os.write(self._fd, line.encode() + b"\n")

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def read_audit(path: Path) -> list[dict]:
    """Every record of an audit file, oldest first (for tests and labs)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
