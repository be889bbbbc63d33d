"""Upstream credentials never reach a client: every byte the gateway relays is scrubbed of them.

The gateway holds a key per upstream (read from the environment, routing.yaml names the
variable). An upstream may echo the key it was sent: in an error body, a message it returns,
an in-band error event in the middle of a stream. So every block of bytes relayed from an
upstream to a client (streamed events, whole answers, relayed errors) and every message about
it written to a log or the audit file passes through that upstream's ``Redactor`` first, which
replaces the key (and its JSON-escaped forms) with ``[redacted]``.

Cost: one substring search per form of the key per block, a copy only when the key is found
(``benchmarks/gateway_overhead.py --micro`` measures it per chunk). Streams are relayed as
whole events (see ``reference_stack/gateway/relay/sse.py``), so a key inside one event is never
split across two blocks.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

#: Shorter "keys" are not secrets worth anything and would mangle ordinary text ("x", "none").
MIN_SECRET_CHARS = 8
REDACTED = "[redacted]"


def _forms(secret: str) -> set[str]:
    """The ways a key can appear in relayed bytes: as is, and escaped inside a JSON string."""
    return {secret, json.dumps(secret)[1:-1], secret.replace("/", "\\/")}


class Redactor:
    """Replaces any of ``secrets`` in text or bytes."""

    __slots__ = ("texts", "patterns")

    def __init__(self, secrets: Iterable[str | None]) -> None:
        forms = {f for s in secrets if s and len(s) >= MIN_SECRET_CHARS for f in _forms(s)}
        # longest first, so that no form is half-replaced by a shorter one
        self.texts = sorted(forms, key=len, reverse=True)
        self.patterns = [t.encode() for t in self.texts]

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def bytes(self, block: bytes) -> bytes:
        for pattern in self.patterns:
            if pattern in block:
                block = block.replace(pattern, REDACTED.encode())
        return block

    def text(self, text: str) -> str:
        for secret in self.texts:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text
