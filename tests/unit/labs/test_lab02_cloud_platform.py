"""servelab.labs.lab02_cloud_platform: offers, PTU data, recorded latency, and a live call to a real
cloud stand-in in a thread (scripted tokens, real HTTP, openai.AzureOpenAI)."""

from __future__ import annotations

from datetime import date

import openai
import pytest

from reference_stack.providers.testing import CLOUD_KEY, cloud_standin
from servelab.labs import costs
from servelab.labs import lab02_cloud_platform as cloud_platform
from servelab_base.catalog import load


def test_offers_join_every_deployment_with_its_regions_jurisdiction():
    o = cloud_platform.offers()
    avail = load().table("availability")
    assert len(o) == (avail.provider == "azure-openai").sum()
    assert o.jurisdiction.notna().all() and set(o.jurisdiction) == {"EU", "UK", "US"}
    assert all(isinstance(d, date) for d in o.available_from)
    row = o[(o.region == "uksouth") & (o.deployment == "gpt-5.1-ptu")].iloc[0]
    assert row.jurisdiction == "UK" and row.deployment_type == "provisioned"


def test_ptu_tables_carry_microsofts_numbers_and_reproduce_its_example():
    gpt4o = cloud_platform.ptu_sizing("gpt-4o")
    assert gpt4o["input_tpm_per_ptu"] == 2500 and gpt4o["output_to_input_ratio"] == 4
    assert (gpt4o["regional_min_ptus"], gpt4o["regional_increment"]) == (50, 50)
    with pytest.raises(KeyError, match="known"):
        cloud_platform.ptu_sizing("gpt-2")
    # every sized model is one the cloud catalog serves provisioned
    served = set(cloud_platform.offers().query("deployment_type == 'provisioned'").model)
    assert set(cloud_platform.load_ptu_sizing().model) <= served
    billing = cloud_platform.load_ptu_billing()
    # every term is priced for the deployment type the exercise sizes: regional
    assert set(billing.deployment_type) == {"regional"}
    per_month = billing.set_index("term").usd_per_ptu_month
    hourly = load().price("azure-openai", "gpt-4o", "provisioned").hourly_usd
    assert per_month["hourly (no commitment)"] == costs.ptu_monthly_usd(1, hourly)
    assert per_month["yearly reservation"] == round(2652 / 12)


def test_offers_and_jurisdiction_sets_cross_the_graders_channel():
    """Exercise 2 hands a table of dates and a set of jurisdictions to the learner's code."""
    from servelab.grading import agent, wire

    o = cloud_platform.offers()
    plain = wire.loads(wire.dumps(wire.to_plain([o, {"EU", "UK"}, date(2027, 3, 15)])))
    table, jurisdictions, on = agent.decode_args(plain)  # as the kernel rebuilds them
    assert jurisdictions == {"EU", "UK"} and on == date(2027, 3, 15)
    assert all(type(d) is date for d in table.available_from)
    assert table.drop(columns="available_from").equals(o.drop(columns="available_from"))
    # what comes back: (region, date) as a list, rebuilt as a date on the grader's side
    back = wire.from_plain(wire.loads(wire.dumps(wire.to_plain(("uksouth", on)))))
    assert back == ["uksouth", date(2027, 3, 15)]
    with pytest.raises(wire.NotPlainData):
        wire.to_plain({("a", "b")})  # a set of anything but plain scalars


def test_recorded_latency_shows_provisioned_with_a_narrower_tail():
    s = cloud_platform.load_latency_samples()
    assert len(s) == 210 and (s.ttft_ms > 0).all() and (s.e2e_ms >= s.ttft_ms).all()
    spread = s.groupby("deployment_type").ttft_ms.quantile(0.95) - s.groupby(
        "deployment_type"
    ).ttft_ms.quantile(0.5)
    assert spread["provisioned"] < spread["serverless"]
    ax = cloud_platform.plot_latency(s)
    assert len(ax.get_xticklabels()) == 7


def test_timed_call_reports_latency_and_platform_errors():
    with cloud_standin("francecentral", seed=5) as (url, _):
        client = openai.AzureOpenAI(
            azure_endpoint=url, api_key=CLOUD_KEY, api_version="2024-10-21", max_retries=0
        )
        ok = cloud_platform.timed_call(
            client, "gpt-4.1-mini", [{"role": "user", "content": "hi"}], max_tokens=8
        )
        assert ok["status"] == 200 and ok["text"] and ok["ttft_ms"] <= ok["e2e_ms"]
        assert ok["region_header"] == "France Central"
        missing = cloud_platform.timed_call(client, "gpt-5.1", [{"role": "user", "content": "hi"}])
        assert missing["status"] == 404 and "DeploymentNotFound" in missing["error"]


def test_live_mode_names_what_to_start(monkeypatch):
    for key in ("AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT"):
        monkeypatch.delenv(key, raising=False)
    from reference_stack.providers.server import bind
    from servelab_base.config import Settings

    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    sock.close()
    monkeypatch.setattr("servelab.clients.get_settings", lambda: Settings(cloud_port=port))
    live, where = cloud_platform.live_mode("swedencentral")
    assert not live and "servelab up" in where
