"""Who is calling: API keys per learner, team or application, stored only as hashes.

A key is a random secret (``sk-`` + 32 random bytes), so a plain SHA-256 of it is enough: unlike
a password it cannot be guessed from a dictionary, and a fast hash keeps the check to a dict
lookup (GitHub and OpenAI store API tokens the same way). The key file holds the hash, the
key's scope (which model aliases, which data classes) and its rate limits; the plaintext
exists only with its owner. ``python -m reference_stack.gateway new-key`` makes one.
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import Forbidden, Unauthenticated
from .settings import LOCAL_LEARNER_KEY

#: Requests and tokens per minute of a key that sets none: about what one learner running a
#: 64-stream benchmark for a minute needs (OpenAI's lowest paid tier: 500 RPM, 200k TPM).
DEFAULT_REQUESTS_PER_MINUTE = 3000
DEFAULT_TOKENS_PER_MINUTE = 1_000_000


def hash_key(plaintext: str) -> str:
    """The stored form of a key: hex SHA-256 of its text."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


def new_key() -> str:
    """A fresh random key (256 bits, URL-safe)."""
    return "sk-servelab-" + secrets.token_urlsafe(32)


class ApiKey(BaseModel):
    """One key's identity, scope and limits (one entry of keys.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=1)]  # shown in audit records; never the secret
    owner: Annotated[str, Field(min_length=1)]
    kind: Literal["learner", "team", "application"]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    #: model aliases this key may call; "*" means all
    models: list[str] = ["*"]
    #: data classes this key may send; the first is its default
    data_classes: Annotated[list[str], Field(min_length=1)]
    #: may this key choose another of its data classes per request (x-servelab-data-class)?
    may_set_data_class: bool = False
    #: a documented placeholder for the local stack: refused outside local mode
    local_only: bool = False
    #: production mode only (in local mode every key may): may send x-servelab-force-failover,
    #: and may read /metrics, /health's per-upstream detail and /docs
    may_force_failover: bool = False
    may_observe: bool = False
    requests_per_minute: Annotated[int, Field(gt=0)] = DEFAULT_REQUESTS_PER_MINUTE
    tokens_per_minute: Annotated[int, Field(gt=0)] = DEFAULT_TOKENS_PER_MINUTE

    def may_use(self, model: str) -> bool:
        return "*" in self.models or model in self.models

    def data_class_for(self, requested: str | None) -> str:
        """The data class of a request: the key's default, or one the key may choose."""
        if requested is None:
            return self.data_classes[0]
        if not self.may_set_data_class:
            raise Forbidden(
                f"key '{self.name}' may not set the data class of a request",
                code="data_class_not_allowed",
                param="x-servelab-data-class",
            )
        if requested not in self.data_classes:
            raise Forbidden(
                f"key '{self.name}' is not scoped to data class '{requested}' "
                f"(allowed: {', '.join(self.data_classes)})",
                code="data_class_not_allowed",
                param="x-servelab-data-class",
            )
        return requested


class KeyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str
    keys: list[ApiKey]

    @model_validator(mode="after")
    def _unique(self) -> KeyFile:
        for field in ("name", "sha256"):
            values = [getattr(k, field) for k in self.keys]
            dupes = {v for v in values if values.count(v) > 1}
            if dupes:
                raise ValueError(f"duplicate key {field}: {sorted(dupes)}")
        return self


class KeyStore:
    """Looks up the key behind an ``Authorization: Bearer ...`` header."""

    def __init__(self, keys: list[ApiKey]) -> None:
        self._by_hash = {key.sha256: key for key in keys}

    @classmethod
    def load(cls, path: Path, mode: str, data_classes: set[str]) -> KeyStore:
        """Read and validate the key file; refuse what is unsafe in ``mode``.

        Raises ValueError naming the file and the problem, so a bad file stops start-up.
        """
        try:
            parsed = KeyFile.model_validate(yaml.safe_load(path.read_text()))
        except (OSError, yaml.YAMLError, ValidationError) as exc:
            raise ValueError(f"key file {path}: {exc}") from exc
        placeholder = hash_key(LOCAL_LEARNER_KEY)
        for key in parsed.keys:
            if mode != "local" and (key.local_only or key.sha256 == placeholder):
                raise ValueError(
                    f"key file {path}: key '{key.name}' is a documented local-only placeholder; "
                    f"it is accepted only with SERVELAB_GATEWAY_MODE=local. Make real keys with "
                    f"`python -m reference_stack.gateway new-key`."
                )
            unknown = set(key.data_classes) - data_classes
            if unknown:
                raise ValueError(
                    f"key file {path}: key '{key.name}' names data classes "
                    f"{sorted(unknown)} the routing table does not define"
                )
        return cls(parsed.keys)

    def authenticate(self, authorization: str | None) -> ApiKey:
        """The key of a request, or 401 (missing, malformed or unknown key)."""
        if not authorization:
            raise Unauthenticated("Missing API key: send 'Authorization: Bearer <key>'.")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("Malformed Authorization header: expected 'Bearer <key>'.")
        key = self._by_hash.get(hash_key(token))
        if key is None:
            raise Unauthenticated("Incorrect API key provided.")
        return key

    def observer(self, authorization: str | None) -> ApiKey:
        """The key of a request for the gateway's own state (metrics, health detail, docs in
        production mode): 401 without a key, 403 for a key without ``may_observe``."""
        key = self.authenticate(authorization)
        if not key.may_observe:
            raise Forbidden(
                f"Key '{key.name}' may not read the gateway's metrics, health detail or docs.",
                code="observe_not_allowed",
            )
        return key
