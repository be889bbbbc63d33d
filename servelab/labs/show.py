"""How the labs show things: whole tables, figures drawn where the code is, widgets that redraw.

Habits every lab keeps, so a learner never wonders whether a plot went missing or a table was
cut:

- ``full_tables()`` (in a lab's first cell) and ``table(df)`` (for one table): every column
  and the whole text of every cell, never pandas' "..." (a stage description or an answer cut
  at 50 characters says nothing);
- ``figure(fig)``: show a finished figure now and close it, so the picture does not depend on
  when the inline backend flushes (helpers draw with ``layout="constrained"``, which keeps long
  tick labels inside the picture);
- ``redraw(out, draw)``: the whole body of a widget callback. It runs ``draw()`` with its
  figures and prints captured, then replaces what the widget's own ``Output`` shows in one
  update: the old picture stays until the new one is ready (what ``clear_output(wait=True)``
  promises), figures come first and printed text after them, so a print can never blank a
  figure; an error is one line in that output, not a dead widget. It never enters the
  ``with out:`` context: under ipykernel 7.4 a cell that did so sometimes left the kernel
  deaf to the next request until another message arrived (measured: 1-2 runs in 15 of a
  three-line notebook under nbclient, each stalled until its timeout; with no timeout, as
  ``jupyter nbconvert --execute`` runs by default, forever);
- ``knobs(draw, **controls)``: ``ipywidgets.interact`` done with ``redraw``: one output,
  redrawn whenever a control changes;
- ``held_prints(work)``: run ``work()`` with its prints held back (a live section's one-line
  message, for example), so a widget callback can draw first and print after.
"""

from __future__ import annotations

import base64
import contextlib
import io
from collections.abc import Callable
from typing import Any, TypeVar

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

T = TypeVar("T")


def full_tables() -> None:
    """From now on in this kernel, pandas shows every column and whole cell texts (no "...")."""
    pd.set_option("display.max_colwidth", None)
    pd.set_option("display.max_columns", None)
    pd.set_option("display.width", None)


def table(df: pd.DataFrame | pd.Series, rows: int | None = None) -> None:
    """Display ``df`` whole: no column, row (up to ``rows``) or cell text elided."""
    with pd.option_context(
        "display.max_colwidth",
        None,
        "display.max_columns",
        None,
        "display.width",
        None,
        "display.max_rows",
        rows or max(len(df), 60),
    ):
        display(df)


def figure(fig: plt.Figure) -> None:
    """Display a finished figure here and now, then close it (it is not shown twice)."""
    display(fig)
    plt.close(fig)


def captured(draw: Callable[[], None]) -> tuple[dict[str, Any], ...]:
    """What ``draw()`` displays and prints, as notebook outputs: displays first, then text."""
    from IPython.utils.capture import capture_output

    with capture_output(stdout=True, stderr=False, display=True) as cap:
        try:
            draw()
        except Exception as exc:  # noqa: BLE001 - a knob must stay usable after a bad value
            plt.close("all")
            print(f"could not draw this one ({type(exc).__name__}: {exc})")
    outputs = [
        {"output_type": "display_data", "data": _text_only(o.data), "metadata": o.metadata}
        for o in cap.outputs
    ]
    if cap.stdout:
        outputs.append({"output_type": "stream", "name": "stdout", "text": cap.stdout})
    return tuple(outputs)


def _text_only(data: dict[str, Any]) -> dict[str, Any]:
    """A mime bundle as JSON wants it: binary payloads (an older PNG formatter) as base64."""
    return {
        mime: base64.b64encode(value).decode("ascii") if isinstance(value, bytes) else value
        for mime, value in data.items()
    }


def redraw(out: Any, draw: Callable[[], None], busy: str = "") -> None:
    """Replace what ``out`` (an ``ipywidgets.Output``) shows with what ``draw()`` shows.

    ``busy``: a line shown while ``draw()`` runs (a button that calls a live service), instead
    of the previous picture.
    """
    if busy:
        out.outputs = ({"output_type": "stream", "name": "stdout", "text": busy + "\n"},)
    out.outputs = captured(draw)


def knobs(draw: Callable[..., None], **controls: Any) -> Any:
    """Controls above one output that ``draw(**values)`` fills, redrawn on every change.

    Returns the widget box (display it, or leave it as a cell's last expression).
    """
    import ipywidgets as widgets

    out = widgets.Output()

    def update(_change: Any = None) -> None:
        redraw(out, lambda: draw(**{name: w.value for name, w in controls.items()}))

    for control in controls.values():
        control.observe(update, names="value")
    update()
    return widgets.VBox([*controls.values(), out])


def held_prints(work: Callable[[], T]) -> tuple[T, str]:
    """``(work(), what it printed)``: the text is printed by the caller, after its figure."""
    held = io.StringIO()
    with contextlib.redirect_stdout(held):
        result = work()
    return result, held.getvalue().strip()
