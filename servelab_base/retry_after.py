"""Read how long a server asked us to wait: the ``Retry-After`` header, and OpenAI's
``retry-after-ms``.

``Retry-After`` (RFC 9110, section 10.2.3) is either a number of seconds (``"2"``) or an HTTP
date (``"Wed, 21 Oct 2015 07:28:00 GMT"``). OpenAI and Azure OpenAI also send
``retry-after-ms`` with the same wait in milliseconds; being finer, it wins when both are there.
A value that is neither is treated as absent (a server's typo must not crash its client), and a
wait is never negative (a date in the past means "now").

The gateway's failover loop, the lab helpers and the benchmarks all read the header here, so
they agree on what a server meant.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait before retrying, or None when the headers do not say.

    ``headers`` must answer ``get`` for lower-case names (a plain dict with lower-case keys, or
    any case-insensitive headers object: aiohttp's, httpx's, Starlette's). ``now`` is the wall
    clock (``time.time()``) an HTTP date is measured from."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    return retry_after_seconds(value, now)


def retry_after_seconds(value: str, now: float | None = None) -> float | None:
    """One ``Retry-After`` value (seconds or HTTP date) as seconds from ``now``; None if neither."""
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
