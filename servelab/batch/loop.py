"""The baseline: the whole job in one process, one request at a time, with the openai SDK.

Nothing to install, nothing to start, nothing to go wrong between the documents and the engine;
also nothing that uses a second engine slot or a second machine. ``ray_pipeline`` is measured
against this (benchmarks/batch_ray.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import openai

from servelab.batch.spec import ChatJob, Endpoint, result_row

#: attempts after the first for a failed request (connection error, 408, 429, 5xx): the SDK
#: retries those with exponential backoff, as Ray's HTTP stage does
RETRIES = 3
#: seconds one request may take before it counts as failed (and is retried)
REQUEST_TIMEOUT_S = 60.0


def run_loop(
    docs: Sequence[Mapping[str, Any]],
    job: ChatJob,
    target: Endpoint,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """One result row per document, in the corpus order; ``on_row`` sees each as it arrives."""
    client = openai.OpenAI(
        base_url=target.base_url,
        api_key=target.api_key,
        default_headers=dict(target.headers),
        max_retries=RETRIES,
        timeout=REQUEST_TIMEOUT_S,
    )
    rows = []
    with client:
        for doc in docs:
            completion = client.chat.completions.create(**job.body(doc["text"]))
            row = result_row(doc, completion.model_dump())
            rows.append(row)
            if on_row is not None:
                on_row(row)
    return rows
