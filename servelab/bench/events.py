"""Raw events of a benchmark run: one record per request, saved so any metric can be recomputed.

A record is a plain dict (JSON-ready)::

    {"request_id": str,
     "sent_at": float,            # time.perf_counter() when the request was sent (seconds)
     "chunks": [{"t": float,      # arrival, same clock as sent_at
                 "text": str,     # content delta ("" for role-only or empty chunks)
                 "n_tokens": int | None,        # tokens in this chunk, if the server said
                 "finish_reason": str | None}],
     "usage": {"prompt_tokens": int, "completion_tokens": int} | None,
     "status": int,               # HTTP status (0: no response at all)
     "error": str | None,
     "upstream": str | None}      # gateway header x-servelab-upstream

Only chunks that carry ``choices`` are listed; the usage-only final chunk goes to ``usage``.
Extra fields the load generator adds: ``response_id``, ``warmup`` (bool), ``prompt_tokens``
(known length of the prompt sent), ``max_tokens``, ``done_at``.

Files: JSON lines (one record a line, run metadata in ``<name>.meta.json`` beside it) or Parquet
(one row a record, ``chunks`` a list of structs, metadata in the schema under ``servelab``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

import pyarrow as pa
import pyarrow.parquet as pq

PARQUET_META_KEY = b"servelab"


class Chunk(TypedDict):
    t: float
    text: str
    n_tokens: int | None
    finish_reason: str | None


class Usage(TypedDict):
    prompt_tokens: int
    completion_tokens: int


class Record(TypedDict, total=False):
    request_id: str
    sent_at: float
    chunks: list[Chunk]
    usage: Usage | None
    status: int
    error: str | None
    upstream: str | None


REQUIRED = ("request_id", "sent_at", "chunks", "usage", "status", "error", "upstream")


@dataclass
class Run:
    """The records of one run and its metadata (target, model, load model, hardware...)."""

    records: list[dict]
    meta: dict[str, Any] = field(default_factory=dict)


def validate(record: dict) -> dict:
    """Raise ValueError naming what is wrong if ``record`` is not a raw-event record."""
    missing = [k for k in REQUIRED if k not in record]
    if missing:
        raise ValueError(f"record {record.get('request_id')!r} lacks {missing}")
    for i, c in enumerate(record["chunks"]):
        if not {"t", "text"} <= c.keys():
            raise ValueError(f"record {record['request_id']!r} chunk {i} lacks 't' or 'text'")
    return record


def meta_path(path: str | Path) -> Path:
    """Where the metadata of a JSON-lines file lives: ``run.jsonl`` -> ``run.meta.json``."""
    path = Path(path)
    return path.with_name(path.name.removesuffix(".jsonl") + ".meta.json")


def save_jsonl(path: str | Path, records: list[dict], meta: dict | None = None) -> Path:
    """Write records as JSON lines (and ``meta`` beside them); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        for r in records:
            f.write(json.dumps(validate(r), separators=(",", ":")) + "\n")
    if meta is not None:
        meta_path(path).write_text(json.dumps(meta, indent=2, default=str) + "\n")
    return path


def load_jsonl(path: str | Path) -> Run:
    path = Path(path)
    records = [validate(json.loads(line)) for line in path.read_text().splitlines() if line]
    mp = meta_path(path)
    meta = json.loads(mp.read_text()) if mp.exists() else {}
    return Run(records, meta)


def save_parquet(path: str | Path, records: list[dict], meta: dict | None = None) -> Path:
    """Write records as Parquet, one row a request; ``meta`` goes in the schema metadata."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = list(dict.fromkeys(k for r in records for k in validate(r)))  # union, in order
    table = pa.Table.from_pylist([{k: r.get(k) for k in keys} for r in records])
    encoded = json.dumps(meta or {}, default=str).encode()
    table = table.replace_schema_metadata(
        {**(table.schema.metadata or {}), PARQUET_META_KEY: encoded}
    )
    pq.write_table(table, path)
    return path


def load_parquet(path: str | Path) -> Run:
    table = pq.read_table(path)
    meta = json.loads((table.schema.metadata or {}).get(PARQUET_META_KEY, b"{}"))
    return Run([validate(r) for r in table.to_pylist()], meta)


def save(path: str | Path, records: list[dict], meta: dict | None = None) -> Path:
    """Save by extension: ``.parquet`` or ``.jsonl``."""
    if str(path).endswith(".parquet"):
        return save_parquet(path, records, meta)
    if str(path).endswith(".jsonl"):
        return save_jsonl(path, records, meta)
    raise ValueError(f"{path}: use a .jsonl or .parquet file name")


def load(path: str | Path) -> Run:
    """Load a run saved by `save` (either format)."""
    if str(path).endswith(".parquet"):
        return load_parquet(path)
    if str(path).endswith(".jsonl"):
        return load_jsonl(path)
    raise ValueError(f"{path}: use a .jsonl or .parquet file name")


def load_records(path: str | Path) -> list[dict]:
    """Just the records of a saved run."""
    return load(path).records
