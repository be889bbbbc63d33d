"""Assemble the gateway: settings -> routing table, keys, HTTP client, metrics, audit -> app.

``create_app`` loads and validates the routing table and the key file BEFORE the server starts
listening, so a bad file stops start-up with a message naming it (``load_state``), rather than
failing the first request.
"""

from __future__ import annotations

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
from .metrics import GatewayMetrics
from .protocol import ChatCompletionRequest
from .relay.upstream import Timeouts, UpstreamClient, make_session
from .routes import router
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


def _document_models(app: FastAPI, table: RoutingTable) -> None:
    """Make /openapi.json name this gateway's model aliases and their max_tokens limit, so the
    docs (and a schema-driven fuzzer) know what a valid request is here."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = build()
            _, defs = models_json_schema(
                [(ChatCompletionRequest, "validation")], ref_template="#/components/schemas/{model}"
            )
            schema["components"]["schemas"].update(defs["$defs"])
            fields = schema["components"]["schemas"]["ChatCompletionRequest"]["properties"]
            fields["model"]["enum"] = list(table.models)
            limit = max(m.max_output_tokens for m in table.models.values())
            for name in ("max_tokens", "max_completion_tokens"):
                for option in fields[name].get("anyOf", [fields[name]]):
                    if option.get("type") == "integer":
                        option["maximum"] = limit
        return app.openapi_schema or schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    config = load_config(settings)  # fails here, before listening, on a bad file
    timeouts = Timeouts(
        settings.connect_timeout_s, settings.first_token_timeout_s, settings.total_timeout_s
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        session = make_session(timeouts)
        audit = AuditLog(settings.audit_file)
        app.state.service = ChatService(
            settings,
            config.table,
            config.keys,
            UpstreamClient(session, timeouts),
            app.state.metrics,
            audit,
        )
        try:
            yield
        finally:
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
    app.include_router(router)
    install_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    return app
