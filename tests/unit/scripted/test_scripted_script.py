"""The scripted upstream's plan: deterministic content and due times, strict overrides."""

from __future__ import annotations

import pytest

from reference_stack.scripted.script import Script, count_prompt_tokens, plan, with_overrides

BODY = {"messages": [{"role": "user", "content": "one two three"}]}


def test_plan_is_deterministic_and_absolute():
    p = plan(Script(ttft_ms=40, itl_ms=10, chunks=5), BODY)
    assert p.offsets == pytest.approx([0.04, 0.05, 0.06, 0.07, 0.08])
    assert p == plan(Script(ttft_ms=40, itl_ms=10, chunks=5), BODY)
    other = plan(Script(chunks=5), {"messages": [{"role": "user", "content": "else"}]})
    assert other.pieces != p.pieces  # text keyed by the messages ...
    assert plan(Script(chunks=5, seed=1), BODY).pieces != p.pieces  # ... and the seed
    assert p.finish_reason == "stop" and p.tokens == [1] * 5


def test_tokens_per_chunk_max_tokens_and_jitter():
    p = plan(Script(chunks=4, tokens_per_chunk=3), BODY | {"max_tokens": 7})
    assert p.tokens == [3, 3, 1] and p.finish_reason == "length"
    assert [len(x.split()) for x in p.pieces] == [3, 3, 1]
    j = plan(Script(ttft_ms=10, itl_ms=10, chunks=50, jitter_ms=4), BODY)
    gaps = [b - a for a, b in zip(j.offsets, j.offsets[1:], strict=False)]
    assert all(0.006 - 1e-9 <= g <= 0.014 + 1e-9 for g in gaps) and len(set(gaps)) > 10
    assert plan(Script(chunks=0), BODY).pieces == []


def test_overrides_from_headers_and_body():
    base = Script()
    got = with_overrides(
        base,
        {"x-scripted-ttft-ms": "7", "x-scripted-usage": "false"},
        {"scripted": {"chunks": 3, "ttft_ms": 99}},
    )
    assert (got.ttft_ms, got.chunks, got.usage) == (7.0, 3, False)  # headers win
    with pytest.raises(ValueError, match="unknown scripted override"):
        with_overrides(base, {"x-scripted-ttfb-ms": "1"}, {})
    with pytest.raises(ValueError, match="fail_mode"):
        with_overrides(base, {"x-scripted-fail-mode": "explode"}, {})
    with pytest.raises(ValueError):
        with_overrides(base, {}, {"scripted": {"chunks": "many"}})


def test_prompt_token_count():
    body = {
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "a b c"}]},
        ]
    }
    assert count_prompt_tokens(body) == 5
