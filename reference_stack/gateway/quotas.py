"""Per-key rate limits: requests per minute and tokens per minute, as token buckets.

A bucket holds up to one minute's allowance and refills continuously. A request takes one
request-token up front. Output tokens are unknown until the answer is done, so tokens are
checked up front (the bucket must not be in debt) and charged afterwards from the upstream's
``usage`` (the same "check, then settle" scheme OpenAI describes for its TPM limits). A refusal
is a 429 whose ``Retry-After`` says when the bucket will allow the request.

The buckets live in this process's memory: one gateway process enforces exact limits; several
replicas would need a shared store (Redis is the usual choice).
"""

from __future__ import annotations

import math

from servelab_base.token_bucket import TokenBucket

from .auth import ApiKey
from .errors import RateLimited


class Quotas:
    """The buckets of every key, created on the key's first request."""

    def __init__(self) -> None:
        self._requests: dict[str, TokenBucket] = {}
        self._tokens: dict[str, TokenBucket] = {}

    def _buckets(self, key: ApiKey) -> tuple[TokenBucket, TokenBucket]:
        requests = self._requests.get(key.name)
        if requests is None:
            requests = self._requests[key.name] = TokenBucket(key.requests_per_minute)
            self._tokens[key.name] = TokenBucket(key.tokens_per_minute)
        return requests, self._tokens[key.name]

    def admit(self, key: ApiKey) -> None:
        """Take one request from the key's allowance, or raise 429 with Retry-After."""
        requests, tokens = self._buckets(key)
        wait_requests = requests.wait_for(1)
        wait_tokens = tokens.wait_for(0)  # no debt: earlier answers are paid for
        if wait_requests or wait_tokens:
            limit = "requests" if wait_requests >= wait_tokens else "tokens"
            allowance = key.requests_per_minute if limit == "requests" else key.tokens_per_minute
            retry_after = max(1, math.ceil(max(wait_requests, wait_tokens)))
            raise RateLimited(
                f"Rate limit reached for key '{key.name}': {allowance} {limit} per minute. "
                f"Try again in {retry_after} s.",
                code=f"{limit}_per_minute_exceeded",
                headers={"retry-after": str(retry_after)},
            )
        requests.take(1)

    def charge_tokens(self, key: ApiKey, total_tokens: int) -> None:
        """Settle a finished request's tokens (from the upstream's ``usage``)."""
        if total_tokens > 0:
            self._buckets(key)[1].take(total_tokens)
