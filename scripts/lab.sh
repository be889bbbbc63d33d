#!/usr/bin/env bash
# Start the embedded reference stack, then JupyterLab on the learner's own copy of the labs
# (my-labs/, gitignored, never overwritten: `servelab lab`). Ctrl-C stops JupyterLab; the stack
# keeps running until `make down`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export HF_HUB_OFFLINE=1
PORT="${SERVELAB_JUPYTER_PORT:-8890}"
if .venv/bin/python -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $PORT)) != 0)"; then
    echo "[lab] ERROR: port $PORT is taken (another JupyterLab?). Stop it, or run with SERVELAB_JUPYTER_PORT=<free port>." >&2
    exit 1
fi
# bring the embedded stack up first (idempotent: a running stack is left alone), so the labs'
# pre-flight cells find it healthy; JupyterLab still opens if a service failed (see its message)
.venv/bin/servelab up || echo "[lab] WARNING: part of the stack did not start; labs that need it will say so (\`servelab logs\`)." >&2
.venv/bin/servelab doctor || true
# the course's JupyterLab settings (jupyter/) and nbgrader config come with it: servelab/launch.py
exec .venv/bin/servelab lab --port "$PORT"
