"""Lab 03's GPU-hour prices: each per-GPU price follows from the instance price its note quotes,
and an instance priced in another lab's data is priced the same here (a price fixed in one lab
must not stay stale in another)."""

from __future__ import annotations

import re

import pandas as pd

from servelab.labs.lab03_batch import load_gpu_prices
from servelab_base.paths import DATASETS

#: "55.04 USD per hour for 8 GPUs" in lab 03's note; "55.04 USD/h for p5.48xlarge (8x H100)" in
#: lab 09's source
QUOTED = re.compile(r"([\d.]+) USD (?:per hour|/h) for (\d+) GPUs")
INSTANCE = re.compile(r"\b([a-z]\d[a-z]*\.\d*xlarge)\b")


def on_demand_instances() -> dict[str, list[tuple[str, float]]]:
    """instance type -> [(where, USD per GPU-hour)] for every on-demand row of labs 03 and 09."""
    found: dict[str, list[tuple[str, float]]] = {}
    lab03 = load_gpu_prices()
    for row in lab03.itertuples():
        match = INSTANCE.search(row.offer)
        if match and "on-demand" in row.offer:
            found.setdefault(match[1], []).append((f"lab03 {row.offer}", row.usd_per_gpu_hour))
    lab09 = pd.read_csv(DATASETS / "lab09" / "selfhosted.csv")
    for row in lab09.itertuples():
        match = INSTANCE.search(row.hardware)
        if match and "on demand" in row.hardware and row.unit == "per_gpu_hour":
            found.setdefault(match[1], []).append((f"lab09 {row.path}", row.hourly_usd))
    return found


def test_per_gpu_prices_follow_the_quoted_instance_price():
    prices = load_gpu_prices()
    quoted = prices[[QUOTED.search(note) is not None for note in prices.note]]
    assert len(quoted) >= 1
    for row in quoted.itertuples():
        usd, gpus = QUOTED.search(row.note).groups()
        assert row.usd_per_gpu_hour == round(float(usd) / int(gpus), 2), row.offer


def test_an_instance_is_priced_the_same_in_every_lab():
    found = on_demand_instances()
    assert "p5.48xlarge" in found and len(found["p5.48xlarge"]) >= 2  # both labs price it
    for instance, rows in found.items():
        assert len({usd for _, usd in rows}) == 1, f"{instance} priced differently: {rows}"


def test_an_instance_priced_twice_is_caught(monkeypatch):
    # the check itself: a stale copy of the pre-cut price in lab 03 must be reported
    stale = load_gpu_prices()
    stale.loc[stale.offer.str.contains("p5.48xlarge"), "usd_per_gpu_hour"] = 12.29
    monkeypatch.setattr(f"{__name__}.load_gpu_prices", lambda: stale)
    rows = on_demand_instances()["p5.48xlarge"]
    assert len({usd for _, usd in rows}) == 2, rows  # what the test above fails on
