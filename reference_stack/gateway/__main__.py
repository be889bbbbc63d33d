"""Run the gateway: ``python -m reference_stack.gateway [--port N] [--routing F] [--keys F]``.

Other commands:
  ``python -m reference_stack.gateway check``     validate routing.yaml and keys.yaml, then exit
  ``python -m reference_stack.gateway new-key``   print a new random key and the hash to store

Served by uvicorn with uvloop (a libuv event loop) and httptools (the HTTP parser of Node.js):
the fastest combination uvicorn offers, and no access log (one log line per request costs more
than relaying the request's chunks). Failovers and refusals are logged. The httptools protocol
is uvicorn's own with the limits uvicorn lacks (edge.py: header deadline and size, connection
cap).
"""

from __future__ import annotations

import argparse
import logging
import resource
import socket
import sys
from pathlib import Path

from pydantic import ValidationError

from .auth import hash_key, new_key
from .settings import Settings

#: File descriptors kept for everything but client and upstream connections (the listening
#: socket, the audit log, the event loop's own, imports).
RESERVED_FDS = 64

log = logging.getLogger("servelab.gateway")


def connection_cap(wanted: int) -> int:
    """``wanted`` client connections, or fewer if the open-file limit cannot hold them: each
    streamed request holds two sockets (the client's and the upstream's). The soft limit is
    raised to the hard one first, as Go's runtime does for every program."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY:
        return wanted
    fits = max(1, (soft - RESERVED_FDS) // 2)
    if fits < wanted:
        log.warning("max_connections lowered from %d to %d: open-file limit %d", wanted, fits, soft)
    return min(wanted, fits)


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {
        name: value
        for name, value in (
            ("host", args.host),
            ("port", args.port),
            ("routing_file", args.routing),
            ("keys_file", args.keys),
            ("audit_file", args.audit),
            ("mode", args.mode),
            ("force_failover", True if args.force_failover else None),
        )
        if value is not None
    }
    return Settings(**overrides)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m reference_stack.gateway", description="servelab's OpenAI-compatible gateway"
    )
    parser.add_argument(
        "command", nargs="?", default="serve", choices=["serve", "check", "new-key"]
    )
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--routing", type=Path, help="routing table (default: routing.yaml)")
    parser.add_argument("--keys", type=Path, help="key file (default: keys.yaml)")
    parser.add_argument("--audit", type=Path, help="audit log (JSONL, appended)")
    parser.add_argument("--mode", choices=["local", "production"])
    parser.add_argument(
        "--force-failover",
        action="store_true",
        help="fail every request's first attempt (teaching/testing)",
    )
    args = parser.parse_args(argv)

    if args.command == "new-key":
        key = new_key()
        print(
            f"key (give to its owner, store nowhere): {key}\nsha256 (for keys.yaml): "
            f"{hash_key(key)}"
        )
        return 0

    from .app import create_app, load_config
    from .edge import EdgeLimits, edge_protocol

    try:
        settings = _settings(args)
        if args.command == "check":
            config = load_config(settings)
            print(
                f"ok: {len(config.table.upstreams)} upstreams, {len(config.table.models)} "
                f"models, {len(config.table.data_classes)} data classes"
            )
            return 0
        app = create_app(settings)
    except (ValueError, ValidationError) as exc:
        print(f"gateway: cannot start: {exc}", file=sys.stderr)
        return 2

    import uvicorn

    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Bind here so that --port 0 works: the line below is how a parent learns the port.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as exc:
        print(f"gateway: cannot listen on {settings.host}:{settings.port}: {exc}", file=sys.stderr)
        return 2
    port = sock.getsockname()[1]
    print(f"servelab gateway listening on http://{settings.host}:{port}", flush=True)
    limits = EdgeLimits(
        header_timeout_s=settings.header_timeout_s,
        max_header_bytes=settings.max_header_bytes,
        max_connections=connection_cap(settings.max_connections),
        overload_retry_after_s=settings.overload_retry_after_s,
    )
    config = uvicorn.Config(
        app,
        loop="uvloop",
        http=edge_protocol(limits, app.state.lag),
        access_log=False,
        log_level=settings.log_level,
        timeout_keep_alive=settings.keep_alive_timeout_s,
        timeout_graceful_shutdown=5,
    )
    uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
