"""The provider catalog: every fact sourced or labelled modelled, lookups consistent."""

from __future__ import annotations

from datetime import date

import pytest

from servelab import clients as providers
from servelab_base import catalog as cat_mod
from servelab_base.catalog import SNAPSHOT_DATE, TABLES, load


@pytest.fixture(scope="module")
def cat():
    return load()


def test_every_table_loads_as_a_frame(cat):
    for name in TABLES:
        frame = cat.table(name)
        assert len(frame) > 0, name
    with pytest.raises(KeyError, match="tables"):
        cat.table("nonsense")


def test_every_row_says_where_it_came_from(cat):
    for name in ("prices", "availability", "limits", "latency"):
        for row in cat.rows[name]:
            assert row["basis"], (name, row)
            if row["basis"].startswith("published"):
                assert row["source"].startswith("https://"), (name, row)
    for p in cat.rows["providers"]:
        assert p["retrieved"] and p["residency_source"].startswith("https://")


def test_latency_profiles_are_labelled_modelled_never_measured(cat):
    for row in cat.rows["latency"]:
        assert row["basis"] == "modelled" and row["reasoning"], row
        assert "measured" not in row["basis"]


def test_standin_ports_are_distinct_and_match_the_settings(cat):
    ports = [r.standin_port for p in ("openai", "azure-openai") for r in cat.regions(p)]
    assert len(ports) == len(set(ports))
    assert cat.region("openai", "global").standin_port == 8410
    assert min(r.standin_port for r in cat.regions("azure-openai")) == 8420


def test_regions_have_jurisdictions(cat):
    by_region = {r.region: r.jurisdiction for r in cat.regions("azure-openai")}
    assert by_region == {
        "swedencentral": "EU",
        "francecentral": "EU",
        "uksouth": "UK",
        "eastus2": "US",
    }


def test_later_arrivals_appear_only_after_their_date(cat):
    now = {d.name for d in cat.deployments("azure-openai", "francecentral")}
    later = {d.name for d in cat.deployments("azure-openai", "francecentral", date(2027, 6, 1))}
    assert "gpt-5.1" not in now and "gpt-5.1" in later
    assert now < later


def test_cost_uses_the_published_per_token_price(cat):
    # gpt-4o-mini: 0.15 USD in, 0.60 USD out per million tokens
    assert cat.cost_usd("openai", "gpt-4o-mini", 1_000_000, 1_000_000) == pytest.approx(0.75)
    assert (
        cat.cost_usd("azure-openai", "gpt-4o", 0, 0, "provisioned") is None
    )  # hourly, not per token
    assert cat.price("azure-openai", "gpt-4o", "provisioned").hourly_usd == 2.0


def test_limits_fall_back_to_the_provider_wide_row(cat):
    assert cat.limit("openai", "gpt-4o-mini", "serverless").rpm == 500
    wide = cat.limit("azure-openai", "gpt-4.1", "serverless")
    assert (wide.rpm, wide.tpm, wide.basis) == (300, 50_000, "modelled")


def test_a_catalog_with_a_typo_is_refused(tmp_path, cat):
    for f in cat.directory.glob("*.*"):
        (tmp_path / f.name).write_bytes(f.read_bytes())
    rows = (tmp_path / "latency.csv").read_text().replace(",provisioned,", ",provisoned,", 1)
    (tmp_path / "latency.csv").write_text(rows)
    with pytest.raises(ValueError, match="provisoned"):
        cat_mod.Catalog(tmp_path)


def test_client_helper_picks_standin_or_real(monkeypatch):
    for var in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "AZURE_OPENAI_API_KEY",
        "AZURE_OPENAI_ENDPOINT",
        "AZURE_OPENAI_ENDPOINT_UKSOUTH",
    ):
        monkeypatch.delenv(var, raising=False)
    assert all(not m.real for m in providers.modes())
    assert str(providers.client("managed").base_url).startswith("http://127.0.0.1:8410/v1")
    assert str(providers.client("cloud", "eastus2").base_url).startswith(
        "http://127.0.0.1:8423/openai"
    )
    with pytest.raises(RuntimeError, match="OPENAI_API_KEY"):
        providers.client("managed", real=True)
    with pytest.raises(KeyError, match="known"):
        providers.client("cloud", "mars-north")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "real-key")
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT_UKSOUTH", "https://res.openai.azure.com")
    assert str(providers.client("managed").base_url).startswith("https://api.openai.com/v1")
    assert providers.mode("cloud", "uksouth").real and not providers.mode("cloud", "eastus2").real
    forced = providers.client("managed", real=False)
    assert forced.api_key == providers.MANAGED_STANDIN_KEY


def test_snapshot_date_is_the_default_as_of():
    assert SNAPSHOT_DATE == date(2026, 11, 27)
