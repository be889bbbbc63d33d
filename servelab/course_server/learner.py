"""How a learner's notebook finds its gateway key, without the key ever being in a cell.

    >>> from servelab.course_server.learner import gateway_key
    >>> client = openai.OpenAI(base_url=settings.gateway_url + "/v1", api_key=gateway_key())

Looked up in this order:

1. ``SERVELAB_GATEWAY_API_KEY`` in the environment (a deployment that injects secrets);
2. ``~/.servelab/gateway-key``, where `servelab course keys --roster` delivers each learner's
   own key on a course server (readable by its learner only);
3. the embedded stack's documented local key (``sk-servelab-local-learner``), on a laptop.

A notebook that calls ``gateway_key()`` runs unchanged on a laptop and on the class's server,
and a submitted notebook carries no key.
"""

from __future__ import annotations

import os
from pathlib import Path

from reference_stack.gateway.settings import LOCAL_LEARNER_KEY
from servelab.course_server.keys import HOME_KEY_FILE

KEY_ENV = "SERVELAB_GATEWAY_API_KEY"


def key_file() -> Path:
    """Where this user's delivered key lives."""
    return Path.home() / HOME_KEY_FILE


def gateway_key() -> str:
    """This learner's gateway key (environment, then the delivered file, then the local key)."""
    from_env = os.environ.get(KEY_ENV, "").strip()
    if from_env:
        return from_env
    path = key_file()
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return LOCAL_LEARNER_KEY
    except PermissionError as exc:
        raise PermissionError(f"cannot read your gateway key {path}: {exc}") from exc
    if not text:
        raise ValueError(f"{path} is empty: ask your instructor to issue your key again")
    return text
