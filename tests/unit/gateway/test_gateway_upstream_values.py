"""Values an upstream controls, read strictly and bounded: Retry-After in every form, the
cooldown it may ask for, the size of an SSE event, SSE per the WHATWG spec, and the redaction
of upstream keys from every relayed byte."""

from __future__ import annotations

import pytest

from reference_stack.gateway.breaker import Breaker, State
from reference_stack.gateway.failover import Reason, tell_breaker
from reference_stack.gateway.relay import sse
from reference_stack.gateway.relay.redact import Redactor
from servelab_base.retry_after import parse_retry_after

NOW = 1_700_000_000.0


# --- Retry-After ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [
        {"retry-after": "inf"},
        {"retry-after": "-inf"},
        {"retry-after": "Infinity"},
        {"retry-after": "nan"},
        {"retry-after": "1e999"},
        {"retry-after": "1e3"},  # exponents are not delay-seconds
        {"retry-after": "9" * 400},  # digits only, but not a finite float
        {"retry-after": "0x10"},
        {"retry-after": "1_000"},
        {"retry-after": "2 s"},
        {"retry-after": "soon"},
        {"retry-after": "Fri, 31 Dec 99999 23:59:59 GMT"},
        {"retry-after-ms": "1e400"},
        {"retry-after-ms": "inf"},
        {"retry-after-ms": "NaN"},
        {"retry-after-ms": "12ms"},
    ],
    ids=lambda h: f"{next(iter(h))}={next(iter(h.values()))[:12]}",
)
def test_a_malformed_retry_after_reads_as_absent(headers):
    assert parse_retry_after(headers, now=NOW) is None


@pytest.mark.parametrize(
    "headers, seconds",
    [
        ({"retry-after": "2"}, 2.0),
        ({"retry-after": " 7 "}, 7.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after": "-3"}, 0.0),  # a wait is never negative
        ({"retry-after": "100000000"}, 1e8),  # absurd but finite: the caller caps it
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "inf", "retry-after": "4"}, 4.0),  # the bad one is skipped
        ({"retry-after": "Tue, 14 Nov 2023 22:13:50 GMT"}, 30.0),
        ({"retry-after": "Tue, 14 Nov 2023 22:13:50"}, 30.0),  # no zone: GMT, per HTTP
    ],
)
def test_a_wellformed_retry_after_is_finite_seconds(headers, seconds):
    assert parse_retry_after(headers, now=NOW) == pytest.approx(seconds)


@pytest.mark.parametrize("asked", [1e8, float("inf"), float("nan"), -5.0])
def test_a_breaker_never_stays_open_longer_than_the_cap(asked):
    breaker = Breaker(threshold=5, cooldown_s=30, max_retry_after_s=60)
    tell_breaker(breaker, Reason.TOO_MANY_REQUESTS, retry_after_s=asked)
    assert breaker.retry_in() <= 60
    if asked == asked and asked > 0 and asked != float("inf"):  # a real, finite wait
        assert breaker.state() is State.OPEN and breaker.retry_in() > 59


def test_panic_may_use_a_failing_upstream_but_not_one_that_asked_for_rest():
    failing = Breaker(threshold=1, cooldown_s=30)
    failing.record_failure()
    asked = Breaker(threshold=1, cooldown_s=30)
    asked.record_failure(retry_after_s=10)
    assert not failing.allow() and failing.may_panic()
    assert not asked.allow() and not asked.may_panic()


# --- SSE, per the spec --------------------------------------------------------------------------
def test_the_splitter_normalises_every_line_end_even_split_across_reads():
    splitter = sse.EventSplitter()
    assert splitter.feed(b"data: a\r") == b""  # one line end: no event yet
    assert splitter.feed(b"\n\r\ndata: b\r") == b"data: a\n\n"  # that LF ended the CRLF
    assert splitter.feed(b"\r") == b"data: b\n\n"  # CR CR: a blank line, the event ends
    assert splitter.feed(b"\ndata: c\n\n") == b"data: c\n\n"  # (the CRLF's LF, dropped)


def test_an_event_without_end_is_refused_past_the_cap():
    splitter = sse.EventSplitter(max_event_bytes=1000)
    splitter.feed(b"data: " + b"x" * 900)
    with pytest.raises(sse.EventTooLarge):
        splitter.feed(b"x" * 200)


@pytest.mark.parametrize(
    "event, data",
    [
        (b"data: x\n\n", b"x"),
        (b"data:x\n\n", b"x"),  # the space is optional
        (b"data:  x\n\n", b" x"),  # only one space is dropped
        (b": comment\ndata: x\n\n", b"x"),
        (b"event: message\nid: 7\ndata: x\n\n", b"x"),
        (b"data: {\ndata: 1}\n\n", b"{\n1}"),  # lines joined with LF
        (b"data\n\n", b""),  # a field with no colon: empty value
        (b": only a comment\n\n", None),
    ],
)
def test_event_data_per_the_spec(event, data):
    assert sse.event_data(event) == data


def test_done_and_errors_are_found_in_any_framing():
    assert sse.done_end(b"data: {}\n\ndata:[DONE]\n\ndata: late\n\n") == len(
        b"data: {}\n\ndata:[DONE]\n\n"
    )
    assert sse.done_end(b'data: {"text": "[DONE]"}\n\n') == -1  # mentioned, not sent
    assert sse.find_error(b'data:{ "error": {"message": "x"}}\n\n') == "x"
    assert sse.find_error(b'data: {"content": "an \\"error\\" word"}\n\n') is None


@pytest.mark.parametrize(
    "chunk, content",
    [
        ({"choices": [{"delta": {"role": "assistant", "content": ""}}]}, False),
        ({"choices": [], "prompt_filter_results": [{"prompt_index": 0}]}, False),
        ({"choices": [], "usage": {"prompt_tokens": 3}}, False),
        ({"choices": "garbage"}, False),
        ({"choices": [{"delta": {"content": "Hi"}}]}, True),
        ({"choices": [{"delta": {"tool_calls": [{"index": 0}]}}]}, True),
        ({"choices": [{"delta": {"refusal": "No."}}]}, True),
        ({"choices": [{"delta": {}, "finish_reason": "stop"}]}, True),  # an empty answer
    ],
)
def test_what_counts_as_the_first_token(chunk, content):
    assert sse.carries_content(chunk) is content


# --- redaction ----------------------------------------------------------------------------------
KEY = "sk-upstream-0123456789abcdef/xyz"


def test_every_form_of_a_key_is_redacted():
    redactor = Redactor([KEY, None, "short"])
    block = b'data: {"error": {"message": "bad key sk-upstream-0123456789abcdef\\/xyz"}}\n\n'
    assert b"sk-upstream" not in redactor.bytes(block)
    assert KEY.encode() not in redactor.bytes(KEY.encode() + b" again " + KEY.encode())
    assert redactor.text(f"key={KEY}") == "key=[redacted]"
    assert redactor.text("a short word") == "a short word"  # too short to be a secret


def test_a_chunk_without_the_key_is_not_copied():
    """The usual case costs one search per form of the key and no copy (the cost per chunk is
    measured by benchmarks/gateway_overhead.py --micro)."""
    redactor = Redactor([KEY])
    chunk = b'data: {"choices":[{"index":0,"delta":{"content":" token"}}]}\n\n'
    assert redactor.bytes(chunk) is chunk
