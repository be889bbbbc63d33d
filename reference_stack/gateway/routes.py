"""The HTTP surface: FastAPI routes, kept thin. Each translates HTTP into a call on the
``ChatService`` (serving.py); schemas are in protocol.py, errors in errors.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import GatewayError
from .protocol import ChatCompletion, ErrorResponse, Health, Model, ModelList, parse_chat_request
from .serving import ChatService

router = APIRouter()
CHAT_PATH = "/v1/chat/completions"

#: Documents the key in /docs ("Authorize" button); the check itself is auth.py's.
bearer = HTTPBearer(auto_error=False, description="A servelab gateway key (keys.yaml).")
BearerKey = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]

_ERRORS = {
    status: {"model": ErrorResponse, "description": why}
    for status, why in {
        400: "Invalid request (malformed JSON, wrong types, absurd max_tokens)",
        401: "Missing or wrong API key",
        403: "Key not allowed this model or data class, or residency policy forbids every upstream",
        404: "Unknown model",
        413: "Request body too large",
        429: "Rate limit of the key reached (see Retry-After)",
        502: "Every compliant upstream failed",
        503: "No compliant upstream is healthy (see Retry-After)",
        504: "Every compliant upstream timed out",
    }.items()
}


#: One server-sent event of a streamed answer (OpenAPI 3.1: the schema of each event): its
#: ``data`` is a chat.completion.chunk as JSON, an error object, or ``[DONE]``.
SSE_EVENT = {
    "type": "object",
    "required": ["data"],
    "properties": {"data": {"type": "string"}, "event": {"type": "string"}},
}


def service(request: Request) -> ChatService:
    return request.app.state.service


async def serve_chat(
    chat: ChatService, body: bytes, headers: Headers, receive: Receive
) -> Response:
    """POST /v1/chat/completions, the one implementation both ways in below call."""
    try:
        request, raw = parse_chat_request(body, headers.get("content-type"))
        return await chat.chat(request, raw, headers, receive)
    except GatewayError as error:
        return error.response()


class ChatFastPath:
    """The chat route as pure ASGI, ahead of FastAPI's routing, dependency injection and
    exception middleware: those cost about 70 us a request on the course's 2-core VM, more
    than all of the gateway's own work before the first token (benchmarks/gateway_overhead.py
    --profile). The FastAPI route below documents the same endpoint in /openapi.json."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != CHAT_PATH or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        body, more = b"", True
        while more:  # one message when body_limit.py has read the body already
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            more = message.get("more_body", False)
        chat = scope["app"].state.service
        response = await serve_chat(chat, body, Headers(scope=scope), receive)
        await response(scope, receive, send)


@router.post(
    CHAT_PATH,
    summary="Create a chat completion (OpenAI-compatible; SSE when stream is true)",
    response_model=None,
    responses={
        200: {
            "model": ChatCompletion,
            "description": "The completion; with "
            "stream=true a text/event-stream of chat.completion.chunk events",
            "content": {"text/event-stream": {"schema": SSE_EVENT}},
        },
        **_ERRORS,
    },
    # the body is parsed by protocol.parse_chat_request (the hot path); documented here
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/ChatCompletionRequest"}
                }
            },
        },
        "security": [{"HTTPBearer": []}],
    },
)
async def chat_completions(request: Request) -> Response:
    body = await request.body()
    return await serve_chat(service(request), body, request.headers, request.receive)


@router.get(
    "/v1/models",
    response_model=ModelList,
    responses={401: _ERRORS[401]},
    summary="Model aliases this key may use",
)
async def list_models(request: Request, _: BearerKey) -> ModelList:
    aliases = service(request).models_for(request.headers.get("authorization"))
    return ModelList(data=[Model(id=alias) for alias in aliases])


@router.get(
    "/health",
    response_model=Health,
    response_model_exclude_none=True,
    summary="Ready; with each upstream's breaker state (production mode: for observer keys)",
    # a key is optional here: without one, the bare status (what load balancers ask for)
    openapi_extra={"security": [{}, {"HTTPBearer": []}]},
)
async def health(request: Request) -> Health:
    chat = service(request)
    if chat.may_observe(request.headers.get("authorization")):
        replicas = chat.pools.snapshot() if chat.pools.active else None
        return Health(status="ok", upstreams=chat.breaker_states(), replicas=replicas)
    return Health(status="ok")  # liveness for anyone (load balancers send no key)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(request: Request) -> Response:
    service(request).refresh_gauges()  # open -> half-open happens with time alone
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
