"""deploy/jupyterhub/z2jh/values.yaml, checked offline as Helm would: the chart's defaults merged
with our values must satisfy the chart's schema (both vendored, see the README beside them), and
the hub's extra configuration must be valid Python."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

HERE = Path(__file__).resolve().parents[3] / "deploy" / "jupyterhub" / "z2jh"


def merge(base, override):
    """Helm's merge of values: maps merge key by key, anything else is replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        return {k: merge(base[k], v) if k in base else v for k, v in override.items()} | {
            k: v for k, v in base.items() if k not in override
        }
    return override


@pytest.fixture(scope="module")
def validator():
    return jsonschema.Draft7Validator(json.loads((HERE / "values.schema.json").read_text()))


@pytest.fixture(scope="module")
def values():
    return yaml.safe_load((HERE / "values.yaml").read_text())


@pytest.fixture(scope="module")
def defaults():
    return json.loads((HERE / "chart-defaults.json").read_text())


def test_values_satisfy_the_charts_schema(validator, values, defaults):
    errors = [
        f"{list(e.path)}: {e.message}" for e in validator.iter_errors(merge(defaults, values))
    ]
    assert errors == []


def test_the_schema_check_catches_a_misspelt_key(validator, values, defaults):
    typo = merge(values, {"singleuser": {"memory": {"limt": "1G"}}})
    messages = [e.message for e in validator.iter_errors(merge(defaults, typo))]
    assert any("'limt' was unexpected" in m for m in messages), messages


def test_hub_extra_config_is_python_and_sets_per_user_uids(values):
    source = values["hub"]["extraConfig"]["servelab"]
    compile(source, "extraConfig.servelab", "exec")
    assert "c.KubeSpawner.uid = servelab_uid" in source


def test_learners_mount_the_exchange_where_their_config_looks(values):
    mounts = values["singleuser"]["storage"]["extraVolumeMounts"]
    env = values["singleuser"]["extraEnv"]
    assert env["SERVELAB_EXCHANGE_DIR"] in [m["mountPath"] for m in mounts]
