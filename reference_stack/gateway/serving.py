"""The gateway's logic for one chat completion, stage by stage:

    auth      who is calling (auth.py), within their rate limits (quotas.py)
    policy    which upstreams of the model's chain may process this data class (residency.py),
              fail-closed: nothing after this step ever sees a non-compliant upstream
    route     the order to try the compliant ones in: priority, then weight (routing.py);
              a pool of replicas becomes its members, best first (replicas.py, balance.py)
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
from .breaker import Breaker, State
from .cache import CachedAnswer, ResponseCache, cache_key, completion_body, stream_body
from .context import RequestContext
from .errors import (
    Forbidden,
    GatewayError,
    ModelNotConfigured,
    ModelNotFound,
    ResidencyDenied,
    UpstreamFailed,
    UpstreamsRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
    upstream_client_error,
)
from .failover import SKIPPED, AttemptFailed, FailoverLoop, Outcome, Reason
from .lag import NO_LAG, LoopLag
from .metrics import GatewayMetrics
from .protocol import ChatCompletionRequest, body_for_upstream, check_output_cap
from .quotas import Quotas
from .relay.streaming import RelayResult, StreamRelay
from .relay.upstream import Completed, OpenedStream, UpstreamClient
from .replicas import Pools
from .residency import ResidencyPolicy, Screened
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
_TRUE = ("1", "true", "yes")

T = TypeVar("T")


async def _cancel_on_disconnect(receive: Receive, task: asyncio.Task) -> None:
    """Wait for the client to hang up, then cancel ``task`` (the request it was waiting for)."""
    while (await receive())["type"] != "http.disconnect":
        pass
    task.cancel()


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
        lag: LoopLag = NO_LAG,
    ) -> None:
        self.settings = settings
        self.lag = lag
        self.table = table
        self.keys = keys
        self.client = client
        self.router = Router(table)
        self.policy = ResidencyPolicy(table)
        self._screened: dict[tuple[str, str], list[Screened]] = {}
        self.quotas = Quotas()
        self.cache = ResponseCache()
        self.accounting = Accounting(metrics, audit, self.quotas, self.policy, table.models)
        # one breaker per place a request can go: an upstream, or each member of a pool
        self.breakers = {
            member.name: Breaker(
                settings.breaker_failure_threshold,
                settings.breaker_cooldown_s,
                settings.max_retry_after_cooldown_s,
            )
            for upstream in table.upstreams.values()
            for member in upstream.members
        }
        self.pools = Pools(table, settings, lag, on_rejoin=self._rejoined)
        self.refresh_gauges()
        self.loop = FailoverLoop(
            self.breakers,
            max_attempts=settings.max_attempts,
            backoff_base_s=settings.backoff_base_s,
            backoff_max_s=settings.backoff_max_s,
            max_retry_after_wait_s=settings.max_retry_after_wait_s,
            panic_routing=settings.panic_routing,
            on_breaker_change=self.accounting.breaker_changed,
        )

    # --- entry points -----------------------------------------------------------------------
    def models_for(self, authorization: str | None) -> list[str]:
        return self.models_for_key(self.keys.authenticate(authorization))

    def models_for_key(self, key: ApiKey) -> list[str]:
        """The aliases this key may use that have an upstream here (configured)."""
        return [a for a in self.router.aliases() if key.may_use(a) and self.router.chain(a)]

    def breaker_states(self) -> dict[str, str]:
        return {name: breaker.state().value for name, breaker in self.breakers.items()}

    def refresh_gauges(self) -> None:
        """Metrics that change with time alone: breaker states, the event loop's stalls, the
        replicas' pool membership and load."""
        for name, breaker in self.breakers.items():
            self.accounting.breaker_changed(name, breaker.state())
        self.accounting.loop_stalled(self.lag.total())
        if self.pools.active:
            self.accounting.replicas(self.pools.snapshot())

    def _rejoined(self, member: str) -> None:
        """A pool member passed its health check again: it starts afresh (its breaker closes),
        unless its breaker is open because it asked for the pause itself (Retry-After)."""
        breaker = self.breakers[member]
        if breaker.state() is not State.CLOSED and not breaker.upstream_asked:
            self.loop.settle(member, None)

    def may_observe(self, authorization: str | None) -> bool:
        """May this caller see the gateway's own state? Anyone in local mode; in production
        mode a key with ``may_observe`` (ops_guard.py)."""
        if self.settings.mode == "local":
            return True
        try:
            self.keys.observer(authorization)
        except GatewayError:
            return False
        return True

    async def chat(
        self,
        request: ChatCompletionRequest,
        body: dict[str, Any],
        headers: Headers,
        receive: Receive,
    ) -> Response:
        """Serve one chat completion; a client that disconnects cancels the upstream call.

        The request runs in this task (no second task to hand the answer over: that would cost
        a turn of the event loop each way); a watcher cancels it if the client hangs up."""
        this = asyncio.current_task()
        assert this is not None
        watcher = asyncio.ensure_future(_cancel_on_disconnect(receive, this))
        try:
            return await self._chat(request, body, headers)
        except asyncio.CancelledError:
            if not watcher.done():  # cancelled by someone else (shutdown): pass it on
                raise
            this.uncancel()  # the cancellation was ours, and it is handled here
            self.accounting.client_disconnected(request.model)
            # nobody reads this; 499 is the de-facto "client closed request" code (nginx)
            return Response(status_code=499)
        finally:
            watcher.cancel()

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
            force = self._force_failover(key, headers)
            self.quotas.admit(key)
        except GatewayError as exc:
            self.accounting.refused(alias, exc)
            raise
        timer.lap("auth")

        # Policy first: routing below only ever sees the candidates allowed this data class.
        screened = self._screen(data_class, alias)
        ctx = RequestContext(request_id, key, data_class, alias, request, screened, timer)
        try:
            compliant = self.policy.compliant(data_class, alias, screened)
        except ResidencyDenied as exc:
            self.accounting.residency_denied(ctx, exc)
            raise
        timer.lap("policy")
        plan = self.router.order(compliant)
        if self.pools.active:
            plan = self.pools.expand(plan, self.table.models[alias].balance)
        timer.lap("route")

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
        if not self.router.chain(alias):
            raise ModelNotConfigured(
                f"The model '{alias}' is not configured on this gateway: none of its upstreams "
                f"is available (an upstream's key variable may be unset). Available: "
                f"{', '.join(self.models_for_key(key)) or 'none'}.",
                param="model",
            )
        check_output_cap(request, self.table.models[alias].max_output_tokens)

    def _screen(self, data_class: str, alias: str) -> list[Screened]:
        """The policy's verdict on every candidate of ``alias`` for ``data_class``: the table
        does not change while the gateway runs, so each pair is screened once."""
        screened = self._screened.get((data_class, alias))
        if screened is None:
            screened = self.policy.screen(data_class, self.router.chain(alias))
            self._screened[data_class, alias] = screened
        return screened

    def _force_failover(self, key: ApiKey, headers: Headers) -> bool:
        """The teaching switch: on for every request, or asked for by this one (in production
        mode only by a key allowed to)."""
        asked = headers.get(FORCE_FAILOVER_HEADER, "").lower() in _TRUE
        if asked and self.settings.mode != "local" and not key.may_force_failover:
            raise Forbidden(
                f"Key '{key.name}' may not force a failover ({FORCE_FAILOVER_HEADER}) in "
                f"production mode.",
                code="force_failover_not_allowed",
                param=FORCE_FAILOVER_HEADER,
            )
        return asked or self.settings.force_failover

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
            # a pool member counts this request as in flight until its answer ends (an
            # answer: released by the caller, after the relay; a failure: released here)
            self.pools.started(candidate.name)
            try:
                return await attempt(candidate)
            except BaseException:
                self.pools.finished(candidate.name)
                raise

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
            self.pools.finished(name)
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
            lag=self.lag,
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
        self.pools.finished(name)
        ctx.timer.add("upstream_connect", done.connect_s)
        ctx.timer.add("upstream_first_token", done.first_token_s)
        self.accounting.routed(ctx, outcome)
        self.accounting.completed(ctx, name, done)
        if self.table.models[ctx.alias].cache_enabled:
            choice = (done.parsed["choices"] or [None])[0]
            message = choice.get("message") if isinstance(choice, dict) else None
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, str):
                finish = choice.get("finish_reason")
                usage = done.parsed.get("usage")
                self._remember(ctx, content, finish if isinstance(finish, str) else None, usage)
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
        """The error for a request no compliant upstream answered, saying what happened: every
        one cooling down on its own Retry-After (503), every one over its quota (429), every
        one timing out (504), or failing (502). Never a residency denial: the policy allowed
        them."""
        attempts = [a.as_record() for a in outcome.attempts]
        policy = self.policy.policy_summary(ctx.data_class)
        extra = {"policy": policy, "attempts": attempts}
        scope = (
            f"model '{ctx.alias}' for data class '{ctx.data_class}' (jurisdictions: "
            f"{', '.join(policy['allowed_jurisdictions'])}); the request was not sent elsewhere"
        )
        retry_after = {"retry-after": str(max(1, round(outcome.retry_in)))}
        if outcome.tried == 0:
            return UpstreamUnavailable(
                f"Every upstream of {scope}: all are cooling down, as they asked (Retry-After).",
                headers=retry_after,
                extra=extra,
            )
        tried = [a["outcome"] for a in attempts if a["outcome"] != SKIPPED]
        if all(o == Reason.TOO_MANY_REQUESTS.value for o in tried):
            return UpstreamsRateLimited(
                f"Every upstream tried answered 429 (over its rate limit): {scope}.",
                headers=retry_after,
                extra=extra,
            )
        kind = UpstreamTimeout if all(o in _TIMEOUTS for o in tried) else UpstreamFailed
        return kind(
            f"All {outcome.tried} attempts failed at the upstreams of {scope}.", extra=extra
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
