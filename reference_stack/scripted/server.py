"""The scripted upstream's HTTP server: a bare asyncio protocol, no web framework.

Why so bare: it is the yardstick other code is measured against, so it must cost almost nothing
and add no jitter of its own. Each request is parsed by ``httptools`` (the C parser uvicorn uses);
each chunk of a stream is one ``loop.call_at`` timer at its absolute due time (no drift) and one
``transport.write``, stamped as it is written.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
from urllib.parse import parse_qs

import httptools

from . import wire
from .recorder import Recorder
from .script import Plan, Script, count_prompt_tokens, plan, with_overrides


class Upstream:
    """State shared by all connections: default script, model name, recorder, and the queue.

    With ``max_running`` > 0 at most that many responses run at once; the others wait in FIFO
    order (like requests waiting for a batch slot in an engine) and their script starts when a
    slot frees, so the time spent queued adds to their TTFT.
    """

    def __init__(
        self, defaults: Script, recorder: Recorder, model: str = "scripted", max_running: int = 0
    ) -> None:
        self.defaults = defaults
        self.recorder = recorder
        self.model = model
        self.max_running = max_running
        self.ids = itertools.count()
        self.in_flight = 0  # accepted, not finished (running + waiting)
        self.running = 0
        self.waiting: deque[Stream] = deque()

    def protocol(self) -> Connection:
        return Connection(self)

    def admit(self, stream: Stream) -> None:
        """Start ``stream`` now, or queue it while every slot is taken."""
        if self.max_running and self.running >= self.max_running:
            self.waiting.append(stream)
        else:
            stream.begin()

    def slot_freed(self) -> None:
        while self.waiting and (not self.max_running or self.running < self.max_running):
            self.waiting.popleft().begin()


class Connection(asyncio.Protocol):
    """One client connection (HTTP/1.1 keep-alive, one request at a time)."""

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.stream: Stream | None = None
        self._reset()

    def _reset(self) -> None:
        self.url = b""
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []

    # -- asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.send(wire.json_response(400, wire.error_body(400, "malformed HTTP request")))
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.stream is not None:
            self.stream.abandon("client disconnected")

    # -- httptools callbacks ---------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._reset()

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        received_perf, received_wall = time.perf_counter(), time.time()
        self.transport.pause_reading()  # one request at a time on this connection
        method = self.parser.get_method().decode()
        url = httptools.parse_url(self.url)
        path, query = url.path.decode(), parse_qs((url.query or b"").decode())
        self.route(method, path, query, received_perf, received_wall)

    # -- routing ---------------------------------------------------------------------------
    def route(self, method: str, path: str, query: dict, perf: float, wall: float) -> None:
        up = self.upstream
        if path == "/health" and method in ("GET", "HEAD"):
            self.finish(wire.json_response(200, {"status": "ok"}))
        elif path == "/v1/models" and method == "GET":
            model = {"id": up.model, "object": "model", "created": 0, "owned_by": "servelab"}
            self.finish(wire.json_response(200, {"object": "list", "data": [model]}))
        elif path == "/debug/requests" and method == "GET":
            since = int(query.get("since", ["0"])[0])
            records = up.recorder.since(since)
            if query.get("clear", ["0"])[0] in ("1", "true"):
                up.recorder.clear()
            reply = {"records": records, "next": up.recorder.next_seq, "in_flight": up.in_flight}
            self.finish(wire.json_response(200, reply))
        elif path == "/debug/requests" and method == "DELETE":
            up.recorder.clear()
            self.finish(wire.json_response(200, {"cleared": True}))
        elif path == "/v1/chat/completions" and method == "POST":
            self.chat(perf, wall)
        else:
            msg = f"{method} {path} is not served by the scripted upstream"
            self.finish(wire.json_response(404, wire.error_body(404, msg)))

    def chat(self, perf: float, wall: float) -> None:
        up = self.upstream
        try:
            body = json.loads(b"".join(self.body) or b"{}")
            if not isinstance(body, dict):
                raise ValueError("the request body must be a JSON object")
            script = with_overrides(up.defaults, self.headers, body)
        except (ValueError, TypeError) as exc:
            self.finish(wire.json_response(400, wire.error_body(400, f"bad request: {exc}")))
            return
        self.stream = Stream(self, script, body, perf, wall)
        self.stream.start()

    # -- writing ---------------------------------------------------------------------------
    def send(self, data: bytes) -> bool:
        """Write ``data`` unless the connection is gone; True when written."""
        if self.transport is None or self.transport.is_closing():
            return False
        self.transport.write(data)
        return True

    def finish(self, data: bytes = b"", close: bool = False) -> None:
        """End the current response; keep the connection for the next request if allowed."""
        if data:
            self.send(data)
        self.stream = None
        if close or not self.parser.should_keep_alive():
            self.transport.close()
        elif not self.transport.is_closing():
            self.transport.resume_reading()


class Stream:
    """One chat completion in flight: follows its `Plan` with absolute-time timers."""

    def __init__(self, conn: Connection, script: Script, body: dict, perf: float, wall: float):
        up = conn.upstream
        self.conn, self.script, self.body = conn, script, body
        self.loop = conn.loop
        self.t0_loop = 0.0  # loop.time() when the script starts; chunk i is due at t0 + offset
        self.began = False
        self.rid = f"chatcmpl-scripted-{next(up.ids)}"
        self.created = int(wall)
        self.model = str(body.get("model") or up.model)
        self.plan: Plan = plan(script, body)
        self.prompt_tokens = count_prompt_tokens(body)
        options = body.get("stream_options") or {}
        self.streaming = bool(body.get("stream"))
        self.include_usage = self.streaming and bool(options.get("include_usage")) and script.usage
        self.continuous_usage = self.include_usage and bool(options.get("continuous_usage_stats"))
        self.sent_tokens = 0
        self.next_index = 0
        self.timer: asyncio.TimerHandle | None = None
        self.record = {
            "id": self.rid,
            "client_request_id": conn.headers.get("x-request-id"),
            "model": self.model,
            "stream": self.streaming,
            "script": {k: v for k, v in vars(script).items()},
            "received_perf": perf,
            "received_wall": wall,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": 0,
            "status": script.status,
            "error": None,
            "chunks": [],
            "started_perf": None,  # left the queue, script started (= received without a queue)
            "done_perf": None,
        }
        up.in_flight += 1

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> None:
        headers = {"x-request-id": self.rid}
        if self.script.status != 200:
            if self.script.status in (429, 503):
                headers["retry-after"] = "1"
            message = f"scripted status {self.script.status}"
            self.record["error"] = message
            err = wire.error_body(self.script.status, message)
            self.conn.send(wire.json_response(self.script.status, err, headers))
            self.done()
            return
        if self.streaming:  # headers leave at once, as vLLM's do, even when the request queues
            headers.update({"content-type": "text/event-stream", "cache-control": "no-cache"})
            self.conn.send(wire.head(200, headers, chunked=True))
        self.conn.upstream.admit(self)

    def begin(self) -> None:
        """Take a slot and start the script: every due time counts from now."""
        if self.conn.transport is None or self.conn.transport.is_closing():
            self.record["error"] = "client disconnected"  # gone while it waited
            self._finish_record()
            return
        self.began = True
        self.conn.upstream.running += 1
        self.t0_loop = self.loop.time()
        self.record["started_perf"] = time.perf_counter()
        if not self.streaming:
            last = self.plan.offsets[-1] if self.plan.offsets else self.script.ttft_ms / 1000
            self.timer = self.loop.call_at(self.t0_loop + last, self.send_whole, last)
        elif self.script.role_chunk_ms >= 0:
            offset = self.script.role_chunk_ms / 1000
            self.timer = self.loop.call_at(self.t0_loop + offset, self.send_role, offset)
        else:
            self.schedule_next()

    def schedule_next(self) -> None:
        if self.next_index < len(self.plan.offsets):
            offset = self.plan.offsets[self.next_index]
        elif not self.plan.offsets and self.next_index == 0:
            offset = self.script.ttft_ms / 1000  # zero content: a lone finish chunk at TTFT
        else:
            return
        self.timer = self.loop.call_at(self.t0_loop + offset, self.send_content, offset)

    def _finish_record(self) -> None:
        up = self.conn.upstream
        self.timer = None
        self.record["done_perf"] = time.perf_counter()
        up.in_flight -= 1
        up.recorder.add(self.record)
        if self.began:
            self.began = False
            up.running -= 1
            up.slot_freed()

    def done(self, close: bool = False) -> None:
        self._finish_record()
        self.conn.finish(close=close)

    def abandon(self, reason: str) -> None:
        """The client went away mid-response or in the queue: stop and record why."""
        up = self.conn.upstream
        queued = self in up.waiting
        if queued:
            up.waiting.remove(self)
        if self.timer is not None or queued:
            if self.timer is not None:
                self.timer.cancel()
            self.record["error"] = reason
            self._finish_record()

    # -- what each timer sends -------------------------------------------------------------
    def write(self, data: bytes, kind: str, offset: float, **fields: object) -> None:
        """Stamp one HTTP chunk (perf + wall) and write it at once.

        Stamped just before the write, not after: on loopback the client can hold the bytes
        before the write call returns, and a truth later than the client's stamp is no truth.
        """
        framed = wire.http_chunk(data)
        sent_perf, sent_wall = time.perf_counter(), time.time()
        self.conn.send(framed)
        entry = {"kind": kind, "due": offset, "sent_perf": sent_perf, "sent_wall": sent_wall}
        entry.update(fields)
        self.record["chunks"].append(entry)

    def send_role(self, offset: float) -> None:
        delta = {"role": "assistant", "content": ""}
        usage = wire.usage(self.prompt_tokens, 0) if self.continuous_usage else None
        obj = wire.chunk(self.rid, self.created, self.model, delta, None, usage)
        self.write(wire.sse(obj), "role", offset, text="", n_tokens=0, finish_reason=None)
        self.schedule_next()

    def send_content(self, offset: float) -> None:
        i, p = self.next_index, self.plan
        self.next_index += 1
        if self.script.fail_after >= 0 and i >= self.script.fail_after:
            self.fail(offset)
            return
        last = i >= len(p.pieces) - 1
        text, n = (p.pieces[i], p.tokens[i]) if p.pieces else ("", 0)
        delta: dict = {"content": text}
        if i == 0 and self.script.role_chunk_ms < 0:
            delta = {"role": "assistant", "content": text}
        self.sent_tokens += n
        self.record["completion_tokens"] = self.sent_tokens
        reason = p.finish_reason if last else None
        usage = wire.usage(self.prompt_tokens, self.sent_tokens) if self.continuous_usage else None
        obj = wire.chunk(self.rid, self.created, self.model, delta, reason, usage)
        self.write(wire.sse(obj), "content", offset, text=text, n_tokens=n, finish_reason=reason)
        if not last:
            self.schedule_next()
            return
        tail = b""
        if self.include_usage:
            final = wire.usage_chunk(
                self.rid, self.created, self.model, wire.usage(self.prompt_tokens, self.sent_tokens)
            )
            tail += wire.http_chunk(wire.sse(final))
        self.conn.send(tail + wire.http_chunk(wire.sse("[DONE]")) + wire.END_OF_BODY)
        self.done()

    def fail(self, offset: float) -> None:
        """Scripted failure mid-stream: drop the connection, or send an SSE error event."""
        n = self.script.fail_after
        message = f"scripted failure after {n} content chunks"
        self.record["error"] = message
        if self.script.fail_mode == "error":
            err = wire.error_body(500, message)
            self.write(wire.sse(err), "error", offset, text="", n_tokens=0, finish_reason=None)
            self.conn.send(wire.http_chunk(wire.sse("[DONE]")) + wire.END_OF_BODY)
            self.done()
        else:
            self.done(close=True)  # no terminating chunk: the client sees a truncated body

    def send_whole(self, offset: float) -> None:
        """Non-streamed reply: the whole completion at the time the last chunk would be due."""
        p = self.plan
        self.sent_tokens = sum(p.tokens)
        self.record["completion_tokens"] = self.sent_tokens
        usage = wire.usage(self.prompt_tokens, self.sent_tokens) if self.script.usage else None
        obj = wire.completion(
            self.rid, self.created, self.model, "".join(p.pieces), p.finish_reason, usage
        )
        reply = wire.json_response(200, obj, {"x-request-id": self.rid})
        sent_perf, sent_wall = time.perf_counter(), time.time()
        self.conn.send(reply)
        self.record["chunks"].append(
            {
                "kind": "whole",
                "due": offset,
                "sent_perf": sent_perf,
                "sent_wall": sent_wall,
                "text": "".join(p.pieces),
                "n_tokens": self.sent_tokens,
                "finish_reason": p.finish_reason,
            }
        )
        self.done()


async def serve(upstream: Upstream, host: str, port: int) -> asyncio.Server:
    """Start listening; returns the asyncio server (its sockets tell the bound port)."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(upstream.protocol, host, port, backlog=1024)
