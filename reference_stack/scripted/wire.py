"""Bytes on the wire: OpenAI chat-completion chunks as SSE events, framed as HTTP/1.1 chunks.

Kept apart from the server so a learner can read exactly what a streaming chat completion
looks like: ``data: {json}\\n\\n`` events, ended by ``data: [DONE]``, each sent as one
HTTP chunk (``<hex length>\\r\\n<bytes>\\r\\n``), the body ended by ``0\\r\\n\\r\\n``.
"""

from __future__ import annotations

import json
from http import HTTPStatus

END_OF_BODY = b"0\r\n\r\n"


def http_chunk(payload: bytes) -> bytes:
    """One HTTP/1.1 chunk of a ``Transfer-Encoding: chunked`` body."""
    return b"%x\r\n%b\r\n" % (len(payload), payload)


def sse(obj: dict | str) -> bytes:
    """One server-sent event carrying ``obj`` (a dict is sent as compact JSON)."""
    data = obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":"))
    return b"data: " + data.encode() + b"\n\n"


def head(status: int, headers: dict[str, str], *, chunked: bool, length: int = 0) -> bytes:
    """Status line and headers of a response (chunked, or with a Content-Length)."""
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines.append("transfer-encoding: chunked" if chunked else f"content-length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def json_response(status: int, obj: object, headers: dict[str, str] | None = None) -> bytes:
    """A complete JSON response."""
    body = json.dumps(obj, separators=(",", ":")).encode()
    all_headers = {"content-type": "application/json", **(headers or {})}
    return head(status, all_headers, chunked=False, length=len(body)) + body


def error_body(status: int, message: str) -> dict:
    """OpenAI-style error object (``{"error": {"message", "type", "code"}}``)."""
    kind = "invalid_request_error" if status < 500 else "server_error"
    if status == 429:
        kind = "rate_limit_error"
    return {"error": {"message": message, "type": kind, "param": None, "code": status}}


def chunk(
    rid: str,
    created: int,
    model: str,
    delta: dict,
    finish_reason: str | None,
    usage: dict | None = None,
) -> dict:
    """One ``chat.completion.chunk`` object with a single choice."""
    obj = {
        "id": rid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }
    if usage is not None:  # vLLM's continuous_usage_stats: running usage on every chunk
        obj["usage"] = usage
    return obj


def usage_chunk(rid: str, created: int, model: str, usage: dict) -> dict:
    """The final usage-only chunk of ``stream_options.include_usage`` (empty ``choices``)."""
    return {
        "id": rid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [],
        "usage": usage,
    }


def completion(
    rid: str, created: int, model: str, text: str, finish_reason: str, usage: dict | None
) -> dict:
    """A non-streamed ``chat.completion``."""
    obj = {
        "id": rid,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "logprobs": None,
                "finish_reason": finish_reason,
            }
        ],
    }
    if usage is not None:
        obj["usage"] = usage
    return obj


def usage(prompt_tokens: int, completion_tokens: int) -> dict:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
