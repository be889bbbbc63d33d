"""HTTP surface of the managed-API stand-in (FastAPI): OpenAI's paths, errors and headers."""

from __future__ import annotations

import json

from fastapi import FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from reference_stack.providers import chat
from reference_stack.providers.admin import admin_router
from reference_stack.providers.managed import protocol
from reference_stack.providers.managed.serving import LABEL, ManagedServing


def build_app(serving: ManagedServing):
    """The ASGI app (wrapped so a disconnect fault really drops the connection)."""
    app = FastAPI(
        title="servelab managed-API stand-in (OpenAI wire format)",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    def describe() -> dict:
        return {
            "standin": LABEL,
            "token_source": serving.source.name,
            "models": list(serving.deployments),
        }

    app.include_router(admin_router([serving.faults], serving.reset_limits, describe))

    @app.exception_handler(RequestValidationError)
    async def bad_body(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(p) for p in first.get("loc", []) if p != "body"]
        if first.get("type") == "json_invalid":
            message = (
                "We could not parse the JSON body of your request. (HINT: This likely means "
                "you aren't using your HTTP library correctly.)"
            )
        elif first.get("type") == "missing":
            message = f"Missing required parameter: '{'.'.join(loc)}'."
        else:
            message = f"Invalid value for '{'.'.join(loc)}': {first.get('msg', 'invalid')}."
        return JSONResponse(
            protocol.invalid_body(message, ".".join(loc) or None),
            400,
            headers={chat.STANDIN_HEADER: LABEL},
        )

    @app.exception_handler(StarletteHTTPException)
    async def not_found(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            protocol.invalid_url(request.method, request.url.path),
            exc.status_code,
            headers={chat.STANDIN_HEADER: LABEL},
        )

    @app.get("/v1/models")
    async def list_models(authorization: str | None = Header(None)) -> Response:
        denied = serving.authenticate(authorization)
        return denied or JSONResponse(serving.model_list(), headers={chat.STANDIN_HEADER: LABEL})

    @app.get("/v1/models/{model}")
    async def get_model(model: str, authorization: str | None = Header(None)) -> Response:
        denied = serving.authenticate(authorization)
        if denied:
            return denied
        if model not in serving.deployments:
            return JSONResponse(
                protocol.model_not_found(model), 404, headers={chat.STANDIN_HEADER: LABEL}
            )
        return JSONResponse(serving.model_card(model), headers={chat.STANDIN_HEADER: LABEL})

    @app.post("/v1/chat/completions")
    async def chat_completions(
        request: Request, authorization: str | None = Header(None)
    ) -> Response:
        denied = serving.authenticate(authorization)
        if denied:
            return denied
        try:
            body = json.loads(await request.body())
        except json.JSONDecodeError:
            raise RequestValidationError([{"type": "json_invalid", "loc": ["body"]}]) from None
        try:
            req = protocol.ChatCompletionRequest.model_validate(body)
        except ValidationError as e:
            raise RequestValidationError(e.errors()) from None
        return await serving.chat(req)

    return chat.drop_connection_on_fault(app)
