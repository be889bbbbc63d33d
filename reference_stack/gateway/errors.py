"""Every refusal the gateway makes, in the OpenAI error shape, with its HTTP status.

The body is what the openai SDK expects (``{"error": {"message", "type", "param", "code"}}``),
so ``openai.RateLimitError``, ``openai.AuthenticationError`` and friends are raised on the
client as if a managed provider had answered. One class per kind of refusal keeps the status
codes in one table a learner can read.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response


class GatewayError(Exception):
    """A request the gateway answers with an error instead of a completion."""

    status = 500
    type = "server_error"
    code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.param = param
        self.headers = headers or {}
        self.extra = extra or {}  # more fields for the error object (e.g. the residency policy)

    def body(self) -> dict:
        error = {
            "message": self.message,
            "type": self.type,
            "param": self.param,
            "code": self.code,
            **self.extra,
        }
        return {"error": error}

    def response(self, headers: dict[str, str] | None = None) -> Response:
        return error_response(self.status, self.body(), {**self.headers, **(headers or {})})


# --- client errors (4xx): the request itself is wrong; another upstream would not help ---------
class BadRequest(GatewayError):
    status, type, code = 400, "invalid_request_error", "invalid_request"


class Unauthenticated(GatewayError):
    status, type, code = 401, "authentication_error", "invalid_api_key"


class Forbidden(GatewayError):
    status, type, code = 403, "permission_error", "forbidden"


class ModelNotFound(GatewayError):
    status, type, code = 404, "invalid_request_error", "model_not_found"


class ModelNotConfigured(ModelNotFound):
    """The alias is in the routing table, but none of its upstreams is available here (e.g.
    its key variable is unset): not listed in /v1/models, and no policy or outage involved."""

    code = "model_not_configured"


class PayloadTooLarge(GatewayError):
    status, type, code = 413, "invalid_request_error", "payload_too_large"


class RequestTimeout(GatewayError):
    """The client did not send its request (body) in time (body_limit.py)."""

    status, type, code = 408, "invalid_request_error", "request_timeout"


class RateLimited(GatewayError):
    """The key's own quota (quotas.py)."""

    status, type, code = 429, "rate_limit_error", "rate_limit_exceeded"


class ResidencyDenied(GatewayError):
    """No upstream in the model's chain may process this data class: retrying cannot help."""

    status, type, code = 403, "residency_policy_error", "residency_denied"


# --- nothing compliant could answer right now: an outage, or the upstreams' quotas -----------
class UpstreamsRateLimited(GatewayError):
    """Every compliant upstream tried answered 429: the upstreams' quotas, not the key's."""

    status, type, code = 429, "rate_limit_error", "upstream_rate_limited"


class UpstreamUnavailable(GatewayError):
    """Every compliant upstream is cooling down (its breaker open on its own Retry-After)."""

    status, type, code = 503, "upstream_error", "upstream_unavailable"


class UpstreamFailed(GatewayError):
    """Every attempt of the failover loop failed."""

    status, type, code = 502, "upstream_error", "upstream_failed"


class UpstreamTimeout(UpstreamFailed):
    status, code = 504, "upstream_timeout"


class GatewayOverloaded(GatewayError):
    """More connections than the gateway takes (edge.py): come back in a moment."""

    status, type, code = 503, "server_error", "gateway_overloaded"


def error_response(status: int, body: dict, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body).encode(),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )


def upstream_client_error(status: int, body: bytes | None, message: str) -> Response:
    """An upstream's 4xx, passed on with its status; its body kept if OpenAI-shaped (the
    upstream knows best what was wrong), otherwise wrapped in that shape."""
    try:
        parsed = json.loads(body or b"")
        if not (isinstance(parsed, dict) and isinstance(parsed.get("error"), dict)):
            raise ValueError
        error = parsed["error"]
        error["type"] = error.get("type") or "invalid_request_error"
        error["message"] = str(error.get("message") or message)
    except ValueError:
        text = (body or b"").decode("utf-8", "replace")[:500]
        parsed = {
            "error": {
                "message": f"{message}: {text}".strip(": "),
                "type": "invalid_request_error",
                "param": None,
                "code": status,
            }
        }
    return error_response(status, parsed)


def invalid_request(errors: Sequence[Any]) -> BadRequest:
    """One readable 400 from pydantic's error list, naming the offending parameter."""
    first = errors[0] if errors else {}
    loc = [str(part) for part in first.get("loc", ()) if part != "body"]
    param = ".".join(loc) or None
    if first.get("type") == "json_invalid":
        return BadRequest("The request body is not valid JSON.")
    msg = first.get("msg", "invalid request")
    count = len(errors)
    more = f" (and {count - 1} more problem{'s' if count > 2 else ''})" if count > 1 else ""
    return BadRequest(f"{param}: {msg}{more}" if param else f"{msg}{more}", param=param)


def install_error_handlers(app: FastAPI) -> None:
    """Make every error, including FastAPI's own, leave in the OpenAI shape."""

    @app.exception_handler(GatewayError)
    async def _gateway_error(_: Request, exc: GatewayError) -> Response:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> Response:
        # OpenAI answers invalid parameters with 400, not FastAPI's default 422.
        return invalid_request(exc.errors()).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> Response:
        kind = "invalid_request_error" if exc.status_code < 500 else "server_error"
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        body = {"error": {"message": str(exc.detail), "type": kind, "param": None, "code": code}}
        return error_response(exc.status_code, body, getattr(exc, "headers", None))
