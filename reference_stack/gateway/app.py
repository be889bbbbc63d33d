"""Assemble the gateway: settings -> routing table, keys, HTTP client, metrics, audit -> app.

``create_app`` loads and validates the routing table and the key file BEFORE the server starts
listening, so a bad file stops start-up with a message naming it (``load_state``), rather than
failing the first request.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI
from pydantic.json_schema import models_json_schema

from .audit import AuditLog
from .auth import KeyStore
from .body_limit import BodyLimit
from .errors import install_error_handlers
from .lag import LoopLag
from .metrics import GatewayMetrics
from .ops_guard import OpsGuard
from .protocol import ChatCompletionRequest
from .relay.upstream import Limits, Timeouts, UpstreamClient, make_session
from .routes import ChatFastPath, router
from .routing import RoutingTable
from .serving import ChatService
from .settings import Settings, get_settings

log = logging.getLogger("servelab.gateway")


@dataclass
class LoadedConfig:
    table: RoutingTable
    keys: KeyStore


def load_config(settings: Settings) -> LoadedConfig:
    """Read and validate routing.yaml and keys.yaml; ValueError says which file and why."""
    table = RoutingTable.load(settings.routing_file)
    keys = KeyStore.load(settings.keys_file, settings.mode, set(table.data_classes))
    for upstream in table.upstreams.values():
        if not upstream.available:
            log.warning("upstream %s left out: %s is not set", upstream.name, upstream.api_key_env)
    return LoadedConfig(table, keys)


def configured_aliases(table: RoutingTable) -> list[str]:
    """Aliases with at least one available upstream (the others are not served here)."""
    return [
        alias
        for alias, model in table.models.items()
        if any(table.upstreams[step.upstream].available for step in model.steps)
    ]


def _document_models(app: FastAPI, table: RoutingTable) -> None:
    """Make /openapi.json name this gateway's model aliases and, per alias, its max_tokens
    limit: one request schema per limit, chosen by ``model`` (``oneOf``), so the docs (and a
    schema-driven client or fuzzer) know exactly what a valid request is for each model."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = build()
            _, defs = models_json_schema(
                [(ChatCompletionRequest, "validation")], ref_template="#/components/schemas/{model}"
            )
            schemas = schema["components"]["schemas"]
            schemas.update(defs["$defs"])
            by_limit: dict[int, list[str]] = {}
            for alias in configured_aliases(table):
                by_limit.setdefault(table.models[alias].max_output_tokens, []).append(alias)
            refs = []
            for limit, aliases in sorted(by_limit.items()):
                variant = copy.deepcopy(schemas["ChatCompletionRequest"])
                variant["title"] = f"ChatCompletionRequest for {', '.join(aliases)}"
                fields = variant["properties"]
                fields["model"]["enum"] = aliases
                for name in ("max_tokens", "max_completion_tokens"):
                    for option in fields[name].get("anyOf", [fields[name]]):
                        if option.get("type") == "integer":
                            option["maximum"] = limit
                schemas[f"ChatCompletionRequest{limit}"] = variant
                refs.append({"$ref": f"#/components/schemas/ChatCompletionRequest{limit}"})
            if refs:
                body = schema["paths"]["/v1/chat/completions"]["post"]["requestBody"]
                body["content"]["application/json"]["schema"] = (
                    refs[0] if len(refs) == 1 else {"oneOf": refs}
                )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    config = load_config(settings)  # fails here, before listening, on a bad file
    timeouts = Timeouts(
        settings.connect_timeout_s, settings.first_token_timeout_s, settings.total_timeout_s
    )
    limits = Limits(settings.max_upstream_answer_bytes, settings.max_sse_event_bytes)
    lag = LoopLag()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        lag.start()
        session = make_session()
        audit = AuditLog(settings.audit_file)
        service = app.state.service = ChatService(
            settings,
            config.table,
            config.keys,
            UpstreamClient(session, timeouts, lag, limits),
            app.state.metrics,
            audit,
            lag,
        )
        # replica pools: health checks and engine queues, in the background (replicas.py)
        probes = asyncio.ensure_future(service.pools.run(session)) if service.pools.active else None
        try:
            yield
        finally:
            if probes is not None:
                probes.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await probes
            lag.stop()
            await session.close()
            audit.close()

    app = FastAPI(
        title="servelab gateway",
        version="1.0",
        summary="OpenAI-compatible gateway: auth, quotas, residency-aware routing, failover, "
        "stream relay and measurement in front of the reference stack's engines.",
        lifespan=lifespan,
    )
    _document_models(app, config.table)
    app.state.settings = settings
    app.state.metrics = GatewayMetrics()
    app.state.lag = lag
    app.include_router(router)
    install_error_handlers(app)
    app.add_middleware(ChatFastPath)
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_body_bytes,
        timeout_s=settings.body_timeout_s,
        min_rate=settings.body_min_rate_bytes_s,
        lag=lag,
    )
    if settings.mode != "local":
        app.add_middleware(OpsGuard, keys=config.keys)
    return app
