"""The gateway accepts every chat-completions request OpenAI's own published spec accepts, and
refuses nothing the engine itself would serve; the OpenAPI it serves states each alias's limit.

Requests are generated (hypothesis) from tests/data/openai_chat_request.json: the fields,
types, nullability and ranges of OpenAI's OpenAPI spec, written down at the commit named in
that file. The gateway's own refusals of a chat request are its parsing (content type, JSON,
schema: ``parse_chat_request``) and the alias's output limit (``check_output_cap``); both run
here on each request, in process. The one refusal allowed is the engine's own rule on output
caps (vLLM: "max_tokens must be at least 1", "cannot be greater than max_model_len");
tests/integration/gateway/test_gateway_stack.py checks against the real engine that it is
indeed the engine's. Set SERVELAB_SPEC_EXAMPLES for a longer run.
"""

from __future__ import annotations

import json
import os

import jsonschema
import pytest
from gateway_support import (
    OPENAI_CHAT_REQUEST,
    openai_chat_requests,
    upstream,
    write_keys,
    write_table,
)
from hypothesis import HealthCheck, given, settings

from reference_stack.gateway.app import create_app
from reference_stack.gateway.errors import BadRequest
from reference_stack.gateway.protocol import check_output_cap, parse_chat_request
from reference_stack.gateway.settings import Settings

ALIAS, LIMIT = "small-model", 8192
EXAMPLES = int(os.environ.get("SERVELAB_SPEC_EXAMPLES", "120"))


def gateway_refusal(body: dict) -> str | None:
    """What the gateway answers this body with before any upstream: None, or its 400."""
    try:
        request, _ = parse_chat_request(json.dumps(body).encode(), "application/json")
        check_output_cap(request, LIMIT)
    except BadRequest as refused:
        return refused.message
    return None


def engine_refuses(body: dict) -> bool:
    """The engine's own rule the gateway shares: an output cap below 1 or above the limit."""
    caps = [body.get("max_tokens"), body.get("max_completion_tokens")]
    return any(cap is not None and not 1 <= cap <= LIMIT for cap in caps)


def test_the_spec_data_names_where_it_comes_from():
    spec = json.loads(OPENAI_CHAT_REQUEST.read_text())["spec"]
    assert spec["repository"] == "https://github.com/openai/openai-openapi"
    assert len(spec["commit"]) == 40 and int(spec["commit"], 16)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(body=openai_chat_requests(ALIAS))
def test_every_request_the_spec_accepts_is_accepted(body):
    refusal = gateway_refusal(body)
    if engine_refuses(body):
        assert refusal is not None, body  # the engine would say 400: so does the gateway
    else:
        assert refusal is None, f"{refusal}\n{json.dumps(body)[:2000]}"


@pytest.mark.parametrize(
    "extra",
    [
        {"stream": None},
        {"messages": [{"role": "function", "name": "get_weather", "content": "18 C"}]},
        {"messages": [{"role": "function", "name": "get_weather", "content": None}]},
        {"stream": None, "stream_options": None, "n": None, "temperature": None, "stop": None},
    ],
    ids=["stream-null", "function-role", "function-role-null-content", "all-nulls"],
)
def test_the_two_requests_the_issue_found_refused(extra):
    body = {"model": ALIAS, "messages": [{"role": "user", "content": "hi"}], **extra}
    assert gateway_refusal(body) is None


# --- the OpenAPI the gateway serves: one limit per alias -----------------------------------------
@pytest.fixture(scope="module")
def served_spec(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("spec")
    routing = write_table(
        tmp / "routing.yaml",
        {"u": upstream("http://127.0.0.1:9")},
        {"small-a": ["u"], "small-b": ["u"], "big": ["u"]},
    )
    table = routing.read_text().replace("  small-a:\n", "  small-a:\n    max_output_tokens: 512\n")
    table = table.replace("  small-b:\n", "  small-b:\n    max_output_tokens: 512\n")
    routing.write_text(table.replace("  big:\n", "  big:\n    max_output_tokens: 16384\n"))
    keys = write_keys(tmp / "keys.yaml")
    app = create_app(Settings(routing_file=routing, keys_file=keys, audit_file=tmp / "a.jsonl"))
    return app.openapi()


def _validator(spec: dict) -> jsonschema.Draft202012Validator:
    body = spec["paths"]["/v1/chat/completions"]["post"]["requestBody"]
    schema = {**body["content"]["application/json"]["schema"], "components": spec["components"]}
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("alias, limit", [("small-a", 512), ("small-b", 512), ("big", 16384)])
def test_the_served_openapi_states_each_aliases_limit(served_spec, alias, limit):
    """A request valid per the served OpenAPI is accepted, for every alias: the schema says
    each alias's own max_tokens limit (not the largest of all)."""
    validator = _validator(served_spec)
    body = {"model": alias, "messages": [{"role": "user", "content": "hi"}]}
    for field in ("max_tokens", "max_completion_tokens"):
        for value, valid in ((limit, True), (limit + 1, False)):
            request, _ = parse_chat_request(json.dumps({**body, field: value}).encode(), "json")
            try:
                check_output_cap(request, limit)  # what the gateway does with it
                accepted = True
            except BadRequest:
                accepted = False
            assert validator.is_valid({**body, field: value}) is valid is accepted
    schemas = served_spec["components"]["schemas"]
    variant = schemas[f"ChatCompletionRequest{limit}"]
    assert alias in variant["properties"]["model"]["enum"]
