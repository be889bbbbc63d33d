"""One attempt at one upstream: build its HTTP request, open it within the timeouts, classify
what went wrong.

Two wire dialects are spoken, chosen by the upstream's ``kind`` in routing.yaml:

- ``openai``: ``POST {base_url}/chat/completions`` with ``Authorization: Bearer <key>``
  (OpenAI, vLLM, llama.cpp's llama-server, the managed stand-in, most providers);
- ``azure``: ``POST {base_url}/openai/deployments/{deployment}/chat/completions?api-version=V``
  with ``api-key: <key>`` (Azure OpenAI and the cloud stand-in).

The client is one pooled aiohttp session for the whole gateway (connections are reused, so a
request to a warm upstream pays no TCP connect), with NO retries of its own: retrying is the
failover loop's job alone. Upstream keys are read from the environment per request and go
only into the outgoing request's headers; whatever comes back is scrubbed of them (redact.py).

Everything the upstream controls is bounded here: how long it may take (connect, then first
token or whole answer: ``Deadline``, which does not count the gateway's own stalls, lag.py),
how much it may send (a whole answer, one SSE event, an error body) and what its ``Retry-After``
says (servelab_base.retry_after reads it strictly; the breaker caps it).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import aiohttp
from yarl import URL

from servelab_base.retry_after import parse_retry_after

from ..failover import AttemptFailed, Reason, reason_for_status
from ..lag import NO_LAG, Deadline, LoopLag
from ..routing import Candidate, Upstream
from .redact import Redactor
from .sse import EventSplitter, EventTooLarge, opening

#: How much of an upstream error body is kept for the client and the audit log.
MAX_ERROR_BODY_BYTES = 4096


@dataclass
class Timeouts:
    connect_s: float
    first_token_s: float
    total_s: float


@dataclass
class Limits:
    """How much an upstream may send (settings.py says why)."""

    answer_bytes: int = 32 * 1024 * 1024
    event_bytes: int = 1024 * 1024


def request_url(upstream: Upstream, model: str) -> str:
    """Where a chat completion for ``model`` goes at ``upstream``."""
    if upstream.kind == "azure":
        return (
            f"{upstream.base_url.rstrip('/')}/openai/deployments/{model}/chat/completions"
            f"?api-version={upstream.api_version}"
        )
    return f"{upstream.base_url.rstrip('/')}/chat/completions"


def request_headers(upstream: Upstream) -> dict[str, str]:
    """Fixed headers and the upstream's key (read from the environment, per request)."""
    headers = dict(upstream.headers)
    key = upstream.api_key
    if key:
        if upstream.kind == "azure":
            headers["api-key"] = key
        else:
            headers["authorization"] = f"Bearer {key}"
    return headers


async def _on_headers_sent(_session: Any, ctx: SimpleNamespace, _params: Any) -> None:
    ctx.trace_request_ctx.sent = time.perf_counter()
    deadline = ctx.trace_request_ctx.deadline
    if deadline is not None:  # connected and sent: the next phase's budget starts now
        deadline.restart(ctx.trace_request_ctx.next_budget)
        ctx.trace_request_ctx.deadline = None


def make_session() -> aiohttp.ClientSession:
    """The gateway's pooled HTTP client (no per-host limit: the upstream decides its load; no
    timeouts of its own: ``Deadline`` times every phase, net of the gateway's own stalls)."""
    trace = aiohttp.TraceConfig()
    trace.on_request_headers_sent.append(_on_headers_sent)
    connector = aiohttp.TCPConnector(
        limit=0, limit_per_host=0, ttl_dns_cache=300, enable_cleanup_closed=True
    )
    # No cookie jar: cookies one user's request brought back must never ride along on
    # another user's request (and skipping the jar saves work on every request).
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=None),
        trace_configs=[trace],
        cookie_jar=aiohttp.DummyCookieJar(),
        auto_decompress=False,
        skip_auto_headers=("User-Agent",),
    )


@dataclass
class OpenedStream:
    """A streaming attempt that has produced its first token and is ready to relay."""

    response: aiohttp.ClientResponse
    first: bytes  # the events up to the first token (those held back included), not yet sent
    splitter: EventSplitter  # holds any partial event after ``first``
    connect_s: float  # attempt start -> request sent (includes any TCP connect)
    first_token_s: float  # request sent -> first event carrying content
    remaining_s: float  # of the total timeout, when the first token arrived
    redactor: Redactor  # scrubs upstream keys from every relayed byte

    def close(self) -> None:
        """Drop the connection: an OpenAI-compatible upstream stops generating (use when the
        stream did not end cleanly; a clean end returned the connection to the pool)."""
        self.response.close()


@dataclass
class Completed:
    """A non-streamed attempt's answer (already scrubbed of upstream keys)."""

    body: bytes
    parsed: dict
    connect_s: float
    first_token_s: float  # request sent -> whole answer (non-streamed: the same moment)


async def _error_from(
    response: aiohttp.ClientResponse, upstream: Upstream, redactor: Redactor
) -> AttemptFailed:
    raw = await response.content.read(MAX_ERROR_BODY_BYTES)
    text = redactor.text(raw.decode("utf-8", "replace"))
    return AttemptFailed(
        reason_for_status(response.status),
        f"{upstream.name} answered HTTP {response.status}",
        status=response.status,
        retry_after=parse_retry_after(response.headers),
        body=text.encode(),
    )


def _connection_failure(
    exc: BaseException, upstream: Upstream, redactor: Redactor
) -> AttemptFailed:
    detail = redactor.text(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ServerDisconnectedError):
        return AttemptFailed(Reason.BROKEN_STREAM, f"{upstream.name}: {detail}")
    return AttemptFailed(Reason.CONNECT_ERROR, f"{upstream.name}: {detail}")


def _timed_out(upstream: Upstream, sent: float | None, phase_s: float, what: str) -> AttemptFailed:
    if sent is None:
        return AttemptFailed(Reason.CONNECT_TIMEOUT, f"{upstream.name}: connect timed out")
    reason = Reason.FIRST_TOKEN_TIMEOUT if what == "first token" else Reason.TOTAL_TIMEOUT
    return AttemptFailed(reason, f"{upstream.name}: no {what} within {phase_s:g} s")


class UpstreamClient:
    """Opens attempts; raises AttemptFailed, classified for the failover table."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        timeouts: Timeouts,
        lag: LoopLag = NO_LAG,
        limits: Limits | None = None,
    ) -> None:
        self.session = session
        self.timeouts = timeouts
        self.lag = lag
        self.limits = limits or Limits()
        self._urls: dict[tuple[str, str], URL] = {}  # parsed once per (upstream, model)
        self._redactors: dict[str | None, Redactor] = {}

    def redactor(self, upstream: Upstream) -> Redactor:
        """Scrubs the key this attempt sends to ``upstream`` (the only one it could echo; keys
        are read per request, so a rotated key is scrubbed from its next request on)."""
        key = upstream.api_key
        redactor = self._redactors.get(key)
        if redactor is None:
            redactor = self._redactors[key] = Redactor([key])
        return redactor

    async def _post(
        self, candidate: Candidate, body: dict, request_id: str, ctx: SimpleNamespace
    ) -> aiohttp.ClientResponse:
        upstream = candidate.upstream
        url = self._urls.get((upstream.name, candidate.model))
        if url is None:
            url = self._urls[upstream.name, candidate.model] = URL(
                request_url(upstream, candidate.model)
            )
        headers = request_headers(upstream)
        headers["content-type"] = "application/json"
        headers["x-request-id"] = request_id
        return await self.session.post(
            url, data=json.dumps(body).encode(), headers=headers, trace_request_ctx=ctx
        )

    async def open_stream(self, candidate: Candidate, body: dict, request_id: str) -> OpenedStream:
        """Send the request and read until its first token (connect, then TTFT timeout).

        Events before the first token (a role-only delta, Azure's ``prompt_filter_results``,
        keep-alive comments) are held back in ``first``: they commit nothing, so a failure up
        to the first token still fails over invisibly."""
        upstream, timeouts = candidate.upstream, self.timeouts
        redactor = self.redactor(upstream)
        started = time.perf_counter()
        response = None
        deadline = Deadline(timeouts.connect_s, self.lag)
        ctx = SimpleNamespace(sent=None, deadline=deadline, next_budget=timeouts.first_token_s)
        try:
            async with deadline:
                response = await self._post(candidate, body, request_id, ctx)
                if response.status != 200:
                    raise await _error_from(response, upstream, redactor)
                splitter = EventSplitter(self.limits.event_bytes)
                first = b""
                while True:
                    data = await response.content.readany()
                    if not data:
                        raise AttemptFailed(
                            Reason.BROKEN_STREAM,
                            f"{upstream.name}: stream ended before the first token",
                        )
                    block = splitter.feed(data)
                    if not block:
                        continue
                    first += block
                    if len(first) > self.limits.event_bytes:  # content-free events, forever
                        raise EventTooLarge(
                            f"over {self.limits.event_bytes} bytes of events before the first token"
                        )
                    started_ok, error = opening(first)
                    if error is not None:
                        raise AttemptFailed(
                            Reason.SERVER_ERROR,
                            redactor.text(
                                f"{upstream.name}: error before the first token: {error}"
                            ),
                        )
                    if started_ok:
                        break
        except AttemptFailed:
            if response is not None:
                response.close()
            raise
        except TimeoutError:
            if response is not None:
                response.close()
            raise _timed_out(upstream, ctx.sent, deadline.seconds, "first token") from None
        except EventTooLarge as exc:
            if response is not None:
                response.close()
            raise AttemptFailed(Reason.BROKEN_STREAM, f"{upstream.name}: {exc}") from None
        except (aiohttp.ClientError, OSError) as exc:
            if response is not None:
                response.close()
            raise _connection_failure(exc, upstream, redactor) from None
        except BaseException:  # cancelled: the client went away
            if response is not None:
                response.close()
            raise
        now = time.perf_counter()
        sent = ctx.sent or started
        remaining = timeouts.total_s - (now - started)
        return OpenedStream(
            response, first, splitter, sent - started, now - sent, remaining, redactor
        )

    async def complete(self, candidate: Candidate, body: dict, request_id: str) -> Completed:
        """Send a non-streamed request and read the whole answer (connect, then total
        timeout), at most ``limits.answer_bytes`` of it."""
        upstream = candidate.upstream
        redactor = self.redactor(upstream)
        started = time.perf_counter()
        deadline = Deadline(self.timeouts.connect_s, self.lag)
        ctx = SimpleNamespace(sent=None, deadline=deadline, next_budget=self.timeouts.total_s)
        limit = self.limits.answer_bytes
        try:
            async with deadline:
                async with await self._post(candidate, body, request_id, ctx) as response:
                    if response.status != 200:
                        raise await _error_from(response, upstream, redactor)
                    raw = await response.content.read(limit + 1)
                    while len(raw) <= limit and not response.content.at_eof():
                        more = await response.content.read(limit + 1 - len(raw))
                        if not more:
                            break
                        raw += more
        except TimeoutError:
            raise _timed_out(upstream, ctx.sent, deadline.seconds, "whole answer") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise _connection_failure(exc, upstream, redactor) from None
        if len(raw) > limit:
            raise AttemptFailed(
                Reason.BROKEN_STREAM, f"{upstream.name}: answer larger than {limit} bytes"
            )
        raw = redactor.bytes(raw)  # before anything reads it: the client, the cache
        try:
            parsed = json.loads(raw)
            if not isinstance(parsed, dict) or not isinstance(parsed.get("choices"), list):
                raise ValueError("no list of 'choices' in the answer")
        except ValueError as exc:
            raise AttemptFailed(
                Reason.BROKEN_STREAM, f"{upstream.name}: unreadable answer ({exc})"
            ) from None
        sent = ctx.sent or started
        return Completed(raw, parsed, sent - started, time.perf_counter() - sent)
