"""lab01_managed_api against a real managed stand-in in a thread (scripted tokens, real HTTP)."""

from __future__ import annotations

import pytest

from reference_stack.providers.testing import MANAGED_KEY, managed_standin
from servelab.labs import lab01_managed_api as managed_api
from servelab_base.config import Settings


def test_recorded_streams_and_usage_log_load_with_their_sources():
    trace = managed_api.load_stream("short")
    table = managed_api.chunk_table(trace)
    assert table.choices.iloc[-1] == 0 and table.usage.iloc[-1]["completion_tokens"] > 1
    assert (table.t_ms.diff().dropna() >= 0).all()
    log = managed_api.load_usage_log()
    assert len(log) == 60 and (log.total_tokens == log.prompt_tokens + log.completion_tokens).all()
    with pytest.raises(FileNotFoundError, match="available"):
        managed_api.load_stream("missing")


@pytest.fixture
def standin(monkeypatch):
    """A managed stand-in on a free port, with servelab's settings pointing at it."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with managed_standin(seed=3) as (url, serving):
        port = int(url.rsplit(":", 1)[1])
        settings = Settings(managed_port=port)
        monkeypatch.setattr(managed_api, "get_settings", lambda: settings)
        monkeypatch.setattr("servelab.clients.get_settings", lambda: settings)
        yield url, serving


def test_record_chunks_keeps_every_chunk_including_usage(standin):
    import openai

    url, _ = standin
    client = openai.OpenAI(base_url=url + "/v1", api_key=MANAGED_KEY, max_retries=0)
    trace = managed_api.record_chunks(
        client, model="gpt-4o-mini", max_tokens=12, messages=[{"role": "user", "content": "hello"}]
    )
    last = trace["chunks"][-1]["data"]
    assert last["choices"] == [] and last["usage"]["completion_tokens"] >= 1
    assert all(c["t"] >= trace["sent_at"] for c in trace["chunks"])


def test_live_mode_limits_faults_and_burst_drive_the_standin(standin):
    from servelab import clients as providers

    _, serving = standin
    live, where = managed_api.live_mode()
    assert live and "stand-in" in where
    managed_api.set_limits(rpm=3)
    try:
        result = managed_api.burst(providers.client("managed"), 6, "gpt-4o-mini", concurrency=2)
    finally:
        managed_api.set_limits()
    assert sorted(result.status.unique()) == [200, 429]
    assert (result.status == 200).sum() == 3
    assert result[result.status == 429].retry_after.notna().all()
    assert serving.limiters["gpt-4o-mini"].rpm == 500  # back to the catalog's limit

    managed_api.set_faults({"rules": [{"kind": "outage", "status": 503}]})
    try:
        assert set(managed_api.burst(providers.client("managed"), 2, "gpt-4o-mini").status) == {503}
    finally:
        managed_api.set_faults(None)
    assert serving.faults.plan.rules == []


def test_live_mode_says_what_to_start_when_nothing_answers(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    from reference_stack.providers.server import bind

    sock = bind("127.0.0.1", 0)  # a free port nobody serves on once closed
    port = sock.getsockname()[1]
    sock.close()
    settings = Settings(managed_port=port)
    monkeypatch.setattr(managed_api, "get_settings", lambda: settings)
    monkeypatch.setattr("servelab.clients.get_settings", lambda: settings)
    live, where = managed_api.live_mode()
    assert not live and "servelab up" in where


def test_admin_knobs_refuse_a_real_provider(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-used")
    with pytest.raises(RuntimeError, match="stand-in"):
        managed_api.set_faults(None)
