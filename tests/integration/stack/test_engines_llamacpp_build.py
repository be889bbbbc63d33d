"""llama-server is built from the pinned source with this CPU's flags, never AMX, and cached."""

from __future__ import annotations

import json
import subprocess

import pytest

from reference_stack.engines import llamacpp_build as build

SAPPHIRE_RAPIDS = (
    "flags\t\t: fpu sse4_2 avx avx2 fma f16c bmi2 avx512f avx512vbmi avx512_vnni "
    "avx512_bf16 avx_vnni amx_tile amx_int8 amx_bf16\n"
)
HASWELL = "flags\t\t: fpu sse4_2 avx avx2 fma f16c bmi2\n"


def test_flags_follow_the_cpu_and_amx_stays_off():
    options = build.ggml_options(build.cpu_flags(SAPPHIRE_RAPIDS))
    assert options["GGML_NATIVE"] == "OFF"
    assert options["GGML_AVX512"] == options["GGML_AVX512_BF16"] == "ON"
    assert all(options[o] == "OFF" for o in build.NEVER_ON)  # AMX crashes this llama.cpp
    older = build.ggml_options(build.cpu_flags(HASWELL))
    assert older["GGML_AVX2"] == "ON" and older["GGML_AVX512"] == "OFF"
    assert older["GGML_AVX_VNNI"] == "OFF"
    assert build.plan(SAPPHIRE_RAPIDS).key != build.plan(HASWELL).key  # other CPU: rebuild


def test_build_stays_offline():
    options = build.ggml_options(set())
    # the web UI would otherwise be fetched from a Hugging Face bucket during the build
    assert options["LLAMA_USE_PREBUILT_UI"] == "OFF" and options["LLAMA_BUILD_UI"] == "OFF"


def test_missing_toolchain_says_what_to_install(monkeypatch):
    monkeypatch.setattr(build.shutil, "which", lambda tool: None)
    with pytest.raises(build.BuildError, match="build-essential cmake"):
        build.check_toolchain()


def test_built_binary_matches_this_cpu_and_runs():
    assert build.is_built(), "run `servelab prepare` first"
    stamp = json.loads(build.STAMP.read_text())
    assert stamp["version"] == build.LLAMA_CPP_PYTHON_VERSION
    assert stamp["options"] == build.plan().options
    assert all(stamp["options"][o] == "OFF" for o in build.NEVER_ON)
    version = subprocess.run(
        [str(build.LLAMA_SERVER), "--version"], capture_output=True, text=True, timeout=60
    )
    assert version.returncode == 0 and "version" in (version.stdout + version.stderr)


def test_second_build_is_a_cache_hit():
    messages = []
    assert build.build(say=messages.append) == build.LLAMA_SERVER
    assert messages == [f"llama-server already built ({build.LLAMA_SERVER})"]
