"""Build llama.cpp's `llama-server` from source, with CPU flags chosen from this machine.

Why from source: llama.cpp publishes no Linux CPU wheel of its server on PyPI, and the one
source it does publish there is the `llama-cpp-python` sdist, which vendors llama.cpp. We
download that sdist (PyPI is the only network the course may use), extract it, and build ONLY
the `llama-server` target (about 5 min on 2 cores instead of 11 for the whole Python package),
plus the three small tools lab 10 uses (``TOOLS``).

Why not `-march=native`: with it, ggml turns on its AMX kernels on CPUs that have AMX, and those
segfault on the first inference (`ggml_backend_amx_mul_mat`, upstream llama.cpp issue 20824).
So we build with GGML_NATIVE=OFF, switch on each x86 feature the CPU reports in /proc/cpuinfo,
and keep AMX off always.

The result is cached under .cache/llama.cpp/ with a stamp of (version, flags): a second set-up
finds the stamp and does not rebuild.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

from servelab_base.paths import CACHE

#: The sdist that vendors llama.cpp. Same pin as the `edge` extra in pyproject.toml.
LLAMA_CPP_PYTHON_VERSION = "0.3.36"
LLAMA_CPP_DIR = CACHE / "llama.cpp"
DOWNLOADS = CACHE / "downloads"
LLAMA_SERVER = LLAMA_CPP_DIR / "bin" / "llama-server"
STAMP = LLAMA_CPP_DIR / "bin" / "build.json"
#: llama.cpp's own tools lab 10 measures quantization with (make a variant, time it, score it).
#: They reuse the server's compiled ggml: about 20 s more CPU on 2 cores, 30 MB on disk.
TOOLS = ("llama-quantize", "llama-bench", "llama-perplexity")

#: x86 feature flag in /proc/cpuinfo -> ggml CMake option that uses it. AMX is deliberately
#: absent: its kernels crash in this llama.cpp (see module docstring).
X86_FEATURES = {
    "sse4_2": "GGML_SSE42",
    "avx": "GGML_AVX",
    "avx2": "GGML_AVX2",
    "bmi2": "GGML_BMI2",
    "fma": "GGML_FMA",
    "f16c": "GGML_F16C",
    "avx_vnni": "GGML_AVX_VNNI",
    "avx512f": "GGML_AVX512",
    "avx512vbmi": "GGML_AVX512_VBMI",
    "avx512_vnni": "GGML_AVX512_VNNI",
    "avx512_bf16": "GGML_AVX512_BF16",
}
NEVER_ON = ["GGML_AMX_TILE", "GGML_AMX_INT8", "GGML_AMX_BF16"]

#: Options that keep the build offline and small: no web UI download from the Hugging Face
#: bucket, no TLS, no tests or examples, one static binary that can be copied around.
BASE_OPTIONS = {
    "CMAKE_BUILD_TYPE": "Release",
    "GGML_NATIVE": "OFF",
    "BUILD_SHARED_LIBS": "OFF",
    "LLAMA_BUILD_TESTS": "OFF",
    "LLAMA_BUILD_EXAMPLES": "OFF",
    "LLAMA_BUILD_SERVER": "ON",
    "LLAMA_BUILD_UI": "OFF",
    "LLAMA_USE_PREBUILT_UI": "OFF",
    "LLAMA_OPENSSL": "OFF",
    "GGML_CCACHE": "OFF",
}


class BuildError(RuntimeError):
    """The build cannot go on; the message says what to install or run."""


@dataclass(frozen=True)
class BuildPlan:
    version: str
    options: dict[str, str]

    @property
    def key(self) -> str:
        """A fingerprint of what would be built: a changed flag means a rebuild."""
        text = json.dumps({"version": self.version, "options": self.options}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The feature flags of the first CPU in /proc/cpuinfo (empty off Linux)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def ggml_options(flags: set[str]) -> dict[str, str]:
    """CMake options for this CPU: each known feature ON when present, OFF otherwise; AMX OFF."""
    options = dict(BASE_OPTIONS)
    for feature, option in X86_FEATURES.items():
        options[option] = "ON" if feature in flags else "OFF"
    for option in NEVER_ON:
        options[option] = "OFF"
    return options


def plan(cpuinfo: str | None = None) -> BuildPlan:
    return BuildPlan(LLAMA_CPP_PYTHON_VERSION, ggml_options(cpu_flags(cpuinfo)))


def is_built(build: BuildPlan | None = None) -> bool:
    """True when the cached binary was built from this version with these flags."""
    build = build or plan()
    if not (LLAMA_SERVER.exists() and STAMP.exists()):
        return False
    if not all((LLAMA_SERVER.parent / tool).exists() for tool in TOOLS):
        return False
    try:
        return json.loads(STAMP.read_text()).get("key") == build.key
    except (OSError, ValueError):
        return False


def check_toolchain() -> None:
    """Fail early, saying what to install, when a compiler or cmake is missing."""
    missing = [tool for tool in ("cmake", "c++", "cc") if shutil.which(tool) is None]
    if missing:
        raise BuildError(
            f"building llama.cpp needs {', '.join(missing)} (not found on PATH). Install a C/C++ "
            "compiler and cmake >= 3.14: on Debian/Ubuntu `sudo apt-get install build-essential "
            "cmake`, on Fedora `sudo dnf install gcc-c++ cmake`, on macOS `xcode-select --install "
            "&& brew install cmake`; then run `servelab prepare` again."
        )


def download_sdist(say=print) -> Path:
    """The llama-cpp-python sdist from PyPI, downloaded once into .cache/downloads/."""
    name = f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}.tar.gz"
    target = DOWNLOADS / name
    if target.exists():
        return target
    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    say(f"downloading the llama-cpp-python {LLAMA_CPP_PYTHON_VERSION} sdist from PyPI (77 MB)")
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--no-binary",
        ":all:",
        "--progress-bar",
        "on",
        f"llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}",
        "-d",
        str(DOWNLOADS),
    ]
    if subprocess.run(cmd).returncode != 0 or not target.exists():
        raise BuildError(
            "could not download the llama-cpp-python sdist from PyPI: check that "
            "pip can reach PyPI (proxy, PIP_INDEX_URL), then run `servelab prepare`"
        )
    return target


def extract(sdist: Path) -> Path:
    """The vendored llama.cpp source tree inside the sdist (extracted once)."""
    src_root = LLAMA_CPP_DIR / "src"
    source = src_root / f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}" / "vendor" / "llama.cpp"
    if not (source / "CMakeLists.txt").exists():
        src_root.mkdir(parents=True, exist_ok=True)
        with tarfile.open(sdist) as tar:
            tar.extractall(src_root, filter="data")
    if not (source / "CMakeLists.txt").exists():
        raise BuildError(f"{sdist.name} has no vendor/llama.cpp: delete {sdist} and retry")
    return source


def build(force: bool = False, say=print) -> Path:
    """Build (or find cached) llama-server; returns the binary's path."""
    build_plan = plan()
    if is_built(build_plan) and not force:
        say(f"llama-server already built ({LLAMA_SERVER})")
        return LLAMA_SERVER
    check_toolchain()
    source = extract(download_sdist(say))
    build_dir = LLAMA_CPP_DIR / "build"
    on = sorted(k for k, v in build_plan.options.items() if v == "ON" and k.startswith("GGML_"))
    say(f"building llama-server (about 5 min on 2 cores) with {' '.join(on)}; AMX off")
    configure = ["cmake", "-S", str(source), "-B", str(build_dir)]
    configure += [f"-D{k}={v}" for k, v in build_plan.options.items()]
    jobs = str(os.cpu_count() or 2)
    compile_ = ["cmake", "--build", str(build_dir), "--target", "llama-server", *TOOLS, "-j", jobs]
    log = LLAMA_CPP_DIR / "build.log"
    with log.open("w") as out:
        for step in (configure, compile_):
            out.write("$ " + " ".join(step) + "\n")
            out.flush()
            if _run_with_progress(step, out, say) != 0:
                raise BuildError(
                    f"llama.cpp build failed at `{' '.join(step[:3])} ...`; "
                    f"the full output is in {log}"
                )
    built = build_dir / "bin" / "llama-server"
    if not built.exists():
        raise BuildError(f"the build finished but {built} is missing; see {log}")
    LLAMA_SERVER.parent.mkdir(parents=True, exist_ok=True)
    for name in ("llama-server", *TOOLS):
        _install(build_dir / "bin" / name, LLAMA_SERVER.parent / name)
    STAMP.write_text(
        json.dumps(
            {"key": build_plan.key, "version": build_plan.version, "options": build_plan.options},
            indent=2,
        )
    )
    say(f"llama-server built: {LLAMA_SERVER}")
    return LLAMA_SERVER


def _install(built: Path, target: Path) -> None:
    """Copy ``built`` to ``target`` by rename, so a running llama-server is never overwritten
    in place (Linux refuses that with "Text file busy")."""
    temporary = target.with_name(target.name + ".new")
    shutil.copy2(built, temporary)
    os.replace(temporary, target)


def _run_with_progress(cmd: list[str], out, say) -> int:
    """Run ``cmd`` with its output in the log, echoing CMake's progress every 10 %."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    shown = -1
    assert proc.stdout is not None
    for line in proc.stdout:
        out.write(line)
        if line.startswith("[") and line[1:4].strip().isdigit() and line[4:6] == "%]":
            percent = int(line[1:4])
            if percent // 10 > shown:  # CMake's percentage can step back between targets
                shown = percent // 10
                say(f"  llama.cpp build {percent}%")
    return proc.wait()


if __name__ == "__main__":
    try:
        print(build(force="--force" in sys.argv))
    except BuildError as e:
        sys.exit(f"ERROR: {e}")
