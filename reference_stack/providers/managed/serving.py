"""The managed-API stand-in's logic: authenticate, resolve the model, apply faults and limits,
then stream or return tokens shaped to the OpenAI latency profile."""

from __future__ import annotations

import asyncio
import math
import time
from datetime import date

from fastapi.responses import JSONResponse, Response, StreamingResponse

from reference_stack.providers import chat
from reference_stack.providers.faults import FaultInjector
from reference_stack.providers.latency import Shaper
from reference_stack.providers.managed import protocol
from reference_stack.providers.ratelimit import RateLimiter, Verdict, duration_text
from reference_stack.providers.tokens import (
    Generation,
    TokenSource,
    UpstreamError,
    estimate_prompt_tokens,
)
from servelab_base.catalog import SNAPSHOT_DATE, Catalog

PROVIDER, REGION, DEPLOYMENT_TYPE = "openai", "global", "serverless"
LABEL = "managed-api"
#: The key the stand-in accepts by default. Not a secret: it only opens the local stand-in.
STANDIN_KEY = "sk-servelab-standin"
API_VERSION = "2020-10-01"  # the value OpenAI sends in its openai-version header


class ManagedServing:
    def __init__(
        self,
        source: TokenSource,
        catalog: Catalog,
        *,
        seed: int = 0,
        as_of: date = SNAPSHOT_DATE,
        api_keys: tuple[str, ...] = (STANDIN_KEY,),
        faults: FaultInjector | None = None,
        latency_scale: float = 1.0,
    ) -> None:
        self.source, self.catalog, self.seed, self.api_keys = source, catalog, seed, api_keys
        self.faults = faults or FaultInjector()
        self.deployments = {d.name: d for d in catalog.deployments(PROVIDER, REGION, as_of)}
        self.shaper = Shaper(catalog.latency(PROVIDER, REGION, DEPLOYMENT_TYPE), latency_scale)
        self.limiters: dict[str, RateLimiter] = {}
        self.reset_limits()

    # -- run-time knobs (admin endpoints) ------------------------------------------------------
    def reset_limits(self, rpm: int | None = None, tpm: int | None = None) -> dict:
        """Catalog limits per model, or the given rpm / tpm for every model (a lab's knob)."""
        out = {}
        for name in self.deployments:
            limit = self.catalog.limit(PROVIDER, name, DEPLOYMENT_TYPE)
            use_rpm = rpm if rpm is not None else limit.rpm
            use_tpm = tpm if tpm is not None else limit.tpm
            self.limiters[name] = RateLimiter(use_rpm or None, use_tpm or None)
            out[name] = {"rpm": use_rpm, "tpm": use_tpm}
        return out

    # -- helpers ------------------------------------------------------------------------------
    def headers(self, request_id: str, verdict: Verdict | None = None) -> dict[str, str]:
        h = {
            chat.STANDIN_HEADER: LABEL,
            chat.SOURCE_HEADER: self.source.name,
            "x-request-id": request_id,
            "openai-version": API_VERSION,
            "openai-organization": "org-servelab-standin",
        }
        if verdict is not None:
            for kind, limit, remaining, reset in (
                (
                    "requests",
                    verdict.limit_requests,
                    verdict.remaining_requests,
                    verdict.reset_requests_s,
                ),
                ("tokens", verdict.limit_tokens, verdict.remaining_tokens, verdict.reset_tokens_s),
            ):
                if limit is not None:
                    h[f"x-ratelimit-limit-{kind}"] = str(limit)
                    h[f"x-ratelimit-remaining-{kind}"] = str(max(0, remaining))
                    h[f"x-ratelimit-reset-{kind}"] = duration_text(reset)
        return h

    def fail(self, status: int, body: dict, request_id: str, **extra: str) -> JSONResponse:
        return JSONResponse(body, status, headers={**self.headers(request_id), **extra})

    def authenticate(self, authorization: str | None) -> JSONResponse | None:
        request_id = f"req_{chat.short_hash(time.time_ns(), n=32)}"
        if not authorization or not authorization.lower().startswith("bearer "):
            return self.fail(401, protocol.missing_key(), request_id)
        key = authorization.split(" ", 1)[1].strip()
        if key not in self.api_keys:
            return self.fail(401, protocol.invalid_key(key), request_id)
        return None

    def model_list(self) -> dict:
        return {"object": "list", "data": [self.model_card(name) for name in self.deployments]}

    def model_card(self, name: str) -> dict:
        d = self.deployments[name]
        created = int(time.mktime(d.available_from.timetuple()))
        return {
            "id": name,
            "object": "model",
            "created": created,
            "owned_by": f"servelab-standin ({LABEL}; tokens from {self.source.name})",
        }

    # -- the chat endpoint ----------------------------------------------------------------------
    async def chat(self, req: protocol.ChatCompletionRequest) -> Response:
        if req.model not in self.deployments:
            request_id = f"req_{chat.short_hash(time.time_ns(), n=32)}"
            return self.fail(404, protocol.model_not_found(req.model), request_id)
        decision = self.faults.decide(
            {"model": req.model, "region": REGION, "deployment": req.model}
        )
        request_id = f"req_{chat.short_hash(self.seed, 'req', decision.index, n=32)}"
        timing = chat.draw_timing(self.shaper, self.seed, decision.index)
        gen = Generation(req.messages, req.token_budget, req.temperature, req.seed, req.stops)
        snapshot = self.catalog.snapshot(PROVIDER, req.model)

        if decision.reject is not None:  # outage, error rate, 429 storm
            await _sleep(timing.network_s)
            rule = decision.reject
            if rule.status == 429:
                limit = self.limiters[req.model].rpm
                wait = rule.retry_after_s
                return self.fail(
                    429,
                    protocol.rate_limited(req.model, "requests", limit, limit or 0, 1, wait),
                    request_id,
                    **{
                        "retry-after": str(max(1, math.ceil(wait))),
                        "x-ratelimit-remaining-requests": "0",
                    },
                )
            return self.fail(rule.status, protocol.server_error(rule.status), request_id)

        estimate = estimate_prompt_tokens(req.messages) + gen.max_tokens
        verdict = self.limiters[req.model].check(f"{req.model}", estimate)
        if not verdict.allowed:
            await _sleep(timing.network_s)
            limit = (
                verdict.limit_requests if verdict.exceeded == "requests" else verdict.limit_tokens
            )
            remaining = (
                verdict.remaining_requests
                if verdict.exceeded == "requests"
                else verdict.remaining_tokens
            )
            requested = 1 if verdict.exceeded == "requests" else estimate
            body = protocol.rate_limited(
                req.model,
                verdict.exceeded,
                limit,
                (limit or 0) - max(0, remaining or 0),
                requested,
                verdict.retry_after_s,
            )
            return JSONResponse(
                body,
                429,
                headers={
                    **self.headers(request_id, verdict),
                    "retry-after": str(max(1, math.ceil(verdict.retry_after_s))),
                },
            )

        call = chat.Call(
            gen,
            snapshot,
            req.stream,
            bool(req.stream_options and req.stream_options.include_usage),
            decision,
            timing,
            self.seed,
        )
        headers = self.headers(request_id, verdict)
        started = time.monotonic()
        try:
            if req.stream:
                first, rest = await chat.open_stream(self.source, call)
                return StreamingResponse(
                    chat.stream_body(call, first, rest, protocol.server_error(500)),
                    headers=headers,
                    media_type="text/event-stream",
                )
            body = await chat.completion_body(self.source, call)
        except UpstreamError:  # the engine behind the stand-in failed: a provider-side 500
            return self.fail(500, protocol.server_error(500), request_id)
        headers["openai-processing-ms"] = str(round((time.monotonic() - started) * 1000))
        return JSONResponse(body, headers=headers)


async def _sleep(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)
