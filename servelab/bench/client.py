"""Send one chat completion and record its raw events: the heart of honest measurement.

Rules that keep the numbers honest:
- the request body is encoded before the clock starts; ``sent_at`` is read just before the POST;
- each network read is stamped the moment it is handed over, before any parsing, and every SSE
  event in that read gets that stamp (see `servelab.bench.http` for why not aiohttp);
- parsing stays small (one ``json.loads`` per event) because the client's own CPU time delays
  the stamps of every other stream it is reading.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .http import Pool, post_bytes

#: The gateway names the upstream that served a request in this header (reference_stack/gateway).
UPSTREAM_HEADER = "x-servelab-upstream"
#: Error bodies are cut to this many characters in the record.
MAX_ERROR_CHARS = 500
#: Per-request time limit: a stuck stream becomes an error record rather than a hung run.
DEFAULT_TIMEOUT_S = 600.0


@dataclass
class Target:
    """An OpenAI-compatible endpoint: base URL up to and including ``/v1``."""

    base_url: str
    model: str
    api_key: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def chat_path(self) -> str:
        return urlsplit(self.base_url).path.rstrip("/") + "/chat/completions"

    def request_headers(self, request_id: str) -> dict[str, str]:
        headers = {"content-type": "application/json", "x-request-id": request_id}
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        return headers | self.headers


def chat_body(
    target: Target,
    prompt: str,
    max_tokens: int | None,
    stream: bool = True,
    extra_body: dict | None = None,
) -> dict:
    """The JSON body of one chat completion (usage asked for, so token counts are the server's)."""
    body: dict = {
        "model": target.model,
        "messages": [{"role": "user", "content": prompt}],
        "stream": stream,
    }
    if stream:
        body["stream_options"] = {"include_usage": True}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    for key, value in (extra_body or {}).items():  # e.g. ignore_eos, continuous_usage_stats
        if isinstance(value, dict) and isinstance(body.get(key), dict):
            body[key] = body[key] | value
        else:
            body[key] = value
    return body


def new_record(request_id: str) -> dict:
    return {
        "request_id": request_id,
        "sent_at": 0.0,
        "chunks": [],
        "usage": None,
        "status": 0,
        "error": None,
        "upstream": None,
    }


def handle_event(record: dict, data: str, t: float) -> None:
    """Fold one SSE ``data:`` payload, stamped ``t``, into ``record``."""
    if data == "[DONE]":
        return
    obj = json.loads(data)
    if "error" in obj and not obj.get("choices"):  # vLLM / OpenAI in-stream error event
        err = obj["error"]
        record["error"] = err.get("message", str(err)) if isinstance(err, dict) else str(err)
        return
    record.setdefault("response_id", obj.get("id"))
    usage = obj.get("usage")
    if obj.get("choices"):
        choice = obj["choices"][0]
        n_tokens = None
        # running usage on every chunk (vLLM's continuous_usage_stats): tokens of this chunk =
        # the increase. Usage seen only on a late chunk (some servers put it on the last one)
        # says nothing about that chunk alone.
        running = record["usage"] is not None or not record["chunks"]
        if usage and usage.get("completion_tokens") is not None and running:
            before = record["usage"]["completion_tokens"] if record["usage"] else 0
            n_tokens = usage["completion_tokens"] - before
        record["chunks"].append(
            {
                "t": t,
                "text": (choice.get("delta") or {}).get("content") or "",
                "n_tokens": n_tokens,
                "finish_reason": choice.get("finish_reason"),
            }
        )
    if usage:
        record["usage"] = {
            "prompt_tokens": usage.get("prompt_tokens"),
            "completion_tokens": usage.get("completion_tokens"),
        }


def split_events(buffer: bytes) -> tuple[list[str], bytes]:
    """Complete SSE events' ``data`` payloads in ``buffer``, and the incomplete rest."""
    buffer = buffer.replace(b"\r\n", b"\n")
    *complete, rest = buffer.split(b"\n\n")
    payloads = []
    for event in complete:
        lines = [ln[5:].lstrip() for ln in event.decode().split("\n") if ln.startswith("data:")]
        if lines:  # lines starting with ":" are comments (keep-alive pings): skipped
            payloads.append("\n".join(lines))
    return payloads, rest


async def send(
    pool: Pool, target: Target, body: dict, request_id: str, timeout_s: float = DEFAULT_TIMEOUT_S
) -> dict:
    """POST one chat completion and return its raw-event record (never raises on HTTP errors)."""
    record = new_record(request_id)
    request = post_bytes(
        pool, target.chat_path, json.dumps(body).encode(), target.request_headers(request_id)
    )
    stream = bool(body.get("stream"))
    buffer = b""

    def on_data(t: float, data: bytes) -> None:  # runs in data_received: stamp already taken
        nonlocal buffer
        payloads, buffer = split_events(buffer + data)
        for p in payloads:
            handle_event(record, p, t)

    record["sent_at"] = time.perf_counter()
    conn = None
    try:
        conn = await pool.acquire()  # an idle keep-alive connection: no wait
        try:
            response = await asyncio.wait_for(
                conn.start(request, on_data if stream else None), timeout_s
            )
        except ConnectionError:
            # A reused connection the server had already closed: nothing of the request was
            # processed (no status line came back), so send it once more on a new connection,
            # and time it from there.
            if not (conn.reused and not conn.response.status and not record["chunks"]):
                raise
            conn = None
            record["sent_at"] = time.perf_counter()
            conn = await pool.acquire(fresh=True)
            response = await asyncio.wait_for(
                conn.start(request, on_data if stream else None), timeout_s
            )
        record["status"] = response.status
        record["upstream"] = response.headers.get(UPSTREAM_HEADER)
        if response.status != 200:
            text = response.body.decode(errors="replace")
            record["error"] = f"HTTP {response.status}: {text[:MAX_ERROR_CHARS]}"
        elif not stream:
            whole_reply(record, json.loads(response.body), time.perf_counter())
        pool.release(conn)
    except (OSError, ConnectionError, TimeoutError, ValueError, UnicodeDecodeError) as exc:
        if conn is not None:  # the status line may have arrived before the failure
            record["status"] = conn.response.status
            record["upstream"] = conn.response.headers.get(UPSTREAM_HEADER)
            conn.closed = True
            pool.release(conn)
        record["error"] = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS] or type(exc).__name__
    record["done_at"] = time.perf_counter()
    return record


def whole_reply(record: dict, obj: dict, t: float) -> None:
    """A non-streamed reply is one chunk holding all the text (TTFT = E2E)."""
    record["response_id"] = obj.get("id")
    usage = obj.get("usage")
    if usage:
        record["usage"] = {
            "prompt_tokens": usage.get("prompt_tokens"),
            "completion_tokens": usage.get("completion_tokens"),
        }
    choice = (obj.get("choices") or [{}])[0]
    record["chunks"].append(
        {
            "t": t,
            "text": (choice.get("message") or {}).get("content") or "",
            "n_tokens": usage.get("completion_tokens") if usage else None,
            "finish_reason": choice.get("finish_reason"),
        }
    )
