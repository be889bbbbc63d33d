"""Scripted upstream: an OpenAI-compatible server with exact, known timing, and a record of truth.

It generates no real text. It answers chat completions on a script (TTFT, then one chunk every
ITL) and records, per request, the instant it really wrote each chunk. Tests, graders and
benchmarks use it to check a client's measurements against the truth.

Run
---
    python -m reference_stack.scripted --port 8500 [--ttft-ms 50] [--itl-ms 10] [--chunks 32]
        [--tokens-per-chunk 1] [--jitter-ms 0] [--role-chunk-ms -1] [--no-usage] [--seed 0]
        [--max-running 0] [--model scripted] [--record FILE.jsonl] [--keep 100000]
        [--loop asyncio|uvloop]

``--port 0`` picks a free port. Chunks are never sent early; they leave about 0.1-1 ms after their
due time (asyncio timers, measured median 0.7 ms at 64 streams), more when the CPU is contended:
the records, not the script, are the truth. Cost measured about 30 us of CPU per chunk (16% of a
core at 64 streams x 100 chunks/s on a loaded 2-core Xeon). The first stdout line is always
``scripted upstream listening on http://HOST:PORT``. SIGINT/SIGTERM stop it. From Python::

    from reference_stack.scripted import ScriptedUpstream
    with ScriptedUpstream(ttft_ms=50, itl_ms=10, chunks=8, record="run.jsonl") as up:
        up.base_url        # "http://127.0.0.1:PORT" (add "/v1" for the openai SDK)
        up.records()       # GET /debug/requests, list of records (below)

Endpoints
---------
- ``POST /v1/chat/completions``: ``stream`` true or false; ``stream_options.include_usage``
  (final usage-only chunk with ``choices: []``), ``stream_options.continuous_usage_stats``
  (vLLM's running ``usage`` on every chunk); ``max_tokens`` / ``max_completion_tokens`` cut the
  output (``finish_reason: "length"``, otherwise ``"stop"``). Any ``model`` is accepted and
  echoed. ``x-request-id`` from the client is recorded as ``client_request_id``; the reply carries
  ``x-request-id: <id>`` (= the chunks' ``id``).
- ``GET /v1/models``, ``GET /health`` (200 ``{"status": "ok"}``).
- ``GET /debug/requests[?since=SEQ][&clear=1]``:
  ``{"records": [...], "next": SEQ, "in_flight": N}``.
  ``DELETE /debug/requests`` clears the in-memory records (not the ``--record`` file).

The script of a request
-----------------------
Defaults come from the command line; each request may override any field through a header
``x-scripted-<field>`` (``_`` or ``-``: ``x-scripted-ttft-ms: 120``) or the body field
``"scripted": {"ttft_ms": 120}`` (openai SDK: ``extra_body={"scripted": {...}}``); headers win.
An unknown field or bad value is a 400. Fields (times in ms):

==================  ========  ====================================================================
ttft_ms             50        request fully read -> first content chunk
itl_ms              10        gap between content chunks (absolute schedule: no drift)
chunks              32        content chunks (0: no content; one empty finish chunk at ttft)
tokens_per_chunk    1         words per content chunk (one word = one "token", no tokenizer)
jitter_ms           0         each gap uniform in itl_ms +- jitter_ms, seeded (<= itl_ms)
role_chunk_ms       -1        >= 0: a role-only chunk (``{"role":"assistant","content":""}``) at
                              this time; otherwise the role rides on the first content chunk
fail_after          -1        >= 0: stop after this many content chunks (at the next due time)
fail_mode           abort     ``abort``: close the connection mid-body (truncated chunked body);
                              ``error``: SSE ``data: {"error": {...}}`` then ``[DONE]``
status              200       other: reply at once with this status and an OpenAI error body
                              (429 and 503 add ``retry-after: 1``)
usage               true      false: no usage anywhere, even if asked
seed                0         seeds text (also keyed by the messages) and jitter
==================  ========  ====================================================================

``--max-running N`` (N > 0) lets at most N responses run at once; later requests wait FIFO
(streamed ones get their response headers at once, as from vLLM) and their script starts when a
slot frees, so queueing adds to TTFT and load tests show a knee. Requests with a scripted
``status`` never queue.

Output tokens = ``chunks * tokens_per_chunk`` cut to ``max_tokens``; content chunk i is due at
``ttft_ms + i * itl_ms``; ``finish_reason`` rides on the last content chunk; the usage chunk and
``data: [DONE]`` follow at once. ``prompt_tokens`` = whitespace words of the messages.
Non-streamed replies are sent whole when the last chunk would have been due.

Record (one per finished request: memory, ``--record`` JSONL, /debug/requests)
-----------------------------------------------------------------------------
``{"seq", "id", "client_request_id", "model", "stream", "script": {fields above},
"received_perf", "received_wall", "started_perf" (left the queue), "prompt_tokens",
"completion_tokens", "status", "error", "done_perf",
"chunks": [{"kind": "role"|"content"|"error"|"whole", "due": s after the script started,
"sent_perf", "sent_wall", "text", "n_tokens", "finish_reason"}]}``. ``*_perf`` is
``time.perf_counter()`` taken right before ``transport.write`` (CLOCK_MONOTONIC on Linux: the same
clock as a client's ``perf_counter()`` on the same host); ``*_wall`` is ``time.time()``.
``received_*`` is when the request's last byte was parsed. ``error`` is set for scripted
failures and ``"client disconnected"``. The usage chunk is not listed. ``truth.py`` derives
TTFT / TTFCT / ITL / E2E from a record exactly as servelab.bench.metrics does from a client's
(TTFT counted from ``received``, queue included), ``lateness`` (sent minus due) and ``phases``
(queued / prefill / decode segments for servelab.bench.plots.timeline).
"""

from .process import ScriptedUpstream
from .script import Script

__all__ = ["Script", "ScriptedUpstream"]
