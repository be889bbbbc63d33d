"""Lab 10's orchestration section, offline against real processes: the three clients against a
stand-in, and LiteLLM's Router next to the course gateway (a real gateway process) on the two
scenarios whose answer does not depend on retry timing."""

from __future__ import annotations

from reference_stack.providers.testing import MANAGED_KEY, managed_standin
from servelab.labs.lab10_orchestration import SNIPPETS, client_overhead, compare_routers


def test_three_clients_reach_the_same_endpoint_with_no_other_change():
    with managed_standin(seed=3) as (url, _):
        table = client_overhead(url + "/v1", MANAGED_KEY, "gpt-4o-mini", repeats=1)
    assert list(table.client) == list(SNIPPETS)
    assert table.added_ms.iloc[0] == 0.0
    assert (table.median_ms > 0).all() and (table.lines >= 3).all()


def test_residency_and_a_cut_stream_through_both_routers():
    table = compare_routers(["EU-only data", "stream cut after 3 tokens"], say=lambda _: None)
    got = {(r["scenario"], r["router"]): r for r in table.to_dict("records")}
    eu_gateway = got[("EU-only data", "course gateway")]
    eu_litellm = got[("EU-only data", "LiteLLM Router")]
    # the gateway's policy keeps EU personal data on the EU upstream, though the US one is up
    assert eu_gateway["ok"] and eu_gateway["answered_by"] == "azure-swedencentral"
    # LiteLLM has no residency notion: its healthy first choice (US) answers
    assert eu_litellm["ok"] and eu_litellm["answered_by"] == "managed-openai"
    for router in ("course gateway", "LiteLLM Router"):
        cut = got[("stream cut after 3 tokens", router)]
        # neither fails over after the first byte: a partial answer, then an error
        assert not cut["ok"] and cut["text"] and cut["error"], cut
    assert "mid-stream" in got[("stream cut after 3 tokens", "course gateway")]["error"]
