"""Azure OpenAI data-plane details: accepted api-versions and Azure's error bodies.

Azure answers some errors in its own shape ``{"error": {"code", "message"}}`` (authentication,
routing, deployment, quota) and others in OpenAI's shape (body validation, server errors). The
messages below are the ones Azure returns, as quoted in public bug reports (see README).
"""

from __future__ import annotations

from reference_stack.providers.managed.protocol import ChatCompletionRequest, error, invalid_body

__all__ = ["AzureChatRequest", "invalid_body"]


class AzureChatRequest(ChatCompletionRequest):
    """The OpenAI request body; ``model`` is optional because the deployment is in the URL."""

    model: str | None = None


#: api-version values the stand-in accepts: Azure OpenAI data-plane GA and preview versions
#: listed in the REST reference (learn.microsoft.com/azure/ai-services/openai/reference).
API_VERSIONS = (
    "2022-12-01",
    "2023-05-15",
    "2024-02-01",
    "2024-06-01",
    "2024-10-21",
    "2024-08-01-preview",
    "2024-12-01-preview",
    "2025-01-01-preview",
    "2025-03-01-preview",
    "2025-04-01-preview",
)
DEFAULT_API_VERSION = "2024-10-21"  # latest GA in the list above
QUOTA_URL = "https://aka.ms/oai/quotaincrease"
SUPPORT_URL = "https://go.microsoft.com/fwlink/?linkid=2213926"
OPERATION = "ChatCompletions_Create"
PRICING_TIER = "OpenAI S0"
FILTER_CATEGORIES = ("hate", "self_harm", "sexual", "violence")


def azure_error(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


def unauthorized() -> dict:
    return azure_error(
        "401",
        "Access denied due to invalid subscription key or wrong API "
        "endpoint. Make sure to provide a valid key for an active "
        "subscription and use a correct regional API endpoint for your "
        "resource.",
    )


def resource_not_found() -> dict:
    """Azure's answer to an unknown path and to a request without ``api-version``."""
    return azure_error("404", "Resource not found")


def api_version_unsupported() -> dict:
    return azure_error("BadRequest", "API version not supported")


def deployment_not_found() -> dict:
    return azure_error(
        "DeploymentNotFound",
        "The API deployment for this resource does not "
        "exist. If you created the deployment within the "
        "last 5 minutes, please wait a moment and try again.",
    )


def rate_limited(api_version: str, exceeded: str, retry_after_s: int) -> dict:
    kind = "call" if exceeded == "requests" else "token"
    return azure_error(
        "429",
        f"Requests to the {OPERATION} Operation under Azure OpenAI API "
        f"version {api_version} have exceeded {kind} rate limit of your "
        f"current {PRICING_TIER} pricing tier. Please retry after "
        f"{retry_after_s} seconds. Please go here: {QUOTA_URL} if you "
        f"would like to further increase the default rate limit.",
    )


def server_error(request_id: str) -> dict:
    """Azure's 500 body (OpenAI shape). The stand-in uses it for injected 5xx of any code."""
    return error(
        "The server had an error while processing your request. Sorry about that! You "
        f"can retry your request, or contact us through an Azure support request at: "
        f"{SUPPORT_URL} if the error persists. (Please include the request ID "
        f"{request_id} in your message.)",
        "server_error",
    )


def filter_results() -> dict:
    """Azure's content-filter annotation: every category passed, severity safe."""
    return {c: {"filtered": False, "severity": "safe"} for c in FILTER_CATEGORIES}
