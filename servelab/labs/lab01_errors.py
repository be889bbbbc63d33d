"""The ``openai`` SDK's HTTP errors, re-creatable from plain data (lab 01's retry replay).

When lab 01 is graded, the recorded answers are served from the grader's process: the learner's
``call_with_retries`` gets ``send`` as a grader-side function, and an error ``send`` raises is
re-created inside the learner's kernel from its class name and its ``args``
(servelab/grading/agent.py). The SDK's own classes cannot be re-created that way: their
constructor wants an ``httpx`` response. Each class here is the SDK's class (a subclass of
``openai.RateLimitError``, ``openai.InternalServerError`` ...) with a constructor that takes
only plain data: the message, the HTTP status, and the headers and body as JSON text. So
``except openai.RateLimitError``, ``e.status_code`` and ``e.response.headers["retry-after"]``
work exactly as they do against the real API, in-process and across the grader's channel.
"""

from __future__ import annotations

import json

import httpx2  # the HTTP library the openai SDK is built on: its errors carry an httpx2.Response
import openai

REQUEST_URL = "http://127.0.0.1:8410/v1/chat/completions"  # shown in errors; never contacted


class APIStatusError(openai.APIStatusError):
    """An HTTP error answer, from (message, status, headers JSON, body JSON): plain data only."""

    def __init__(
        self, message: str, status: int = 500, headers: str = "{}", body: str = "null"
    ) -> None:
        request = httpx2.Request("POST", REQUEST_URL)
        response = httpx2.Response(int(status), headers=json.loads(headers), request=request)
        super().__init__(message, response=response, body=json.loads(body))
        self.args = (message, int(status), headers, body)  # what re-creates it elsewhere

    def __str__(self) -> str:
        return self.message  # as the SDK's: "Error code: 429 - {...}"


class BadRequestError(APIStatusError, openai.BadRequestError):
    """400: the request itself is wrong."""


class AuthenticationError(APIStatusError, openai.AuthenticationError):
    """401: missing or wrong API key."""


class PermissionDeniedError(APIStatusError, openai.PermissionDeniedError):
    """403: the key may not do this (or not from here)."""


class NotFoundError(APIStatusError, openai.NotFoundError):
    """404: no such model or deployment."""


class ConflictError(APIStatusError, openai.ConflictError):
    """409: the request conflicts with the resource's state."""


class UnprocessableEntityError(APIStatusError, openai.UnprocessableEntityError):
    """422: well-formed but not processable."""


class RateLimitError(APIStatusError, openai.RateLimitError):
    """429: over the rate limit; the answer usually says when to retry (``Retry-After``)."""


class InternalServerError(APIStatusError, openai.InternalServerError):
    """5xx: the provider failed."""


BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error(status: int, headers: dict[str, str], body: object) -> APIStatusError:
    """The error the SDK raises for this answer: same class, status, headers and body."""
    cls = BY_STATUS.get(status)
    if cls is None:
        cls = InternalServerError if status >= 500 else APIStatusError
    inner = body.get("error", body) if isinstance(body, dict) else body
    return cls(f"Error code: {status} - {body}", status, json.dumps(headers), json.dumps(inner))
