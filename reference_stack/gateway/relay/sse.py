"""Server-sent events, byte level: split an upstream stream into whole events, look inside only
the few events the gateway must understand.

A chat-completion stream is ``data: {json}`` events, each ended by a blank line, closed by
``data: [DONE]``. The format is the WHATWG HTML "server-sent events" one, and an upstream may
use all of it: lines may end in CRLF, LF or a lone CR; the space after ``data:`` is optional;
lines starting with ``:`` are comments (keep-alives); an event's data may span several
``data:`` lines (joined with a newline). The splitter normalises line ends to LF; everything
else is read per the spec where the gateway looks.

The gateway relays the upstream's bytes as they are and parses JSON only where it must: the
events before the first token (to know when the stream has really started, and whether it
opened with an error), the ``usage`` event (token counts for quotas), an in-band error event
mid-stream, and ``[DONE]``. Everything else is found with a substring search first, which costs
nanoseconds where a JSON round trip per chunk costs tens of microseconds.
"""

from __future__ import annotations

import json

#: What the gateway writes for [DONE] (an upstream's own form may differ: ``data:[DONE]``).
DONE = b"data: [DONE]\n\n"
_EVENT_END = b"\n\n"


class EventTooLarge(ValueError):
    """An upstream sent more than the allowed bytes without ending an event."""


class EventSplitter:
    """Feeds on arbitrary byte pieces; hands back only whole events, line ends normalised to
    LF (a partial event waits). A CR ending one piece is a line end already; if the next piece
    starts with LF, that LF is the rest of the same CRLF and is dropped."""

    __slots__ = ("pending", "max_event_bytes", "_after_cr")

    def __init__(self, max_event_bytes: int = 1024 * 1024) -> None:
        self.pending = b""
        self.max_event_bytes = max_event_bytes
        self._after_cr = False

    def feed(self, data: bytes) -> bytes:
        """The whole events completed by ``data``, concatenated (b"" if none yet)."""
        if self._after_cr:
            self._after_cr = False
            if data.startswith(b"\n"):
                data = data[1:]
        if b"\r" in data:  # SSE allows CRLF and CR line ends; normalise once
            self._after_cr = data.endswith(b"\r")
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if self.pending:
            data = self.pending + data
            self.pending = b""
        if data.endswith(_EVENT_END):  # the usual case: one read, whole events
            return data
        cut = data.rfind(_EVENT_END)
        if cut < 0:
            self.pending = data
            whole = b""
        else:
            self.pending = data[cut + 2 :]
            whole = data[: cut + 2]
        if len(self.pending) > self.max_event_bytes:
            raise EventTooLarge(
                f"over {self.max_event_bytes} bytes without an event end (a blank line)"
            )
        return whole


def split(block: bytes) -> list[bytes]:
    """The events of a block of whole events, each with its terminating blank line."""
    return [part + _EVENT_END for part in block.split(_EVENT_END) if part.strip(b"\n")]


def event_data(event: bytes) -> bytes | None:
    """The data of one event per the spec (``data:`` lines joined with LF; one space after the
    colon dropped; comments and other fields ignored), or None when it has no data field."""
    if event.startswith(b"data: ") and event.find(b"\n") == len(event) - 2:
        return event[6:-2]  # the usual one-line event
    data = None
    for line in event.split(b"\n"):
        if not line or line.startswith(b":"):
            continue
        name, colon, value = line.partition(b":")
        if colon and value.startswith(b" "):
            value = value[1:]
        if name == b"data":
            data = value if data is None else data + b"\n" + value
    return data


def event_json(event: bytes) -> object | None:
    """The event's data as JSON (None for no data, ``[DONE]`` or data that is not JSON)."""
    data = event_data(event)
    if data is None or data == b"[DONE]":
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


def carries_content(chunk: dict) -> bool:
    """Is this chunk the first token: text, a tool call, a refusal (or reasoning), or the end
    of an answer (``finish_reason``; an empty answer is still an answer)? A role-only delta,
    Azure's opening ``prompt_filter_results`` chunk and usage chunks carry none."""
    choices = chunk.get("choices")
    if not isinstance(choices, list):
        return False
    for choice in choices:
        if not isinstance(choice, dict):
            continue
        if choice.get("finish_reason"):
            return True
        delta = choice.get("delta")
        if isinstance(delta, dict) and any(
            delta.get(name)
            for name in (
                "content",
                "tool_calls",
                "refusal",
                "function_call",
                "audio",
                "reasoning_content",
                "reasoning",
            )
        ):
            return True
    return False


def opening(block: bytes) -> tuple[bool, str | None]:
    """Read the events a stream opened with: ``(True, None)`` once one carries content (the
    stream may start), ``(False, None)`` while they are content-free (hold them back), or
    ``(False, why)`` when the stream opened badly (an error, [DONE] or garbage before any
    content)."""
    for event in split(block):
        data = event_data(event)
        if data is None:  # a comment or keep-alive
            continue
        if data == b"[DONE]":
            return False, "stream ended ([DONE]) before any content"
        try:
            chunk = json.loads(data)
        except ValueError:
            return False, "an event before the first token is not JSON"
        if not isinstance(chunk, dict):
            return False, "an event before the first token is not a JSON object"
        if chunk.get("error"):
            return False, error_message(chunk["error"])
        if carries_content(chunk):
            return True, None
    return False, None


def error_message(error: object) -> str:
    return str(error.get("message") if isinstance(error, dict) else error)


def find_error(block: bytes) -> str | None:
    """The message of an in-band error event in ``block`` (``data: {"error": ...}``), or None.
    The substring test first: quotes inside JSON strings are escaped, so text that merely
    mentions "error" does not match."""
    if b'"error"' not in block:
        return None
    for event in split(block):
        chunk = event_json(event)
        if isinstance(chunk, dict) and chunk.get("error"):
            return error_message(chunk["error"])
    return None


def done_end(block: bytes) -> int:
    """Where the ``[DONE]`` event of ``block`` ends (bytes after it are not relayed), or -1."""
    if b"[DONE]" not in block:
        return -1
    at = 0
    for part in block.split(_EVENT_END):
        at += len(part) + 2
        if part.strip(b"\n") and event_data(part.lstrip(b"\n") + _EVENT_END) == b"[DONE]":
            return min(at, len(block))
    return -1


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
        data = event_json(event) if _has_usage_object(event) else None
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
