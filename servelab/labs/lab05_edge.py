"""Lab 05 helpers: the edge pattern with llama.cpp on the learner's own CPU.

On a device, what matters is different from a data centre: how long the model takes to load,
how much memory it holds (the app shares the device with everything else), and tokens per
second with no network in the path. This module measures exactly those on a *private*
llama-server (the binary the stack builds, on the course's Q4_1 GGUF, on a free loopback port)
and reads llama-server's own introspection (``/props``, ``/metrics``, the ``timings`` block of a
reply). Recorded runs for grading live in ``datasets/lab05/``.
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from servelab_base.child_server import ChildServer, ChildServerError
from servelab_base.paths import DATASETS

LAB05 = DATASETS / "lab05"
#: a 98 MB GGUF loads in well under a second on a laptop; 60 s covers a busy 2-core CI runner
LOAD_TIMEOUT_S = 60.0
#: one compute thread: with 2, llama-server collapses when another process takes a core
#: (docs/platform.md); a private server for measurement must not fight the stack for the CPU
DEFAULT_THREADS = 1


def binaries() -> tuple[Path, Path]:
    """(llama-server binary, GGUF) as the stack prepares them (reference_stack/engines/)."""
    from reference_stack.engines.llamacpp_build import LLAMA_SERVER
    from reference_stack.engines.model_files import GGUF_COPY

    return LLAMA_SERVER, GGUF_COPY


def edge_unavailable() -> str | None:
    """Why a private llama-server cannot start here (None: it can)."""
    server, gguf = binaries()
    if not server.exists():
        return f"llama-server is not built ({server}): run `servelab prepare`"
    if not gguf.exists():
        return f"the GGUF is missing ({gguf}): run `servelab prepare`"
    return None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass
class PrivateServer:
    """A llama-server this process started: its URL, how long it took to load, its memory."""

    ctx_size: int
    threads: int
    process: ChildServer | None = None
    url: str = ""
    load_s: float = 0.0
    notes: dict[str, Any] = field(default_factory=dict)

    def rss_bytes(self) -> int:
        """Resident memory of the server process now (weights + KV cache + buffers)."""
        import psutil

        return psutil.Process(self.process.pid).memory_info().rss

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited within 10 s."""
        if self.process is not None:
            self.process.stop()

    def __enter__(self) -> PrivateServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_private_server(
    ctx_size: int = 2048, threads: int = DEFAULT_THREADS, parallel: int = 1, host: str = "127.0.0.1"
) -> PrivateServer:
    """Start llama-server on a free port and time it from spawn to a healthy /health."""
    reason = edge_unavailable()
    if reason:
        raise RuntimeError(reason)
    server_bin, gguf = binaries()
    port = free_port(host)
    cmd = [
        str(server_bin),
        "--model",
        str(gguf),
        "--host",
        host,
        "--port",
        str(port),
        "--ctx-size",
        str(ctx_size),
        "--parallel",
        str(parallel),
        "--threads",
        str(threads),
        "--metrics",
        "--no-webui",
        "--alias",
        "smollm2-135m-instruct",
    ]
    server = PrivateServer(ctx_size=ctx_size, threads=threads, url=f"http://{host}:{port}")
    server.process = ChildServer(cmd, name="llama-server")
    start = time.perf_counter()
    server.process.start()
    try:  # llama-server answers /health with 503 while it loads
        server.process.wait_for_health(server.url + "/health", LOAD_TIMEOUT_S)
    except ChildServerError as exc:
        raise RuntimeError(f"{exc}\n(command: {' '.join(cmd)})") from None
    server.load_s = time.perf_counter() - start
    return server


def props(base_url: str) -> dict[str, Any]:
    """What llama-server says about itself: model file, quantization, context, slots."""
    data = httpx.get(base_url + "/props", timeout=5).json()
    settings = data.get("default_generation_settings", {})
    return {
        "model_path": data.get("model_path"),
        "model_ftype": data.get("model_ftype"),
        "n_ctx": settings.get("n_ctx"),
        "total_slots": data.get("total_slots"),
        "build_info": data.get("build_info"),
    }


def metrics(base_url: str) -> dict[str, float]:
    """llama-server's Prometheus counters (``llamacpp:*``), as a flat name -> value dict."""
    out = {}
    for line in httpx.get(base_url + "/metrics", timeout=5).text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def ask(client, prompt: str, max_tokens: int = 48, model: str = "smollm2-135m-instruct") -> dict:
    """One greedy chat completion through the ``openai`` SDK, with llama-server's timings.

    llama-server adds a ``timings`` block to every reply (prompt_n, prompt_ms, predicted_n,
    predicted_ms ...); the SDK keeps unknown fields in ``model_extra``.
    """
    start = time.perf_counter()
    reply = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": prompt}],
        max_tokens=max_tokens,
        temperature=0.0,
    )
    wall = time.perf_counter() - start
    return {
        "prompt": prompt,
        "text": reply.choices[0].message.content,
        "finish_reason": reply.choices[0].finish_reason,
        "usage": reply.usage.model_dump() if reply.usage else None,
        "timings": (reply.model_extra or {}).get("timings"),
        "wall_s": wall,
    }


# -- recorded data -------------------------------------------------------------------------------


def load_recording(folder: Path = LAB05) -> dict[str, Any]:
    """The recorded edge runs (``runs.json``; README.md says how they were measured)."""
    return json.loads((folder / "runs.json").read_text())


def load_devices(folder: Path = LAB05) -> pd.DataFrame:
    """Edge devices with their published memory and bandwidth (``devices.csv``, with sources)."""
    return pd.read_csv(folder / "devices.csv")
