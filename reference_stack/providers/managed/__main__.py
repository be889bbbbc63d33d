"""``python -m reference_stack.providers.managed``: serve the managed-API stand-in.

Prints one JSON line ``{"ready": true, "ports": {"managed": 8410}}`` once it accepts requests.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import date

from reference_stack.providers.faults import FaultInjector, FaultPlan
from reference_stack.providers.managed.routes import build_app
from reference_stack.providers.managed.serving import STANDIN_KEY, ManagedServing
from reference_stack.providers.server import bind, serve_all
from reference_stack.providers.tokens import make_source
from servelab_base.catalog import SNAPSHOT_DATE, load
from servelab_base.config import get_settings


def parser() -> argparse.ArgumentParser:
    settings = get_settings()
    p = argparse.ArgumentParser(
        prog="python -m reference_stack.providers.managed",
        description="OpenAI-style managed API stand-in",
    )
    p.add_argument("--host", default=settings.host)
    p.add_argument("--port", type=int, default=settings.managed_port, help="0: any free port")
    p.add_argument(
        "--source",
        choices=["engine", "scripted"],
        default="engine",
        help="engine: the local vLLM (real tokens); scripted: seeded, engine-free",
    )
    p.add_argument("--engine-url", default=settings.vllm_url)
    p.add_argument("--seed", type=int, default=0, help="seeds the scripted tokens and the timing")
    p.add_argument("--faults", metavar="SCENARIO.yaml", help="fault plan to start with")
    p.add_argument(
        "--as-of",
        type=date.fromisoformat,
        default=SNAPSHOT_DATE,
        help="catalog date: models released later are not served",
    )
    p.add_argument(
        "--api-key",
        action="append",
        default=[],
        help=f"accepted key (repeatable; default {STANDIN_KEY})",
    )
    p.add_argument(
        "--latency-scale",
        type=float,
        default=1.0,
        help="multiply the modelled delays (0: no shaping, 1: the profile)",
    )
    p.add_argument("--log-level", default="warning")
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    source = make_source(args.source, seed=args.seed, engine_url=args.engine_url)
    plan = FaultPlan.from_yaml(args.faults) if args.faults else FaultPlan()
    serving = ManagedServing(
        source,
        load(),
        seed=args.seed,
        as_of=args.as_of,
        api_keys=tuple(args.api_key) or (STANDIN_KEY,),
        faults=FaultInjector(plan),
        latency_scale=args.latency_scale,
    )
    sock = bind(args.host, args.port)
    asyncio.run(serve_all({"managed": build_app(serving)}, {"managed": sock}, args.log_level))


if __name__ == "__main__":
    main()
