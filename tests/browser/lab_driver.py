"""Drive one notebook in JupyterLab as a learner does, and say what a learner would see go wrong.

Everything a learner does goes through the UI: the notebook opens from its URL, *Run > Run All
Cells* runs it, knobs are turned with the keyboard and the mouse, nbgrader's **Validate** button
validates it. What happened is read from JupyterLab's own notebook model and the rendered page
(lab_probe.js): error outputs, cells Run All never reached, figures that did not draw, widget
views that did not render, knobs that change nothing.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from jupyter_support import Server
from playwright.sync_api import Page

PROBE = (Path(__file__).parent / "lab_probe.js").read_text()
ANSI = re.compile(r"\x1b\[[0-9;]*m")
POLL_S = 0.25
KNOB_REACH_S = 15  # a knob's change reaches the kernel within milliseconds; allow a busy machine
KNOB_RUN_S = 120  # what a knob's callback may do (a live call) before the kernel is idle again
WIDGET_RENDER_S = 30
SETTLE_S = 10  # the page draws a kernel's output within milliseconds; allow a busy machine
STABLE_POLLS = 4  # a view unchanged for 1 s (4 polls) after its kernel is idle is settled
NOT_DECODED = "not decoded (natural size 0)"  # lab_probe.js's imageState


@dataclass
class Validation:
    """What nbgrader's Validate dialog said."""

    passed: bool
    text: str
    failed: int = 0  # graded cells nbgrader reports as failing


def elapsed(started: float) -> float:
    """Seconds since ``started`` (time.monotonic()), to one decimal."""
    return round(time.monotonic() - started, 1)


class LabPage:
    """One browser tab on a JupyterLab server, working on notebooks by path."""

    def __init__(self, page: Page, server: Server):
        self.page = page
        self.server = server
        page.add_init_script(PROBE)

    # --- reading the page ------------------------------------------------------------------
    def probe(self, fn: str, *args):
        call = f"window.servelabProbe.{fn}({', '.join('arg' + str(i) for i in range(len(args)))})"
        params = ", ".join(f"arg{i}" for i in range(len(args)))
        return self.page.evaluate(f"([{params}]) => {call}", list(args))

    def wait(self, what: str, predicate, timeout_s: float):
        """Poll ``predicate`` until it returns a truthy value; fail with ``what`` after timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout_s:g} s for {what}")
            self.page.wait_for_timeout(POLL_S * 1000)

    def kernel_idle(self, path: str, timeout_s: float) -> None:
        """Wait until the kernel is idle on two polls in a row with no new busy transition."""
        last = {"busy": -1, "idle": 0}

        def settled() -> bool:
            busy, status = self.probe("busyCount", path), self.probe("kernelStatus", path)
            quiet = status == "idle" and busy == last["busy"]
            last["idle"] = last["idle"] + 1 if quiet else 0
            last["busy"] = busy
            return last["idle"] >= 2

        self.wait(f"the kernel of {path} to be idle", settled, timeout_s)

    # --- acting as the learner -------------------------------------------------------------
    def open(self, path: str, timeout_s: float = 120) -> None:
        """Open ``path`` from its URL (a fresh workspace) and wait for its kernel."""
        self.page.goto(self.server.page(f"/lab/tree/{path}") + "&reset")
        self.wait("JupyterLab to load", lambda: self.page.evaluate("!!window.jupyterapp"), 60)
        self.wait(f"{path} to open", lambda: self.probe("cells", path), timeout_s)
        self.wait(
            f"the kernel of {path} to start",
            lambda: self.probe("kernelStatus", path) == "idle",
            timeout_s,
        )
        self.probe("watchKernel", path)

    def menu(self, top: str, item: str) -> None:
        self.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{top}$")).click()
        self.page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{item}$")).click()

    def run_all(self, path: str, timeout_s: float) -> None:
        """*Run > Run All Cells*, then wait until no cell is queued and the kernel is idle."""
        before = self.probe("busyCount", path)
        self.menu("Run", "Run All Cells")
        self.wait(
            f"Run All to start in {path}",
            lambda: self.probe("busyCount", path) > before,
            KNOB_REACH_S,
        )

        def finished() -> bool:
            cells = self.probe("cells", path)
            running = [c for c in cells if c["type"] == "code" and c["state"] == "running"]
            pending = self.probe("pendingExecutions", path)
            return not running and not pending and self.probe("kernelStatus", path) == "idle"

        try:
            self.wait(f"Run All to finish in {path}", finished, timeout_s)
        except TimeoutError as exc:
            cells = self.probe("cells", path)
            running = [c["index"] for c in cells if c["type"] == "code" and c["state"] == "running"]
            pending = self.probe("pendingExecutions", path)
            raise TimeoutError(
                f"{exc}; still running or queued: cells {running} ({pending} unanswered)"
            ) from None
        self.kernel_idle(path, timeout_s)

    def validate(self, timeout_s: float) -> Validation:
        """Click the notebook's Validate button and read nbgrader's answer."""
        self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .validate-button").click()
        dialog = self.page.locator(".jp-Dialog")
        dialog.wait_for(timeout=timeout_s * 1000)
        body = dialog.locator(".jp-Dialog-body")
        text = body.inner_text()
        passed = "Success! Your notebook passes all the tests." in text
        dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
        dialog.wait_for(state="detached", timeout=30_000)
        return Validation(passed, text, text.count("The following cell failed"))

    def validate_by_api(self, path: str) -> Validation:
        """What the Validate button asks the server (nbgrader's handler), without opening the
        notebook: no kernel is started for a copy that is only validated."""
        result = self.server.post_form("/assignments/validate", {"path": path}).json()
        if not result["success"]:
            return Validation(False, f"Validate could not run: {result['value']}")
        value = result["value"]
        return Validation(not value, str(value)[:3000], len(value.get("failed", [])))

    # --- what a learner would see go wrong -------------------------------------------------
    def problems(self, path: str) -> list[str]:
        """Everything wrong in the executed notebook: errors, cells not run, bad figures/widgets."""
        found = []
        cells = self.probe("cells", path)
        for cell in cells:
            if cell["type"] != "code":
                continue
            i = cell["index"]
            for out in cell["outputs"]:
                if out["type"] == "error":
                    tb = ANSI.sub("", out.get("traceback") or "")[-600:]
                    found.append(f"cell {i}: {out['ename']}: {out['evalue'][:300]}\n{tb}")
            if not cell["empty"] and cell["count"] is None:
                found.append(f"cell {i}: never ran (Run All stopped before it)")
        for cell in cells:
            if cell["type"] == "code":
                found += self.view_problems(path, cell)
        return found

    def view_problems(self, path: str, cell: dict) -> list[str]:
        """Figures and widget views of one cell, as rendered."""
        i = cell["index"]
        wants_widget = any(
            "application/vnd.jupyter.widget-view+json" in o["mimes"] for o in cell["outputs"]
        )
        if wants_widget:  # the widget manager renders asynchronously
            try:
                self.wait(
                    f"cell {i}'s widgets to render",
                    lambda: (
                        not any(
                            "Loading widget" in e
                            for e in self.probe("cellView", path, i)["widgetErrors"]
                        )
                    ),
                    WIDGET_RENDER_S,
                )
            except TimeoutError:
                pass  # reported below as a widget error
        view = self.probe("cellView", path, i)
        if view["progress"]:  # a widget's live work still going on
            view = self.settled_view(path, i, KNOB_RUN_S)
        elif any(f["why"] == NOT_DECODED for f in view["figures"] if not f["ok"]):
            view = self.settled_view(path, i)  # an image still decoding
        found = [f"cell {i}: widget not rendered: {e}" for e in view["widgetErrors"]]
        images = sum(1 for o in cell["outputs"] if any(m.startswith("image/") for m in o["mimes"]))
        if len(view["figures"]) < images:
            found.append(
                f"cell {i}: {images} figure(s) in the outputs, {len(view['figures'])} shown"
            )
        for n, fig in enumerate(view["figures"]):
            if not fig["ok"]:
                found.append(f"cell {i}: figure {n + 1} not drawn: {fig['why']}")
        if view["tracebacks"]:
            found.append(f"cell {i}: a traceback is shown in a widget's output")
        return found

    def settled_view(self, path: str, index: int, timeout_s: float = SETTLE_S) -> dict:
        """A cell's view once it stopped changing: the same for STABLE_POLLS polls in a row, no
        progress bar, every figure decoded (a widget callback's live work may go on after the
        kernel reports idle). After ``timeout_s`` it is judged as it is."""
        last = {"view": None, "same": 0}

        def stable():
            view = self.probe("cellView", path, index)
            drawn = all(f["ok"] or f["why"] != NOT_DECODED for f in view["figures"])
            same = last["view"] is not None and view["signature"] == last["view"]["signature"]
            last["same"] = last["same"] + 1 if same else 0
            last["view"] = view
            return view if last["same"] >= STABLE_POLLS and drawn and not view["progress"] else None

        try:
            return self.wait(f"cell {index} to settle", stable, timeout_s)
        except TimeoutError:
            return last["view"]

    def knob_cells(self, path: str) -> list[int]:
        """Cells whose outputs hold widget controls a learner can turn."""
        cells = self.probe("cells", path)
        return [
            c["index"]
            for c in cells
            if c["type"] == "code" and self.probe("cellView", path, c["index"])["knobs"]
        ]

    def turn_knobs(self, path: str) -> list[str]:
        """Turn every knob once; each cell's output must change and its figures stay drawn."""
        found = []
        selector = self.probe("knobSelector")
        for i in self.knob_cells(path):
            cell = self._cell_locator(path, i)
            before = self.probe("cellView", path, i)
            had_figure = any(f["ok"] for f in before["figures"])
            knobs = cell.locator(selector)
            order = sorted(range(knobs.count()), key=lambda k: self._is_button(knobs.nth(k)))
            changed = False
            for k in order:
                knob = knobs.nth(k)
                what = self._describe(knob)
                busy = self.probe("busyCount", path)
                if not self._turn(knob):
                    continue
                try:
                    self.wait(
                        f"{what} to reach the kernel",
                        lambda b=busy: self.probe("busyCount", path) > b,
                        KNOB_REACH_S,
                    )
                    self.kernel_idle(path, KNOB_RUN_S)
                except TimeoutError as exc:
                    found.append(f"cell {i}: {what}: {exc}")
                    continue
                after = self.settled_view(path, i, KNOB_RUN_S)
                if after["signature"] != before["signature"]:
                    changed = True
                for n, fig in enumerate(after["figures"]):
                    if not fig["ok"]:
                        found.append(f"cell {i}: after {what}, figure {n + 1}: {fig['why']}")
                if had_figure and not any(f["ok"] for f in after["figures"]):
                    found.append(f"cell {i}: after {what}, its figure is gone")
                if after["tracebacks"]:
                    found.append(f"cell {i}: after {what}, a traceback is shown")
                before = after
            if not changed:
                found.append(f"cell {i}: turning its {knobs.count()} knob(s) changed no output")
        return found

    # --- knobs -----------------------------------------------------------------------------
    def _cell_locator(self, path: str, index: int):
        self.page.evaluate(
            """([path, index]) => {
                const p = window.servelabProbe.panel(path);
                p.content.widgets.forEach((c, i) => c.node.setAttribute('data-servelab-cell', i));
                p.node.setAttribute('data-servelab-panel', '1');
            }""",
            [path, index],
        )
        cell = self.page.locator(f"[data-servelab-panel='1'] [data-servelab-cell='{index}']")
        cell.scroll_into_view_if_needed()
        return cell

    @staticmethod
    def _is_button(knob) -> bool:
        return knob.evaluate("e => e.matches('button.widget-button')")

    @staticmethod
    def _describe(knob) -> str:
        return knob.evaluate(
            """e => {
                const box = e.closest('.widget-inline-hbox, .widget-toggle-buttons') || e;
                const label = box.querySelector('.widget-label');
                const name = (label && label.textContent) || e.textContent || e.tagName;
                return `knob '${name.trim().slice(0, 40)}'`;
            }"""
        )

    @staticmethod
    def _turn(knob) -> bool:
        """Change one control's value the way a learner would; False when it cannot change."""
        kind = knob.evaluate(
            """e => e.classList.contains('noUi-handle') ? 'slider'
                 : e.tagName === 'SELECT' ? (e.multiple ? 'multi' : 'select')
                 : e.tagName === 'BUTTON'
                   ? (e.closest('.widget-toggle-buttons') ? 'toggle' : 'button')
                 : e.type === 'checkbox' || e.type === 'radio' ? e.type : 'text'"""
        )
        if kind == "slider":
            at_max = knob.evaluate(
                "e => e.getAttribute('aria-valuenow') === e.getAttribute('aria-valuemax')"
            )
            knob.focus()
            knob.press("ArrowLeft" if at_max else "ArrowRight")
        elif kind in ("select", "multi"):
            n, current = knob.evaluate("e => [e.options.length, e.selectedIndex]")
            if n < 2 and kind == "select":
                return False
            knob.select_option(index=(current + 1) % n)
        elif kind == "toggle":
            if knob.evaluate("e => e.classList.contains('mod-active')"):
                return False
            knob.click()
        elif kind == "radio":
            if knob.evaluate("e => e.checked"):
                return False
            knob.click()
        elif kind == "text":
            knob.fill(knob.input_value() + "1")
            knob.press("Enter")
        else:  # button, checkbox
            knob.click()
        return True
