"""Render the production-stack chart with our values through the real Helm library, offline.

    .venv/bin/python scripts/kubernetes_render.py --chart CHART_DIR --helm-lib libhelm_sdkpy.so

Optional, by hand: nothing in `make test` runs it (it needs a checkout of the chart and two
downloads the project does not ship; deploy/kubernetes/production-stack/README.md lists them).
It writes .cache/kubernetes/rendered-h100-llama3-8b.yaml (gitignored: Helm's output from the
chart's templates is never committed), the Kubernetes objects Helm creates from
values-h100-llama3-8b.yaml; tests/unit/stack/test_kubernetes_values.py compares the engine
command in it with its own transcription of the chart's template when the file is there.

How, without a cluster or a `helm` binary: the PyPI wheel helm-sdkpy ships Helm v4 compiled as a
C library. Its install action needs a Kubernetes API to talk to, so this script serves a
STAND-IN on a loopback port: an in-memory API that answers discovery, accepts every object
Helm creates and keeps it. Helm therefore runs its real steps (merge the chart's defaults with
our values, validate them against the chart's values.schema.json, render every template,
order the objects) and the stand-in captures the result. Nothing is scheduled anywhere. Release
records stay in memory (HELM_DRIVER=memory). If kubernetes-validate is importable, every object
is then checked against the Kubernetes OpenAPI schemas (strict: unknown fields fail). With the
chart's checkout at hand, it also compares the project's chart_contract.yaml with the chart's
own schema and defaults (scripts/chart_contract.py compare).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.resources
import json
import os
import re
import shutil
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))  # chart_contract, beside this script

import chart_contract  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CHART_DIR = ROOT / "deploy" / "kubernetes" / "production-stack"
VALUES = CHART_DIR / "values-h100-llama3-8b.yaml"
CONTRACT = CHART_DIR / "chart_contract.yaml"
#: Helm's render of the chart's templates: not ours to commit, so kept in the gitignored cache
RENDERED = ROOT / ".cache" / "kubernetes" / "rendered-h100-llama3-8b.yaml"
#: the release name of the chart's own tutorials (`helm install vllm ...`)
RELEASE = "vllm"

#: API groups the stand-in announces, with the resources Helm may create in them
API_RESOURCES: dict[str, list[tuple[str, str]]] = {
    "v1": [
        ("secrets", "Secret"),
        ("services", "Service"),
        ("configmaps", "ConfigMap"),
        ("persistentvolumeclaims", "PersistentVolumeClaim"),
        ("serviceaccounts", "ServiceAccount"),
        ("namespaces", "Namespace"),
    ],
    "apps/v1": [("deployments", "Deployment"), ("statefulsets", "StatefulSet")],
    "rbac.authorization.k8s.io/v1": [
        ("roles", "Role"),
        ("rolebindings", "RoleBinding"),
        ("clusterroles", "ClusterRole"),
        ("clusterrolebindings", "ClusterRoleBinding"),
    ],
    "policy/v1": [("poddisruptionbudgets", "PodDisruptionBudget")],
    "autoscaling/v2": [("horizontalpodautoscalers", "HorizontalPodAutoscaler")],
    "networking.k8s.io/v1": [("ingresses", "Ingress")],
    "apiextensions.k8s.io/v1": [("customresourcedefinitions", "CustomResourceDefinition")],
    "production-stack.vllm.ai/v1alpha1": [("loraadapters", "LoraAdapter")],
}
CLUSTER_SCOPED = {"namespaces", "clusterroles", "clusterrolebindings", "customresourcedefinitions"}
#: Kubernetes versions whose schemas the objects are checked against
KUBE_VERSIONS = ("1.31.0", "1.37.0")


class StandInKubeAPI(BaseHTTPRequestHandler):
    """Just enough of the Kubernetes API for `helm install`: discovery, create, get, list."""

    objects: dict[str, dict[str, Any]] = {}
    created: list[dict[str, Any]] = []

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _send(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _not_found(self) -> None:
        self._send(
            404,
            {
                "kind": "Status",
                "apiVersion": "v1",
                "status": "Failure",
                "reason": "NotFound",
                "code": 404,
            },
        )

    def _discovery(self, path: str) -> dict[str, Any] | None:
        if path == "/version":
            return {"major": "1", "minor": "31", "gitVersion": "v1.31.0"}
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"]}
        if path == "/apis":
            groups = [gv.split("/") for gv in API_RESOURCES if "/" in gv]
            return {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [
                    {
                        "name": g,
                        "versions": [{"groupVersion": f"{g}/{v}", "version": v}],
                        "preferredVersion": {"groupVersion": f"{g}/{v}", "version": v},
                    }
                    for g, v in groups
                ],
            }
        group_version = "v1" if path == "/api/v1" else path.removeprefix("/apis/")
        if group_version in API_RESOURCES and path in ("/api/v1", f"/apis/{group_version}"):
            return {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": group_version,
                "resources": [
                    {
                        "name": name,
                        "singularName": kind.lower(),
                        "kind": kind,
                        "namespaced": name not in CLUSTER_SCOPED,
                        "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
                    }
                    for name, kind in API_RESOURCES[group_version]
                ],
            }
        return None

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        answer = self._discovery(path)
        if answer is not None:
            return self._send(200, answer)
        if path in self.objects:
            return self._send(200, self.objects[path])
        if re.search(r"/[a-z]+$", path) and not re.search(r"/namespaces/[^/]+$", path):
            items = [o for p, o in self.objects.items() if p.rsplit("/", 1)[0] == path]
            return self._send(
                200,
                {
                    "kind": "List",
                    "apiVersion": "v1",
                    "items": items,
                    "metadata": {"resourceVersion": "1"},
                },
            )
        self._not_found()

    def _body(self) -> dict[str, Any]:
        return json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")

    def do_POST(self) -> None:
        obj = self._body()
        self.created.append(json.loads(json.dumps(obj)))  # as Helm sent it
        obj.setdefault("metadata", {}).update(resourceVersion="1")
        if obj.get("kind") == "CustomResourceDefinition":  # Helm waits for "Established"
            obj["status"] = {
                "acceptedNames": obj["spec"]["names"],
                "conditions": [
                    {"type": "Established", "status": "True"},
                    {"type": "NamesAccepted", "status": "True"},
                ],
            }
        self.objects[f"{urlsplit(self.path).path}/{obj['metadata']['name']}"] = obj
        self._send(201, obj)

    def do_PUT(self) -> None:
        obj = self._body()
        self.objects[urlsplit(self.path).path] = obj
        self._send(200, obj)


def kubeconfig(port: int, folder: Path) -> Path:
    """A kubeconfig whose only cluster is the stand-in on 127.0.0.1:PORT."""
    path = folder / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "stand-in",
                "clusters": [
                    {"name": "stand-in", "cluster": {"server": f"http://127.0.0.1:{port}"}}
                ],
                "users": [{"name": "nobody", "user": {"token": "not-a-secret"}}],
                "contexts": [
                    {
                        "name": "stand-in",
                        "context": {
                            "cluster": "stand-in",
                            "user": "nobody",
                            "namespace": "default",
                        },
                    }
                ],
            }
        )
    )
    return path


class HelmLibrary:
    """Helm v4's install and lint, called through the C library of the helm-sdkpy wheel."""

    def __init__(self, path: Path, config: Path) -> None:
        from cffi import FFI

        self.ffi = FFI()
        self.ffi.cdef("""
            typedef unsigned long long helm_sdkpy_handle;
            int helm_sdkpy_config_create(const char *ns, const char *kubeconfig,
                const char *kubecontext, const char *options_json, helm_sdkpy_handle *out);
            int helm_sdkpy_install(helm_sdkpy_handle handle, const char *release_name,
                const char *chart_path, const char *values_json, const char *version,
                const char *options_json, char **result_json);
            int helm_sdkpy_lint(helm_sdkpy_handle handle, const char *chart_path,
                char **result_json);
            char *helm_sdkpy_last_error(void);
        """)
        self.lib = self.ffi.dlopen(str(path))
        handle = self.ffi.new("helm_sdkpy_handle *")
        if self.lib.helm_sdkpy_config_create(
            b"default", str(config).encode(), self.ffi.NULL, b"{}", handle
        ):
            raise RuntimeError(self._error())
        self.handle = handle[0]

    def _error(self) -> str:
        return self.ffi.string(self.lib.helm_sdkpy_last_error()).decode()

    def install(self, chart: Path, values: dict[str, Any]) -> None:
        """`helm install RELEASE CHART -f values` (no --wait): every object reaches the API."""
        options = {
            "wait": False,
            "timeout_seconds": 120,
            "server_side_apply": "false",
            "disable_openapi_validation": True,
        }
        result = self.ffi.new("char **")
        if self.lib.helm_sdkpy_install(
            self.handle,
            RELEASE.encode(),
            str(chart).encode(),
            json.dumps(values).encode(),
            self.ffi.NULL,
            json.dumps(options).encode(),
            result,
        ):
            raise RuntimeError(f"helm install failed: {self._error()}")

    def lint(self, chart: Path, values: dict[str, Any]) -> list[int]:
        """`helm lint` with our values: the severity of each finding (3 = error).

        The install above does not check the values against the chart's values.schema.json;
        lint does. Lint reads only the chart's own values.yaml, so it runs on a copy whose
        values.yaml is the chart's defaults with ours merged over them, as Helm merges.
        """
        with tempfile.TemporaryDirectory() as folder:
            copy = Path(folder) / "chart"
            shutil.copytree(chart, copy)
            defaults = yaml.safe_load((copy / "values.yaml").read_text())
            (copy / "values.yaml").write_text(yaml.safe_dump(merge(defaults, values)))
            result = self.ffi.new("char **")
            if self.lib.helm_sdkpy_lint(self.handle, str(copy).encode(), result):
                raise RuntimeError(f"helm lint failed to run: {self._error()}")
            report = json.loads(self.ffi.string(result[0]).decode())
        return [m["Severity"] for m in report.get("Messages") or []]


def merge(base: Any, override: Any) -> Any:
    """Helm's merge of values: maps merge key by key, anything else is replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = {k: merge(base[k], v) if k in base else v for k, v in override.items()}
        return merged | {k: v for k, v in base.items() if k not in override}
    return override


def kube_validate(objects: list[dict[str, Any]]) -> list[str]:
    """One line per object and Kubernetes version: ok, or why its schema rejects it."""
    # kubernetes-validate imports the backport `importlib_resources`; the stdlib module is
    # the same API on Python >= 3.9
    sys.modules.setdefault("importlib_resources", importlib.resources)
    try:
        from kubernetes_validate import utils
    except ImportError:
        return ["not checked: kubernetes-validate is not importable"]

    lines = []
    for version in KUBE_VERSIONS:
        for obj in objects:
            name = f"{obj['kind']}/{obj['metadata']['name']}"
            try:
                utils.validate(obj, version, strict=True)
                lines.append(f"ok   Kubernetes {version} {name}")
            except Exception as e:  # noqa: BLE001 (reported, then the script exits 1)
                lines.append(f"FAIL Kubernetes {version} {name}: {str(e).splitlines()[0]}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chart", type=Path, required=True, help="production-stack's helm/ folder")
    parser.add_argument("--chart-ref", default="", help="its commit, recorded in the output")
    parser.add_argument("--helm-lib", type=Path, required=True, help="libhelm_sdkpy.so")
    parser.add_argument("--values", type=Path, default=VALUES)
    parser.add_argument("--output", type=Path, default=RENDERED)
    args = parser.parse_args(argv)
    if os.environ.get("HELM_DRIVER") != "memory":
        # Go reads the environment the process started with, so restart with the variable set
        os.execve(
            sys.executable, [sys.executable, *sys.argv], {**os.environ, "HELM_DRIVER": "memory"}
        )
    values_text = args.values.read_text()
    values = yaml.safe_load(values_text)
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandInKubeAPI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            helm = HelmLibrary(args.helm_lib, kubeconfig(server.server_address[1], Path(folder)))
            severities = helm.lint(args.chart, values)
            helm.install(args.chart, values)
    finally:
        server.shutdown()
    lint = f"helm lint: {severities.count(3)} error(s), {severities.count(2)} warning(s)"
    print(lint)
    # the chart checkout is at hand: say whether our contract still agrees with the chart
    disagreements, _ = chart_contract.compare(
        chart_contract.load(CONTRACT),
        json.loads((args.chart / "values.schema.json").read_text()),
        yaml.safe_load((args.chart / "values.yaml").read_text()),
    )
    contract = f"{CONTRACT.name}: {len(disagreements)} disagreement(s) with the chart"
    print(contract, *disagreements, sep="\n  ")
    objects = StandInKubeAPI.created
    checks = kube_validate(objects)
    print("\n".join(checks))
    # the chart's crds/ are installed as they are (Helm does not template them): left out of the
    # file, which holds what our values produce
    rendered = [o for o in objects if o["kind"] != "CustomResourceDefinition"]
    header = [
        "# GENERATED by scripts/kubernetes_render.py: the objects Helm created from",
        f"# {args.values.relative_to(ROOT) if args.values.is_relative_to(ROOT) else args.values}"
        f" (sha256 {hashlib.sha256(values_text.encode()).hexdigest()})",
        f"# with production-stack's chart {args.chart_ref or '(commit not given)'},"
        f" release name {RELEASE!r}, namespace 'default'.",
        f"# {lint} (values checked against the chart's values.schema.json).",
        f"# {contract} (scripts/chart_contract.py compare).",
        "# The chart's CRDs (crds/, not templated) are left out. Every object Helm created was",
        "# checked against the Kubernetes schemas (kubernetes-validate, strict):",
        *[f"#   {line}" for line in checks],
    ]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(header) + "\n" + yaml.safe_dump_all(rendered, sort_keys=False))
    print(f"wrote {args.output} ({len(rendered)} objects)")
    failed = any(line.startswith("FAIL") for line in checks)
    return 1 if severities.count(3) or disagreements or failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
