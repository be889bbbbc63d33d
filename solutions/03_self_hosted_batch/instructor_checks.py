"""Lab 03's checks: the instructor's only copy (never released; labs/ gets the visible part).

Expected values for recordings are goldens (``servelab course goldens 03_self_hosted_batch``);
constructed cases carry their expected value beside the case, where a reader can verify it.
A run row reaches the learner's code as a pandas Series (index kept) or as a dict, as the
exercise text allows both.
"""

from __future__ import annotations

import math

import pandas as pd

from servelab.grading.checks import Checks, close
from servelab.labs.lab03_batch import load_outputs, load_runs
from servelab_base.paths import DATASETS

checks = Checks(goldens=DATASETS / "lab03" / "expected.json")

#: Llama 3 8B in bf16 (docs/metrics.md): 128 KiB of KV per token, 16.06 GB of weights.
KV_LLAMA3_8B = 128 * 1024
WEIGHTS_LLAMA3_8B = 16.06e9


def near(got, expected: float, rel: float = 1e-9) -> bool:
    """``got`` is an int or float within ``rel`` (relative) of ``expected``."""
    return close(got, expected, max(abs(expected) * rel, 1e-12))


def run_row(batch_size: int) -> pd.Series:
    """One recorded run, as the notebook takes it: a Series indexed by column name."""
    return load_runs().set_index("batch_size").loc[batch_size]


# BEGIN HIDDEN CHECKS
@checks.cases
def cases(solution) -> dict:
    """Goldens: what the reference solution makes of the recordings."""
    visible = {
        "ex1.recorded_accuracy": solution.accuracy(load_outputs()),
        "ex2.batch_64": solution.output_tokens_per_s(run_row(64)),
    }
    hidden = {
        "ex2.batch_1": solution.output_tokens_per_s(run_row(1)),
        "ex2.every_run": [solution.output_tokens_per_s(r) for _, r in load_runs().iterrows()],
    }
    return {"visible": visible, "hidden": hidden}


# END HIDDEN CHECKS

# Exercise 1: from free text to labels ----------------------------------------------------------


@checks.visible("ex1_tests")
def parse_label_examples_of_the_text(learner):
    "parse_label on the examples of the exercise text"
    got = learner.parse_label("Category: Shipping.")
    assert got == "shipping", f'parse_label("Category: Shipping.") = {got!r}: ignore case'
    got = learner.parse_label("Technical, not billing")
    assert got == "technical", f"{got!r}: the label that appears earliest in the text wins"
    got = learner.parse_label("I cannot tell.")
    assert got is None, f'parse_label("I cannot tell.") = {got!r}: None when no label appears'


@checks.visible("ex1_tests")
def accuracy_of_the_recorded_run(learner):
    "accuracy of the recorded answers (outputs.jsonl)"
    got = learner.accuracy(load_outputs())
    assert type(got) is float, f"return the share as a float, not {type(got).__name__}"
    assert close(got, checks.golden("ex1.recorded_accuracy")), (
        f"accuracy = {got!r}: right rows / all rows, a row without a label counts as wrong"
    )


# BEGIN HIDDEN CHECKS
@checks.hidden("ex1_tests")
def earliest_label_wins_in_either_order(learner):
    "the label that appears earliest wins, whatever the order of LABELS"
    assert learner.parse_label("billing or technical? I'd say technical") == "billing"
    assert learner.parse_label("shipping, maybe technical") == "shipping"  # LABELS order: technical
    assert learner.parse_label("my account was charged: billing") == "account"


@checks.hidden("ex1_tests")
def case_is_ignored(learner):
    "upper and mixed case"
    assert learner.parse_label("ACCOUNT") == "account"
    assert learner.parse_label("TeChNiCaL") == "technical"


@checks.hidden("ex1_tests")
def whitespace_and_punctuation_around_a_label(learner):
    "whitespace and punctuation around a label"
    assert learner.parse_label("  billing\n") == "billing"
    assert learner.parse_label('"Shipping"!!') == "shipping"
    assert learner.parse_label("(account)") == "account"


@checks.hidden("ex1_tests")
def label_inside_a_longer_word(learner):
    "a label inside a longer word still counts"
    assert learner.parse_label("Accounts") == "account"
    assert learner.parse_label("a shipping-related question") == "shipping"


@checks.hidden("ex1_tests")
def no_known_label_is_none(learner):
    "no known label (empty text, another queue's name) gives None"
    for text in ("", "sales", "Refund, please.", "none"):
        assert learner.parse_label(text) is None, text


@checks.hidden("ex1_tests")
def accuracy_of_a_small_table(learner):
    "accuracy of a small table"
    case = pd.DataFrame(
        {
            "text": ["billing", "shipping", "technical", "account"],
            "label": ["billing", "account", "technical", "shipping"],
        }
    )
    assert close(learner.accuracy(case), 0.5)  # rows 1 and 3 right: 2 / 4


@checks.hidden("ex1_tests")
def rows_without_a_label_count_as_wrong(learner):
    "a row whose text has no label counts as wrong, not as missing"
    case = pd.DataFrame(
        {"text": ["?", "shipping", "no idea"], "label": ["billing", "shipping", "account"]}
    )
    assert close(learner.accuracy(case), 1 / 3)  # 1 right of 3 rows, not 1 of 1
    none = pd.DataFrame({"text": ["?", "??"], "label": ["billing", "account"]})
    assert close(learner.accuracy(none), 0.0)


@checks.hidden("ex1_tests")
def every_row_right(learner):
    "every row right gives 1.0"
    case = pd.DataFrame({"text": ["account", "billing"], "label": ["account", "billing"]})
    assert close(learner.accuracy(case), 1.0)


# END HIDDEN CHECKS

# Exercise 2: tokens per second and the price of a million tokens ---------------------------------


@checks.visible("ex2_tests")
def throughput_of_the_batch_64_run(learner):
    "output tokens/s of the batch-64 run (a row of runs, as a Series)"
    got = learner.output_tokens_per_s(run_row(64))
    assert near(got, checks.golden("ex2.batch_64")), (
        f"{got!r}: output tokens (not prompt tokens) per second of wall time"
    )


@checks.visible("ex2_tests")
def price_of_a_million_tokens(learner):
    "USD per million tokens at 1,000 tok/s and 3.60 USD/h"
    got = learner.usd_per_million_tokens(1000, 3.6)
    assert near(got, 1.0), f"{got!r}: 1,000 tok/s is 3.6 M tokens per hour, for 3.60 USD"


# BEGIN HIDDEN CHECKS
@checks.hidden("ex2_tests")
def throughput_of_every_recorded_run(learner):
    "output tokens/s of every recorded run"
    assert near(learner.output_tokens_per_s(run_row(1)), checks.golden("ex2.batch_1"))
    expected = checks.golden("ex2.every_run")
    got = [learner.output_tokens_per_s(row) for _, row in load_runs().iterrows()]
    assert len(got) == len(expected)
    assert all(near(g, e) for g, e in zip(got, expected, strict=True))


@checks.hidden("ex2_tests")
def throughput_of_a_dict_row(learner):
    "a run given as a dict: output tokens only"
    run = {"prompt_tokens": 9000, "elapsed_s": 2.0, "output_tokens": 500}
    assert near(learner.output_tokens_per_s(run), 250.0)  # 500 / 2.0 s; prompt tokens ignored
    assert near(learner.output_tokens_per_s({"output_tokens": 30, "elapsed_s": 4}), 7.5)


@checks.hidden("ex2_tests")
def throughput_of_a_series_in_another_order(learner):
    "a run given as a Series with its fields in another order"
    run = pd.Series({"elapsed_s": 8.0, "documents": 3, "output_tokens": 100, "prompt_tokens": 7})
    assert near(learner.output_tokens_per_s(run), 12.5)  # 100 / 8.0 s


@checks.hidden("ex2_tests")
def price_varies_with_both_arguments(learner):
    "USD per million tokens for other speeds and prices"
    assert near(learner.usd_per_million_tokens(2500, 2.49), 2.49 / 9e6 * 1e6)  # 9 M tokens/h
    assert near(learner.usd_per_million_tokens(50, 0.10), 0.10 / 180_000 * 1e6)  # 180 k/h
    assert near(learner.usd_per_million_tokens(1, 36), 10_000.0)  # 3,600 tok/h for 36 USD


# END HIDDEN CHECKS

# Exercise 3: GPU-hours, the API bill and break-even ----------------------------------------------


@checks.visible("ex3_tests")
def gpu_hours_of_the_job(learner):
    "GPU-hours of ten million documents"
    got = learner.gpu_hours(10_000_000, 36, 1000)
    assert near(got, 100.0), f"{got!r}: 360 M output tokens at 1,000 tok/s is 100 hours"


@checks.visible("ex3_tests")
def api_bill(learner):
    "the bill of a managed API"
    got = learner.api_cost_usd(1_000_000, 500, 20, 0.15, 0.60)
    assert near(got, 87.0), f"{got!r}: 500 M input tokens x 0.15 + 20 M output x 0.60 USD per M"


@checks.visible("ex3_tests")
def break_even_of_the_example(learner):
    "break-even: 10,000 USD fixed, 0.0001 vs 0.0011 USD per document"
    got = learner.break_even_docs(10_000, 0.0001, 0.0011)
    assert near(got, 10_000_000), f"{got!r}: the fixed cost over the saving per document"


# BEGIN HIDDEN CHECKS
@checks.hidden("ex3_tests")
def gpu_hours_vary_with_every_argument(learner):
    "GPU-hours for other jobs and speeds"
    assert near(learner.gpu_hours(1, 3600, 1), 1.0)  # 3,600 tokens at 1 tok/s
    assert near(learner.gpu_hours(2_000_000, 50, 2500), 2_000_000 * 50 / 2500 / 3600)
    assert near(learner.gpu_hours(3, 1200, 2.0), 0.5)  # 3,600 tokens at 2 tok/s = 1,800 s
    assert near(learner.gpu_hours(5, 1000, 3.0), 5000 / 3 / 3600)  # 1,666.7 s: no rounding


@checks.hidden("ex3_tests")
def api_bill_prices_input_and_output_apart(learner):
    "input and output tokens at their own prices"
    assert near(learner.api_cost_usd(3, 0, 1_000_000, 1.0, 2.0), 6.0)  # 3 M output x 2 USD
    assert near(learner.api_cost_usd(3, 1_000_000, 0, 1.0, 2.0), 3.0)  # 3 M input x 1 USD
    assert near(
        learner.api_cost_usd(10_000_000, 800, 50, 2.50, 10.00),
        10_000_000 * (800 * 2.5 + 50 * 10) / 1e6,  # 20,000 + 5,000 USD
    )
    assert near(learner.api_cost_usd(1000, 500, 20, 0.15, 0.60), 0.087)  # cents count too


@checks.hidden("ex3_tests")
def break_even_at_equal_cost_per_document(learner):
    "the same cost per document never breaks even"
    assert learner.break_even_docs(5000, 0.001, 0.001) == math.inf
    assert learner.break_even_docs(5, 0.25, 0.25) == math.inf


@checks.hidden("ex3_tests")
def break_even_when_the_api_is_cheaper(learner):
    "an API cheaper per document never breaks even"
    assert learner.break_even_docs(5000, 0.002, 0.001) == math.inf
    assert learner.break_even_docs(1000, 1.5, 0.5) == math.inf


@checks.hidden("ex3_tests")
def break_even_counts_the_self_hosted_cost(learner):
    "the self-hosted cost per document reduces the saving"
    assert near(learner.break_even_docs(1000, 0.5, 1.5), 1000.0)  # 1,000 / (1.5 - 0.5)
    assert near(learner.break_even_docs(1000, 1, 4), 1000 / 3)  # unrounded: 333.33...
    assert near(learner.break_even_docs(2500, 0.0005, 0.003), 1_000_000)


@checks.hidden("ex3_tests")
def break_even_without_fixed_cost(learner):
    "no fixed cost breaks even at once"
    assert near(learner.break_even_docs(0, 0.001, 0.002), 0.0)


# END HIDDEN CHECKS

# Exercise 4: how many sequences fit the KV cache -------------------------------------------------


@checks.visible("ex4_tests")
def sequences_on_an_h100(learner):
    "Llama 3 8B on an H100 80GB, 8,192 tokens per sequence"
    got = learner.max_sequences(80e9, WEIGHTS_LLAMA3_8B, KV_LLAMA3_8B, 8192)
    # 80e9 x 0.9 - 16.06e9 = 55.94e9 bytes free; 131,072 x 8,192 = 1,073,741,824 per sequence
    assert got == 52 and type(got) is int, f"{got!r}: a whole number of sequences (52.1 -> 52)"


# BEGIN HIDDEN CHECKS
@checks.hidden("ex4_tests")
def other_cards_lengths_and_utilizations(learner):
    "other memory sizes, sequence lengths and utilizations"
    f = learner.max_sequences
    assert f(40e9, WEIGHTS_LLAMA3_8B, KV_LLAMA3_8B, 8192) == 18  # 19.94e9 / 1.07e9 = 18.6
    assert f(80e9, WEIGHTS_LLAMA3_8B, KV_LLAMA3_8B, 1024) == 416  # 55.94e9 / 134.2e6 = 416.8
    assert f(80e9, WEIGHTS_LLAMA3_8B, KV_LLAMA3_8B, 1024, utilization=0.5) == 178  # 23.94e9 / ..


@checks.hidden("ex4_tests")
def sequences_that_fit_exactly(learner):
    "memory that fits a whole number of sequences exactly"
    assert learner.max_sequences(1000, 200, 10, 20, utilization=1.0) == 4  # 800 / 200 = 4
    assert learner.max_sequences(1000, 200, 10, 20, 1.0) == 4
    assert learner.max_sequences(1000, 200, 10, 20, utilization=0.5) == 1  # 300 / 200 = 1.5
    assert learner.max_sequences(1001, 1000, 1, 1, utilization=1.0) == 1  # 1 byte free, 1 needed


@checks.hidden("ex4_tests")
def default_utilization_is_vllms(learner):
    "the default utilization is 0.9"
    assert learner.max_sequences(1000, 0, 1, 100) == 9  # 900 / 100; not 10
    assert learner.max_sequences(2000, 100, 10, 10) == 17  # (1,800 - 100) / 100 = 17


@checks.hidden("ex4_tests")
def weights_that_do_not_fit(learner):
    "weights that fill or exceed the usable memory"
    assert learner.max_sequences(16e9, WEIGHTS_LLAMA3_8B, KV_LLAMA3_8B, 8192) == 0
    assert learner.max_sequences(1000, 500, 1, 1, utilization=0.5) == 0  # 500 - 500 = 0 free
    assert learner.max_sequences(1000, 999, 1, 1, utilization=0.5) == 0  # not negative
    assert learner.max_sequences(1000, 500.5, 1, 1, utilization=0.5) == 0  # half a byte short


@checks.hidden("ex4_tests")
def kv_per_token_and_tokens_per_sequence_both_count(learner):
    "bytes per token and tokens per sequence both set a sequence's size"
    assert learner.max_sequences(10_000, 0, 3, 7, utilization=1.0) == 476  # 10,000 // 21
    assert learner.max_sequences(10_000, 0, 7, 3, utilization=1.0) == 476
    assert learner.max_sequences(10_000, 0, 1, 7, utilization=1.0) == 1428  # 10,000 // 7


@checks.hidden("ex4_tests")
def a_whole_number_of_sequences(learner):
    "the answer is an int, for float and int inputs"
    got = learner.max_sequences(80e9, WEIGHTS_LLAMA3_8B, KV_LLAMA3_8B, 600)
    assert type(got) is int and got == 711  # 55.94e9 / 78,643,200 = 711.3
    got = learner.max_sequences(1000, 200, 10, 20, 1)
    assert type(got) is int and got == 4


# END HIDDEN CHECKS
