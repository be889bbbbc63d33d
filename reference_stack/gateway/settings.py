"""The gateway's one settings object: environment (prefix ``SERVELAB_GATEWAY_``) -> Settings.

Everything tunable lives here, each default next to the reason for its value. The routing table
(``routing.yaml``) and the key file (``keys.yaml``) are data, loaded and validated at start-up by
``routing.py`` and ``auth.py``; this object only says where they are.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, computed_field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from servelab_base.config import GATEWAY_PORT
from servelab_base.paths import CACHE

HERE = Path(__file__).resolve().parent

#: 1 MiB of JSON holds about 250k tokens of English text, more than any context window served
#: here (SmolLM2: 8,192 tokens; Llama 3: 8,192), so a larger body is a mistake or an attack.
MAX_BODY_BYTES = 1024 * 1024

#: Largest ``max_tokens`` accepted when an alias sets no limit of its own: the 8,192-token
#: context of SmolLM2-135M and Llama 3 8B, the largest any output can be on the embedded stack.
MAX_OUTPUT_TOKENS = 8192

#: Connect timeout per attempt. Loopback connects in well under 1 ms and a cross-region TLS
#: handshake in about 100-300 ms, so 2 s only fires when the upstream is really unreachable.
CONNECT_TIMEOUT_S = 2.0
#: Time to first token per attempt. Managed APIs answer within a few seconds at p99, but the
#: CPU engine of the embedded stack, queueing 8 streams on a busy 2-core laptop, was measured
#: taking 14 s; 30 s fails over only from an upstream that has really stalled. (On a GPU host,
#: set it lower: SERVELAB_GATEWAY_FIRST_TOKEN_TIMEOUT_S.)
FIRST_TOKEN_TIMEOUT_S = 30.0
#: Whole attempt, first byte to last: 8,192 tokens at ~20 tok/s (CPU) would take ~7 min, but a
#: course request asks for a few hundred; 120 s is what the openai SDK's own retries would wait.
TOTAL_TIMEOUT_S = 120.0

#: Attempts per request, all upstreams together: primary + 3 fallbacks is the length of the
#: longest chain in routing.yaml before the cache; one retry loop, no retries hidden elsewhere.
MAX_ATTEMPTS = 4
#: Backoff before retrying the SAME upstream: base * 2^n with full jitter (AWS Architecture
#: Blog, "Exponential Backoff and Jitter", 2015), capped. Switching upstream does not wait.
BACKOFF_BASE_S = 0.05
BACKOFF_MAX_S = 1.0
#: A Retry-After longer than this is not waited for inside a request: the upstream is cooled
#: down for that long instead and the request moves on to the next candidate.
MAX_RETRY_AFTER_WAIT_S = 2.0
#: The longest an upstream's own Retry-After may keep its breaker open. The value comes from the
#: upstream, so it is capped: Portkey caps the wait it honours at 60 s, as Envoy caps retry
#: back-off with ``max_interval``. (A ``Retry-After: 100000000`` would otherwise take an upstream
#: out for three years.) Unparseable values (``inf``, ``1e999``) count as absent.
MAX_RETRY_AFTER_COOLDOWN_S = 60.0

#: Consecutive failures that open an upstream's breaker (LiteLLM's router defaults to 3 fails
#: per minute before cooling a deployment down); cooldown before a half-open probe (LiteLLM: 5 s
#: by default; 30 s gives a crashed local engine time to restart).
BREAKER_FAILURE_THRESHOLD = 3
BREAKER_COOLDOWN_S = 30.0
#: Panic routing: when every compliant upstream of a request is cooling down after failures,
#: try them anyway instead of refusing. A breaker protects an upstream from traffic while others
#: carry it; with none left it only turns a partial outage into a total one (and a gateway's own
#: hiccup into a metastable storm). Envoy routes to all hosts below its
#: ``healthy_panic_threshold`` (default 50 %) and caps ejection with ``max_ejection_percent``;
#: LiteLLM never cools down the only deployment of a group. A cooldown the upstream asked for
#: (Retry-After) is still honoured.
PANIC_ROUTING = True

#: Replica pools (an upstream with ``replicas``; replicas.py, balance.py). Every member is asked
#: ``GET /health`` every 0.5 s, and after a passing check its ``/metrics`` are read for the
#: engine's queue. 0.5 s sits between llm-d's endpoint picker, which reads its engines every
#: 50 ms (Gateway API Inference Extension, pkg/epp/server/runserver.go,
#: DefaultRefreshMetricsInterval), and vLLM production-stack's router (every 30 s,
#: ``--engine-stats-interval``): two small requests per member per probe, well under 1 % of a
#: core on the 2-core laptop, while the load the gateway itself puts on a member is counted
#: without any delay (balance.py: ``ours``).
REPLICA_PROBE_INTERVAL_S = 0.5
#: A probe unanswered for 1 s has failed: Kubernetes' default readiness ``timeoutSeconds``.
#: Measured net of the gateway's own event-loop stalls (lag.py), like every upstream timeout.
REPLICA_PROBE_TIMEOUT_S = 1.0
#: Consecutive failed probes that take a member out of the pool, and passing ones that bring
#: it back. Kubernetes readiness defaults are 3 and 1 (``failureThreshold``,
#: ``successThreshold``; 30 s at its 10 s period); 2 failures here (1 s) keep one slow answer
#: on a busy laptop from ejecting a healthy engine, and a member that answers again is taken
#: back at once (Envoy: a passing active check un-ejects, successful_active_health_check_
#: uneject_host, default true).
REPLICA_UNHEALTHY_THRESHOLD = 2
REPLICA_HEALTHY_THRESHOLD = 1
#: An engine's reported queue older than this no longer counts (only the gateway's own count
#: does): the endpoint picker's DefaultMetricsStalenessThreshold (2 s, same file as above).
ENGINE_METRICS_STALE_S = 2.0

#: Upstream-controlled sizes. A whole non-streamed answer: OpenAI's largest (n=128 choices of
#: 16,384 tokens, about 8 MiB of JSON) fits four times over. One SSE event: a chunk carries a
#: few tokens (about 200 bytes; a few KiB with top_logprobs=20), so 1 MiB without an event end
#: is a broken or hostile stream.
MAX_UPSTREAM_ANSWER_BYTES = 32 * 1024 * 1024
MAX_SSE_EVENT_BYTES = 1024 * 1024

#: Slow and greedy clients (the HTTP server's edge, edge.py and body_limit.py). Request headers
#: must arrive whole within 20 s and a body within 20 s plus 1 s per 500 bytes: Apache's
#: mod_reqtimeout defaults (``header=20-40,MinRate=500 body=20,MinRate=500``), which cut a
#: slowloris client sending a byte a second while any real client finishes in time.
HEADER_TIMEOUT_S = 20.0
BODY_TIMEOUT_S = 20.0
BODY_MIN_RATE_BYTES_S = 500
#: Request line and headers together: Envoy's default ``max_request_headers_kb`` is 60, and it
#: answers 431 above it (nginx allows 4 x 8 KiB; Node.js 16 KiB).
MAX_HEADER_BYTES = 60 * 1024
#: Open client connections (each holds one request at a time): Envoy's circuit-breaker defaults
#: are 1024 connections and 1024 requests. Above it a request gets 503 with Retry-After
#: (``OVERLOAD_RETRY_AFTER_S``). The gateway lowers it at start-up if the process's open-file
#: limit could not hold that many client and upstream connections.
MAX_CONNECTIONS = 1024
OVERLOAD_RETRY_AFTER_S = 1
#: An idle keep-alive connection is closed after this long: uvicorn's default. Behind a load
#: balancer set it ABOVE the balancer's idle timeout (AWS ALB: 60 s), so the balancer never
#: reuses a connection the gateway is closing.
KEEP_ALIVE_TIMEOUT_S = 5.0

#: The plaintext key of the embedded stack's learner, documented in README.md. It is a
#: placeholder, safe only on a laptop's loopback: outside local mode the gateway refuses to start
#: with it (the same idea as the FastAPI full-stack template's "changethis" check).
LOCAL_LEARNER_KEY = "sk-servelab-local-learner"


class Settings(BaseSettings):
    """How the gateway runs. Override any field with ``SERVELAB_GATEWAY_<FIELD>``."""

    model_config = SettingsConfigDict(
        env_prefix="SERVELAB_GATEWAY_", env_file=".env", extra="ignore"
    )

    #: ``local``: the embedded stack on a laptop (the documented learner key is accepted);
    #: ``production``: anything reachable by others (placeholder keys refused at start-up).
    mode: Literal["local", "production"] = "local"
    host: str = "127.0.0.1"
    port: int = GATEWAY_PORT
    routing_file: Path = HERE / "routing.yaml"
    keys_file: Path = HERE / "keys.yaml"
    #: append-only JSONL of every decision that denied or rerouted a request
    audit_file: Path = CACHE / "gateway" / "audit.jsonl"

    max_body_bytes: int = Field(MAX_BODY_BYTES, gt=0)
    max_output_tokens: int = Field(MAX_OUTPUT_TOKENS, gt=0)

    connect_timeout_s: float = Field(CONNECT_TIMEOUT_S, gt=0)
    first_token_timeout_s: float = Field(FIRST_TOKEN_TIMEOUT_S, gt=0)
    total_timeout_s: float = Field(TOTAL_TIMEOUT_S, gt=0)

    max_attempts: int = Field(MAX_ATTEMPTS, ge=1)
    backoff_base_s: float = Field(BACKOFF_BASE_S, ge=0)
    backoff_max_s: float = Field(BACKOFF_MAX_S, ge=0)
    max_retry_after_wait_s: float = Field(MAX_RETRY_AFTER_WAIT_S, ge=0)
    max_retry_after_cooldown_s: float = Field(MAX_RETRY_AFTER_COOLDOWN_S, ge=0)

    breaker_failure_threshold: int = Field(BREAKER_FAILURE_THRESHOLD, ge=1)
    breaker_cooldown_s: float = Field(BREAKER_COOLDOWN_S, gt=0)
    panic_routing: bool = PANIC_ROUTING

    replica_probe_interval_s: float = Field(REPLICA_PROBE_INTERVAL_S, gt=0)
    replica_probe_timeout_s: float = Field(REPLICA_PROBE_TIMEOUT_S, gt=0)
    replica_unhealthy_threshold: int = Field(REPLICA_UNHEALTHY_THRESHOLD, ge=1)
    replica_healthy_threshold: int = Field(REPLICA_HEALTHY_THRESHOLD, ge=1)
    engine_metrics_stale_s: float = Field(ENGINE_METRICS_STALE_S, gt=0)

    max_upstream_answer_bytes: int = Field(MAX_UPSTREAM_ANSWER_BYTES, gt=0)
    max_sse_event_bytes: int = Field(MAX_SSE_EVENT_BYTES, gt=0)

    header_timeout_s: float = Field(HEADER_TIMEOUT_S, gt=0)
    body_timeout_s: float = Field(BODY_TIMEOUT_S, gt=0)
    body_min_rate_bytes_s: int = Field(BODY_MIN_RATE_BYTES_S, gt=0)
    max_header_bytes: int = Field(MAX_HEADER_BYTES, ge=1024)
    max_connections: int = Field(MAX_CONNECTIONS, ge=1)
    overload_retry_after_s: int = Field(OVERLOAD_RETRY_AFTER_S, ge=1)
    keep_alive_timeout_s: float = Field(KEEP_ALIVE_TIMEOUT_S, gt=0)

    #: Teaching and testing switch: every request's first attempt fails as if its upstream were
    #: unreachable, so the failover path runs. A request can ask for the same with the
    #: ``x-servelab-force-failover`` header: in local mode any key, in production mode only a
    #: key with ``may_force_failover`` (keys.yaml). Forced failures never trip a breaker.
    force_failover: bool = False

    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.first_token_timeout_s > self.total_timeout_s:
            raise ValueError("first_token_timeout_s must not exceed total_timeout_s")
        if self.backoff_base_s > self.backoff_max_s:
            raise ValueError("backoff_base_s must not exceed backoff_max_s")
        for name in ("routing_file", "keys_file"):
            path: Path = getattr(self, name)
            if not path.is_file():
                raise ValueError(
                    f"{name}: no such file {path} (set SERVELAB_GATEWAY_{name.upper()})"
                )
        return self


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
