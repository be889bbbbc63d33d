"""In production mode, what the gateway says about itself is for its operators only.

``/metrics`` (request counts by model and outcome, upstream names), ``/docs``, ``/redoc`` and
``/openapi.json`` (every model alias and its limits) need a key with ``may_observe``
(keys.yaml); so does the per-upstream breaker detail of ``/health``, whose bare
``{"status": "ok"}`` stays open to load balancers (routes.py). In local mode (a laptop's
loopback) everything stays open, as the labs expect. Prometheus sends the key with
``authorization: {credentials: ...}`` in its scrape config; a browser needs a header-setting
proxy or extension to open /docs.

A pure ASGI middleware, added only in production mode: the local hot path pays nothing.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from .auth import KeyStore
from .errors import GatewayError

OPS_PATHS = frozenset({"/metrics", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})


class OpsGuard:
    def __init__(self, app: ASGIApp, keys: KeyStore) -> None:
        self.app = app
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in OPS_PATHS:
            authorization = next(
                (v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), None
            )
            try:
                self.keys.observer(authorization)
            except GatewayError as error:
                await error.response()(scope, receive, send)
                return
        await self.app(scope, receive, send)
