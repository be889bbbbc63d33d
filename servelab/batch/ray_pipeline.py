"""The corpus job as a Ray Data pipeline, with Ray's LLM batch API (``ray.data.llm``).

``build(config, job)`` turns a processor configuration into a pipeline stage that maps a
dataset of documents to a dataset of result rows. Which configuration decides where the model
runs, nothing else changes:

- ``http_config(endpoint, workers)``: Ray's HTTP request processor. Each of ``workers`` Ray
  actors sends its batch's requests one after the other to an engine that already runs (here the
  embedded stack), so at most ``workers`` requests are in flight; failed requests (connection
  errors, timeouts, 408/429/502/503/504) are retried with exponential backoff.
- ``servelab.batch.gpu.engine_config(profile)``: Ray's vLLM engine processor. Each replica is a
  vLLM engine on its own GPU(s) inside the Ray cluster; Ray tokenizes, batches and detokenizes.

``start_ray()`` starts a Ray node on this machine, on loopback only. On a cluster you would call
``ray.init(address="auto")`` instead; the pipeline is the same.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from servelab.batch.spec import ChatJob, Endpoint, result_row

#: object store for the pipeline's blocks: a corpus of short messages needs a few MB; Ray's
#: default (30 % of RAM) would reserve gigabytes of /dev/shm on a laptop
OBJECT_STORE_BYTES = 128 * 2**20
#: CPU reservation of one HTTP worker: it waits on the network, so a quarter core lets two fit
#: beside the pipeline's map tasks on a 2-core laptop (Ray's default, 1, would serialise them)
HTTP_WORKER_CPUS = 0.25
#: attempts after the first for a failed request, with backoff 0.5 s, 1 s, 2 s
RETRIES = 3
RETRY_WAIT_S = 0.5
#: seconds one request may take before it counts as failed (and is retried)
REQUEST_TIMEOUT_S = 60.0
RAY_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",  # offline: no usage report
    # Ray's switch for a node that is a whole cluster (named for laptops, read on every OS):
    # its processes then talk over 127.0.0.1, not over this machine's network address
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
}


class RayUnavailable(RuntimeError):
    """Ray is not installed, or could not start a node on this machine."""


def start_ray(num_cpus: int | None = None, attempts: int = 2) -> None:
    """Start a one-machine Ray node on 127.0.0.1 (nothing if this process already has one).

    Ray's node gives its Python helper processes about 15 s to start. On a machine busy with
    other work (load average far above the core count) they can miss it; a second attempt then
    finds their files in the page cache. RayUnavailable says so when both miss.
    """
    for key, value in RAY_ENV.items():
        os.environ.setdefault(key, value)
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise RayUnavailable(f"Ray is not installed ({exc}); `make setup` installs it") from exc
    if ray.is_initialized():
        return
    cores = os.cpu_count() or 1
    error: Exception | None = None
    for _ in range(attempts):
        try:
            ray.init(
                num_cpus=num_cpus or cores,
                include_dashboard=False,
                _node_ip_address="127.0.0.1",
                object_store_memory=OBJECT_STORE_BYTES,
                log_to_driver=False,
                logging_level=logging.WARNING,
            )
            break
        except Exception as exc:  # Ray raises a bare Exception when its node misses the window
            error = exc
            ray.shutdown()
    else:
        load = os.getloadavg()[0]
        raise RayUnavailable(
            f"Ray could not start a local node ({error}); the machine is busy (load average "
            f"{load:.0f} on {cores} cores) and Ray's helpers missed their start-up window"
        ) from error
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # progress is ours to report (run's on_row)
    logging.getLogger("ray.data").setLevel(logging.WARNING)


def stop_ray() -> None:
    """Stop the node ``start_ray`` started (its processes end with it)."""
    import ray

    ray.shutdown()


def http_config(
    target: Endpoint,
    workers: int = 2,
    batch_size: int = 2,
    retries: int = RETRIES,
    timeout_s: float = REQUEST_TIMEOUT_S,
):
    """Ray's HTTP request processor for ``target``: ``workers`` actors, each one request at a time.

    ``batch_size`` is how many rows one actor takes per call: small batches spread a small corpus
    over the workers and report progress often; a large corpus wants larger ones.
    """
    import aiohttp
    from ray.data.llm import HttpRequestProcessorConfig

    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    return HttpRequestProcessorConfig(
        url=target.chat_url,
        headers=target.request_headers(),
        batch_size=batch_size,
        concurrency=workers,
        max_retries=retries,
        base_retry_wait_time_in_s=RETRY_WAIT_S,
        session_factory=functools.partial(
            aiohttp.ClientSession, timeout=aiohttp.ClientTimeout(total=timeout_s)
        ),
        # a fixed pool: all workers from the start (an int would autoscale from 1)
        http_request_stage={"concurrency": (workers, workers), "num_cpus": HTTP_WORKER_CPUS},
    )


# Row functions run inside Ray's workers: module-level so they pickle by reference.


def _http_request(job: ChatJob, row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "payload": job.body(row["text"])}


def _http_result(row: dict[str, Any]) -> dict[str, Any]:
    return {**result_row(row, row["http_response"]), "index": row["index"]}


def _engine_request(job: ChatJob, row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "messages": job.messages(row["text"]), "sampling_params": job.sampling()}


def _engine_result(row: dict[str, Any]) -> dict[str, Any]:
    response = {
        "choices": [{"message": {"content": row["generated_text"]}, "finish_reason": None}],
        "usage": {
            "prompt_tokens": row["num_input_tokens"],
            "completion_tokens": row["num_generated_tokens"],
        },
    }
    return {**result_row(row, response), "index": row["index"]}


def build(config, job: ChatJob):
    """The job as a Ray Data processor: a dataset of documents in, a dataset of result rows out.

    ``config`` is an HTTP request processor config (``http_config``) or a vLLM engine processor
    config (``servelab.batch.gpu.engine_config``); the prompt, sampling and rows are the same.
    """
    from ray.data.llm import HttpRequestProcessorConfig, build_processor

    if isinstance(config, HttpRequestProcessorConfig):
        return build_processor(
            config, preprocess=functools.partial(_http_request, job), postprocess=_http_result
        )
    return build_processor(
        config, preprocess=functools.partial(_engine_request, job), postprocess=_engine_result
    )


def _plain(row: Mapping[str, Any]) -> dict[str, Any]:
    """A result row with Python types (Ray hands back numpy integers)."""
    out = dict(row)
    for key in ("index", "prompt_tokens", "output_tokens"):
        out[key] = int(out[key])
    return out


def run(
    processor,
    docs: Sequence[Mapping[str, Any]],
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Stream ``docs`` through ``processor``; rows come back in corpus order.

    ``on_row`` sees each row as Ray finishes it (in completion order): the job's progress.
    """
    import ray.data

    items = [{**doc, "index": i} for i, doc in enumerate(docs)]
    rows = []
    for row in processor(ray.data.from_items(items)).iter_rows():
        row = _plain(row)
        rows.append(row)
        if on_row is not None:
            on_row(row)
    rows.sort(key=lambda r: r["index"])
    for row in rows:
        del row["index"]
    return rows
