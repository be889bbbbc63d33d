"""Helpers for the gateway tests: write a routing table and a key file, start a gateway.

Exact upstream faults come from the scripted upstream (reference_stack/scripted). Its faults are
chosen per request by ``x-scripted-<field>`` headers; the gateway does not forward client
headers, so a test gives each upstream ENTRY of its routing table fixed ``headers`` (a routing
table feature: fixed headers per upstream). One scripted process can then stand for several
upstreams with different faults (``status: 503``, ``ttft_ms: 5000``, ...), each with its own
breaker.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from reference_stack.gateway.auth import hash_key
from reference_stack.providers.server import READY_LINE
from servelab_base.child_server import ChildServer, ChildServerError

#: Data classes of every test table: the embedded stack's three.
DATA_CLASSES = {
    "public": {"jurisdictions": ["US", "EU", "UK", "on-prem"]},
    "personal-eu": {"jurisdictions": ["EU", "on-prem"]},
    "restricted": {"jurisdictions": ["on-prem"], "max_retention_days": 0},
}
JURISDICTIONS = ["US", "EU", "UK", "on-prem"]
#: A fresh interpreter importing FastAPI on a loaded 2-core CI machine.
START_TIMEOUT_S = 60.0

LEARNER_KEY = "sk-test-learner-0123456789"


def upstream(
    base_url: str,
    jurisdiction: str = "on-prem",
    *,
    kind: str = "openai",
    retention_days: int = 0,
    **headers: object,
) -> dict:
    """An upstream entry; ``headers`` become ``x-scripted-<name>`` faults (``status=503``)."""
    entry = {
        "kind": kind,
        "base_url": base_url + ("/v1" if kind == "openai" else ""),
        "region": f"test-{jurisdiction.lower()}",
        "jurisdiction": jurisdiction,
        "price": {"input_per_mtok": 0.0, "output_per_mtok": 0.0},
        "retention": {"days": retention_days},
        "headers": {f"x-scripted-{k.replace('_', '-')}": str(v) for k, v in headers.items()},
    }
    if kind == "azure":
        entry["api_version"] = "2024-10-21"
    return entry


def write_table(path: Path, upstreams: dict[str, dict], models: dict[str, list]) -> Path:
    """Write a routing table; ``models`` maps alias -> chain (upstream names or "cache")."""
    table = {
        "source": "written by tests/gateway_support.py",
        "jurisdictions": JURISDICTIONS,
        "data_classes": DATA_CLASSES,
        "upstreams": upstreams,
        "models": {
            alias: {
                "chain": [
                    step
                    if step == "cache"
                    else (step if isinstance(step, dict) else {"upstream": step})
                    for step in chain
                ]
            }
            for alias, chain in models.items()
        },
    }
    path.write_text(yaml.safe_dump(table, sort_keys=False))
    return path


def write_keys(path: Path, keys: list[dict] | None = None) -> Path:
    """A key file; each entry gives ``key`` (plaintext) and the rest of the fields."""
    keys = keys or [learner_key()]
    entries = []
    for entry in keys:
        entry = dict(entry)
        entries.append({"sha256": hash_key(entry.pop("key")), **entry})
    path.write_text(yaml.safe_dump({"source": "tests", "keys": entries}, sort_keys=False))
    return path


def learner_key(**overrides: object) -> dict:
    return {
        "key": LEARNER_KEY,
        "name": "learner",
        "owner": "tester",
        "kind": "learner",
        "models": ["*"],
        "data_classes": ["public", "personal-eu", "restricted"],
        "may_set_data_class": True,
        "requests_per_minute": 100_000,
        "tokens_per_minute": 100_000_000,
        **overrides,
    }


def read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def parse_sse(text: str) -> list[str]:
    """The ``data:`` payloads of an SSE body, in order."""
    return [line[5:].strip() for line in text.split("\n") if line.startswith("data:")]


class StandinProcess:
    """A provider stand-in (reference_stack.providers.managed / .cloud) as a child process on a
    free port, with scripted tokens (no engine needed). ``ports`` maps its names to ports."""

    def __init__(self, module: str, *args: str) -> None:
        self.child = ChildServer(
            [sys.executable, "-m", module, "--source", "scripted", *args], name=module
        )
        self.ports: dict[str, int] = {}

    def __enter__(self) -> StandinProcess:
        self.child.start()
        try:
            ready = self.child.wait_for_line(READY_LINE, START_TIMEOUT_S)
        except ChildServerError as exc:
            raise RuntimeError(f"stand-in did not start: {exc}") from None
        self.ports = json.loads(ready.group(0))["ports"]
        return self

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def __exit__(self, *exc: object) -> None:
        self.child.stop()
