"""The gateway's logic for one chat completion, stage by stage:

    auth      who is calling (auth.py), within their rate limits (quotas.py)
    policy    which upstreams of the model's chain may process this data class (residency.py),
              fail-closed: nothing after this step ever sees a non-compliant upstream
    route     the order to try the compliant ones in: priority, then weight (routing.py)
    failover  try them in that order (failover.py, breaker.py)
    relay     stream the winner's bytes to the client (relay/), or its JSON answer
    account   tokens, metrics, and an audit record for every denial or reroute

Routes (routes.py) only translate HTTP to calls here; schemas live in protocol.py.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import Receive

from .audit import AuditLog
from .auth import ApiKey, KeyStore
from .breaker import Breaker
from .cache import CachedAnswer, ResponseCache, cache_key, completion_body, stream_body
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
from .failover import AttemptFailed, FailoverLoop, Outcome, Reason
from .metrics import GatewayMetrics
from .protocol import ChatCompletionRequest, body_for_upstream
from .quotas import Quotas
from .relay.streaming import RelayResult, StreamRelay
from .relay.upstream import Completed, OpenedStream, UpstreamClient
from .residency import ResidencyPolicy
from .routing import Candidate, Router, RoutingTable
from .settings import Settings
from .timing import StageTimer

log = logging.getLogger("servelab.gateway")

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
        self.metrics = metrics
        self.audit = audit
        self.router = Router(table)
        self.policy = ResidencyPolicy(table)
        self.quotas = Quotas()
        self.cache = ResponseCache()
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
        )

    # --- entry points -----------------------------------------------------------------------
    def models_for(self, authorization: str | None) -> list[str]:
        key = self.keys.authenticate(authorization)
        return [alias for alias in self.router.aliases() if key.may_use(alias)]

    def breaker_states(self) -> dict[str, str]:
        return {name: breaker.state().value for name, breaker in self.breakers.items()}

    def refresh_breaker_gauges(self) -> None:
        for name, breaker in self.breakers.items():
            self.metrics.set_breaker(name, breaker.state())

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
            self.metrics.requests.labels(self._label(request.model), "client_disconnected").inc()
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
            outcome = "rate_limited" if exc.status == 429 else "refused"
            if exc.status == 429:
                self.metrics.rate_limited.labels(exc.code or "").inc()
            self.metrics.requests.labels(self._label(alias), outcome).inc()
            raise
        timer.lap("auth")

        # Policy first: routing below only ever sees the candidates allowed this data class.
        screened = self.policy.screen(data_class, self.router.chain(alias))
        try:
            compliant = self.policy.compliant(data_class, alias, screened)
        except ResidencyDenied as exc:
            self.metrics.residency_denials.labels(alias, data_class, "no_compliant_in_chain").inc()
            self.metrics.requests.labels(alias, "residency_denied").inc()
            self._audit(
                request_id, key, data_class, alias, "denied", exc.message, screened=screened
            )
            raise
        timer.lap("policy")
        plan = self.router.order(compliant)
        timer.lap("route")

        force = self.settings.force_failover or headers.get(FORCE_FAILOVER_HEADER, "").lower() in (
            "1",
            "true",
            "yes",
        )
        ctx = _Request(request_id, key, data_class, alias, request, screened, timer)
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

    def _label(self, alias: str) -> str:
        """Metric label for a model: unknown names collapse into one value (bounded labels)."""
        return alias if alias in self.table.models else "unknown"

    async def _run(
        self,
        ctx: _Request,
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
            self.metrics.attempts.labels(candidate.name, failure.reason.value).inc()
            self.metrics.set_breaker(candidate.name, self.breakers[candidate.name].state())
            if failure.rule.fails_over:
                self.metrics.failovers.labels(ctx.alias, candidate.name, failure.reason.value).inc()
            log.warning(
                "request %s: %s failed (%s): %s",
                ctx.request_id,
                candidate.name,
                failure.reason.value,
                failure.message,
            )

        ctx.timer.restart()
        outcome = await self.loop.run(plan, one, force, on_failure)
        if outcome.candidate is not None:
            name = outcome.candidate.name
            self.breakers[name].record_success()
            self.metrics.set_breaker(name, self.breakers[name].state())
            self.metrics.attempts.labels(name, "ok").inc()
            failed_time = sum(a.seconds for a in outcome.attempts[:-1])
            if failed_time:
                ctx.timer.add("failover", failed_time)
        return outcome

    async def _stream(
        self, ctx: _Request, body: dict, plan: list[Candidate], force: bool
    ) -> Response:
        def attempt(candidate: Candidate) -> Awaitable[OpenedStream]:
            upstream_body = body_for_upstream(body, candidate.model, stream=True)
            return self.client.open_stream(candidate, upstream_body, ctx.request_id)

        outcome = await self._run(ctx, plan, force, attempt)
        opened = outcome.result
        if opened is None or outcome.candidate is None:
            return self._no_answer(ctx, body, outcome, stream=True)
        name = outcome.candidate.name
        ctx.timer.add("upstream_connect", opened.connect_s)
        ctx.timer.add("upstream_first_token", opened.first_token_s)
        self._audit_if_rerouted(ctx, outcome)

        def on_finish(result: RelayResult) -> None:  # metrics wait until the bytes are out
            self.metrics.ttft.labels(name).observe(opened.first_token_s)
            self._observe_stages(ctx.timer)
            self._finish_stream(ctx, name, result)

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

    def _finish_stream(self, ctx: _Request, upstream: str, result: RelayResult) -> None:
        observe = self.metrics.itl.labels(upstream).observe
        for gap in result.gaps:
            observe(gap)
        self.metrics.requests.labels(ctx.alias, result.outcome).inc()
        if result.outcome in ("upstream_lost", "total_timeout", "truncated"):
            self.breakers[upstream].record_failure()
            self.metrics.set_breaker(upstream, self.breakers[upstream].state())
            self.metrics.attempts.labels(upstream, "failed_mid_stream").inc()
        self._account(ctx, upstream, result.usage)
        if result.outcome == "ok" and result.text is not None:
            self.cache.put(
                cache_key(ctx.alias, ctx.data_class, ctx.body_for_cache()),
                CachedAnswer(
                    ctx.alias, "".join(result.text), result.finish_reason or "stop", result.usage
                ),
            )

    async def _complete(
        self, ctx: _Request, body: dict, plan: list[Candidate], force: bool
    ) -> Response:
        def attempt(candidate: Candidate) -> Awaitable[Completed]:
            upstream_body = body_for_upstream(body, candidate.model, stream=False)
            return self.client.complete(candidate, upstream_body, ctx.request_id)

        outcome = await self._run(ctx, plan, force, attempt)
        done = outcome.result
        if done is None or outcome.candidate is None:
            return self._no_answer(ctx, body, outcome, stream=False)
        name = outcome.candidate.name
        ctx.timer.add("upstream_connect", done.connect_s)
        ctx.timer.add("upstream_first_token", done.first_token_s)
        self.metrics.ttft.labels(name).observe(done.first_token_s)
        self._observe_stages(ctx.timer)
        self._audit_if_rerouted(ctx, outcome)
        self.metrics.requests.labels(ctx.alias, "ok").inc()
        usage = done.parsed.get("usage")
        self._account(ctx, name, usage if isinstance(usage, dict) else None)
        if self.table.models[ctx.alias].cache_enabled:
            choice = (done.parsed.get("choices") or [{}])[0]
            content = (choice.get("message") or {}).get("content")
            if isinstance(content, str):
                self.cache.put(
                    cache_key(ctx.alias, ctx.data_class, ctx.body_for_cache()),
                    CachedAnswer(ctx.alias, content, choice.get("finish_reason") or "stop", usage),
                )
        headers = self._headers(ctx, name, outcome.tried)
        return Response(done.body, media_type="application/json", headers=headers)

    # --- when nothing compliant answered ----------------------------------------------------
    def _no_answer(
        self, ctx: _Request, body: dict, outcome: Outcome[Any], stream: bool
    ) -> Response:
        attempts = [a.as_record() for a in outcome.attempts]
        if outcome.fatal is not None:  # the upstream said the request is wrong: relay it
            self.metrics.requests.labels(ctx.alias, "client_error").inc()
            fatal = outcome.fatal
            return upstream_client_error(fatal.status or 400, fatal.body, fatal.message)

        cached = None
        if self.table.models[ctx.alias].cache_enabled:
            cached = self.cache.get(cache_key(ctx.alias, ctx.data_class, ctx.body_for_cache()))
        if cached is not None:
            self.metrics.requests.labels(ctx.alias, "served_from_cache").inc()
            self._audit(
                ctx.request_id,
                ctx.key,
                ctx.data_class,
                ctx.alias,
                "rerouted",
                "every compliant upstream failed; served an earlier identical answer "
                "from the gateway's cache",
                screened=ctx.screened,
                attempts=attempts,
                chosen="cache",
            )
            headers = self._headers(ctx, "cache", outcome.tried)
            if stream:
                return Response(
                    stream_body(cached, ctx.request.include_usage),
                    media_type="text/event-stream",
                    headers=headers,
                )
            return Response(completion_body(cached), media_type="application/json", headers=headers)

        policy = self.policy.policy_summary(ctx.data_class)
        extra = {"policy": policy, "attempts": attempts}
        jurisdictions = ", ".join(policy["allowed_jurisdictions"])
        if outcome.tried == 0:
            retry_after = max(1, round(outcome.retry_in))
            error: GatewayError = NoCompliantUpstream(
                f"No healthy upstream for model '{ctx.alias}' may process data class "
                f"'{ctx.data_class}' (allowed jurisdictions: {jurisdictions}); every compliant "
                f"one is cooling down. Not degrading to a non-compliant upstream.",
                headers={"retry-after": str(retry_after)},
                extra=extra,
            )
            self.metrics.residency_denials.labels(
                ctx.alias, ctx.data_class, "no_healthy_compliant"
            ).inc()
        else:
            kind = (
                UpstreamTimeout
                if attempts
                and all(
                    a["outcome"] in _TIMEOUTS
                    for a in attempts
                    if a["outcome"] != "skipped_breaker_open"
                )
                else UpstreamFailed
            )
            error = kind(
                f"All {outcome.tried} attempts at upstreams of model '{ctx.alias}' failed. "
                f"Only upstreams allowed for data class '{ctx.data_class}' (jurisdictions: "
                f"{jurisdictions}) were tried; the request was not sent elsewhere.",
                extra=extra,
            )
        self.metrics.requests.labels(ctx.alias, error.code or "failed").inc()
        self._audit(
            ctx.request_id,
            ctx.key,
            ctx.data_class,
            ctx.alias,
            "denied",
            error.message,
            screened=ctx.screened,
            attempts=attempts,
        )
        return error.response()

    # --- bookkeeping -------------------------------------------------------------------------
    def _headers(self, ctx: _Request, upstream: str, attempts: int) -> dict[str, str]:
        return {
            "x-servelab-upstream": upstream,
            "x-servelab-attempts": str(attempts),
            "x-servelab-data-class": ctx.data_class,
            "x-request-id": ctx.request_id,
            "server-timing": ctx.timer.header(),
        }

    def _observe_stages(self, timer: StageTimer) -> None:
        observe = self.metrics.stage.labels
        for stage, seconds in timer.stages.items():
            observe(stage).observe(seconds)

    def _account(self, ctx: _Request, upstream: str, usage: dict | None) -> None:
        if not usage:
            return
        prompt = int(usage.get("prompt_tokens") or 0)
        completion = int(usage.get("completion_tokens") or 0)
        self.quotas.charge_tokens(ctx.key, prompt + completion)
        self.metrics.tokens.labels(upstream, "prompt").inc(prompt)
        self.metrics.tokens.labels(upstream, "completion").inc(completion)

    def _audit_if_rerouted(self, ctx: _Request, outcome: Outcome[Any]) -> None:
        """Write why, when a request was not served where the chain alone would have sent it:
        a policy exclusion ahead of the chosen upstream, or a failover."""
        chosen = outcome.candidate
        if chosen is None:
            return
        excluded = [
            s.candidate.name
            for s in ctx.screened
            if not s.allowed and s.candidate.priority <= chosen.priority
        ]
        failed = [a.upstream for a in outcome.attempts if a.outcome != "ok"]
        if not excluded and not failed:
            return
        reasons = []
        if excluded:
            reasons.append(f"residency policy excluded {', '.join(excluded)}")
        if failed:
            reasons.append(f"failed over from {', '.join(failed)}")
        self._audit(
            ctx.request_id,
            ctx.key,
            ctx.data_class,
            ctx.alias,
            "rerouted",
            "; ".join(reasons),
            screened=ctx.screened,
            attempts=[a.as_record() for a in outcome.attempts],
            chosen=chosen.name,
        )

    def _audit(
        self,
        request_id: str,
        key: ApiKey,
        data_class: str,
        alias: str,
        decision: str,
        why: str,
        *,
        screened: list,
        attempts: list | None = None,
        chosen: str | None = None,
    ) -> None:
        self.audit.write(
            {
                "request_id": request_id,
                "key": key.name,
                "owner": key.owner,
                "key_kind": key.kind,
                "data_class": data_class,
                "allowed_jurisdictions": self.policy.jurisdictions(data_class),
                "model": alias,
                "decision": decision,
                "chosen": chosen,
                "why": why,
                "candidates": [s.as_record() for s in screened],
                "attempts": attempts or [],
            }
        )


class _Request:
    """What the later stages need to know about the request being served."""

    __slots__ = ("request_id", "key", "data_class", "alias", "request", "screened", "timer")

    def __init__(
        self,
        request_id: str,
        key: ApiKey,
        data_class: str,
        alias: str,
        request: ChatCompletionRequest,
        screened: list,
        timer: StageTimer,
    ) -> None:
        self.request_id = request_id
        self.key = key
        self.data_class = data_class
        self.alias = alias
        self.request = request
        self.screened = screened
        self.timer = timer

    def body_for_cache(self) -> dict:
        return self.request.model_dump(exclude_unset=True)
