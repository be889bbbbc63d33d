"""What the stages after auth need to know about the request being served."""

from __future__ import annotations

from dataclasses import dataclass

from .auth import ApiKey
from .protocol import ChatCompletionRequest
from .timing import StageTimer


@dataclass(slots=True)
class RequestContext:
    request_id: str
    key: ApiKey
    data_class: str
    alias: str  # the model name the client asked for
    request: ChatCompletionRequest
    screened: list  # every candidate of the chain with the policy's verdict on it
    timer: StageTimer

    def body_for_cache(self) -> dict:
        return self.request.model_dump(exclude_unset=True)
