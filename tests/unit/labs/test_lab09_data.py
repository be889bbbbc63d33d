"""Lab 09's data as its checks use it: tables keep their index on the grading wire, and every
self-hosted price follows from the instance price its source quotes."""

from __future__ import annotations

import re

import pandas as pd

from servelab.grading import wire
from servelab.labs import lab09_decision as decision


def across_the_wire(value):
    return wire.from_plain(wire.loads(wire.dumps(wire.to_plain(value))))


def test_the_decision_tables_keep_their_index_across_the_grading_wire():
    # weighted_scores ranks patterns and paths_within returns path ids: both are the index
    for table in (decision.load_scores(), decision.load_paths()):
        back = across_the_wire(table)
        assert list(back.index) == list(table.index)
        assert back.index.name == table.index.name
        pd.testing.assert_frame_equal(back, table, check_dtype=False)


def test_a_ranking_and_a_row_keep_their_labels_across_the_grading_wire():
    ranking = pd.Series([3.95, 3.45], index=["managed-api", "cloud-platform"], name="score")
    back = across_the_wire(ranking)
    assert back.index.tolist() == ranking.index.tolist() and back.tolist() == ranking.tolist()
    row = decision.load_paths().loc["cloud-eu"]  # budget_of_a_table_row passes this row
    back = across_the_wire(row)
    stages = ["network_rtt_ms", "queue_ms", "ttft_ms", "per_token_ms"]
    assert back.name == "cloud-eu" and back[stages].tolist() == row[stages].tolist()


def test_per_gpu_prices_follow_the_quoted_instance_price():
    # "55.04 USD/h for p5.48xlarge (8x H100) ..., divided by 8" must be the hourly_usd column
    own = pd.read_csv(decision.LAB09 / "selfhosted.csv")
    quoted = own[own.source.str.contains("divided by 8")]
    assert len(quoted) >= 1
    for row in quoted.itertuples():
        usd = float(re.search(r"([\d.]+) USD/h for p5\.48xlarge \(8x H100\)", row.source)[1])
        assert row.hourly_usd == round(usd / 8, 2), row.path
    priced_as = own[own.source.str.startswith("price as selfhosted-batch-h100")]
    assert (priced_as.hourly_usd == quoted.hourly_usd.iloc[0]).all()
