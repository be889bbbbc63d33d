"""A deployment profile: which services the stack runs, how to start them, how to know they are up.

A profile is a YAML file in reference_stack/profiles/ (documented at the top of cpu.yaml). This
module is its schema (pydantic), so a typo in a profile fails loudly when it is loaded, naming
the field, instead of as a mysterious crash at start-up.

Command lines are templates: ``{placeholders}`` are filled from :func:`placeholders` (paths of
this checkout, the service's port, the served model name ...), so the same profile works in any
clone and honours SERVELAB_* port overrides.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from servelab_base.config import Settings
from servelab_base.paths import CACHE, ROOT

PROFILES_DIR = Path(__file__).resolve().parent.parent / "profiles"

#: Start-up budget when a service names none. vLLM on a busy 2-core laptop needs 20-60 s; a
#: FastAPI app under a second. 120 s errs on the side of not giving up on a slow laptop.
DEFAULT_STARTUP_TIMEOUT_S = 120.0


class Service(BaseModel):
    """One process of the stack (reference_stack/profiles/cpu.yaml's header names every field)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str = ""
    #: a Settings field name (e.g. ``vllm_port``; SERVELAB_VLLM_PORT overrides it) or a number
    port: int | str
    #: argv template; the first element is usually "{python}"
    command: list[str] = Field(min_length=1)
    #: path answering 200 when the service is ready
    health: str = "/health"
    #: services that must be healthy before this one starts
    after: list[str] = []
    #: environment added to the stack's own (values are templates too)
    env: dict[str, str] = {}
    #: variables removed from the environment (some engines misread an empty value)
    unset_env: list[str] = []
    #: files that must exist before starting (templates); missing -> "run `servelab prepare`"
    requires: list[str] = []
    startup_timeout_s: float = Field(DEFAULT_STARTUP_TIMEOUT_S, gt=0)
    #: extra arguments appended by `servelab up --dummy-weights` (GPU profiles)
    dummy_weights_args: list[str] = []

    @field_validator("health")
    @classmethod
    def _absolute_path(cls, v: str) -> str:
        if not v.startswith("/"):
            raise ValueError("health must be a URL path starting with '/'")
        return v

    def resolved_port(self, settings: Settings) -> int:
        """The TCP port, reading a Settings field when ``port`` names one."""
        if isinstance(self.port, int):
            return self.port
        if self.port.isdigit():
            return int(self.port)
        value = getattr(settings, self.port, None)
        if not isinstance(value, int):
            raise ValueError(
                f"service {self.name!r}: port {self.port!r} is not a Settings field "
                f"holding a port (e.g. vllm_port, gateway_port)"
            )
        return value


class Gpu(BaseModel):
    """The card a GPU profile is sized for (self-study profiles only)."""

    model_config = ConfigDict(extra="forbid")

    name: str  # exact variant, e.g. "NVIDIA H100 80GB HBM3 (SXM5)"
    count: int = Field(1, ge=1)
    memory_gib: float = Field(gt=0)  # per card, as nvidia-smi reports it
    bandwidth_tb_s: float = Field(gt=0)  # per card, vendor datasheet
    source: str  # where the figures come from
    #: Ray's name for the card (ray.util.accelerators: H100, A100-40G ...), where Ray Data
    #: schedules a batch replica of this profile (servelab/batch/gpu.py)
    accelerator_type: str | None = None


class ModelSpec(BaseModel):
    """What a GPU profile serves, and where its real shapes live for --dummy-weights."""

    model_config = ConfigDict(extra="forbid")

    hf_id: str
    #: directory (relative to profiles/) holding the real config.json for --load-format dummy
    dummy_config: str
    licence: str
    #: bytes of weights read per decoded token (all GPUs together)
    weight_bytes: float = Field(gt=0)
    #: KV cache bytes per token, all layers, K and V (all GPUs together)
    kv_bytes_per_token: int = Field(gt=0)


class Expected(BaseModel):
    """Expected memory and the physical floor (see docs/metrics.md#physical-floors)."""

    model_config = ConfigDict(extra="forbid")

    weights_gib_per_gpu: float = Field(gt=0)
    #: memory vLLM needs besides weights and KV cache (activations of the profiling run,
    #: CUDA graphs, CUDA context, all-reduce buffers); vLLM logs the real figure at start-up
    runtime_overhead_gib: float = Field(gt=0)
    kv_cache_gib_per_gpu: float = Field(gt=0)
    kv_cache_tokens: int = Field(gt=0)
    itl_floor_ms: float = Field(gt=0)


class Profile(BaseModel):
    """A whole deployment: its services, in a start order the ``after`` lists define."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    services: list[Service] = Field(min_length=1)
    gpu: Gpu | None = None
    model: ModelSpec | None = None
    expected: Expected | None = None

    @model_validator(mode="after")
    def _check_graph(self) -> Profile:
        names = [s.name for s in self.services]
        duplicates = {n for n in names if names.count(n) > 1}
        if duplicates:
            raise ValueError(f"duplicate service names: {sorted(duplicates)}")
        for s in self.services:
            unknown = set(s.after) - set(names)
            if unknown:
                raise ValueError(f"service {s.name!r}: `after` names unknown {sorted(unknown)}")
        self.waves()  # raises on a cycle
        return self

    def service(self, name: str) -> Service:
        for s in self.services:
            if s.name == name:
                return s
        raise KeyError(
            f"profile {self.name!r} has no service {name!r}; "
            f"it has {[s.name for s in self.services]}"
        )

    def waves(self) -> list[list[Service]]:
        """Services grouped by start order: each wave needs only earlier waves healthy."""
        done: set[str] = set()
        left = list(self.services)
        waves: list[list[Service]] = []
        while left:
            wave = [s for s in left if set(s.after) <= done]
            if not wave:
                raise ValueError(f"`after` lists form a cycle among {[s.name for s in left]}")
            waves.append(wave)
            done |= {s.name for s in wave}
            left = [s for s in left if s.name not in done]
        return waves


def available() -> list[str]:
    """Names of the profiles shipped in reference_stack/profiles/."""
    return sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))


def load(name_or_path: str) -> Profile:
    """Load and validate a profile by name (``cpu``) or by path to a YAML file."""
    return Profile.model_validate(_read(name_or_path, ()))


def _read(name_or_path: str, seen: tuple[str, ...]) -> dict:
    """A profile's YAML as a mapping. ``extends: NAME`` starts from that shipped profile: its
    services first, then this file's (a name may not repeat), this file's other fields win."""
    path = Path(name_or_path)
    if not path.suffix:
        path = PROFILES_DIR / f"{name_or_path}.yaml"
    if not path.exists():
        raise FileNotFoundError(f"no profile {name_or_path!r}; available: {available()}")
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a YAML mapping")
    base = data.pop("extends", None)
    if base is None:
        return data
    if not isinstance(base, str) or base in seen or len(seen) > 8:
        raise ValueError(f"{path}: extends {base!r} must name another profile, without a loop")
    merged = _read(base, (*seen, base))
    services = [*merged.get("services", []), *data.pop("services", [])]
    return {**merged, **data, "services": services}


def placeholders(
    settings: Settings, service: Service | None = None, profile: Profile | None = None
) -> dict[str, Any]:
    """Values a command / env / requires template may use (see cpu.yaml's header)."""
    from reference_stack.engines import model_files
    from reference_stack.engines.llamacpp_build import LLAMA_SERVER

    ports = {}
    if profile is not None:
        ports = {s.name: s.resolved_port(settings) for s in profile.services}
    values: dict[str, Any] = {
        "python": sys.executable,
        "root": str(ROOT),
        "cache": str(CACHE),
        "host": settings.host,
        "model": settings.model,
        "model_dir": str(model_files.HF_DIR),
        "gguf": str(model_files.GGUF_COPY),
        "llama_server": str(LLAMA_SERVER),
        "profiles": str(PROFILES_DIR),
        "ports": ports,
    }
    if service is not None:
        values["port"] = service.resolved_port(settings)
        values["name"] = service.name
    return values


def render(template: str, values: dict[str, Any]) -> str:
    """Fill one template, with an error naming the unknown placeholder."""
    try:
        return template.format(**values)
    except (KeyError, IndexError) as e:
        raise ValueError(
            f"unknown placeholder {e} in {template!r}; known: {sorted(values)}"
        ) from None
