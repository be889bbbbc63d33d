"""Read how long a server asked us to wait: the ``Retry-After`` header, and OpenAI's
``retry-after-ms``.

``Retry-After`` (RFC 9110, section 10.2.3) is either a number of seconds (``"2"``) or an HTTP
date (``"Wed, 21 Oct 2015 07:28:00 GMT"``). OpenAI and Azure OpenAI also send
``retry-after-ms`` with the same wait in milliseconds; being finer, it wins when both are there.

The value comes from the server, so it is read strictly: a plain decimal number (``"2"``,
``"1.5"``; a sign is tolerated, and a negative wait means "now") or an HTTP date, nothing else.
``inf``, ``nan``, exponents (``1e999``), digit strings too long to be finite, hex, underscores
and surrounding junk are treated as absent (a server's typo must not crash its client, and a
hostile one must not make it wait forever). The result is always finite and never negative;
how long a caller is willing to honour it is the caller's own cap (the gateway's is in
``reference_stack/gateway/settings.py``).

The gateway's failover loop, the lab helpers and the benchmarks all read the header here, so
they agree on what a server meant.
"""

from __future__ import annotations

import email.utils
import math
import re
import time
from collections.abc import Mapping
from datetime import UTC

#: A plain decimal number of seconds (or milliseconds): digits, an optional fraction, an
#: optional sign. What ``float()`` also accepts ("inf", "1e3", "0x1p3", "1_000") is refused.
_DECIMAL = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait before retrying, or None when the headers do not say (or say nonsense).

    ``headers`` must answer ``get`` for lower-case names (a plain dict with lower-case keys, or
    any case-insensitive headers object: aiohttp's, httpx's, Starlette's). ``now`` is the wall
    clock (``time.time()``) an HTTP date is measured from."""
    millis = _decimal(headers.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000
    value = headers.get("retry-after")
    if not value:
        return None
    return retry_after_seconds(value, now)


def retry_after_seconds(value: str, now: float | None = None) -> float | None:
    """One ``Retry-After`` value (seconds or HTTP date) as seconds from ``now``; None if it is
    neither. Always finite and never negative."""
    seconds = _decimal(value)
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
        if when.tzinfo is None:  # an HTTP date is always GMT, even when it forgets to say so
            when = when.replace(tzinfo=UTC)
        wait = when.timestamp() - (time.time() if now is None else now)
    except (TypeError, ValueError, OverflowError, IndexError, AttributeError):
        return None
    return max(0.0, wait) if math.isfinite(wait) else None


def _decimal(value: str | None) -> float | None:
    """A strict, finite, non-negative decimal, or None."""
    if not value or not _DECIMAL.fullmatch(value.strip()):
        return None
    number = float(value)
    return max(0.0, number) if math.isfinite(number) else None
