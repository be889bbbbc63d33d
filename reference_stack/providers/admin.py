"""/health and the run-time admin endpoints every stand-in serves (loopback only, no auth).

- ``GET  /health``            200 when ready, with what the stand-in is and its token source
- ``GET  /admin/faults``      the current fault plan and how many requests it has numbered
- ``POST /admin/faults``      install a plan (JSON of faults.FaultPlan); numbering restarts at 0
- ``DELETE /admin/faults``    remove all faults
- ``GET  /admin/faults/log``  the faults injected so far (index, kinds, status, model ...)
- ``POST /admin/limits``      ``{"rpm": 60, "tpm": 10000}``: override the catalog's limits
- ``DELETE /admin/limits``    back to the catalog's limits
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter
from pydantic import BaseModel, Field

from reference_stack.providers.faults import FaultInjector, FaultPlan


class LimitsOverride(BaseModel):
    rpm: int | None = Field(None, ge=1)
    tpm: int | None = Field(None, ge=1)


def admin_router(
    faults: list[FaultInjector],
    set_limits: Callable[[int | None, int | None], dict],
    describe: Callable[[], dict],
) -> APIRouter:
    """The shared endpoints; ``faults`` may hold several injectors (one per region) that a plan
    is installed into together."""
    router = APIRouter()

    @router.get("/health")
    async def health() -> dict:
        return {"status": "ok", **describe()}

    @router.get("/admin/faults")
    async def get_faults() -> dict:
        return {"plan": faults[0].plan.model_dump(), "requests_seen": [f.count for f in faults]}

    @router.post("/admin/faults")
    async def set_faults(plan: FaultPlan) -> dict:
        for f in faults:
            f.load(plan)
        return {"plan": plan.model_dump(), "requests_seen": 0}

    @router.delete("/admin/faults")
    async def clear_faults() -> dict:
        for f in faults:
            f.load(FaultPlan())
        return {"plan": FaultPlan().model_dump()}

    @router.get("/admin/faults/log")
    async def fault_log() -> dict:
        return {"log": [entry for f in faults for entry in f.log]}

    @router.post("/admin/limits")
    async def override_limits(body: LimitsOverride) -> dict:
        return {"limits": set_limits(body.rpm, body.tpm)}

    @router.delete("/admin/limits")
    async def reset_limits() -> dict:
        return {"limits": set_limits(None, None)}

    return router
