"""The last step of a failover chain: an answer given earlier to the very same request.

When every upstream of a model has failed, an identical earlier request's answer is better than
an error for many uses (an FAQ bot, a classroom demo). It is the most degraded answer there is,
and says so: ``x-servelab-upstream: cache``. Entries are keyed by model alias, data class and
the request's content, so an answer never crosses to another data class; it never leaves the
gateway's memory, so serving it sends data nowhere.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass

#: Answers kept (least recently used dropped first). 1,000 short answers are about 1 MB.
CACHE_ENTRIES = 1000
#: Request fields that do not change the answer's content.
_IGNORED = {"stream", "stream_options", "user"}


@dataclass(frozen=True)
class CachedAnswer:
    model: str
    content: str
    finish_reason: str
    usage: dict | None


def cache_key(alias: str, data_class: str, body: dict) -> str:
    relevant = {k: v for k, v in body.items() if k not in _IGNORED}
    text = json.dumps([alias, data_class, relevant], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class ResponseCache:
    def __init__(self, entries: int = CACHE_ENTRIES) -> None:
        self.entries = entries
        self._store: OrderedDict[str, CachedAnswer] = OrderedDict()

    def put(self, key: str, answer: CachedAnswer) -> None:
        self._store[key] = answer
        self._store.move_to_end(key)
        while len(self._store) > self.entries:
            self._store.popitem(last=False)

    def get(self, key: str) -> CachedAnswer | None:
        answer = self._store.get(key)
        if answer is not None:
            self._store.move_to_end(key)
        return answer


def completion_body(answer: CachedAnswer) -> bytes:
    """A cached answer as a non-streamed ``chat.completion``."""
    return json.dumps(
        {
            "id": f"chatcmpl-cache-{uuid.uuid4().hex[:16]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": answer.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer.content},
                    "logprobs": None,
                    "finish_reason": answer.finish_reason,
                }
            ],
            "usage": answer.usage,
        }
    ).encode()


def stream_body(answer: CachedAnswer, include_usage: bool) -> bytes:
    """A cached answer as a whole SSE stream (one content chunk, the finish, usage, [DONE])."""
    rid, created = f"chatcmpl-cache-{uuid.uuid4().hex[:16]}", int(time.time())

    def event(choices: list, **extra: object) -> bytes:
        obj = {
            "id": rid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": answer.model,
            "choices": choices,
            **extra,
        }
        return b"data: " + json.dumps(obj).encode() + b"\n\n"

    out = event(
        [
            {
                "index": 0,
                "delta": {"role": "assistant", "content": answer.content},
                "finish_reason": None,
            }
        ]
    )
    out += event([{"index": 0, "delta": {}, "finish_reason": answer.finish_reason}])
    if include_usage and answer.usage:
        out += event([], usage=answer.usage)
    return out + b"data: [DONE]\n\n"
