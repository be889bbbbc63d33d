"""The gateway's logic for one chat completion, stage by stage:

    auth      who is calling (auth.py), within their rate limits (quotas.py)
    policy    which upstreams of the model's chain may process this data class (residency.py),
              fail-closed: nothing after this step ever sees a non-compliant upstream
    route     the order to try the compliant ones in: priority, then weight (routing.py)
    failover  try them in that order (failover.py, breaker.py)
    relay     stream the winner's bytes to the client (relay/), or its JSON answer
    account   tokens, metrics, and an audit record for every denial or reroute
              (accounting.py: one call per outcome)

Routes (routes.py) only translate HTTP to calls here; schemas live in protocol.py.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import Receive

from .accounting import Accounting
from .audit import AuditLog
from .auth import ApiKey, KeyStore
from .breaker import Breaker
from .cache import CachedAnswer, ResponseCache, cache_key, completion_body, stream_body
from .context import RequestContext
from .errors import (
    BadRequest,
    Forbidden,
    GatewayError,
    ModelNotFound,
    NoCompliantUpstream,
    ResidencyDenied,
    UpstreamFailed,
    UpstreamTimeout,
    upstream_client_error,
)
from .failover import SKIPPED, AttemptFailed, FailoverLoop, Outcome, Reason
from .metrics import GatewayMetrics
from .protocol import ChatCompletionRequest, body_for_upstream
from .quotas import Quotas
from .relay.streaming import RelayResult, StreamRelay
from .relay.upstream import Completed, OpenedStream, UpstreamClient
from .residency import ResidencyPolicy
from .routing import Candidate, Router, RoutingTable
from .settings import Settings
from .timing import StageTimer

#: Request headers the gateway reads (besides Authorization).
DATA_CLASS_HEADER = "x-servelab-data-class"
FORCE_FAILOVER_HEADER = "x-servelab-force-failover"
REQUEST_ID_HEADER = "x-request-id"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_TIMEOUTS = {
    Reason.CONNECT_TIMEOUT.value,
    Reason.FIRST_TOKEN_TIMEOUT.value,
    Reason.TOTAL_TIMEOUT.value,
}

T = TypeVar("T")


async def _wait_for_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class ChatService:
    """Everything one gateway process knows: keys, table, breakers, quotas, cache, metrics."""

    def __init__(
        self,
        settings: Settings,
        table: RoutingTable,
        keys: KeyStore,
        client: UpstreamClient,
        metrics: GatewayMetrics,
        audit: AuditLog,
    ) -> None:
        self.settings = settings
        self.table = table
        self.keys = keys
        self.client = client
        self.router = Router(table)
        self.policy = ResidencyPolicy(table)
        self.quotas = Quotas()
        self.cache = ResponseCache()
        self.accounting = Accounting(metrics, audit, self.quotas, self.policy, table.models)
        self.breakers = {
            name: Breaker(settings.breaker_failure_threshold, settings.breaker_cooldown_s)
            for name in table.upstreams
        }
        self.refresh_breaker_gauges()
        self.loop = FailoverLoop(
            self.breakers,
            max_attempts=settings.max_attempts,
            backoff_base_s=settings.backoff_base_s,
            backoff_max_s=settings.backoff_max_s,
            max_retry_after_wait_s=settings.max_retry_after_wait_s,
            on_breaker_change=self.accounting.breaker_changed,
        )

    # --- entry points -----------------------------------------------------------------------
    def models_for(self, authorization: str | None) -> list[str]:
        key = self.keys.authenticate(authorization)
        return [alias for alias in self.router.aliases() if key.may_use(alias)]

    def breaker_states(self) -> dict[str, str]:
        return {name: breaker.state().value for name, breaker in self.breakers.items()}

    def refresh_breaker_gauges(self) -> None:
        for name, breaker in self.breakers.items():
            self.accounting.breaker_changed(name, breaker.state())

    async def chat(
        self,
        request: ChatCompletionRequest,
        body: dict[str, Any],
        headers: Headers,
        receive: Receive,
    ) -> Response:
        """Serve one chat completion; a client that disconnects cancels the upstream call."""
        work = asyncio.ensure_future(self._chat(request, body, headers))
        watcher = asyncio.ensure_future(_wait_for_disconnect(receive))
        try:
            await asyncio.wait((work, watcher), return_when=asyncio.FIRST_COMPLETED)
        finally:
            watcher.cancel()
            if not work.done():
                work.cancel()
        if not work.done() or work.cancelled():
            self.accounting.client_disconnected(request.model)
            # nobody reads this; 499 is the de-facto "client closed request" code (nginx)
            return Response(status_code=499)
        return work.result()

    # --- the pipeline -------------------------------------------------------------------------
    async def _chat(
        self, request: ChatCompletionRequest, body: dict[str, Any], headers: Headers
    ) -> Response:
        timer = StageTimer()
        request_id = headers.get(REQUEST_ID_HEADER, "")
        if not _SAFE_REQUEST_ID.match(request_id):
            request_id = uuid.uuid4().hex
        alias = request.model
        try:
            key = self.keys.authenticate(headers.get("authorization"))
            self._check_request(key, request)
            data_class = key.data_class_for(headers.get(DATA_CLASS_HEADER))
            self.quotas.admit(key)
        except GatewayError as exc:
            self.accounting.refused(alias, exc)
            raise
        timer.lap("auth")

        # Policy first: routing below only ever sees the candidates allowed this data class.
        screened = self.policy.screen(data_class, self.router.chain(alias))
        ctx = RequestContext(request_id, key, data_class, alias, request, screened, timer)
        try:
            compliant = self.policy.compliant(data_class, alias, screened)
        except ResidencyDenied as exc:
            self.accounting.residency_denied(ctx, exc)
            raise
        timer.lap("policy")
        plan = self.router.order(compliant)
        timer.lap("route")

        force = self.settings.force_failover or headers.get(FORCE_FAILOVER_HEADER, "").lower() in (
            "1",
            "true",
            "yes",
        )
        if request.stream:
            return await self._stream(ctx, body, plan, force)
        return await self._complete(ctx, body, plan, force)

    def _check_request(self, key: ApiKey, request: ChatCompletionRequest) -> None:
        alias = request.model
        if alias not in self.table.models:
            raise ModelNotFound(
                f"The model '{alias}' does not exist. Available: "
                f"{', '.join(self.models_for_key(key)) or 'none'}.",
                param="model",
            )
        if not key.may_use(alias):
            raise Forbidden(
                f"Key '{key.name}' is not allowed to use model '{alias}'.",
                code="model_not_allowed",
                param="model",
            )
        limit = self.table.models[alias].max_output_tokens
        for param in ("max_tokens", "max_completion_tokens"):
            cap = getattr(request, param)
            if cap is not None and cap > limit:
                raise BadRequest(
                    f"{param} is {cap}, but model '{alias}' can produce at most {limit} tokens.",
                    code="max_tokens_too_large",
                    param=param,
                )

    def models_for_key(self, key: ApiKey) -> list[str]:
        return [alias for alias in self.router.aliases() if key.may_use(alias)]

    async def _run(
        self,
        ctx: RequestContext,
        plan: list[Candidate],
        force: bool,
        attempt: Callable[[Candidate], Awaitable[T]],
    ) -> Outcome[T]:
        async def one(candidate: Candidate, forced: bool) -> T:
            if forced:
                raise AttemptFailed(
                    Reason.FORCED, f"{candidate.name}: failure forced by the force-failover switch"
                )
            return await attempt(candidate)

        def on_failure(candidate: Candidate, failure: AttemptFailed) -> None:
            self.accounting.attempt_failed(ctx, candidate, failure)

        ctx.timer.restart()
        outcome = await self.loop.run(plan, one, force, on_failure)
        if outcome.candidate is not None:
            failed_time = sum(a.seconds for a in outcome.attempts[:-1])
            if failed_time:
                ctx.timer.add("failover", failed_time)
        return outcome

    async def _stream(
        self, ctx: RequestContext, body: dict, plan: list[Candidate], force: bool
    ) -> Response:
        def attempt(candidate: Candidate) -> Awaitable[OpenedStream]:
            upstream_body = body_for_upstream(body, candidate.model, stream=True)
            return self.client.open_stream(candidate, upstream_body, ctx.request_id)

        outcome = await self._run(ctx, plan, force, attempt)
        opened = outcome.result
        if opened is None or outcome.candidate is None:
            return self._no_answer(ctx, outcome, stream=True)
        name = outcome.candidate.name
        ctx.timer.add("upstream_connect", opened.connect_s)
        ctx.timer.add("upstream_first_token", opened.first_token_s)
        self.accounting.routed(ctx, outcome)

        def on_finish(result: RelayResult) -> None:  # metrics wait until the bytes are out
            if result.reason is not None:  # cut short after the first byte: tell its breaker
                self.loop.settle(name, result.reason, holds_probe=False)
            self.accounting.streamed(ctx, name, opened, result)
            if result.reason is None and result.text is not None:
                self._remember(ctx, "".join(result.text), result.finish_reason, result.usage)

        def timing_comment() -> str:
            return "server-timing " + ctx.timer.header()

        return StreamRelay(
            opened,
            self._headers(ctx, name, outcome.tried),
            include_usage=ctx.request.include_usage,
            timing_comment=timing_comment,
            on_finish=on_finish,
            collect_text=self.table.models[ctx.alias].cache_enabled,
        )

    async def _complete(
        self, ctx: RequestContext, body: dict, plan: list[Candidate], force: bool
    ) -> Response:
        def attempt(candidate: Candidate) -> Awaitable[Completed]:
            upstream_body = body_for_upstream(body, candidate.model, stream=False)
            return self.client.complete(candidate, upstream_body, ctx.request_id)

        outcome = await self._run(ctx, plan, force, attempt)
        done = outcome.result
        if done is None or outcome.candidate is None:
            return self._no_answer(ctx, outcome, stream=False)
        name = outcome.candidate.name
        ctx.timer.add("upstream_connect", done.connect_s)
        ctx.timer.add("upstream_first_token", done.first_token_s)
        self.accounting.routed(ctx, outcome)
        self.accounting.completed(ctx, name, done)
        if self.table.models[ctx.alias].cache_enabled:
            choice = (done.parsed.get("choices") or [{}])[0]
            content = (choice.get("message") or {}).get("content")
            if isinstance(content, str):
                usage = done.parsed.get("usage")
                self._remember(ctx, content, choice.get("finish_reason"), usage)
        headers = self._headers(ctx, name, outcome.tried)
        return Response(done.body, media_type="application/json", headers=headers)

    def _remember(
        self, ctx: RequestContext, text: str, finish_reason: str | None, usage: Any
    ) -> None:
        """Keep a whole answer for the cache that ends the model's chain."""
        self.cache.put(
            cache_key(ctx.alias, ctx.data_class, ctx.body_for_cache()),
            CachedAnswer(ctx.alias, text, finish_reason or "stop", usage),
        )

    # --- when nothing compliant answered ----------------------------------------------------
    def _no_answer(self, ctx: RequestContext, outcome: Outcome[Any], stream: bool) -> Response:
        if outcome.fatal is not None:  # the upstream said the request is wrong: relay it
            self.accounting.relayed_client_error(ctx)
            fatal = outcome.fatal
            return upstream_client_error(fatal.status or 400, fatal.body, fatal.message)

        cached = None
        if self.table.models[ctx.alias].cache_enabled:
            cached = self.cache.get(cache_key(ctx.alias, ctx.data_class, ctx.body_for_cache()))
        if cached is not None:
            self.accounting.served_from_cache(ctx, outcome)
            headers = self._headers(ctx, "cache", outcome.tried)
            if stream:
                return Response(
                    stream_body(cached, ctx.request.include_usage),
                    media_type="text/event-stream",
                    headers=headers,
                )
            return Response(completion_body(cached), media_type="application/json", headers=headers)

        error = self._failure(ctx, outcome)
        self.accounting.failed(ctx, error, outcome)
        return error.response()

    def _failure(self, ctx: RequestContext, outcome: Outcome[Any]) -> GatewayError:
        """The error for a request no compliant upstream answered, saying why."""
        attempts = [a.as_record() for a in outcome.attempts]
        policy = self.policy.policy_summary(ctx.data_class)
        extra = {"policy": policy, "attempts": attempts}
        jurisdictions = ", ".join(policy["allowed_jurisdictions"])
        if outcome.tried == 0:
            retry_after = max(1, round(outcome.retry_in))
            return NoCompliantUpstream(
                f"No healthy upstream for model '{ctx.alias}' may process data class "
                f"'{ctx.data_class}' (allowed jurisdictions: {jurisdictions}); every compliant "
                f"one is cooling down. Not degrading to a non-compliant upstream.",
                headers={"retry-after": str(retry_after)},
                extra=extra,
            )
        tried = [a["outcome"] for a in attempts if a["outcome"] != SKIPPED]
        kind = UpstreamTimeout if tried and all(o in _TIMEOUTS for o in tried) else UpstreamFailed
        return kind(
            f"All {outcome.tried} attempts at upstreams of model '{ctx.alias}' failed. "
            f"Only upstreams allowed for data class '{ctx.data_class}' (jurisdictions: "
            f"{jurisdictions}) were tried; the request was not sent elsewhere.",
            extra=extra,
        )

    # --- response headers --------------------------------------------------------------------
    def _headers(self, ctx: RequestContext, upstream: str, attempts: int) -> dict[str, str]:
        return {
            "x-servelab-upstream": upstream,
            "x-servelab-attempts": str(attempts),
            "x-servelab-data-class": ctx.data_class,
            "x-request-id": ctx.request_id,
            "server-timing": ctx.timer.header(),
        }
