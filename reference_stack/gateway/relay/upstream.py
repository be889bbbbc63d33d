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
only into the outgoing request's headers; error text that might echo them is redacted.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import aiohttp
from yarl import URL

from servelab_base.retry_after import parse_retry_after

from ..failover import AttemptFailed, Reason, reason_for_status
from ..routing import Candidate, Upstream
from .sse import EventSplitter, first_event_error

#: How much of an upstream error body is kept for the client and the audit log.
MAX_ERROR_BODY_BYTES = 4096


@dataclass
class Timeouts:
    connect_s: float
    first_token_s: float
    total_s: float


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


def redact(text: str, upstream: Upstream) -> str:
    """``text`` with the upstream's key removed (an upstream may echo it in an error)."""
    key = upstream.api_key
    return text.replace(key, "[redacted]") if key else text


async def _on_headers_sent(_session: Any, ctx: SimpleNamespace, _params: Any) -> None:
    ctx.trace_request_ctx.sent = time.perf_counter()


def make_session(timeouts: Timeouts) -> aiohttp.ClientSession:
    """The gateway's pooled HTTP client (no per-host limit: the upstream decides its load)."""
    trace = aiohttp.TraceConfig()
    trace.on_request_headers_sent.append(_on_headers_sent)
    connector = aiohttp.TCPConnector(
        limit=0, limit_per_host=0, ttl_dns_cache=300, enable_cleanup_closed=True
    )
    timeout = aiohttp.ClientTimeout(
        total=None, connect=timeouts.connect_s, sock_connect=timeouts.connect_s
    )
    # No cookie jar: cookies one user's request brought back must never ride along on
    # another user's request (and skipping the jar saves work on every request).
    return aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        trace_configs=[trace],
        cookie_jar=aiohttp.DummyCookieJar(),
        auto_decompress=False,
        skip_auto_headers=("User-Agent",),
    )


@dataclass
class OpenedStream:
    """A streaming attempt that has produced its first SSE event(s) and is ready to relay."""

    response: aiohttp.ClientResponse
    first: bytes  # the first complete event(s), not yet sent to the client
    splitter: EventSplitter  # holds any partial event after ``first``
    connect_s: float  # attempt start -> request sent (includes any TCP connect)
    first_token_s: float  # request sent -> first event
    deadline: float  # loop.time() by which the whole attempt must end

    def close(self) -> None:
        """Drop the connection: an OpenAI-compatible upstream stops generating (use when the
        stream did not end cleanly; a clean end returned the connection to the pool)."""
        self.response.close()


@dataclass
class Completed:
    """A non-streamed attempt's answer."""

    body: bytes
    parsed: dict
    connect_s: float
    first_token_s: float  # request sent -> whole answer (non-streamed: the same moment)


async def _error_from(response: aiohttp.ClientResponse, upstream: Upstream) -> AttemptFailed:
    raw = await response.content.read(MAX_ERROR_BODY_BYTES)
    text = redact(raw.decode("utf-8", "replace"), upstream)
    return AttemptFailed(
        reason_for_status(response.status),
        f"{upstream.name} answered HTTP {response.status}",
        status=response.status,
        retry_after=parse_retry_after(response.headers),
        body=text.encode(),
    )


def _connection_failure(exc: BaseException, upstream: Upstream) -> AttemptFailed:
    if isinstance(exc, aiohttp.ServerTimeoutError | aiohttp.ConnectionTimeoutError):
        return AttemptFailed(Reason.CONNECT_TIMEOUT, f"{upstream.name}: connect timed out")
    detail = redact(f"{type(exc).__name__}: {exc}", upstream)
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ServerDisconnectedError):
        return AttemptFailed(Reason.BROKEN_STREAM, f"{upstream.name}: {detail}")
    return AttemptFailed(Reason.CONNECT_ERROR, f"{upstream.name}: {detail}")


class UpstreamClient:
    """Opens attempts; raises AttemptFailed, classified for the failover table."""

    def __init__(self, session: aiohttp.ClientSession, timeouts: Timeouts) -> None:
        self.session = session
        self.timeouts = timeouts
        self._urls: dict[tuple[str, str], URL] = {}  # parsed once per (upstream, model)

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
        """Send the request and wait for its first SSE event (TTFT timeout)."""
        upstream = candidate.upstream
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        deadline = loop.time() + self.timeouts.total_s
        ctx = SimpleNamespace(sent=None)
        response = None
        try:
            async with asyncio.timeout(self.timeouts.first_token_s):
                response = await self._post(candidate, body, request_id, ctx)
                if response.status != 200:
                    raise await _error_from(response, upstream)
                splitter = EventSplitter()
                first = b""
                while b"data:" not in first:  # keep-alive comments are not a first token
                    data = await response.content.readany()
                    if not data:
                        raise AttemptFailed(
                            Reason.BROKEN_STREAM, f"{upstream.name}: stream ended before any event"
                        )
                    first += splitter.feed(data)
            error = first_event_error(first)
            if error is not None:
                raise AttemptFailed(
                    Reason.SERVER_ERROR,
                    redact(f"{upstream.name}: error event before any content: {error}", upstream),
                )
        except AttemptFailed:
            if response is not None:
                response.close()
            raise
        except aiohttp.ServerTimeoutError as exc:  # a TimeoutError too: must come first
            raise _connection_failure(exc, upstream) from None
        except TimeoutError:
            if response is not None:
                response.close()
            raise AttemptFailed(
                Reason.FIRST_TOKEN_TIMEOUT,
                f"{upstream.name}: no first token within {self.timeouts.first_token_s:g} s",
            ) from None
        except (aiohttp.ClientError, OSError) as exc:
            if response is not None:
                response.close()
            raise _connection_failure(exc, upstream) from None
        except BaseException:  # cancelled: the client went away
            if response is not None:
                response.close()
            raise
        now = time.perf_counter()
        sent = ctx.sent or started
        return OpenedStream(response, first, splitter, sent - started, now - sent, deadline)

    async def complete(self, candidate: Candidate, body: dict, request_id: str) -> Completed:
        """Send a non-streamed request and read the whole answer (total timeout)."""
        upstream = candidate.upstream
        started = time.perf_counter()
        ctx = SimpleNamespace(sent=None)
        try:
            async with asyncio.timeout(self.timeouts.total_s):
                async with await self._post(candidate, body, request_id, ctx) as response:
                    if response.status != 200:
                        raise await _error_from(response, upstream)
                    raw = await response.read()
        except aiohttp.ServerTimeoutError as exc:  # a TimeoutError too: must come first
            raise _connection_failure(exc, upstream) from None
        except TimeoutError:
            raise AttemptFailed(
                Reason.TOTAL_TIMEOUT,
                f"{upstream.name}: no answer within {self.timeouts.total_s:g} s",
            ) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise _connection_failure(exc, upstream) from None
        try:
            parsed = json.loads(raw)
            if not isinstance(parsed, dict) or "choices" not in parsed:
                raise ValueError("no 'choices' in the answer")
        except ValueError as exc:
            raise AttemptFailed(
                Reason.BROKEN_STREAM, f"{upstream.name}: unreadable answer ({exc})"
            ) from None
        sent = ctx.sent or started
        return Completed(raw, parsed, sent - started, time.perf_counter() - sent)
