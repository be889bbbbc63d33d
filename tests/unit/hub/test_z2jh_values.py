"""deploy/jupyterhub/z2jh/values.yaml against the project's contract with the `jupyterhub` chart.

chart_contract.yaml beside the values is the project's own note of what the chart accepts
for every key we set (read from the chart's repository at the commit it names; nothing of the
chart is copied). Offline, in process: the values keep the contract (no unknown key, right
types and choices, required keys set, no unsafe chart default left in place), each way of
breaking it is caught, the JupyterHub settings it names are real settings of the JupyterHub
installed here, and the hub's extra configuration is valid Python.
"""

from __future__ import annotations

import copy
import importlib.util
import sys

import pytest
import yaml

from servelab_base.paths import ROOT

HERE = ROOT / "deploy" / "jupyterhub" / "z2jh"


def _script(name: str):
    """A module of scripts/, registered under its own name (as the scripts import each other)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


cc = _script("chart_contract")


@pytest.fixture(scope="module")
def contract():
    return cc.load(HERE / "chart_contract.yaml")


@pytest.fixture(scope="module")
def values():
    return yaml.safe_load((HERE / "values.yaml").read_text())


def test_values_keep_the_contract(contract, values):
    assert cc.check(values, contract) == []
    assert contract.chart["repository"].startswith("https://github.com/jupyterhub/")
    assert len(contract.chart["commit"]) == 40


def _set(path: str, value):
    def change(values):
        *parents, last = path.split(".")
        node = values
        for key in parents:
            node = node[key]
        node[last] = value

    return change


def _drop(path: str):
    def change(values):
        *parents, last = path.split(".")
        node = values
        for key in parents:
            node = node[key]
        del node[last]

    return change


BREAKAGES = {
    "a misspelt key": (
        _set("singleuser.memory.limt", "1G"),
        "singleuser.memory.limt: not a key the contract knows (known here: guarantee, limit);"
        " did you mean limit?",
    ),
    "a key the chart does not have": (
        _set("hub.replicas", 2),
        "hub.replicas: not a key the contract knows",
    ),
    "a wrong type": (_set("cull.timeout", "1h"), "cull.timeout: '1h' is of type string"),
    "a boolean where a number goes": (
        _set("singleuser.cpu.limit", True),
        "True is of type boolean",
    ),
    "a choice the chart does not offer": (
        _set("singleuser.storage.type", "nfs"),
        "singleuser.storage.type: 'nfs' is not one of 'dynamic', 'static', 'none'",
    ),
    "a required key left out": (
        _drop("hub.config.JupyterHub.authenticator_class"),
        "hub.config.JupyterHub.authenticator_class: required, and not set",
    ),
    "an unsafe chart default left in place": (
        _drop("hub.config.JupyterHub.admin_access"),
        "admin_access: not set, and the chart's default breaks the contract: True is not one",
    ),
    "the chart's test authenticator": (
        _set("hub.config.JupyterHub.authenticator_class", "dummy"),
        "'dummy' is not one of 'generic-oauth'",
    ),
    "an environment variable that is not a string": (
        _set("singleuser.extraEnv.HF_HUB_OFFLINE", 1),
        "singleuser.extraEnv.HF_HUB_OFFLINE: 1 is of type integer, the contract says string",
    ),
    "a Kubernetes quantity where KubeSpawner wants bytes": (
        _set("singleuser.memory.limit", "2Gi"),
        "singleuser.memory.limit: '2Gi' does not match",
    ),
    "a mount without its path": (
        lambda v: v["singleuser"]["storage"]["extraVolumeMounts"][0].pop("mountPath"),
        "singleuser.storage.extraVolumeMounts[0].mountPath: required, and not set",
    ),
    "below the range": (_set("cull.timeout", 5), "cull.timeout: 5 is below the minimum 60"),
}


@pytest.mark.parametrize("what", BREAKAGES)
def test_the_contract_check_catches(contract, values, what):
    change, message = BREAKAGES[what]
    broken = copy.deepcopy(values)
    change(broken)
    problems = cc.check(broken, contract)
    assert len(problems) == 1 and message in problems[0], problems


def test_a_malformed_contract_is_refused(tmp_path):
    bad = tmp_path / "contract.yaml"
    chart = "chart: {repository: https://example.org/r, commit: abc}\n"
    bad.write_text(chart + "fields:\n  a: {type: map, requried: true}\n")
    with pytest.raises(cc.ContractError, match=r"unknown attribute\(s\) \['requried'\]"):
        cc.load(bad)
    bad.write_text(chart + "fields:\n  a.b: {type: string}\n")
    with pytest.raises(cc.ContractError, match="its parent a is not in the contract"):
        cc.load(bad)


def test_the_jupyterhub_settings_named_are_real(contract):
    """Each hub.config setting of JupyterHub's own classes exists, configurable, of that type."""
    from jupyterhub.app import JupyterHub
    from jupyterhub.auth import Authenticator
    from jupyterhub.traitlets import EntryPointType
    from traitlets import Bool, Container, Unicode

    kinds = {"boolean": (Bool,), "list": (Container,), "string": (Unicode, EntryPointType)}
    checked = []
    for cls in (JupyterHub, Authenticator):
        prefix = f"hub.config.{cls.__name__}."
        for path in contract.children[prefix.rstrip(".")]:
            trait = cls.class_traits(config=True).get(path.removeprefix(prefix))
            assert trait is not None, f"{path}: not a setting of {cls.__name__}"
            assert isinstance(trait, kinds[contract.entries[path].type]), (path, trait)
            checked.append(path)
    assert len(checked) == 4


def test_memory_sizes_are_ones_kubespawner_parses(contract, values):
    """The contract's byte pattern agrees with JupyterHub's ByteSpecification, which parses them."""
    from jupyterhub.traitlets import ByteSpecification
    from traitlets import TraitError

    spec = ByteSpecification()
    memory = values["singleuser"]["memory"]
    assert spec.validate(None, memory["limit"]) == 2 * 1024**3
    assert spec.validate(None, memory["guarantee"]) == 512 * 1024**2
    with pytest.raises(TraitError):
        spec.validate(None, "2Gi")


def test_hub_extra_config_is_python_and_sets_per_user_uids(values):
    source = values["hub"]["extraConfig"]["servelab"]
    compile(source, "extraConfig.servelab", "exec")
    assert "c.KubeSpawner.uid = servelab_uid" in source


def test_learners_mount_the_exchange_where_their_config_looks(values):
    mounts = values["singleuser"]["storage"]["extraVolumeMounts"]
    env = values["singleuser"]["extraEnv"]
    assert env["SERVELAB_EXCHANGE_DIR"] in [m["mountPath"] for m in mounts]
