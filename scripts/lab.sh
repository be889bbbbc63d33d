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
.venv/bin/servelab doctor || true
echo "[lab] opening JupyterLab on labs/ at http://127.0.0.1:$PORT/lab"
exec .venv/bin/jupyter lab --no-browser --ServerApp.port="$PORT" --ServerApp.root_dir="$ROOT/labs" ${SERVELAB_JUPYTER_ARGS:-}
