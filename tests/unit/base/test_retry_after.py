"""servelab_base.retry_after: the one reading of Retry-After / retry-after-ms."""

from __future__ import annotations

import email.utils

from servelab_base.retry_after import parse_retry_after, retry_after_seconds


def test_seconds_and_milliseconds():
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after": "1.5"}) == 1.5
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"retry-after-ms": "soon", "retry-after": "9"}) == 9.0


def test_http_date_is_measured_from_now():
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after({"retry-after": date}, now=now) == 30.0
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # past


def test_absent_or_unreadable_is_none_and_never_negative():
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": ""}) is None
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert retry_after_seconds("-3") == 0.0


def test_case_insensitive_headers_objects_work():
    import httpx2

    headers = httpx2.Headers({"Retry-After": "3"})
    assert parse_retry_after(headers) == 3.0
