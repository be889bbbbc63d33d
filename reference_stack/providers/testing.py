"""Stand-ins in a background thread on a free loopback port: for tests, benchmarks, notebooks.

    with managed_standin(seed=7) as (url, serving):
        client = openai.OpenAI(base_url=url + "/v1", api_key=MANAGED_KEY)

Real HTTP and the real app; only the process boundary is skipped (the stand-ins' own entry
points are exercised separately). The scripted token source is the default, so no engine is
needed; pass ``source=`` for the engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

from reference_stack.providers.cloud.routes import build_app as build_cloud
from reference_stack.providers.cloud.serving import PROVIDER as CLOUD_PROVIDER
from reference_stack.providers.cloud.serving import STANDIN_KEY as CLOUD_KEY
from reference_stack.providers.cloud.serving import RegionServing
from reference_stack.providers.faults import FaultInjector, FaultPlan
from reference_stack.providers.managed.routes import build_app as build_managed
from reference_stack.providers.managed.serving import STANDIN_KEY as MANAGED_KEY
from reference_stack.providers.managed.serving import ManagedServing
from reference_stack.providers.server import serve_in_thread
from reference_stack.providers.tokens import ScriptedSource, TokenSource
from servelab_base.catalog import SNAPSHOT_DATE, load

__all__ = ["CLOUD_KEY", "MANAGED_KEY", "cloud_standin", "managed_standin"]


@contextmanager
def managed_standin(
    seed: int = 0,
    *,
    source: TokenSource | None = None,
    plan: FaultPlan | None = None,
    latency_scale: float = 0.0,
    as_of: date = SNAPSHOT_DATE,
) -> Iterator[tuple[str, ManagedServing]]:
    serving = ManagedServing(
        source or ScriptedSource(seed),
        load(),
        seed=seed,
        as_of=as_of,
        faults=FaultInjector(plan),
        latency_scale=latency_scale,
    )
    with serve_in_thread(build_managed(serving)) as url:
        yield url, serving


@contextmanager
def cloud_standin(
    region: str = "swedencentral",
    seed: int = 0,
    *,
    source: TokenSource | None = None,
    plan: FaultPlan | None = None,
    latency_scale: float = 0.0,
    as_of: date = SNAPSHOT_DATE,
) -> Iterator[tuple[str, RegionServing]]:
    catalog = load()
    serving = RegionServing(
        catalog.region(CLOUD_PROVIDER, region),
        source or ScriptedSource(seed),
        catalog,
        seed=seed,
        as_of=as_of,
        faults=FaultInjector(plan),
        latency_scale=latency_scale,
    )
    with serve_in_thread(build_cloud(serving)) as url:
        yield url, serving
