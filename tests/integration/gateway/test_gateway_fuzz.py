"""Schema-driven fuzz of the gateway's OpenAPI spec (schemathesis): valid and invalid requests
generated from /openapi.json, every check on (no 5xx, documented status codes, content types
and response schemas, invalid input rejected, valid input accepted, auth enforced).

The gateway sits in front of a scripted upstream and the managed-API stand-in (whose own
validation answers some fuzzed requests with a 4xx the gateway must relay, not turn into 5xx).
The run is bounded (``--max-examples``) and seeded; set SERVELAB_FUZZ_SEED to explore others.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from gateway_support import LEARNER_KEY, StandinProcess, upstream, write_keys, write_table

from reference_stack.gateway.process import GatewayProcess
from reference_stack.scripted import ScriptedUpstream

MAX_EXAMPLES = int(os.environ.get("SERVELAB_FUZZ_EXAMPLES", "80"))
SEED = os.environ.get("SERVELAB_FUZZ_SEED", "4242")
MANAGED_SECRET = "sk-fuzz-upstream-SECRET"


def _fuzz(gateway: GatewayProcess, cwd: Path, *extra: str) -> str:
    """Run schemathesis against ``gateway``; returns its report (asserting it found nothing)."""
    cli = Path(sys.executable).with_name("schemathesis")
    run = subprocess.run(
        [
            str(cli),
            "run",
            gateway.base_url + "/openapi.json",
            "-H",
            f"Authorization: Bearer {LEARNER_KEY}",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            SEED,
            "--workers",
            "2",
            "--generation-database",
            "none",
            "--phases",
            "examples,coverage,fuzzing",
            *extra,
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=400,
    )
    report = run.stdout[-6000:] + run.stderr[-2000:]
    assert run.returncode == 0 and "No issues found" in run.stdout, report
    generated = int(run.stdout.split(" generated")[0].split()[-1])
    assert generated >= MAX_EXAMPLES, report  # it really ran
    return report


@pytest.mark.slow
def test_openapi_fuzz_every_check(tmp_path):
    """Every endpoint, every check, in front of the scripted upstream (which accepts any
    schema-valid request, so a rejection could only be the gateway's)."""
    with ScriptedUpstream(ttft_ms=1, itl_ms=0, chunks=4) as up:
        routing = write_table(
            tmp_path / "routing.yaml",
            {"local": upstream(up.base_url)},
            {"smollm2-135m-instruct": ["local"]},
        )
        with GatewayProcess(
            routing=routing, keys=write_keys(tmp_path / "keys.yaml"), audit=tmp_path / "audit.jsonl"
        ) as gw:
            _fuzz(gw, tmp_path, "--checks", "all")
            log = gw.stop()
    assert "Traceback" not in log


@pytest.mark.slow
def test_openapi_fuzz_through_a_provider_standin(tmp_path):
    """The chat endpoint in front of the managed-API stand-in, a stricter upstream: it refuses
    some schema-valid requests (e.g. ``n`` > 1) with its own 4xx, which the gateway relays, so
    'schema-valid request accepted' is not checked here; everything else is (no 5xx above all)."""
    with StandinProcess(
        "reference_stack.providers.managed",
        "--port",
        "0",
        "--api-key",
        MANAGED_SECRET,
        "--latency-scale",
        "0",
    ) as managed:
        routing = write_table(
            tmp_path / "routing.yaml",
            {"managed": {**upstream(managed.url("managed"), "US"), "api_key_env": "FUZZ_KEY"}},
            {"gpt-4o-mini": [{"upstream": "managed", "model": "gpt-4o-mini"}]},
        )
        with GatewayProcess(
            routing=routing,
            keys=write_keys(tmp_path / "keys.yaml"),
            audit=tmp_path / "audit.jsonl",
            env={"FUZZ_KEY": MANAGED_SECRET},
        ) as gw:
            report = _fuzz(
                gw,
                tmp_path,
                "--checks",
                "all",
                "--exclude-checks",
                "positive_data_acceptance",
                "--include-path",
                "/v1/chat/completions",
            )
            log = gw.stop()
    assert MANAGED_SECRET not in report + log and "Traceback" not in log
