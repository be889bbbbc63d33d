"""The wire format: pydantic schemas of the OpenAI chat-completions surface.

Requests are validated here (types, ranges) so bad input is a clear 400 before any upstream is
touched. Validation is strict: ``"max_tokens": "12"`` is refused, not quietly turned into 12.
Parameters this schema does not name are passed through to the upstream unchanged, the way an
OpenAI-compatible server accepts vendor extensions (vLLM's ``top_k``, for example).

Strict, but never stricter than OpenAI's own published spec: every request it accepts for chat
completions (nullable fields set to ``null``, the deprecated ``function`` role ...) passes
here, and the gateway refuses nothing the engine itself would accept
(tests/unit/gateway/test_gateway_openai_spec.py generates such requests from the spec's fields,
written down in tests/data/openai_chat_request.json).

Responses are relayed as the upstream's bytes, never re-serialised; the response schemas below
document them for ``/docs`` and for the schema-driven fuzz in the tests.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from .errors import BadRequest, invalid_request

#: Largest ``max_tokens`` any request may name: 131,072 is the context window of the Llama 3.1
#: family, the largest served by any profile here. Each model alias sets its own, lower limit
#: in routing.yaml; this ceiling only turns an absurd number into a schema error.
MAX_TOKENS_CEILING = 131_072
#: OpenAI's API accepts at most 4 stop sequences and n up to 128.
MAX_STOP_SEQUENCES = 4
MAX_CHOICES = 128


def _integral(value: Any) -> Any:
    """JSON has one number type: 12.0 IS the integer 12 (JSON Schema agrees); 12.5 is not."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


#: Integer fields: strict (no "12" strings, no booleans) but accepting 12.0.
_INTEGRAL = BeforeValidator(_integral)


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow", allow_inf_nan=False)


class ContentPart(_Strict):
    """One part of a multi-part message (``{"type": "text", "text": ...}``, images...)."""

    type: Annotated[str, Field(min_length=1)]


class ChatMessage(_Strict):
    #: ``function`` is deprecated by OpenAI (``tool`` replaced it) but still in its spec, and
    #: engines accept it: so does the gateway.
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None


class StreamOptions(_Strict):
    #: OpenAI: send one last chunk, with empty ``choices``, carrying the request's ``usage``.
    include_usage: bool = False


class ChatCompletionRequest(_Strict):
    """``POST /v1/chat/completions``; the fields the gateway checks or acts on."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model": "smollm2-135m-instruct",
                    "stream": True,
                    "stream_options": {"include_usage": True},
                    "max_tokens": 64,
                    "messages": [{"role": "user", "content": "What does a gateway add?"}],
                }
            ]
        }
    )

    model: Annotated[str, Field(min_length=1)]
    messages: Annotated[list[ChatMessage], Field(min_length=1)]
    stream: bool | None = False  # null: OpenAI's spec allows it, and means false
    stream_options: StreamOptions | None = None
    max_tokens: Annotated[int, Field(ge=1, le=MAX_TOKENS_CEILING), _INTEGRAL] | None = None
    max_completion_tokens: Annotated[int, Field(ge=1, le=MAX_TOKENS_CEILING), _INTEGRAL] | None = (
        None
    )
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None
    n: Annotated[int, Field(ge=1, le=MAX_CHOICES), _INTEGRAL] | None = None
    stop: str | Annotated[list[str], Field(max_length=MAX_STOP_SEQUENCES)] | None = None
    presence_penalty: Annotated[float, Field(ge=-2, le=2)] | None = None
    frequency_penalty: Annotated[float, Field(ge=-2, le=2)] | None = None
    seed: Annotated[int, _INTEGRAL] | None = None
    user: str | None = None

    @property
    def output_cap(self) -> int | None:
        """The output-token cap asked for (``max_completion_tokens`` is the newer name)."""
        return self.max_completion_tokens or self.max_tokens

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


# --- responses (documentation of what upstreams send and the gateway relays) -----------------
class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AssistantMessage(BaseModel):
    role: Literal["assistant"]
    content: str | None = None


class Choice(BaseModel):
    index: int
    message: AssistantMessage
    finish_reason: str | None = None


class ChatCompletion(BaseModel):
    """A non-streamed answer. Streamed answers are ``text/event-stream`` of
    ``chat.completion.chunk`` objects ending with ``data: [DONE]``."""

    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[Choice]
    usage: Usage | None = None


class Model(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "servelab"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | int | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


class Health(BaseModel):
    status: Literal["ok"]
    #: breaker state of each upstream: closed, open or half_open (in production mode only for
    #: a key with may_observe)
    upstreams: dict[str, str] | None = None
    #: each member of a replica pool: ``in_pool``, ``in_flight`` (here) and ``engine_queue``
    #: (running + waiting its engine last reported; null when none is fresh)
    replicas: dict[str, dict[str, bool | int | float | None]] | None = None


def parse_chat_request(
    data: bytes, content_type: str | None
) -> tuple[ChatCompletionRequest, dict[str, Any]]:
    """The validated request and the raw JSON object (forwarded with unknown fields intact).

    Parsed here rather than by FastAPI's body parameter: one ``json.loads`` and one validation,
    about half of what the generic path costs per request (benchmarks/gateway_overhead.py)."""
    if not (content_type or "").split(";")[0].strip().lower().endswith("json"):
        raise BadRequest("Content-Type must be application/json.")
    try:
        raw = json.loads(data)
    except (ValueError, RecursionError):
        raise BadRequest("The request body is not valid JSON.") from None
    try:
        return ChatCompletionRequest.model_validate(raw), raw
    except ValidationError as exc:
        raise invalid_request(exc.errors()) from None


def check_output_cap(request: ChatCompletionRequest, limit: int) -> None:
    """400 when the request asks an alias for more output tokens than it can produce (the
    engine would refuse it too: vLLM's "cannot be greater than max_model_len")."""
    for param in ("max_tokens", "max_completion_tokens"):
        cap = getattr(request, param)
        if cap is not None and cap > limit:
            raise BadRequest(
                f"{param} is {cap}, but model '{request.model}' can produce at most {limit} "
                f"tokens.",
                code="max_tokens_too_large",
                param=param,
            )


def body_for_upstream(body: dict[str, Any], upstream_model: str, stream: bool) -> dict[str, Any]:
    """The request as the upstream must see it: its own model name, and usage always asked for
    when streaming (the gateway needs token counts for quotas even if the client did not ask)."""
    out = {**body, "model": upstream_model}
    if stream:
        out["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
    else:
        out.pop("stream_options", None)  # meaningless without a stream; vLLM refuses it
    return out
