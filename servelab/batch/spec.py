"""What every document of a batch job becomes on the wire, and what comes back.

Both ways of running the job (``loop`` and ``ray_pipeline``) build their requests here and read
the answers here, so they cannot drift apart: the same system prompt, the same sampling, the same
fields kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from servelab_base.config import Settings, get_settings

EndpointName = Literal["llamacpp", "vllm", "gateway"]
ENDPOINTS: tuple[EndpointName, ...] = ("llamacpp", "vllm", "gateway")
#: fields of a document copied unchanged into its result row (the gold label rides along)
PASSED_THROUGH = ("id", "label")


@dataclass(frozen=True)
class ChatJob:
    """One chat request per document: a fixed system prompt, the document as the user turn.

    ``temperature`` is explicit (0: greedy) because the lesson compares answers between runs; an
    engine's default sampling would make every run differ.
    """

    system_prompt: str
    model: str
    max_tokens: int = 32
    temperature: float = 0.0

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, not {self.max_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be 0 or more, not {self.temperature}")

    def messages(self, text: str) -> list[dict[str, str]]:
        """The conversation for one document."""
        return [
            {"role": "system", "content": self.system_prompt},
            {"role": "user", "content": text},
        ]

    def sampling(self) -> dict[str, float | int]:
        """Sampling parameters, as both the OpenAI API and vLLM's ``SamplingParams`` name them."""
        return {"temperature": self.temperature, "max_tokens": self.max_tokens}

    def body(self, text: str) -> dict[str, Any]:
        """The JSON body of ``POST /v1/chat/completions`` for one document."""
        return {"model": self.model, "messages": self.messages(text), **self.sampling()}


@dataclass(frozen=True)
class Endpoint:
    """An OpenAI-compatible server the job talks to (``base_url`` ends in ``/v1``)."""

    name: str
    base_url: str
    api_key: str = "none"
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def chat_url(self) -> str:
        return f"{self.base_url}/chat/completions"

    def request_headers(self) -> dict[str, str]:
        """Authorization plus this endpoint's own headers (e.g. the gateway's data class)."""
        return {"Authorization": f"Bearer {self.api_key}", **self.headers}

    def unavailable(self, timeout_s: float = 3.0) -> str | None:
        """Why the endpoint cannot take the job (None: it answers ``GET /v1/models``)."""
        try:
            response = httpx.get(
                f"{self.base_url}/models", headers=self.request_headers(), timeout=timeout_s
            )
        except httpx.HTTPError as exc:
            return (
                f"{self.name} at {self.base_url} is not answering ({type(exc).__name__}); "
                "start the stack with `make up` (or `.venv/bin/servelab up`)"
            )
        if response.status_code != 200:
            return f"{self.name} at {self.base_url} answered HTTP {response.status_code}"
        return None


def endpoint(name: EndpointName, settings: Settings | None = None) -> Endpoint:
    """An engine of the embedded stack by name, or the gateway in front of them.

    ``llamacpp`` and ``vllm`` are the engines themselves (a batch job inside the operator's
    boundary usually talks to the engine directly); ``gateway`` goes through the course's
    gateway with this learner's key, marking the documents as EU personal data so the gateway
    may only route them to an on-premises or EU upstream.
    """
    settings = settings or get_settings()
    if name == "llamacpp":
        return Endpoint(name, f"{settings.llamacpp_url}/v1")
    if name == "vllm":
        return Endpoint(name, f"{settings.vllm_url}/v1")
    if name == "gateway":
        from servelab.course_server.learner import gateway_key

        return Endpoint(
            name,
            f"{settings.gateway_url}/v1",
            api_key=gateway_key(),
            headers={"x-servelab-data-class": "personal-eu"},
        )
    raise ValueError(f"unknown endpoint {name!r}: use one of {', '.join(ENDPOINTS)}")


class EndpointError(RuntimeError):
    """The server answered, but with an error instead of a completion."""


def result_row(doc: Mapping[str, Any], response: Mapping[str, Any]) -> dict[str, Any]:
    """One document's result from an OpenAI chat completion (the JSON, as a dict).

    Raises EndpointError, naming the document, when the response is an error body.
    """
    choices = response.get("choices")
    if choices is None or len(choices) == 0:  # len: Ray may hand lists over as numpy arrays
        error = response.get("error", response)
        raise EndpointError(f"document {doc.get('id')!r}: the endpoint answered {error!r}")
    usage = response.get("usage") or {}
    row = {key: doc[key] for key in PASSED_THROUGH if key in doc}
    row.update(
        text=choices[0]["message"]["content"] or "",
        prompt_tokens=int(usage.get("prompt_tokens", 0)),
        output_tokens=int(usage.get("completion_tokens", 0)),
        finish_reason=choices[0].get("finish_reason"),
    )
    return row
