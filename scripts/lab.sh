#!/usr/bin/env bash
# Start the embedded reference stack, then JupyterLab on labs/ (Ctrl-C stops JupyterLab; the
# stack keeps running until `make down`).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export JUPYTER_CONFIG_PATH="$ROOT/grading" HF_HUB_OFFLINE=1
PORT="${SERVELAB_JUPYTER_PORT:-8890}"
if .venv/bin/python -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $PORT)) != 0)"; then
    echo "[lab] ERROR: port $PORT is taken (another JupyterLab?). Stop it, or run with SERVELAB_JUPYTER_PORT=<free port>." >&2
    exit 1
fi
# bring the embedded stack up first (idempotent: a running stack is left alone), so the labs'
# pre-flight cells find it healthy; JupyterLab still opens if a service failed (see its message)
.venv/bin/servelab up || echo "[lab] WARNING: part of the stack did not start; labs that need it will say so (\`servelab logs\`)." >&2
.venv/bin/servelab doctor || true
# JupyterLab refuses to run as root unless told: containers and CI machines often are root.
ROOT_FLAG=""
[ "$(id -u)" -eq 0 ] && ROOT_FLAG="--allow-root"
echo "[lab] opening JupyterLab on labs/ at http://127.0.0.1:$PORT/lab"
exec .venv/bin/jupyter lab --no-browser --ServerApp.port="$PORT" --ServerApp.root_dir="$ROOT/labs" $ROOT_FLAG ${SERVELAB_JUPYTER_ARGS:-}
