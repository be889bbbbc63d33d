"""``python -m reference_stack.scripted --port N [...]``: run the scripted upstream.

Prints one line ``scripted upstream listening on http://HOST:PORT`` once it accepts connections
(with ``--port 0`` that line is the only way to learn the port), then serves until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from .recorder import DEFAULT_KEEP, Recorder
from .script import Script
from .server import Upstream, serve


def build_parser() -> argparse.ArgumentParser:
    d = Script()
    p = argparse.ArgumentParser(
        prog="python -m reference_stack.scripted",
        description="Scripted OpenAI-compatible upstream with exact timing.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    p.add_argument("--model", default="scripted", help="model id listed by /v1/models")
    p.add_argument("--ttft-ms", type=float, default=d.ttft_ms)
    p.add_argument("--itl-ms", type=float, default=d.itl_ms)
    p.add_argument("--chunks", type=int, default=d.chunks)
    p.add_argument("--tokens-per-chunk", type=int, default=d.tokens_per_chunk)
    p.add_argument("--jitter-ms", type=float, default=d.jitter_ms)
    p.add_argument(
        "--role-chunk-ms",
        type=float,
        default=d.role_chunk_ms,
        help=">= 0: send a role-only first chunk at this time",
    )
    p.add_argument("--no-usage", action="store_true", help="never send usage")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument(
        "--max-running",
        type=int,
        default=0,
        help="> 0: at most N responses at once, the rest queue FIFO (a knee)",
    )
    p.add_argument("--record", metavar="FILE.jsonl", help="append one JSON line per request")
    p.add_argument(
        "--keep",
        type=int,
        default=DEFAULT_KEEP,
        help="records kept in memory for GET /debug/requests",
    )
    # asyncio's own loop by default: its timers read a nanosecond clock and never fire early;
    # uvloop's (libuv) work in whole milliseconds and were measured sending chunks up to 1 ms
    # before their due time, for no CPU saving (about 30 us per chunk either way, 64 streams).
    p.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    return p


def script_from_args(args: argparse.Namespace) -> Script:
    return Script(
        ttft_ms=args.ttft_ms,
        itl_ms=args.itl_ms,
        chunks=args.chunks,
        tokens_per_chunk=args.tokens_per_chunk,
        jitter_ms=args.jitter_ms,
        role_chunk_ms=args.role_chunk_ms,
        usage=not args.no_usage,
        seed=args.seed,
    )


async def run(args: argparse.Namespace) -> None:
    recorder = Recorder(args.record, keep=args.keep)
    upstream = Upstream(
        script_from_args(args), recorder, model=args.model, max_running=args.max_running
    )
    server = await serve(upstream, args.host, args.port)
    port = server.sockets[0].getsockname()[1]
    print(f"scripted upstream listening on http://{args.host}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    recorder.close()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        script_from_args(args)  # validates the timing before anything starts
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.loop == "uvloop":
        import uvloop

        uvloop.run(run(args))
    else:
        asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
