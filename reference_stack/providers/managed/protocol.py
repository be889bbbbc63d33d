"""Request schema and error bodies of the OpenAI chat completions API (the managed dialect).

Error bodies follow OpenAI's shape ``{"error": {"message", "type", "param", "code"}}``; the
messages are the ones OpenAI returns, as seen in public bug reports (links in the README).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

# A request without max_tokens may run to the context length; the stand-in caps it here so a
# forgotten limit cannot tie up the CPU engine (and so the token-bucket estimate is bounded).
DEFAULT_MAX_TOKENS = 256
RATE_LIMIT_DOCS = "https://platform.openai.com/account/rate-limits"
API_KEYS_URL = "https://platform.openai.com/account/api-keys"
KEY_SHOWN_PREFIX, KEY_SHOWN_SUFFIX = 8, 4  # OpenAI masks keys as sk-abcde*****wxyz


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """The fields the stand-in uses; others (tools, response_format ...) are accepted, ignored."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[dict] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    seed: int | None = None
    stop: str | list[str] | None = None
    n: int = Field(1, ge=1, le=1)  # the stand-ins generate one choice

    @property
    def token_budget(self) -> int:
        return self.max_completion_tokens or self.max_tokens or DEFAULT_MAX_TOKENS

    @property
    def stops(self) -> list[str] | None:
        return [self.stop] if isinstance(self.stop, str) else self.stop


def error(message: str, type_: str, param: str | None = None, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def mask_key(key: str) -> str:
    if len(key) <= KEY_SHOWN_PREFIX + KEY_SHOWN_SUFFIX:
        return key
    hidden = "*" * (len(key) - KEY_SHOWN_PREFIX - KEY_SHOWN_SUFFIX)
    return key[:KEY_SHOWN_PREFIX] + hidden + key[-KEY_SHOWN_SUFFIX:]


def missing_key() -> dict:
    return error(
        "You didn't provide an API key. You need to provide your API key in an "
        "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY). "
        f"You can obtain an API key from {API_KEYS_URL}.",
        "invalid_request_error",
    )


def invalid_key(key: str) -> dict:
    return error(
        f"Incorrect API key provided: {mask_key(key)}. You can find your API key at "
        f"{API_KEYS_URL}.",
        "invalid_request_error",
        code="invalid_api_key",
    )


def model_not_found(model: str) -> dict:
    return error(
        f"The model `{model}` does not exist or you do not have access to it.",
        "invalid_request_error",
        code="model_not_found",
    )


def rate_limited(
    model: str, exceeded: str, limit: int | None, used: int, requested: int, retry_after_s: float
) -> dict:
    unit = "requests per min (RPM)" if exceeded == "requests" else "tokens per min (TPM)"
    return error(
        f"Rate limit reached for {model} in organization org-servelab-standin on {unit}: "
        f"Limit {limit}, Used {used}, Requested {requested}. Please try again in "
        f"{retry_after_s:.3g}s. Visit {RATE_LIMIT_DOCS} to learn more.",
        exceeded,
        code="rate_limit_exceeded",
    )


def server_error(status: int) -> dict:
    if status == 503:
        return error("The engine is currently overloaded, please try again later", "server_error")
    return error(
        "The server had an error while processing your request. Sorry about that!", "server_error"
    )


def invalid_url(method: str, path: str) -> dict:
    return error(f"Invalid URL ({method} {path})", "invalid_request_error")


def invalid_body(message: str, param: str | None) -> dict:
    return error(message, "invalid_request_error", param=param)
