"""servelab.labs.own_standin: the drills of labs 01 and 07 break a stand-in of the kernel's own,
never the stack's shared one (which a whole class, or tests side by side, are using)."""

from __future__ import annotations

import openai
import pytest

from servelab import clients
from servelab.labs import lab01_managed_api as managed_api
from servelab.labs import lab07_failover, own_standin

ASK = {"model": "gpt-4o-mini", "max_tokens": 4, "temperature": 0}
MESSAGES = [{"role": "user", "content": "Say hi."}]


@pytest.mark.stack
def test_an_outage_in_the_own_standin_leaves_the_shared_one_serving(stack, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # the stand-ins, not OpenAI
    own = own_standin.url()
    assert own_standin.url() == own  # started once per kernel
    assert own != clients.standin_url("managed").removesuffix("/v1")
    try:
        managed_api.set_faults({"rules": [{"kind": "outage", "status": 503}]}, url=own)
        drill = clients.client("managed", max_retries=0).with_options(base_url=own + "/v1")
        with pytest.raises(openai.InternalServerError):
            drill.chat.completions.create(messages=MESSAGES, **ASK)
        shared = clients.client("managed", max_retries=0)
        assert shared.chat.completions.create(messages=MESSAGES, **ASK).choices[0].message.content
    finally:
        managed_api.set_faults(None, url=own)
        own_standin.stop()
    assert not own_standin._server


def test_lab07_puts_its_outage_in_the_own_standin_only_for_the_shared_url(monkeypatch):
    monkeypatch.setattr(own_standin, "url", lambda: "http://127.0.0.1:1")
    assert lab07_failover._drill_url(clients.standin_url("managed")) == "http://127.0.0.1:1"
    assert lab07_failover._drill_url("http://127.0.0.1:9/v1") == "http://127.0.0.1:9"
