"""Helpers for the gateway tests: write a routing table and a key file, start a gateway.

Exact upstream faults come from the scripted upstream (reference_stack/scripted). Its faults are
chosen per request by ``x-scripted-<field>`` headers; the gateway does not forward client
headers, so a test gives each upstream ENTRY of its routing table fixed ``headers`` (a routing
table feature: fixed headers per upstream). One scripted process can then stand for several
upstreams with different faults (``status: 503``, ``ttft_ms: 5000``, ...), each with its own
breaker.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from reference_stack.gateway.auth import hash_key
from reference_stack.providers.server import READY_LINE
from servelab_base.child_server import ChildServer, ChildServerError

#: Data classes of every test table: the embedded stack's three.
DATA_CLASSES = {
    "public": {"jurisdictions": ["US", "EU", "UK", "on-prem"]},
    "personal-eu": {"jurisdictions": ["EU", "on-prem"]},
    "restricted": {"jurisdictions": ["on-prem"], "max_retention_days": 0},
}
JURISDICTIONS = ["US", "EU", "UK", "on-prem"]
#: A fresh interpreter importing FastAPI on a loaded 2-core CI machine.
START_TIMEOUT_S = 60.0

LEARNER_KEY = "sk-test-learner-0123456789"


def upstream(
    base_url: str,
    jurisdiction: str = "on-prem",
    *,
    kind: str = "openai",
    retention_days: int = 0,
    **headers: object,
) -> dict:
    """An upstream entry; ``headers`` become ``x-scripted-<name>`` faults (``status=503``)."""
    entry = {
        "kind": kind,
        "base_url": base_url + ("/v1" if kind == "openai" else ""),
        "region": f"test-{jurisdiction.lower()}",
        "jurisdiction": jurisdiction,
        "price": {"input_per_mtok": 0.0, "output_per_mtok": 0.0},
        "retention": {"days": retention_days},
        "headers": {f"x-scripted-{k.replace('_', '-')}": str(v) for k, v in headers.items()},
    }
    if kind == "azure":
        entry["api_version"] = "2024-10-21"
    return entry


def write_table(path: Path, upstreams: dict[str, dict], models: dict[str, list]) -> Path:
    """Write a routing table; ``models`` maps alias -> chain (upstream names or "cache")."""
    table = {
        "source": "written by tests/gateway_support.py",
        "jurisdictions": JURISDICTIONS,
        "data_classes": DATA_CLASSES,
        "upstreams": upstreams,
        "models": {
            alias: {
                "chain": [
                    step
                    if step == "cache"
                    else (step if isinstance(step, dict) else {"upstream": step})
                    for step in chain
                ]
            }
            for alias, chain in models.items()
        },
    }
    path.write_text(yaml.safe_dump(table, sort_keys=False))
    return path


def write_keys(path: Path, keys: list[dict] | None = None) -> Path:
    """A key file; each entry gives ``key`` (plaintext) and the rest of the fields."""
    keys = keys or [learner_key()]
    entries = []
    for entry in keys:
        entry = dict(entry)
        entries.append({"sha256": hash_key(entry.pop("key")), **entry})
    path.write_text(yaml.safe_dump({"source": "tests", "keys": entries}, sort_keys=False))
    return path


def learner_key(**overrides: object) -> dict:
    return {
        "key": LEARNER_KEY,
        "name": "learner",
        "owner": "tester",
        "kind": "learner",
        "models": ["*"],
        "data_classes": ["public", "personal-eu", "restricted"],
        "may_set_data_class": True,
        "requests_per_minute": 100_000,
        "tokens_per_minute": 100_000_000,
        **overrides,
    }


def read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def parse_sse(text: str) -> list[str]:
    """The ``data:`` payloads of an SSE body, in order."""
    return [line[5:].strip() for line in text.split("\n") if line.startswith("data:")]


class StandinProcess:
    """A provider stand-in (reference_stack.providers.managed / .cloud) as a child process on a
    free port, with scripted tokens (no engine needed). ``ports`` maps its names to ports."""

    def __init__(self, module: str, *args: str) -> None:
        self.child = ChildServer(
            [sys.executable, "-m", module, "--source", "scripted", *args], name=module
        )
        self.ports: dict[str, int] = {}

    def __enter__(self) -> StandinProcess:
        self.child.start()
        try:
            ready = self.child.wait_for_line(READY_LINE, START_TIMEOUT_S)
        except ChildServerError as exc:
            raise RuntimeError(f"stand-in did not start: {exc}") from None
        self.ports = json.loads(ready.group(0))["ports"]
        return self

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def __exit__(self, *exc: object) -> None:
        self.child.stop()


# --- an upstream that misbehaves on purpose ------------------------------------------------------
HOSTILE_HEADER = "x-hostile"
HOSTILE_WORDS = ["alpha", " beta", " gamma", " delta"]


def hostile_entry(hostile: HostileUpstream, behaviour: str, jurisdiction: str = "on-prem") -> dict:
    """A routing-table entry for ``hostile`` that always shows ``behaviour`` (see
    ``HostileUpstream``), with its key in ``HOSTILE_KEY_ENV`` (so echoing it can be tested)."""
    entry = upstream(hostile.base_url, jurisdiction)
    entry["headers"] = {HOSTILE_HEADER: behaviour}
    entry["api_key_env"] = HOSTILE_KEY_ENV
    return entry


#: The variable holding the gateway's key for hostile upstreams, and its value in the tests.
HOSTILE_KEY_ENV = "TEST_HOSTILE_KEY"
HOSTILE_KEY = "sk-hostile-upstream-SECRET-91c2e7"


def _chunk(delta: dict | None = None, finish: str | None = None, **extra: object) -> dict:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {
        "id": "chatcmpl-hostile",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "hostile",
        "choices": choices,
        **extra,
    }


def _event(obj: object, sep: bytes = b" ", end: bytes = b"\n") -> bytes:
    text = obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":"))
    return b"data:" + sep + text.encode() + end + end


class HostileUpstream:
    """An OpenAI-compatible upstream that misbehaves in exactly the way it is told, on real
    loopback HTTP (an asyncio server in a thread of the test process; it writes raw bytes, so
    it can do what a well-behaved server framework would not).

    Each request says how to misbehave in its ``x-hostile`` header, which a routing entry sets
    (``hostile_entry``): ``name`` or ``name:arg``. Streamed (``"stream": true``) or whole:

    ====================  ==========================================================================
    ok                    a normal answer: four content chunks, usage if asked, ``[DONE]``
    429:NAME=VALUE        HTTP 429 with the header NAME: VALUE (``retry-after=inf`` ...)
    role-then-die         a role-only delta, then the connection is dropped
    filter-then-die       Azure's opening ``prompt_filter_results`` chunk, then dropped
    role-then-slow:MS     a role-only delta at once, the first token MS ms later, then normal
    echo-key              one token, then an in-band error event quoting the gateway's key
                          (whole answers: the key inside the content)
    wire-variants         a valid stream using all of SSE: no space after ``data:``, CRLF and CR
                          line ends, comments, a multi-line data field, ``data:[DONE]``
    linger-after-done:S   a normal stream, but the body stays open S seconds after ``[DONE]``
    bad-usage             usage with a negative count
    garbage-choices       ``choices`` that is not a list of objects
    endless-event         bytes without an event end, forever (until the connection drops)
    ====================  ==========================================================================

    ``requests`` lists (behaviour, x-request-id, authorization) of every request received."""

    def __init__(self) -> None:
        import threading

        self.requests: list[tuple[str, str, str]] = []
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="hostile-upstream")
        self.base_url = ""

    def __enter__(self) -> HostileUpstream:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the hostile upstream did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def reached(self, request_id: str) -> list[str]:
        """The behaviours that saw request ``request_id``, in order."""
        return [b for b, rid, _ in self.requests if rid == request_id]

    # --- the server ------------------------------------------------------------------------------
    def _run(self) -> None:
        import asyncio

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
            self.base_url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
            self._ready.set()
            async with server:
                await self._stop.wait()

        asyncio.run(main())

    async def _serve(self, reader, writer) -> None:  # noqa: ANN001 (asyncio streams)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                request = json.loads(body or b"{}")
                behaviour = headers.get(HOSTILE_HEADER, "ok")
                key = headers.get("authorization", "").removeprefix("Bearer ")
                self.requests.append((behaviour, headers.get("x-request-id", ""), key))
                if not await self._answer(writer, behaviour, request, key):
                    break
        except (ConnectionError, OSError, ValueError, EOFError) as exc:
            del exc  # the gateway hung up, or a behaviour dropped the connection
        finally:
            writer.close()

    async def _answer(self, writer, behaviour: str, request: dict, key: str) -> bool:  # noqa: ANN001
        """Send one answer; False when the connection must be dropped."""
        import asyncio

        name, _, arg = behaviour.partition(":")
        stream = bool(request.get("stream"))
        if name == "429":
            header, _, value = arg.partition("=")
            body = json.dumps({"error": {"message": "slow down", "type": "rate_limit"}}).encode()
            writer.write(
                f"HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\n"
                f"content-length: {len(body)}\r\n{header}: {value}\r\n\r\n".encode()
                + body
            )
            await writer.drain()
            return True
        if not stream:
            content = "".join(HOSTILE_WORDS) + (f" {key}" if name == "echo-key" else "")
            answer = {
                "id": "chatcmpl-hostile",
                "object": "chat.completion",
                "created": 0,
                "model": "hostile",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
            }
            if name == "bad-usage":
                answer["usage"] = {"prompt_tokens": -9, "completion_tokens": 4}
            if name == "garbage-choices":
                answer["choices"] = ["not an object", 7]
            body = json.dumps(answer).encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                b"content-length: %d\r\n\r\n" % len(body) + body
            )
            await writer.drain()
            return True

        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\n\r\n"
        )

        async def send(data: bytes) -> None:
            writer.write(b"%x\r\n" % len(data) + data + b"\r\n")
            await writer.drain()

        role = _event(_chunk({"role": "assistant", "content": ""}))
        if name in ("role-then-die", "filter-then-die"):
            first = role
            if name == "filter-then-die":
                first = _event(_chunk(None, prompt_filter_results=[{"prompt_index": 0}]))
            await send(first)
            await asyncio.sleep(0.05)
            writer.transport.abort()
            return False
        if name == "role-then-slow":
            await send(role)
            await asyncio.sleep(int(arg) / 1000)
        if name == "endless-event":
            for _ in range(10_000):
                await send(b"data: " + b"x" * 65536)
            return False
        tokens = [_event(_chunk({"content": w})) for w in HOSTILE_WORDS]
        if name == "echo-key":
            error = {"error": {"message": f"upstream failure, key {key} rejected", "type": "x"}}
            await send(tokens[0] + _event(error))
            await send(_event("[DONE]"))
            await send(b"")
            return True
        if name == "garbage-choices":
            await send(_event({"choices": "not a list"}) + _event({"choices": [7]}))
        for token in tokens:
            await send(token)
        if name == "wire-variants":
            await send(
                b": a comment line, ignored\r\n\r\n"
                + b'data:{"choices":[{"index":0,"delta":{"content":" epsilon"}}]}\r\r'
                + b'data: {"choices":[{"index":0,\r\ndata: "delta":{"content":" zeta"}}]}\r\n\r\n'
            )
        usage = {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
        if name == "bad-usage":
            usage = {"prompt_tokens": -9, "completion_tokens": 4, "total_tokens": -5}
        await send(_event(_chunk({}, "stop")) + _event(_chunk(None, usage=usage)))
        if name == "wire-variants":
            await send(b"data:[DONE]\r")  # the CR of a CRLF in one read, its LF in the next
            await send(b"\n\r\n")
        else:
            await send(_event("[DONE]"))
        if name == "linger-after-done":
            await asyncio.sleep(float(arg))
        await send(b"")  # the chunked body's end
        return True


# --- requests OpenAI's published spec accepts ----------------------------------------------------
#: tests/data/openai_chat_request.json: the chat-completions request fields of OpenAI's OpenAPI
#: spec (the commit it was read at is inside), in this project's own format
OPENAI_CHAT_REQUEST = Path(__file__).parent / "data" / "openai_chat_request.json"


def openai_chat_requests(
    model: str, *, drop: tuple[str, ...] = (), output_caps: list[int | None] | None = None
):
    """A hypothesis strategy of request bodies valid per OpenAI's spec for ``model``.

    ``drop``: fields never generated (e.g. the ones that make a CPU engine compile a grammar).
    ``output_caps``: draw ``max_tokens`` / ``max_completion_tokens`` from these (and always set
    one), to keep generation cheap against a real engine; by default any integer or null."""
    from hypothesis import strategies as st

    spec = json.loads(OPENAI_CHAT_REQUEST.read_text())
    parts = spec["content_parts"]
    text = st.text(max_size=40)

    def scalar(kind: str, field: dict) -> st.SearchStrategy:
        low, high = field.get("minimum"), field.get("maximum")
        if kind == "null":
            return st.none()
        if kind == "boolean":
            return st.booleans()
        if kind == "integer":
            return st.integers(low, high)
        if kind == "number":  # JSON numbers: integers are numbers too
            return st.floats(low, high, allow_nan=False, allow_infinity=False) | st.integers(
                None if low is None else int(low), None if high is None else int(high)
            )
        if kind == "string":
            if "enum" in field:
                return st.sampled_from(field["enum"])
            return st.text(max_size=field.get("max_length", 40))
        if kind == "array":
            return st.lists(text, min_size=field["min_items"], max_size=field["max_items"])
        raise ValueError(f"unknown type {kind!r} in {OPENAI_CHAT_REQUEST.name}")

    def of(field: dict) -> st.SearchStrategy:
        if "values" in field:
            return st.sampled_from(field["values"])
        return st.one_of([scalar(kind, field) for kind in field["types"]])

    def content(kinds: list[str]) -> st.SearchStrategy:
        options = []
        for kind in kinds:
            if kind == "string":
                options.append(text)
            elif kind == "null":
                options.append(st.none())
            else:
                options.append(st.lists(st.sampled_from(parts[kind]), min_size=1, max_size=3))
        return st.one_of(options)

    def message(role: str, rule: dict) -> st.SearchStrategy:
        required = {
            "role": st.just(role),
            **{k: st.just(v) for k, v in rule.get("also_required", {}).items()},
        }
        optional = {}
        for name, values in rule.get("optional", {}).items():
            optional[name] = text if values == "string" else st.sampled_from(values)
        if rule["content_required"]:
            required["content"] = content(rule["content"])
        else:
            optional["content"] = content(rule["content"])
        return st.fixed_dictionaries(required, optional=optional)

    messages = st.lists(
        st.one_of([message(role, rule) for role, rule in spec["messages"].items()]),
        min_size=1,
        max_size=4,
    )
    fields = {name: of(field) for name, field in spec["fields"].items() if name not in drop}
    body = st.fixed_dictionaries({"model": st.just(model), "messages": messages}, optional=fields)
    if output_caps is None:
        return body

    def capped(draw_body: dict, cap: int | None, which: str) -> dict:
        out = {
            k: v for k, v in draw_body.items() if k not in ("max_tokens", "max_completion_tokens")
        }
        out[which] = cap
        return out

    return st.builds(
        capped,
        body,
        st.sampled_from([c for c in output_caps if c is not None]),
        st.sampled_from(["max_tokens", "max_completion_tokens"]),
    )
