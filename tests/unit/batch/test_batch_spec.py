"""servelab.batch.spec: the request every path sends, the row every path keeps."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from servelab.batch import spec
from servelab_base.config import Settings

JOB = spec.ChatJob("Answer with one word.", model="m", max_tokens=8)


def test_the_body_is_an_openai_chat_request_with_explicit_sampling():
    assert JOB.body("My parcel is late") == {
        "model": "m",
        "messages": [
            {"role": "system", "content": "Answer with one word."},
            {"role": "user", "content": "My parcel is late"},
        ],
        "temperature": 0.0,
        "max_tokens": 8,
    }
    assert JOB.sampling() == {"temperature": 0.0, "max_tokens": 8}


@pytest.mark.parametrize(("field", "value"), [("max_tokens", 0), ("temperature", -0.1)])
def test_impossible_sampling_is_refused(field, value):
    with pytest.raises(ValueError, match=field):
        spec.ChatJob("s", model="m", **{field: value})


COMPLETION = {
    "choices": [{"message": {"content": "shipping"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 41, "completion_tokens": 2},
}


def test_a_completion_becomes_one_row_with_the_document_id_and_label():
    doc = {"id": "ship-00", "label": "shipping", "text": "Where is my parcel?", "extra": 1}
    assert spec.result_row(doc, COMPLETION) == {
        "id": "ship-00",
        "label": "shipping",
        "text": "shipping",
        "prompt_tokens": 41,
        "output_tokens": 2,
        "finish_reason": "stop",
    }


def test_choices_handed_over_as_a_numpy_array_are_read():
    # Ray Data may hand a list column back as a numpy array: no truth-value ambiguity
    response = {**COMPLETION, "choices": np.array(COMPLETION["choices"], dtype=object)}
    assert spec.result_row({"id": "a"}, response)["text"] == "shipping"


def test_an_error_body_names_the_document():
    error = {"error": {"message": "invalid api key", "type": "authentication_error"}}
    with pytest.raises(spec.EndpointError, match="'bill-03'.*invalid api key"):
        spec.result_row({"id": "bill-03"}, error)


def test_named_endpoints_follow_the_settings(monkeypatch):
    settings = Settings(llamacpp_port=9402, vllm_port=9401, gateway_port=9400)
    assert spec.endpoint("llamacpp", settings).chat_url == (
        "http://127.0.0.1:9402/v1/chat/completions"
    )
    assert spec.endpoint("vllm", settings).base_url == "http://127.0.0.1:9401/v1"
    monkeypatch.delenv("SERVELAB_GATEWAY_API_KEY", raising=False)
    monkeypatch.setenv("HOME", "/nonexistent")  # no delivered key: the local learner key
    gateway = spec.endpoint("gateway", settings)
    assert gateway.base_url == "http://127.0.0.1:9400/v1"
    headers = gateway.request_headers()
    assert headers["Authorization"] == "Bearer sk-servelab-local-learner"
    assert headers["x-servelab-data-class"] == "personal-eu"
    with pytest.raises(ValueError, match="llamacpp, vllm, gateway"):
        spec.endpoint("openai", settings)  # type: ignore[arg-type]


def test_an_endpoint_that_does_not_answer_says_how_to_start_the_stack():
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    target = spec.Endpoint("llamacpp", f"http://127.0.0.1:{port}/v1")
    reason = target.unavailable(timeout_s=1)
    assert "not answering" in reason and "make up" in reason
