"""The cloud-platform stand-in through the real openai.AzureOpenAI client (scripted tokens)."""

from __future__ import annotations

import json
import random
import statistics
import sys

import httpx
import openai
import pytest

from reference_stack.providers.latency import Shaper
from reference_stack.providers.server import READY_LINE
from reference_stack.providers.testing import CLOUD_KEY, cloud_standin
from servelab_base.catalog import load
from servelab_base.child_server import ChildServer

MESSAGES = [{"role": "user", "content": "Where is my data processed?"}]
API_VERSION = "2024-10-21"

#: A fresh interpreter importing FastAPI on a loaded 2-core CI machine.
START_TIMEOUT_S = 60.0


@pytest.fixture(scope="module")
def sweden():
    with cloud_standin("swedencentral", seed=2) as (url, serving):
        yield url, serving


@pytest.fixture(scope="module")
def france():
    with cloud_standin("francecentral", seed=2) as (url, serving):
        yield url, serving


def azure(url: str, **kw) -> openai.AzureOpenAI:
    args = {
        "azure_endpoint": url,
        "api_key": CLOUD_KEY,
        "api_version": API_VERSION,
        "max_retries": 0,
        **kw,
    }
    return openai.AzureOpenAI(**args)


def test_streaming_with_usage_and_azure_annotations(sweden):
    url, _ = sweden
    raw = azure(url).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    assert raw.headers["x-servelab-standin"] == "cloud-platform"
    assert raw.headers["x-ms-region"] == "Sweden Central"
    assert raw.headers["x-servelab-deployment-type"] == "serverless"
    chunks = list(raw.parse())
    assert chunks[0].choices == [] and chunks[0].model_extra["prompt_filter_results"]
    text = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert chunks[-1].usage.completion_tokens == len(text) > 0


def test_region_answers_only_for_models_in_its_catalog(sweden, france):
    cat = load()
    for url, region in ((sweden[0], "swedencentral"), (france[0], "francecentral")):
        client = azure(url)
        served = {d.name for d in cat.deployments("azure-openai", region)}
        listed = {m.id for m in client.models.list().data}
        assert listed == {d.model for d in cat.deployments("azure-openai", region)}
        for name in ("gpt-4o-mini", "gpt-4.1-mini", "gpt-5.1", "gpt-4o-ptu"):
            if name in served:
                assert client.chat.completions.create(model=name, messages=MESSAGES).choices
            else:
                with pytest.raises(openai.NotFoundError) as e:
                    client.chat.completions.create(model=name, messages=MESSAGES)
                assert e.value.code == "DeploymentNotFound"
                assert e.value.body["message"].startswith(
                    "The API deployment for this resource does"
                )
    # the catalog says gpt-4o-mini is served regionally in Sweden Central but not France Central
    assert "gpt-4o-mini" in sweden[1].deployments and "gpt-4o-mini" not in france[1].deployments


def test_wrong_key_version_and_path_give_azure_shapes(sweden):
    url, _ = sweden
    with pytest.raises(openai.AuthenticationError) as e:
        azure(url, api_key="wrong").chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert e.value.body == {
        "code": "401",
        "message": (
            "Access denied due to invalid subscription key or wrong API endpoint. Make sure to "
            "provide a valid key for an active subscription and use a correct regional API "
            "endpoint for your resource."
        ),
    }
    with pytest.raises(openai.BadRequestError) as e:
        azure(url, api_version="2019-01-01").chat.completions.create(
            model="gpt-4o", messages=MESSAGES
        )
    assert e.value.body == {"code": "BadRequest", "message": "API version not supported"}
    r = httpx.post(
        url + "/openai/deployments/gpt-4o/chat/completions",
        headers={"api-key": CLOUD_KEY},
        json={"messages": MESSAGES},
    )
    assert r.status_code == 404 and r.json() == {
        "error": {"code": "404", "message": "Resource not found"}
    }
    r = httpx.get(
        url + "/openai/nothing-here?api-version=" + API_VERSION, headers={"api-key": CLOUD_KEY}
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "404"
    r = httpx.post(
        f"{url}/openai/deployments/gpt-4o/chat/completions?api-version={API_VERSION}",
        headers={"api-key": CLOUD_KEY},
        json={"messages": "nope"},
    )
    assert r.status_code == 400 and r.json()["error"]["param"] == "messages"


def test_rate_limits_give_azure_429s(sweden):
    url, serving = sweden
    # 6 RPM over Azure-style 10 s windows: one request per window; 600 TPM: 100 tokens a window
    httpx.post(url + "/admin/limits", json={"rpm": 6, "tpm": 600}).raise_for_status()
    try:
        client = azure(url)
        ok = client.chat.completions.with_raw_response.create(
            model="gpt-4o", messages=MESSAGES, max_tokens=40
        )
        assert ok.headers["x-ratelimit-remaining-requests"] == "0"
        assert int(ok.headers["x-ratelimit-remaining-tokens"]) < 100
        with pytest.raises(openai.RateLimitError) as e:
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=40)
        assert e.value.body["code"] == "429"
        assert "exceeded call rate limit of your current OpenAI S0 pricing tier" in e.value.message
        assert f"API version {API_VERSION}" in e.value.message
        assert int(e.value.response.headers["retry-after"]) >= 1
        assert int(e.value.response.headers["retry-after-ms"]) > 0
        with pytest.raises(openai.RateLimitError) as e:  # more tokens than a window ever holds
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=500)
        assert "exceeded token rate limit" in e.value.message
    finally:
        httpx.delete(url + "/admin/limits").raise_for_status()


def test_deployment_types_are_profiles_of_the_same_model(sweden):
    url, serving = sweden
    types = {d.deployment_type for d in serving.deployments.values()}
    assert types == {"serverless", "provisioned", "managed-compute"}
    cat = load()
    shared = Shaper(cat.latency("azure-openai", "swedencentral", "serverless"))
    reserved = Shaper(cat.latency("azure-openai", "swedencentral", "provisioned"))
    rng = random.Random(0)
    s_ttft = [shared.draw(rng).queue_s + shared.draw(rng).ttft_s for _ in range(200)]
    r_ttft = [reserved.draw(rng).queue_s + reserved.draw(rng).ttft_s for _ in range(200)]
    # provisioned: no queue behind other tenants, steadier first-token time (drawn, not timed)
    assert statistics.pstdev(r_ttft) < statistics.pstdev(s_ttft) / 3
    r = httpx.get(
        f"{url}/openai/deployments?api-version={API_VERSION}", headers={"api-key": CLOUD_KEY}
    )
    by_name = {d["id"]: d["deployment_type"] for d in r.json()["data"]}
    assert (
        by_name["gpt-4o-ptu"] == "provisioned"
        and by_name["smollm2-135m-instruct"] == "managed-compute"
    )
    raw = azure(url).chat.completions.with_raw_response.create(
        model="smollm2-135m-instruct", messages=MESSAGES
    )
    assert raw.headers["x-servelab-deployment-type"] == "managed-compute"
    assert "prompt_filter_results" not in raw.parse().model_extra  # open weights: no Azure filter


def test_later_arrival_appears_when_the_catalog_date_moves(france):
    url, serving = france
    client = azure(url)
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-5.1", messages=MESSAGES)
    try:
        httpx.post(url + "/admin/as-of", json={"date": "2027-03-01"}).raise_for_status()
        assert client.chat.completions.create(model="gpt-5.1", messages=MESSAGES).choices
    finally:
        httpx.post(
            url + "/admin/as-of", json={"date": serving.catalog_default_as_of}
        ).raise_for_status()


def test_entry_point_serves_one_port_per_region():
    argv = [sys.executable, "-m", "reference_stack.providers.cloud", "--base-port", "0"]
    with ChildServer([*argv, "--source", "scripted"]) as child:
        ready = json.loads(child.wait_for_line(READY_LINE, START_TIMEOUT_S).group(0))
        ports = ready["ports"]
        assert set(ports) == {"swedencentral", "francecentral", "uksouth", "eastus2"}
        assert len(set(ports.values())) == 4
        for region, port in ports.items():
            assert httpx.get(f"http://127.0.0.1:{port}/health").json()["region"] == region
