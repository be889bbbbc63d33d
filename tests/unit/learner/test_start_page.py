"""START.md: every lab in course order, by its full title, linked to its notebook."""

from __future__ import annotations

import json
import re

from servelab import start_page, workspace
from servelab_base.paths import LABS


def notebook(path, heading: str) -> None:
    path.parent.mkdir(parents=True)
    cells = [{"cell_type": "markdown", "source": [heading + "\n", "\n", "Text."]}]
    path.write_text(json.dumps({"cells": cells}))


def test_every_released_lab_is_listed_in_order_with_its_title_and_link():
    labs = workspace.released_labs()
    text = start_page.render(LABS, labs)
    links = re.findall(r"\]\(([^)]+\.ipynb)\)", text)
    assert links == [f"{lab}/{lab}.ipynb" for lab in labs]
    assert "Self-hosted batch" in text and "Self-hosted online" in text  # 03 and 04 told apart
    assert "servelab doctor" in text and "help" in text.lower()
    assert f"{len(labs)} notebook labs" in text


def test_the_title_is_the_first_heading_without_the_lab_number(tmp_path):
    notebook(tmp_path / "00_a" / "00_a.ipynb", "# Lab 00 — The first one")
    notebook(tmp_path / "01_b" / "01_b.ipynb", "Intro without a heading")
    text = start_page.render(tmp_path, ["00_a", "01_b"])
    assert "| 00 | [The first one](00_a/00_a.ipynb) | `00_a/` |" in text
    assert "| 01 | [01_b](01_b/01_b.ipynb) | `01_b/` |" in text


def test_write_replaces_the_generated_page(tmp_path):
    notebook(tmp_path / "00_a" / "00_a.ipynb", "# Lab 00 — A")
    (tmp_path / start_page.FILE).write_text("old")
    path = start_page.write(tmp_path, ["00_a"])
    assert "[A](00_a/00_a.ipynb)" in path.read_text()
