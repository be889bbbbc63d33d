"""``python -m reference_stack.providers.cloud``: serve every region of the cloud stand-in.

One process, one port per region (from the catalog's ``standin_port``; ``--base-port`` moves
them all, ``--base-port 0`` picks free ports). Prints one JSON line
``{"ready": true, "ports": {"swedencentral": 8420, ...}}`` once all regions accept requests.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import date

from reference_stack.providers.cloud.routes import build_app
from reference_stack.providers.cloud.serving import PROVIDER, STANDIN_KEY, RegionServing
from reference_stack.providers.faults import FaultInjector, FaultPlan
from reference_stack.providers.server import bind, fail, serve_all
from reference_stack.providers.tokens import make_source
from servelab_base.catalog import SNAPSHOT_DATE, load
from servelab_base.config import get_settings


def parser() -> argparse.ArgumentParser:
    settings = get_settings()
    p = argparse.ArgumentParser(
        prog="python -m reference_stack.providers.cloud",
        description="Azure-OpenAI-style cloud platform stand-in",
    )
    p.add_argument("--host", default=settings.host)
    p.add_argument(
        "--base-port",
        type=int,
        default=settings.cloud_port,
        help="port of the first region; the others follow in catalog order (0: free)",
    )
    p.add_argument("--region", action="append", default=[], help="serve only these (repeatable)")
    p.add_argument("--source", choices=["engine", "scripted"], default="engine")
    p.add_argument("--engine-url", default=settings.vllm_url)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--faults", metavar="SCENARIO.yaml")
    p.add_argument("--as-of", type=date.fromisoformat, default=SNAPSHOT_DATE)
    p.add_argument("--api-key", action="append", default=[])
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
    catalog = load()
    regions = [r for r in catalog.regions(PROVIDER) if r.standin_port]
    unknown = set(args.region) - {r.region for r in regions}
    if unknown:
        fail(f"unknown region(s) {sorted(unknown)}; known: {[r.region for r in regions]}")
    first_port = min(r.standin_port for r in regions)
    source = make_source(args.source, seed=args.seed, engine_url=args.engine_url)
    faults = FaultInjector(FaultPlan.from_yaml(args.faults) if args.faults else FaultPlan())
    apps, sockets = {}, {}
    for region in regions:
        if args.region and region.region not in args.region:
            continue
        serving = RegionServing(
            region,
            source,
            catalog,
            seed=args.seed,
            as_of=args.as_of,
            api_keys=tuple(args.api_key) or (STANDIN_KEY,),
            faults=faults,
            latency_scale=args.latency_scale,
        )
        port = 0 if args.base_port == 0 else args.base_port + region.standin_port - first_port
        apps[region.region] = build_app(serving)
        sockets[region.region] = bind(args.host, port)
    asyncio.run(serve_all(apps, sockets, args.log_level))


if __name__ == "__main__":
    main()
