"""HTTP surface of one cloud region (FastAPI): Azure OpenAI's data-plane paths and errors."""

from __future__ import annotations

import json
from datetime import date

from fastapi import FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from reference_stack.providers import chat
from reference_stack.providers.admin import admin_router
from reference_stack.providers.cloud import protocol
from reference_stack.providers.cloud.serving import LABEL, RegionServing


class AsOf(BaseModel):
    date: date


def build_app(serving: RegionServing):
    """The ASGI app of one region (wrapped so a disconnect fault really drops the connection)."""
    app = FastAPI(
        title=f"servelab cloud-platform stand-in: {serving.region.display_name}",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.include_router(admin_router([serving.faults], serving.set_limits, serving.describe))

    @app.post("/admin/as-of")
    async def set_as_of(body: AsOf) -> dict:
        """Move the catalog date: deployments that arrive later in this region appear."""
        return {"as_of": body.date.isoformat(), "deployments": serving.set_as_of(body.date)}

    @app.exception_handler(RequestValidationError)
    async def bad_body(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        loc = ".".join(str(p) for p in first.get("loc", []) if p != "body")
        message = (
            f"Invalid value for '{loc}': {first.get('msg', 'invalid')}."
            if loc
            else "Invalid request body."
        )
        return JSONResponse(
            protocol.invalid_body(message, loc or None), 400, headers={chat.STANDIN_HEADER: LABEL}
        )

    @app.exception_handler(StarletteHTTPException)
    async def not_found(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            protocol.resource_not_found(), 404, headers={chat.STANDIN_HEADER: LABEL}
        )

    @app.get("/openai/models")
    async def list_models(
        api_version: str | None = Query(None, alias="api-version"),
        api_key: str | None = Header(None),
        authorization: str | None = Header(None),
    ) -> Response:
        denied = serving.check_access(api_version, api_key, authorization)
        return denied or JSONResponse(serving.model_list(), headers={chat.STANDIN_HEADER: LABEL})

    @app.get("/openai/deployments")
    async def list_deployments(
        api_version: str | None = Query(None, alias="api-version"),
        api_key: str | None = Header(None),
        authorization: str | None = Header(None),
    ) -> Response:
        denied = serving.check_access(api_version, api_key, authorization)
        return denied or JSONResponse(
            serving.deployment_list(), headers={chat.STANDIN_HEADER: LABEL}
        )

    @app.post("/openai/deployments/{deployment}/chat/completions")
    async def chat_completions(
        deployment: str,
        request: Request,
        api_version: str | None = Query(None, alias="api-version"),
        api_key: str | None = Header(None),
        authorization: str | None = Header(None),
    ) -> Response:
        denied = serving.check_access(api_version, api_key, authorization)
        if denied:
            return denied
        try:
            req = protocol.AzureChatRequest.model_validate(json.loads(await request.body()))
        except json.JSONDecodeError:
            raise RequestValidationError(
                [{"type": "json_invalid", "loc": ["body"], "msg": "invalid JSON"}]
            ) from None
        except ValidationError as e:
            raise RequestValidationError(e.errors()) from None
        return await serving.chat(deployment, api_version, req)

    return chat.drop_connection_on_fault(app)
