"""Warm kernels (servelab/grading/zygote.py): forked from a template that has imported the
kernel's libraries, and confined exactly like a kernel started from nothing."""

from __future__ import annotations

import asyncio
import json

import pytest
from grading_support import SANDBOX

from servelab.grading import zygote
from servelab.grading.sandbox import SandboxedKernelManager

pytestmark = pytest.mark.skipif(bool(SANDBOX), reason=f"grading sandbox unavailable: {SANDBOX}")

PROBE = r"""
import json, os, sys
status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines())
print(json.dumps({
    "warm": "pandas" in sys.modules,
    "uid": [os.getuid(), os.geteuid(), os.getgid(), os.getgroups()],
    "caps": status["CapEff"].strip(), "no_new_privs": status["NoNewPrivs"].strip(),
    "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    "env": sorted(os.environ), "cwd": os.getcwd(),
    "root": os.listdir("/root") if os.path.isdir("/root") else None,
}))
"""


def probe() -> dict:
    async def run() -> dict:
        km = SandboxedKernelManager(kernel_name="python3")
        await km.start_kernel()
        kc = km.client()
        kc.start_channels()
        out: list[str] = []
        try:
            await kc.wait_for_ready(timeout=120)
            await kc.execute_interactive(
                PROBE,
                timeout=120,
                output_hook=lambda m: (
                    out.append(m["content"].get("text", "")) if m["msg_type"] == "stream" else None
                ),
            )
        finally:
            kc.stop_channels()
            await km.shutdown_kernel(now=True)
        return json.loads("".join(out))

    return asyncio.run(run())


def test_a_warm_kernel_is_confined_like_a_cold_one(monkeypatch):
    monkeypatch.setenv(zygote.ENV_SWITCH, "1")
    warm = probe()
    monkeypatch.setenv(zygote.ENV_SWITCH, "0")
    cold = probe()
    assert warm.pop("warm") is True, "the kernel did not come from the warm template"
    assert cold.pop("warm") is False
    assert warm == cold
    assert warm["uid"][0] >= 1_500_000 and warm["caps"] == "0000000000000000"
    assert warm["no_new_privs"] == "1" and warm["pids"] == [1, 2]
