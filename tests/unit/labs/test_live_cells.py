"""The live cells of labs 00, 01, 02, 05 and 09 degrade instead of failing, the pre-flight ends in
one verdict line, and widget callbacks redraw safely (in-process: the stack is made to look down,
or a learner's function raises; the live paths themselves run in the notebooks' tests)."""

from __future__ import annotations

import pandas as pd
import pytest

from servelab import live
from servelab.doctor import Check, Report, verdict
from servelab.labs import lab00_inference_path as lab00
from servelab.labs import lab01_managed_api as lab01
from servelab.labs import lab02_cloud_platform as lab02
from servelab.labs import lab05_edge as lab05
from servelab.labs import lab09_decision as lab09
from servelab.labs import show


@pytest.fixture
def stack_down(monkeypatch):
    """Every service looks stopped: live sections must fall back without a network call."""
    monkeypatch.delenv(live.GRADING_ENV, raising=False)
    monkeypatch.setattr(live, "_services_down", lambda needs: list(needs))


# -- the pre-flight verdict ------------------------------------------------------------------
def test_verdict_ready_names_what_passed_in_one_line():
    report = Report([Check("python", True, "3.11"), Check("gpu", None, "none")])
    report.checks.append(Check("vllm", True, "healthy"))
    line = verdict(report)
    assert line.startswith("ready: python, vllm OK") and "\n" not in line


def test_verdict_for_a_stopped_stack_is_make_up():
    report = Report([Check("python", True, "3.11")])
    for name in ("vllm", "gateway"):
        report.checks.append(Check(name, False, "not running (port 1 free)", "start it"))
    line = verdict(report)
    assert line.startswith("not ready: run `make up` (vllm, gateway not running)")
    assert "recordings" in line and "\n" not in line


def test_verdict_gives_each_other_failure_its_own_fix():
    report = Report([Check("python", False, "3.9", "install Python 3.11")])
    report.checks.append(Check("vllm", False, "not running (port 1 free)", "start it"))
    line = verdict(report)
    assert "run `make up` (vllm not running)" in line and "python: install Python 3.11" in line
    assert "recordings" not in line  # an old Python runs nothing, recorded or not


# -- widgets and tables ----------------------------------------------------------------------
class FakeOutput:
    """Stands in for ipywidgets.Output: keeps every value its ``outputs`` was given. It has no
    ``__enter__``: redraw must never enter the capture context (it stalled ipykernel 7.4)."""

    def __init__(self) -> None:
        self.shown: list[tuple] = []

    @property
    def outputs(self) -> tuple:
        return self.shown[-1] if self.shown else ()

    @outputs.setter
    def outputs(self, value: tuple) -> None:
        self.shown.append(value)


def test_redraw_replaces_the_output_once_and_a_failing_draw_is_one_line():
    out = FakeOutput()

    def broken() -> None:
        raise NotImplementedError("exercise 2")

    show.redraw(out, broken)
    line = "could not draw this one (NotImplementedError: exercise 2)\n"
    assert out.shown == [({"output_type": "stream", "name": "stdout", "text": line},)]


def test_redraw_says_it_is_busy_then_shows_the_result():
    out = FakeOutput()
    show.redraw(out, lambda: print("answer: Paris"), busy="calling (at most 20 s)...")
    assert [o[0]["text"] for o in out.shown] == ["calling (at most 20 s)...\n", "answer: Paris\n"]


def test_knobs_redraw_with_the_new_value():
    import ipywidgets as widgets

    seen = []
    slider = widgets.IntSlider(value=1, min=0, max=10)
    box = show.knobs(lambda n: seen.append(n), n=slider)
    slider.value = 7
    assert seen == [1, 7] and isinstance(box.children[-1], widgets.Output)


def test_held_prints_come_back_for_after_the_figure(capsys):
    value, said = show.held_prints(lambda: print("one line") or 42)
    assert (value, said) == (42, "one line") and capsys.readouterr().out == ""


def test_full_tables_show_whole_texts():
    with pd.option_context("display.max_colwidth", 50):
        show.full_tables()
        text = "x" * 120
        assert text in pd.DataFrame({"a": [text]}).to_html()


# -- each lab's live sections with the stack down ---------------------------------------------
def test_lab00_shows_the_recording_and_survives_an_unfinished_exercise(stack_down, capsys):
    outcome = lab00.live_trace()
    assert not outcome.live and outcome.value["meta"]["source"] == "measured"
    assert "vllm not running" in outcome.message

    def unfinished(trace):
        raise NotImplementedError

    lab00.show_live_trace(outcome, unfinished, unfinished, unfinished)
    printed = capsys.readouterr().out
    assert "answer:" in printed and "raised NotImplementedError" in printed
    stages = lab00.live_gateway_stages()
    assert not stages.live and {"auth", "upstream_first_token"} <= set(stages.value.stage)


def test_lab00_gateway_plot_is_logarithmic():
    fig = lab00.plot_gateway_stages(lab00.load_gateway_stages(), "recorded")
    assert fig.axes[0].get_xscale() == "log"


def test_lab01_falls_back_to_the_recorded_stream(stack_down, monkeypatch, capsys):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    outcome = lab01.live_call(client=None, model="gpt-4o-mini", messages=lab01.QUESTION)
    assert not outcome.live and outcome.value == lab01.load_stream("short")
    from servelab_base.catalog import load

    lab01.show_call(outcome, load(), "gpt-4o-mini")
    printed = capsys.readouterr().out
    assert "recorded stream" in printed and "this call cost $" in printed


def test_lab02_falls_back_to_recorded_medians_and_the_catalog(stack_down, capsys):
    outcome = lab02.live_call("swedencentral", "gpt-4.1-mini")
    samples = lab02.load_latency_samples()
    sweden = samples[
        (samples.region == "swedencentral") & (samples.deployment_type == "serverless")
    ]
    assert not outcome.live and outcome.value["ttft_ms"] == round(sweden.ttft_ms.median(), 1)
    assert lab02.recorded_call("francecentral", "provisioned") is None  # not recorded: None
    from servelab_base.catalog import SNAPSHOT_DATE

    lab02.live_lag("gpt-5.1", ["swedencentral", "francecentral"], SNAPSHOT_DATE)
    printed = capsys.readouterr().out
    assert "from the catalog" in printed
    assert "francecentral  not yet: 404 DeploymentNotFound until" in printed


def test_lab05_stack_server_falls_back_and_the_binary_is_a_preflight_line(stack_down, capsys):
    outcome = lab05.live_stack_server()
    assert not outcome.live and outcome.value["answer"]["text"]
    lab05.show_stack_server(outcome)
    assert "answer: 'The capital of Japan is Tokyo.'" in capsys.readouterr().out
    check = lab05.private_server_check()
    assert check.name == "private llama-server" and check.ok is (lab05.edge_unavailable() is None)


def test_lab05_private_server_failure_gives_the_recording(monkeypatch):
    monkeypatch.delenv(live.GRADING_ENV, raising=False)
    monkeypatch.setattr(lab05, "edge_unavailable", lambda: "llama-server is not built")
    outcome = lab05.live_private_server(ctx_size=2048)
    assert not outcome.live and "not built" in outcome.message
    assert outcome.value["rss_bytes"] > 0 and outcome.value["load_s"] > 0


def test_lab09_modelled_paths_stand_in_when_nothing_answers(monkeypatch, capsys):
    down = "down: start the stack with `servelab up` (or `make up`)"
    table = lab09.modelled_paths().assign(status=down, mode="stand-in")
    lab09.show_paths(live.Outcome(table, True))
    printed = capsys.readouterr().out
    assert "no path answered (start the stack with `make up`)" in printed
    modelled = lab09.modelled_paths()
    # managed-mini, catalog: 90 ms RTT + 120 ms queue + 350 ms TTFT + 12 ms x (12 - 1) tokens
    assert modelled.loc["interactive (managed API)", "e2e_ms"] == 90 + 120 + 350 + 12 * 11
