"""The Ray Data pipeline, end to end: on the embedded stack against the plain loop, against a
local server that counts requests in flight and fails each first attempt, and built with the
GPU path's vLLM engine config (built and planned, not run: there is no GPU here).

One Ray node serves the whole module: starting one costs seconds (its helper processes).
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter

import pytest
from aiohttp import web

from servelab.batch import gpu, loop, ray_pipeline
from servelab.batch.spec import ChatJob, Endpoint, endpoint
from servelab.labs.lab03_batch import SYSTEM_PROMPT, load_corpus

# a Ray node takes seconds to start: `make test-all` (and CI) run these, `make test` does not
pytestmark = [pytest.mark.slow, pytest.mark.system]


@pytest.fixture(scope="module")
def ray_node():
    ray_pipeline.start_ray()
    yield
    ray_pipeline.stop_ray()


@pytest.mark.stack
def test_the_pipeline_gives_the_loops_answers_on_the_stack(stack, ray_node):
    # llama.cpp's CPU kernels compute each sequence alone, so at temperature 0 its answers do
    # not depend on how many requests it batches: two Ray workers must match one plain loop
    docs = load_corpus(limit=6)
    job = ChatJob(SYSTEM_PROMPT, model=stack.model, max_tokens=8)
    target = endpoint("llamacpp", stack)
    seen = []
    processor = ray_pipeline.build(ray_pipeline.http_config(target, workers=2), job)
    by_ray = ray_pipeline.run(processor, docs, on_row=seen.append)
    by_loop = loop.run_loop(docs, job, target)
    assert by_ray == by_loop
    assert [r["id"] for r in by_ray] == [d["id"] for d in docs]
    assert sorted(r["id"] for r in seen) == sorted(d["id"] for d in docs)
    assert all(1 <= r["output_tokens"] <= 8 and r["prompt_tokens"] > 20 for r in by_ray)


class CountingServer:
    """An OpenAI-style chat endpoint on loopback, counting requests in flight. ``status=503``:
    each document's first request gets 503, later ones the user's text upper-cased;
    ``status=401``: every request gets 401."""

    def __init__(self, status: int = 503, delay_s: float = 0.2) -> None:
        self.status, self.delay_s = status, delay_s
        self.in_flight = self.max_in_flight = 0
        self.attempts: Counter[str] = Counter()
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        threading.Thread(target=self._serve, args=(ready,), daemon=True).start()
        ready.wait(10)

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.chat)
        self.runner = web.AppRunner(app)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()

    async def chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        text = body["messages"][-1]["content"]
        self.attempts[text] += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay_s)
        finally:
            self.in_flight -= 1
        if self.status == 401 or (self.status == 503 and self.attempts[text] == 1):
            error = {"error": {"message": f"HTTP {self.status}"}}
            return web.json_response(error, status=self.status)
        return web.json_response(
            {
                "choices": [{"message": {"content": text.upper()}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": len(text), "completion_tokens": 1},
            }
        )

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.fixture
def server():
    s = CountingServer()
    yield s
    s.close()


def test_workers_bound_requests_in_flight_and_failed_requests_are_retried(ray_node, server):
    docs = [{"id": f"d{i}", "text": f"message {i}"} for i in range(6)]
    target = Endpoint("counting", f"http://127.0.0.1:{server.port}/v1")
    config = ray_pipeline.http_config(target, workers=2, batch_size=2)
    rows = ray_pipeline.run(ray_pipeline.build(config, ChatJob("s", model="m")), docs)
    assert [r["text"] for r in rows] == [d["text"].upper() for d in docs]  # corpus order
    assert set(server.attempts.values()) == {2}  # each 503 retried once, then answered
    assert 1 <= server.max_in_flight <= 2  # two workers, one request each at a time


def test_an_error_answer_stops_the_job_naming_the_document(ray_node):
    server = CountingServer(status=401, delay_s=0)
    try:
        target = Endpoint("counting", f"http://127.0.0.1:{server.port}/v1")
        processor = ray_pipeline.build(
            ray_pipeline.http_config(target, workers=1), ChatJob("s", model="m")
        )
        with pytest.raises(Exception, match=r"document 'd0'.*HTTP 401"):
            ray_pipeline.run(processor, [{"id": "d0", "text": "hello"}])
        assert server.attempts["hello"] == 1  # a 401 is not retried
    finally:
        server.close()


def test_the_gpu_config_builds_the_same_pipeline(ray_node, monkeypatch):
    # what would run on 8 A100s: 2 replicas of Llama 3 70B AWQ, tensor parallel 4 each
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # Ray reads the model's config for telemetry
    config = gpu.engine_config("4xa100-40gb-llama3-70b-awq", gpus=8)
    job = ChatJob(SYSTEM_PROMPT, model="llama-3-70b-instruct-awq")
    processor = ray_pipeline.build(config, job)
    assert processor.config is config
    assert processor.list_stage_names() == [
        "ChatTemplateStage",
        "TokenizeStage",
        "vLLMEngineStage",
        "DetokenizeStage",
    ]
    engine = processor.get_stage_by_name("vLLMEngineStage")
    assert engine.fn_constructor_kwargs["model"] == "casperhansen/llama-3-70b-instruct-awq"
    assert engine.fn_constructor_kwargs["engine_kwargs"]["tensor_parallel_size"] == 4
    pool = engine.map_batches_kwargs["compute"]
    assert (pool.min_size, pool.max_size) == (2, 2)
    assert engine.map_batches_kwargs["accelerator_type"] == "A100-40G"
    import ray.data

    planned = processor(ray.data.from_items(load_corpus(limit=2)))  # lazy: nothing runs
    assert "vLLMEngineStageUDF" in str(planned)
    row = ray_pipeline._engine_request(job, {"id": "x", "text": "My parcel is late"})
    assert row["messages"] == job.messages("My parcel is late")
    assert row["sampling_params"] == {"temperature": 0.0, "max_tokens": 32}
