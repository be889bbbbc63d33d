"""The live sections of labs 04, 06, 07 and 08 degrade instead of failing: with the stack down,
with their work failing, or while graded, each gives its recording (or, for lab 07's chain, the
same outage on scripted endpoints) and one line saying why; the recordings say where they came
from. In process: the stack is made to look down, nothing is sent (the live paths themselves run
in the notebooks' tests)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import matplotlib
import pytest

from servelab import live
from servelab.bench import Target
from servelab.bench.events import load_records
from servelab.bench.plots import timeline
from servelab.labs import lab04_online as lab04
from servelab.labs import lab06_measuring as lab06
from servelab.labs import lab07_failover as lab07
from servelab.labs import lab08_residency as lab08

matplotlib.use("Agg")
NOWHERE = Target("http://127.0.0.1:9/v1", model="m")  # never called: the stack looks down


@pytest.fixture
def stack_down(monkeypatch):
    """Every service looks stopped: live sections must fall back without a network call."""
    monkeypatch.delenv(live.GRADING_ENV, raising=False)
    monkeypatch.setattr(live, "_services_down", lambda needs: list(needs))


# -- lab 04 ------------------------------------------------------------------------------------
def test_lab04_live_sections_show_their_recordings(stack_down, capsys):
    reply = lab04.live_reply("http://127.0.0.1:9/v1", "key", "m")
    assert not reply.live and reply.value["question"] == lab04.QUESTION
    assert reply.value["answer"] and "gateway not running" in reply.message
    staggered = lab04.live_staggered(NOWHERE)
    assert staggered.value == lab04.load_sweep("staggered")
    burst = lab04.live_burst("http://127.0.0.1:9", NOWHERE)
    assert list(burst.value.columns) == ["t", "running", "waiting", "kv_cache_usage"]
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all("recorded result instead" in line for line in lines)


@pytest.mark.parametrize(
    ("asked", "shown"),
    [(1, 1), (3, 2), (6, 4), (12, 8), (13, 16), (40, 16)],  # a tie goes to the lower level
)
def test_lab04_knob_falls_back_to_the_nearest_recorded_level(stack_down, asked, shown):
    point = lab04.knob_point(NOWHERE, "vllm", asked)
    assert not point.live and "vllm not running" in point.message
    assert {r["concurrency"] for r in point.value} == {shown}


def test_lab04_arrivals_name_their_rows_and_gauges_leave_room_for_legends():
    recorded = lab04.load_sweep("staggered")
    ax = timeline(recorded)
    lab04.mark_arrivals(recorded, ax)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == [f"sent at +{ms} ms" for ms in lab04.STAGGERED_OFFSETS_MS]
    gauges = lab04.load_gauges()
    ax = lab04.plot_gauges(gauges, max_num_seqs=8)
    assert ax.get_ylim()[1] >= 1.5 * max(8, gauges.running.max(), gauges.waiting.max())


# -- lab 06 ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(lab06.PITFALLS))
def test_lab06_each_pitfall_has_the_recording_of_the_same_run(name):
    records = load_records(lab06.PITFALLS_DIR / f"{name}.jsonl")
    spec = lab06.PITFALLS[name]
    assert len(records) == spec["n"] and all(r["status"] == 200 for r in records)
    meta = json.loads((lab06.PITFALLS_DIR / f"{name}.meta.json").read_text())
    assert meta["command"] == "python scripts/record_lab06.py pitfalls"
    assert meta["scripted"] == lab06.UPSTREAM
    rate = spec.get("request_rate")
    assert meta["spec"] == spec | ({"request_rate": str(rate)} if rate else {})


def test_lab06_a_failing_pitfall_is_one_line_and_its_recording(monkeypatch, capsys):
    monkeypatch.delenv(live.GRADING_ENV, raising=False)

    def broken(*args, **kwargs):
        raise ConnectionError("the scripted upstream went away")

    monkeypatch.setattr(lab06, "measure", broken)
    records = lab06.pitfall("no_usage", "http://127.0.0.1:9")
    assert records == load_records(lab06.PITFALLS_DIR / "no_usage.jsonl")
    printed = capsys.readouterr().out.strip()
    assert printed.startswith("pitfall no usage: the live run failed (ConnectionError")
    assert "\n" not in printed


def test_lab06_overhead_and_stack_sections_fall_back(stack_down, monkeypatch):
    monkeypatch.setattr(lab06, "measure", lambda *a, **k: 1 / 0)
    overhead = lab06.live_overhead(upstream=None)
    assert not overhead.live and overhead.value is None  # the recorded panel is drawn anyway
    stack = lab06.live_stack({label: NOWHERE for label in lab06.STACK_FILES})
    assert not stack.live and set(stack.value) == set(lab06.STACK_FILES)
    for records in stack.value.values():
        assert sum(not r["warmup"] for r in records) == 4 and all(
            r["status"] == 200 for r in records
        )


# -- lab 07 ------------------------------------------------------------------------------------
def first_that_answers(endpoints, clock, **kwargs):
    """A policy enough for the scripted chain: each endpoint once, in order."""
    for endpoint in endpoints:
        try:
            return endpoint.call(clock, timeout_s=kwargs.get("timeout_s", 2.0))
        except (lab07.EndpointError, lab07.EndpointTimeout):
            continue
    raise RuntimeError("nobody answered")


def test_lab07_live_chain_runs_the_policy_on_the_same_outage_scripted(stack_down):
    chain = lab07.live_chain(
        first_that_answers, "http://x/v1", "k", "http://y/v1", "m", timeout_s=5
    )
    assert not chain.live and "managed-standin, vllm not running" in chain.message
    assert chain.value == {
        "served_by": "self-hosted vLLM",
        "text": None,
        "calls": {"managed (outage)": 1, "self-hosted vLLM": 1},
    }


def test_lab07_an_unfinished_policy_does_not_break_the_live_cell(stack_down):
    def unfinished(endpoints, clock, **kwargs):
        raise NotImplementedError

    chain = lab07.live_chain(unfinished, "http://x/v1", "k", "http://y/v1", "m")
    assert chain.value["served_by"] == "nobody (NotImplementedError)"


def test_lab07_gateway_failover_shows_its_recording(stack_down):
    shown = lab07.live_gateway_failover("http://127.0.0.1:9", "key", "m")
    assert not shown.live and [row["force"] for row in shown.value] == ["0", "1"]
    assert all(row["status"] == 200 and row["served_by"] for row in shown.value)


# -- lab 08 ------------------------------------------------------------------------------------
def test_lab08_live_section_gives_its_recording_while_graded(monkeypatch, capsys):
    monkeypatch.setenv(live.GRADING_ENV, "validate")
    monkeypatch.setattr(lab08, "gateway_demo", lambda: pytest.fail("graded: nothing runs"))
    shown = lab08.live_gateway()
    assert not shown.live and shown.value == lab08.load_gateway_demo()
    assert shown.value["denied"] == {
        "status": 403,
        "code": "residency_denied",
        "message": shown.value["audit"][0]["why"],
    }
    assert [r["decision"] for r in shown.value["audit"]] == ["denied", "rerouted"]


def test_lab08_chain_picture_colours_what_the_record_says():
    case = {
        "data_class": "personal-eu",
        "chain": ["us", "eu-1", "eu-2", "onprem"],
        "down": ["eu-1"],
    }
    record = {"route": "eu-2", "decision": "rerouted", "excluded": ["us"], "failed_over": ["eu-1"]}
    ax = lab08.plot_chain(case, record)
    colours = [matplotlib.colors.to_hex(bar.get_facecolor()) for bar in ax.patches]
    expected = ["excluded by the policy", "down: failed over", "served", "not tried"]
    assert colours == [matplotlib.colors.to_hex(lab08.CHAIN_STATES[s]) for s in expected]
    assert [bool(bar.get_hatch()) for bar in ax.patches] == [False, True, False, False]
    assert ax.get_title() == "personal-eu: rerouted"


@pytest.mark.parametrize(
    "path",
    [
        lab04.LAB04 / "reply.json",
        lab07.GATEWAY_FAILOVER,
        lab08.LIVE_RECORDING,
        lab06.LAB06 / "stack_vllm.meta.json",
        lab06.LAB06 / "stack_gateway.meta.json",
    ],
    ids=lambda p: p.name,
)
def test_live_recordings_say_where_they_came_from(path):
    data = json.loads(path.read_text())
    meta = data.get("meta", data)
    assert meta["kind"] == "measured" and meta["command"].startswith(("python", ".venv"))
    assert meta["recorded_at"] and meta["hardware"]["cores"] >= 1


# -- the live answers a lesson reads are asked for at temperature 0 ----------------------------
COMPLETION = {
    "id": "c",
    "object": "chat.completion",
    "created": 0,
    "model": "m",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Paris."},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
}


@pytest.fixture
def openai_like():
    """A loopback server answering every chat completion with COMPLETION; keeps the bodies."""
    bodies: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            bodies.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
            data = json.dumps(COMPLETION).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.send_header("x-servelab-upstream", "upstream-a")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", bodies
    finally:
        server.shutdown()
        server.server_close()


def test_answers_the_labs_show_are_asked_for_at_temperature_zero(openai_like):
    url, bodies = openai_like
    reply = lab04.ask(url + "/v1", "key", "m")
    assert reply["answer"] == "Paris." and reply["served_by"] == "upstream-a"
    answer = lab07.LiveEndpoint("e", url + "/v1", "m").call(lab07.RealClock(), timeout_s=5)
    assert answer == lab07.Answer("Paris.", "e")
    assert [row["status"] for row in lab07.gateway_failover(url, "key", "m")] == [200, 200]
    assert lab08.gateway_request(url, "key", "m", "restricted").status_code == 200
    assert len(bodies) == 5 and all(body["temperature"] == 0 for body in bodies)
