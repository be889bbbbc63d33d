"""What the scripted upstream really did: one record per request, kept in memory and on disk.

Times are stamped the instant before the bytes are handed to the kernel (``transport.write``):
``*_perf`` with ``time.perf_counter()`` (CLOCK_MONOTONIC on Linux, the same clock a client on the
same host reads with ``time.perf_counter()``, so the two can be compared directly) and
``*_wall`` with ``time.time()`` (for humans and other hosts).
"""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path
from typing import IO

#: Records kept in memory for GET /debug/requests (the JSONL file keeps everything).
DEFAULT_KEEP = 100_000


class Recorder:
    """Append-only log of finished requests: a bounded in-memory deque plus an optional JSONL."""

    def __init__(self, path: str | Path | None = None, keep: int = DEFAULT_KEEP) -> None:
        self.records: deque[dict] = deque(maxlen=keep)
        self.next_seq = 0
        self._file: IO[str] | None = open(path, "a", buffering=1) if path else None  # noqa: SIM115

    def add(self, record: dict) -> None:
        record["seq"] = self.next_seq
        self.next_seq += 1
        self.records.append(record)
        if self._file is not None:
            self._file.write(json.dumps(record, separators=(",", ":")) + "\n")

    def since(self, seq: int = 0) -> list[dict]:
        """Records with ``seq >= seq`` still held in memory, oldest first."""
        return [r for r in self.records if r["seq"] >= seq]

    def clear(self) -> None:
        self.records.clear()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
