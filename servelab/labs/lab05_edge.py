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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import matplotlib.pyplot as plt
import pandas as pd

from reference_stack.engines import sampling
from servelab import live
from servelab.doctor import Check
from servelab.labs.show import figure, knobs
from servelab_base.child_server import ChildServer, ChildServerError
from servelab_base.config import get_settings
from servelab_base.paths import DATASETS

LAB05 = DATASETS / "lab05"
#: What a live section may take before the recording is shown instead: loading the 98 MB GGUF
#: and answering 32 tokens takes 1-3 s on a quiet laptop.
LIVE_SECONDS = 30.0
#: The live questions: ones this 135M model answers right, greedily.
STACK_QUESTION = "What is the capital of Japan? Answer in one word."
PRIVATE_QUESTION = "What is the capital of Italy? Answer in one word."
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
        *sampling.llama_server_flags(),  # the model card's sampling, as the stack's server
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


# -- live sections: bounded in time, the recording when llama-server is slow or not there -------
def private_server_check() -> Check:
    """The pre-flight line for the private llama-server this lab starts itself."""
    why_not = edge_unavailable()
    detail = "can start here" if why_not is None else why_not
    return Check("private llama-server", why_not is None, detail, fix="run `servelab prepare`")


def live_stack_server() -> live.Outcome:
    """The stack's llama-server: what it says about itself, one greedy answer with its
    ``timings``, and its token counters; the recording's first probe when it is not there."""
    settings = get_settings()
    max_tokens = live.scaled(16, 8)

    def work(progress: live.Progress) -> dict[str, Any]:
        from openai import OpenAI

        client = OpenAI(
            base_url=settings.llamacpp_url + "/v1",
            api_key="local",
            max_retries=0,
            timeout=LIVE_SECONDS,
        )
        about = props(settings.llamacpp_url)
        answer = ask(client, STACK_QUESTION, max_tokens=max_tokens)
        counters = metrics(settings.llamacpp_url)
        return {
            "props": about,
            "answer": answer,
            "counters": {k: v for k, v in counters.items() if "tokens" in k},
        }

    def recorded() -> dict[str, Any]:
        rec = load_recording()
        probe = rec["probes"][0]
        answer = {"text": probe["answer"], "timings": probe["timings"]}
        return {"props": rec["servers"][0]["props"], "answer": answer, "counters": None}

    return live.run(
        "the stack's llama-server",
        work,
        seconds=LIVE_SECONDS,
        needs=["llamacpp"],
        recorded=recorded,
    )


def show_stack_server(outcome: live.Outcome) -> None:
    """Print what ``live_stack_server`` found (live or recorded)."""
    found = outcome.value
    if found is None:
        return
    print("props:", found["props"])
    print("answer:", repr(found["answer"]["text"]))
    print("timings:", found["answer"]["timings"])
    if found["counters"] is not None:
        print("token counters:", found["counters"])


def live_private_server(ctx_size: int = 2048) -> live.Outcome:
    """Start a private llama-server, time its load, read its memory, ask one question, stop it;
    the recording's server of the same context size when that is not possible here."""
    max_tokens = live.scaled(32, 12)

    def work(progress: live.Progress) -> dict[str, Any]:
        from openai import OpenAI

        with start_private_server(ctx_size=ctx_size) as server:
            client = OpenAI(
                base_url=server.url + "/v1", api_key="local", max_retries=0, timeout=LIVE_SECONDS
            )
            rss = server.rss_bytes()  # idle, as the recording measured it
            reply = ask(client, PRIVATE_QUESTION, max_tokens=max_tokens)
            return {
                "load_s": server.load_s,
                "rss_bytes": rss,
                "text": reply["text"],
                "timings": reply["timings"],
            }

    def recorded() -> dict[str, Any] | None:
        rec = load_recording()
        same = [s for s in rec["servers"] if s["ctx_size"] == ctx_size and s["threads"] == 1]
        if not same:  # recorded at 1,024-8,192 tokens only
            return None
        server, probe = same[0], rec["probes"][0]
        return {
            "load_s": server["load_s"],
            "rss_bytes": server["rss_idle_bytes"],
            "text": probe["answer"],
            "timings": probe["timings"],
        }

    return live.run("a private llama-server", work, seconds=LIVE_SECONDS, recorded=recorded)


def show_private_server(outcome: live.Outcome) -> None:
    """Print the load time, memory and decode speed ``live_private_server`` found."""
    found = outcome.value
    if found is None:
        return
    print(f"loaded in {found['load_s'] * 1000:.0f} ms, RSS {found['rss_bytes'] / 2**20:.0f} MiB")
    print("answer:", repr(found["text"]))
    print(
        f"decode {found['timings']['predicted_per_second']:.1f} tok/s (llama-server's own timing)"
    )


def fit_explorer(
    devices: pd.DataFrame,
    models: list[str],
    memory_needed_bytes: Callable[..., float],
    fits: Callable[[float, float, float], bool],
) -> Any:
    """Knobs: a device, a context length, the app's share of memory and the bits per weight;
    one bar per model, green when YOUR ``fits`` says it fits (``memory_needed_bytes`` is yours
    too)."""
    import ipywidgets as widgets

    from servelab.labs import sizing

    by_name = devices.set_index("device")

    def draw(device: str, context_tokens: int, usable_fraction: float, bits: float) -> None:
        dev = by_name.loc[device]
        needs = {
            m: memory_needed_bytes(sizing.MODELS[m], bits, context_tokens) / 1e9 for m in models
        }
        fig, ax = plt.subplots(figsize=(7, 3), layout="constrained")
        colours = [
            "tab:green" if fits(gb * 1e9, dev.memory_gb, usable_fraction) else "tab:red"
            for gb in needs.values()
        ]
        ax.barh(list(needs), list(needs.values()), color=colours)
        budget = dev.memory_gb * usable_fraction
        ax.axvline(
            budget, color="black", ls="--", label=f"{usable_fraction:.0%} of {dev.memory_gb:g} GB"
        )
        ax.set_xlabel("GB (weights + KV cache of one sequence)")
        ax.set_title(f"{device}, {context_tokens:,} tokens, {bits} bits/weight")
        ax.legend(loc="lower right")
        figure(fig)
        fitting = [m for m, gb in needs.items() if fits(gb * 1e9, dev.memory_gb, usable_fraction)]
        print(f"fits in {budget:.1f} GB: {', '.join(fitting) or 'none'}")

    return knobs(
        draw,
        device=widgets.Dropdown(options=list(devices.device), description="device"),
        context_tokens=widgets.IntSlider(
            4096, 512, 32768, step=512, description="context", continuous_update=False
        ),
        usable_fraction=widgets.FloatSlider(
            0.5, min=0.1, max=1.0, step=0.05, description="app share", continuous_update=False
        ),
        bits=widgets.Dropdown(options=[4.5, 5.5, 8.5, 16], value=4.5, description="bits/weight"),
    )
