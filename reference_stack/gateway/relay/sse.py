"""Server-sent events, byte level: split an upstream stream into whole events, look inside only
the few events the gateway must understand.

A chat-completion stream is ``data: {json}\\n\\n`` events ending with ``data: [DONE]\\n\\n``.
The gateway relays the upstream's bytes as they are; it parses JSON only for:
the first event (an in-band error before any content must fail over), the ``usage`` event
(token counts for quotas), and an in-band error event mid-stream. Everything else is found with
a substring search, which costs microseconds where a JSON round trip per chunk costs tens.
"""

from __future__ import annotations

import json

DONE = b"data: [DONE]\n\n"
_EVENT_END = b"\n\n"
_ERROR_START = b'data: {"error"'


class EventSplitter:
    """Feeds on arbitrary byte pieces; hands back only whole events (a partial event waits)."""

    __slots__ = ("pending",)

    def __init__(self) -> None:
        self.pending = b""

    def feed(self, data: bytes) -> bytes:
        """The whole events completed by ``data``, concatenated (b"" if none yet)."""
        if b"\r" in data:  # SSE allows CRLF line ends; normalise once
            data = data.replace(b"\r\n", b"\n")
        if self.pending:
            data = self.pending + data
            self.pending = b""
        if data.endswith(_EVENT_END):  # the usual case: one read, whole events
            return data
        cut = data.rfind(_EVENT_END)
        if cut < 0:
            self.pending = data
            return b""
        self.pending = data[cut + 2 :]
        return data[: cut + 2]


def split(block: bytes) -> list[bytes]:
    """The events of a block of whole events, each with its terminating blank line."""
    return [part + _EVENT_END for part in block.split(_EVENT_END) if part]


def _data_json(event: bytes) -> object | None:
    for line in event.split(b"\n"):
        if line.startswith(b"data:"):
            payload = line[5:].strip()
            if payload == b"[DONE]":
                return None
            try:
                return json.loads(payload)
            except ValueError:
                return None
    return None


def first_event_error(block: bytes) -> str | None:
    """Why the first events of a stream are not a good start, or None if they are."""
    events = [e for e in split(block) if e.startswith(b"data:")]
    if not events:
        return "no data event"
    first = events[0]
    if first.startswith(b"data: [DONE]"):
        return "stream ended ([DONE]) before any chunk"
    data = _data_json(first)
    if not isinstance(data, dict):
        return "first event is not a JSON object"
    if data.get("error"):
        error = data["error"]
        return str(error.get("message") if isinstance(error, dict) else error)
    return None


def has_error(block: bytes) -> bool:
    return _ERROR_START in block


def _has_usage_object(block: bytes) -> bool:
    """Does ``"usage"`` appear with an object value (not ``null``, as on OpenAI's other chunks)?"""
    at = block.find(b'"usage"')
    while at >= 0:
        value = block[at + 7 : at + 16].lstrip(b": ")
        if value.startswith(b"{"):
            return True
        at = block.find(b'"usage"', at + 7)
    return False


def take_usage(block: bytes, keep_usage_event: bool) -> tuple[bytes, dict | None]:
    """Find the ``usage`` object in a block; drop the usage-only event unless the client asked
    for it (``stream_options.include_usage``). Most blocks have no usage and return at once."""
    if not _has_usage_object(block):
        return block, None
    usage = None
    kept = []
    for event in split(block):
        data = _data_json(event) if _has_usage_object(event) else None
        if isinstance(data, dict) and isinstance(data.get("usage"), dict):
            usage = data["usage"]
            if not keep_usage_event and data.get("choices") == []:
                continue  # the usage-only event the client did not ask for
        kept.append(event)
    return b"".join(kept), usage


def error_event(message: str, code: str, type_: str = "upstream_error") -> bytes:
    """An in-band error event in OpenAI's shape; the openai SDK raises ``APIError`` on it."""
    body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    return b"data: " + json.dumps(body).encode() + _EVENT_END


def comment(text: str) -> bytes:
    """An SSE comment line: clients (the openai SDK included) ignore it, humans can read it."""
    return b": " + text.encode() + _EVENT_END
