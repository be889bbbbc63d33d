"""Replica pools over real processes: the gateway balances, drains a killed replica with no
failed client request, and readmits it once it is healthy again.

Two pools in one gateway:

- ``scripted``: two scripted upstreams (reference_stack/scripted), whose TTFT a request sets
  (``"scripted": {"ttft_ms": ...}`` in its body, which the gateway forwards): exact timing, so
  a test knows which requests are still before their first token when a replica is killed;
- ``engines``: two llama-server processes started from reference_stack/profiles/
  cpu-replicas.yaml (its own command lines, on free ports), whose /metrics report their queue:
  the part of the load only the engine can see.

Which member served a request is the ``x-servelab-upstream`` header (``scripted/1`` ...), the
gateway's /health lists each member's pool membership and load, and the audit log records every
failover.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from gateway_support import LEARNER_KEY, parse_sse, read_jsonl, write_keys, write_table

from reference_stack.gateway.process import GatewayProcess
from reference_stack.scripted import ScriptedUpstream
from reference_stack.stack import standalone

MESSAGES = [{"role": "user", "content": "Which replica answers?"}]
CHUNKS = 6
#: A TTFT long enough that requests are surely still waiting for their first token when a
#: replica is killed 0.5 s after they were sent, short enough to keep the test quick.
SLOW_TTFT_MS = 1500
#: How long a state change the probes must notice may take (they run every 0.1 s here).
NOTICE_S = 15.0


def pool(*base_urls: str) -> dict:
    return {
        "kind": "openai",
        "replicas": [url + "/v1" for url in base_urls],
        "region": "local",
        "jurisdiction": "on-prem",
        "price": {"input_per_mtok": 0.0, "output_per_mtok": 0.0},
        "retention": {"days": 0},
    }


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gw-replicas")
    missing = standalone.missing("cpu-replicas", "replica-1")
    if missing:
        pytest.fail(f"{missing[0]} is missing: run `servelab prepare`")
    a = ScriptedUpstream(ttft_ms=10, itl_ms=2, chunks=CHUNKS).start()
    b = ScriptedUpstream(ttft_ms=10, itl_ms=2, chunks=CHUNKS).start()
    engines = [standalone.start("cpu-replicas", name) for name in ("replica-1", "replica-2")]
    started = {"a": a, "b": b}
    try:
        routing = write_table(
            tmp / "routing.yaml",
            {"scripted": pool(a.base_url, b.base_url), "engines": pool(*(e.url for e in engines))},
            {"ll": ["scripted"], "rr": ["scripted"], "engines": ["engines"]},
        )
        table = routing.read_text().replace("  rr:\n", "  rr:\n    balance: round-robin\n")
        routing.write_text(table)
        audit = tmp / "audit.jsonl"
        with GatewayProcess(
            routing=routing,
            keys=write_keys(tmp / "keys.yaml"),
            audit=audit,
            replica_probe_interval_s=0.1,
            replica_unhealthy_threshold=2,
            connect_timeout_s=2.0,
        ) as gw:
            yield {"gw": gw, "audit": audit, "scripted": started, "engines": engines}
            assert "Traceback" not in gw.read_log()
    finally:
        for process in started.values():
            process.stop()
        for engine in engines:
            engine.stop()


def chat(env, alias: str, stream: bool = False, timeout: float = 30, **body) -> httpx.Response:
    return httpx.post(
        env["gw"].base_url + "/v1/chat/completions",
        json={"model": alias, "messages": MESSAGES, "stream": stream, **body},
        headers={"authorization": f"Bearer {LEARNER_KEY}", "x-request-id": uuid.uuid4().hex},
        timeout=timeout,
    )


def served_by(reply: httpx.Response) -> str:
    assert reply.status_code == 200, reply.text
    return reply.headers["x-servelab-upstream"]


def whole(reply: httpx.Response, stream: bool) -> bool:
    """A complete answer: a stream with every chunk and one [DONE], no error event."""
    if reply.status_code != 200:
        return False
    if not stream:
        return bool(reply.json()["choices"][0]["message"]["content"])
    data = parse_sse(reply.text)
    chunks = [json.loads(d) for d in data if d != "[DONE]"]
    content = sum(1 for c in chunks if c.get("choices") and c["choices"][0]["delta"].get("content"))
    return data[-1] == "[DONE]" and data.count("[DONE]") == 1 and content == CHUNKS


def health(env) -> dict:
    return httpx.get(env["gw"].base_url + "/health", timeout=10).json()


def wait_for(env, test, what: str) -> dict:
    deadline = time.monotonic() + NOTICE_S
    while time.monotonic() < deadline:
        state = health(env)
        if test(state):
            return state
        time.sleep(0.05)
    raise AssertionError(f"the gateway never showed {what}: {health(env)}")


def test_round_robin_alternates_and_least_load_shares_an_idle_pool(env):
    for alias in ("rr", "ll"):
        order = [served_by(chat(env, alias)) for _ in range(6)]
        assert sorted(set(order)) == ["scripted/1", "scripted/2"], order
        assert all(x != y for x, y in zip(order, order[1:], strict=False)), order


def test_least_load_avoids_the_busy_replica_and_round_robin_does_not(env):
    """The constructed load: one slow request holds a replica; load-aware sends everything
    else to the other one, round-robin still sends half of it to the busy one."""
    slow: dict = {}
    holder = threading.Thread(
        target=lambda: slow.update(reply=chat(env, "ll", scripted={"ttft_ms": 3000}))
    )
    holder.start()
    state = wait_for(
        env,
        lambda h: sum(h["replicas"][m]["in_flight"] for m in ("scripted/1", "scripted/2")) == 1,
        "the slow request in flight",
    )
    busy = next(m for m in ("scripted/1", "scripted/2") if state["replicas"][m]["in_flight"])
    idle = ({"scripted/1", "scripted/2"} - {busy}).pop()
    assert [served_by(chat(env, "ll")) for _ in range(4)] == [idle] * 4
    assert sorted(served_by(chat(env, "rr")) for _ in range(4)) == sorted([busy, idle] * 2)
    holder.join(30)
    assert served_by(slow["reply"]) == busy


def test_least_load_reads_the_engines_own_queue(env):
    """A client that calls replica 1 directly keeps its engine busy; the gateway has nothing
    in flight anywhere, so only llama-server's /metrics (requests_processing) can tell it."""
    first = env["engines"][0]
    stop = threading.Event()

    def hog() -> None:
        body = {
            "model": "smollm2-135m-instruct",
            "messages": [{"role": "user", "content": "Tell a very long story."}],
            "max_tokens": 1500,
            "ignore_eos": True,
            "stream": True,
        }
        with httpx.stream("POST", first.url + "/v1/chat/completions", json=body, timeout=60) as r:
            for _ in r.iter_bytes():
                if stop.is_set():
                    return  # closing the connection stops the generation

    thread = threading.Thread(target=hog)
    thread.start()
    try:
        wait_for(
            env,
            lambda h: (
                (h["replicas"]["engines/1"]["engine_queue"] or 0) >= 1
                and h["replicas"]["engines/1"]["in_flight"] == 0
            ),
            "replica 1's engine busy with another client's request",
        )
        order = [served_by(chat(env, "engines", max_tokens=2, timeout=60)) for _ in range(3)]
        assert order == ["engines/2"] * 3
    finally:
        stop.set()
        thread.join(60)


def test_a_killed_replica_fails_over_before_the_first_byte_and_comes_back(env):
    a, b = env["scripted"]["a"], env["scripted"]["b"]
    port = int(a.base_url.rsplit(":", 1)[1])
    # 1. eight requests, streamed and not, all still before their first token at the kill
    cases = [i % 2 == 0 for i in range(8)]
    with ThreadPoolExecutor(len(cases)) as pool_:
        futures = [
            pool_.submit(chat, env, "ll", stream, scripted={"ttft_ms": SLOW_TTFT_MS})
            for stream in cases
        ]
        time.sleep(0.5)
        wait_for(env, lambda h: h["replicas"]["scripted/1"]["in_flight"] >= 1, "work on 1")
        a.proc.kill()  # SIGKILL: no goodbye, connections reset
        replies = [f.result() for f in futures]
    assert all(whole(r, stream) for r, stream in zip(replies, cases, strict=True)), [
        r.text[:200] for r in replies
    ]
    assert {served_by(r) for r in replies} == {"scripted/2"}
    rerouted = [
        rec
        for rec in read_jsonl(env["audit"])
        if rec["decision"] == "rerouted"
        and [x["upstream"] for x in rec["attempts"]] == ["scripted/1", "scripted/2"]
    ]
    assert len(rerouted) >= 1  # the kill did hit requests in flight there, and they moved
    # 2. the dead replica leaves the pool; meanwhile and after, every request is answered
    assert all(served_by(chat(env, "rr")) == "scripted/2" for _ in range(4))
    wait_for(env, lambda h: not h["replicas"]["scripted/1"]["in_pool"], "replica 1 out")
    for alias in ("rr", "ll"):
        for _ in range(3):
            reply = chat(env, alias)
            assert served_by(reply) == "scripted/2" and reply.headers["x-servelab-attempts"] == "1"
    # 3. back on its port: it rejoins, its breaker closed, and takes its share again
    env["scripted"]["killed"] = a
    env["scripted"]["a"] = ScriptedUpstream(ttft_ms=10, itl_ms=2, chunks=CHUNKS, port=port).start()
    wait_for(
        env,
        lambda h: (
            h["replicas"]["scripted/1"]["in_pool"] and h["upstreams"]["scripted/1"] == "closed"
        ),
        "replica 1 back, breaker closed",
    )
    order = [served_by(chat(env, "rr")) for _ in range(4)]
    assert sorted(order) == ["scripted/1", "scripted/1", "scripted/2", "scripted/2"], order
    assert b.proc is not None  # the other replica served throughout
