"""One region of the cloud-platform stand-in: its deployments, their profiles and limits.

Each deployment type is a profile of the same engine (catalog ``latency.csv``):
serverless queues on shared capacity with jitter, provisioned has reserved capacity (no queue,
little jitter), managed-compute adds only the network path to the dedicated engine's own timing.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from datetime import date

from fastapi.responses import JSONResponse, Response, StreamingResponse

from reference_stack.providers import chat
from reference_stack.providers.cloud import protocol
from reference_stack.providers.faults import FaultInjector
from reference_stack.providers.latency import Shaper
from reference_stack.providers.ratelimit import RateLimiter, Verdict
from reference_stack.providers.tokens import (
    Generation,
    TokenSource,
    UpstreamError,
    estimate_prompt_tokens,
)
from servelab_base.catalog import SNAPSHOT_DATE, Catalog, Deployment, Region

PROVIDER = "azure-openai"
LABEL = "cloud-platform"
#: The key every region of the stand-in accepts by default. Not a secret.
STANDIN_KEY = "servelab-standin"
# Deployment types whose models are Azure OpenAI models (content-filter annotations apply);
# managed compute serves open weights from a dedicated endpoint without them.
FILTERED_TYPES = ("serverless", "provisioned")
# Azure evaluates per-minute limits over short intervals ("1 s or 10 s", quota documentation),
# so a deployment cannot spend its whole minute in one burst; the stand-in uses 10 s.
LIMIT_WINDOW_S = 10.0


class RegionServing:
    def __init__(
        self,
        region: Region,
        source: TokenSource,
        catalog: Catalog,
        *,
        seed: int = 0,
        as_of: date = SNAPSHOT_DATE,
        api_keys: tuple[str, ...] = (STANDIN_KEY,),
        faults: FaultInjector | None = None,
        latency_scale: float = 1.0,
    ) -> None:
        self.region, self.source, self.catalog = region, source, catalog
        self.seed, self.api_keys = seed, api_keys
        self.faults = faults or FaultInjector()
        self.overrides: tuple[int | None, int | None] = (None, None)
        self.catalog_default_as_of = as_of.isoformat()
        self.latency_scale = latency_scale
        self.set_as_of(as_of)

    # -- run-time knobs ------------------------------------------------------------------------
    def set_as_of(self, as_of: date) -> list[str]:
        """Serve the deployments that exist on ``as_of`` (later arrivals appear when it moves)."""
        self.as_of = as_of
        found = self.catalog.deployments(PROVIDER, self.region.region, as_of)
        self.deployments: dict[str, Deployment] = {d.name: d for d in found}
        self.shapers = {
            name: Shaper(
                self.catalog.latency(PROVIDER, self.region.region, d.deployment_type),
                self.latency_scale,
            )
            for name, d in self.deployments.items()
        }
        self.set_limits(*self.overrides)
        return sorted(self.deployments)

    def set_limits(self, rpm: int | None = None, tpm: int | None = None) -> dict:
        self.overrides = (rpm, tpm)
        self.limiters: dict[str, RateLimiter] = {}
        out = {}
        for name, d in self.deployments.items():
            limit = self.catalog.limit(PROVIDER, d.model, d.deployment_type)
            use = (rpm if rpm is not None else limit.rpm, tpm if tpm is not None else limit.tpm)
            self.limiters[name] = RateLimiter(*use, window_s=LIMIT_WINDOW_S)
            out[name] = {"rpm": use[0], "tpm": use[1]}
        return out

    # -- helpers ---------------------------------------------------------------------------------
    def describe(self) -> dict:
        return {
            "standin": LABEL,
            "region": self.region.region,
            "display_name": self.region.display_name,
            "jurisdiction": self.region.jurisdiction,
            "as_of": self.as_of.isoformat(),
            "token_source": self.source.name,
            "deployments": sorted(self.deployments),
        }

    def headers(
        self, request_id: str, deployment: Deployment | None = None, verdict: Verdict | None = None
    ) -> dict[str, str]:
        h = {
            chat.STANDIN_HEADER: LABEL,
            chat.SOURCE_HEADER: self.source.name,
            "x-servelab-region": self.region.region,
            "apim-request-id": request_id,
            "x-request-id": request_id,
            "x-ms-region": self.region.display_name,
        }
        if deployment is not None:
            h["x-servelab-deployment-type"] = deployment.deployment_type
        if verdict is not None:  # Azure reports what remains, not the limits themselves
            if verdict.remaining_requests is not None:
                h["x-ratelimit-remaining-requests"] = str(max(0, verdict.remaining_requests))
            if verdict.remaining_tokens is not None:
                h["x-ratelimit-remaining-tokens"] = str(max(0, verdict.remaining_tokens))
        return h

    def fail(
        self,
        status: int,
        body: dict,
        request_id: str | None = None,
        deployment: Deployment | None = None,
        **extra: str,
    ) -> JSONResponse:
        request_id = request_id or str(uuid.uuid4())
        return JSONResponse(body, status, headers={**self.headers(request_id, deployment), **extra})

    def check_access(
        self, api_version: str | None, api_key: str | None, authorization: str | None
    ) -> JSONResponse | None:
        """Azure's order: a missing api-version is an unknown resource, then the key, then the
        api-version's value."""
        if not api_version:
            return self.fail(404, protocol.resource_not_found())
        bearer = (
            authorization.split(" ", 1)[1].strip()
            if authorization and authorization.lower().startswith("bearer ")
            else None
        )
        if (api_key or bearer) not in self.api_keys:
            return self.fail(401, protocol.unauthorized())
        if api_version not in protocol.API_VERSIONS:
            return self.fail(400, protocol.api_version_unsupported())
        return None

    def model_list(self) -> dict:
        models: dict[str, list[str]] = {}
        for name, d in self.deployments.items():
            models.setdefault(d.model, []).append(name)
        owner = (
            f"servelab-standin ({LABEL}, {self.region.display_name}; "
            f"tokens from {self.source.name})"
        )
        return {
            "object": "list",
            "data": [
                {
                    "id": model,
                    "object": "model",
                    "owned_by": owner,
                    "deployments": sorted(names),
                    "created": int(
                        time.mktime(
                            min(self.deployments[n].available_from for n in names).timetuple()
                        )
                    ),
                }
                for model, names in sorted(models.items())
            ],
        }

    def deployment_list(self) -> dict:
        return {
            "object": "list",
            "data": [
                {
                    "id": name,
                    "object": "deployment",
                    "model": d.model,
                    "deployment_type": d.deployment_type,
                    "status": "succeeded",
                    "available_from": d.available_from.isoformat(),
                }
                for name, d in sorted(self.deployments.items())
            ],
        }

    # -- the chat endpoint -------------------------------------------------------------------------
    async def chat(
        self, deployment_name: str, api_version: str, req: protocol.AzureChatRequest
    ) -> Response:
        deployment = self.deployments.get(deployment_name)
        if deployment is None:
            return self.fail(404, protocol.deployment_not_found())
        decision = self.faults.decide(
            {
                "region": self.region.region,
                "model": deployment.model,
                "deployment": deployment.name,
                "deployment_type": deployment.deployment_type,
            }
        )
        request_id = str(
            uuid.UUID(chat.short_hash(self.seed, self.region.region, decision.index, n=32))
        )
        timing = chat.draw_timing(self.shapers[deployment.name], self.seed, decision.index)
        gen = Generation(req.messages, req.token_budget, req.temperature, req.seed, req.stops)

        if decision.reject is not None:  # outage, error rate, 429 storm
            await _sleep(timing.network_s)
            rule = decision.reject
            if rule.status == 429:
                wait = max(1, math.ceil(rule.retry_after_s))
                return self.fail(
                    429,
                    protocol.rate_limited(api_version, "requests", wait),
                    request_id,
                    deployment,
                    **{
                        "retry-after": str(wait),
                        "retry-after-ms": str(round(rule.retry_after_s * 1000)),
                        "x-ratelimit-remaining-requests": "0",
                    },
                )
            return self.fail(rule.status, protocol.server_error(request_id), request_id, deployment)

        estimate = estimate_prompt_tokens(req.messages) + gen.max_tokens
        verdict = self.limiters[deployment.name].check(deployment.name, estimate)
        if not verdict.allowed:
            await _sleep(timing.network_s)
            wait = max(1, math.ceil(verdict.retry_after_s))
            return JSONResponse(
                protocol.rate_limited(api_version, verdict.exceeded, wait),
                429,
                headers={
                    **self.headers(request_id, deployment, verdict),
                    "retry-after": str(wait),
                    "retry-after-ms": str(round(verdict.retry_after_s * 1000)),
                },
            )

        filtered = deployment.deployment_type in FILTERED_TYPES
        call = chat.Call(
            gen,
            self.catalog.snapshot(PROVIDER, deployment.model),
            req.stream,
            bool(req.stream_options and req.stream_options.include_usage),
            decision,
            timing,
            self.seed,
            extra_first_chunk={
                "prompt_filter_results": [
                    {"prompt_index": 0, "content_filter_results": protocol.filter_results()}
                ]
            }
            if filtered
            else {},
            extra_choice={"content_filter_results": protocol.filter_results()} if filtered else {},
        )
        headers = self.headers(request_id, deployment, verdict)
        try:
            if req.stream:
                first, rest = await chat.open_stream(self.source, call)
                return StreamingResponse(
                    chat.stream_body(call, first, rest, protocol.server_error(request_id)),
                    headers=headers,
                    media_type="text/event-stream",
                )
            return JSONResponse(await chat.completion_body(self.source, call), headers=headers)
        except UpstreamError:
            return self.fail(500, protocol.server_error(request_id), request_id, deployment)


async def _sleep(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)
