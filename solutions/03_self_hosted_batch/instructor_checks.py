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
from servelab.labs.lab03_batch import load_gpu_prices, load_outputs, load_runs, modelled_rates
from servelab_base.catalog import Price, PriceTier
from servelab_base.catalog import load as load_catalog
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


#: The notebook's ten-million-document job: tokens in and out per document, the fixed cost of
#: self-hosting, and its deadline (two weeks).
JOB_IN, JOB_OUT, JOB_FIXED_USD, TWO_WEEKS_H = 800, 50, 20_000, 14 * 24


def synchronous(provider: str, model: str) -> Price:
    """A model's synchronous price from the catalog (prices.csv), as the notebook passes it."""
    return load_catalog().price(provider, model)


def batch_tier(provider: str, model: str) -> PriceTier | None:
    """A model's batch tier from the catalog (tiers.csv); None where none is catalogued."""
    return load_catalog().tier(provider, model, "batch")


def sync_price(input_usd: float, output_usd: float) -> Price:
    """A constructed synchronous price, USD per million tokens."""
    return Price("per_million_tokens", input_usd, output_usd, None, "constructed", "a check")


def tier(input_usd: float, output_usd: float, window_hours: float) -> PriceTier:
    """A constructed batch tier, USD per million tokens, results within ``window_hours``."""
    return PriceTier("batch", input_usd, output_usd, window_hours, "constructed", "a check")


def h100_usd_per_hour(offer_prefix: str) -> float:
    """An H100 offer's published price per GPU-hour (datasets/lab03/gpu_prices.csv)."""
    prices = load_gpu_prices()
    row = prices[prices.gpu.str.startswith("H100") & prices.offer.str.startswith(offer_prefix)]
    return float(row.usd_per_gpu_hour.iloc[0])


def self_hosted_usd_per_doc(usd_per_gpu_hour: float) -> float:
    """The notebook's self-hosted cost per document of the job: modelled H100 decode and prefill
    time (lab03_batch.modelled_rates, batch 64) at a published GPU-hour price."""
    decode, prefill = modelled_rates(JOB_IN, JOB_OUT)
    return (JOB_OUT / decode + JOB_IN / prefill) / 3600 * usd_per_gpu_hour


def break_even_of_the_job(solver, usd_per_gpu_hour: float, model: str, deadline_h: float):
    """Break-even of the job against a model's cheapest OpenAI option that meets the deadline,
    with ``solver``'s own ``managed_usd_per_doc`` and ``break_even_docs``."""
    per_doc = solver.managed_usd_per_doc(
        JOB_IN, JOB_OUT, synchronous("openai", model), batch_tier("openai", model), deadline_h
    )
    return solver.break_even_docs(JOB_FIXED_USD, self_hosted_usd_per_doc(usd_per_gpu_hour), per_doc)


# BEGIN HIDDEN CHECKS
@checks.cases
def cases(solution) -> dict:
    """Goldens: what the reference solution makes of the recordings."""
    managed = solution.managed_usd_per_doc
    lambda_usd, aws_usd = h100_usd_per_hour("Lambda"), h100_usd_per_hour("AWS p5.48xlarge")
    visible = {
        "ex1.recorded_accuracy": solution.accuracy(load_outputs()),
        "ex2.batch_64": solution.output_tokens_per_s(run_row(64)),
        "ex3.gpt-4o.two_weeks": managed(
            JOB_IN, JOB_OUT, synchronous("openai", "gpt-4o"), batch_tier("openai", "gpt-4o"), 336
        ),
        "ex3.gpt-4o.one_hour": managed(
            JOB_IN, JOB_OUT, synchronous("openai", "gpt-4o"), batch_tier("openai", "gpt-4o"), 1
        ),
        "ex3.break_even.gpt-4o.two_weeks.lambda": break_even_of_the_job(
            solution, lambda_usd, "gpt-4o", TWO_WEEKS_H
        ),
    }
    hidden = {
        "ex2.batch_1": solution.output_tokens_per_s(run_row(1)),
        "ex2.every_run": [solution.output_tokens_per_s(r) for _, r in load_runs().iterrows()],
        "ex3.gpt-5-mini.two_weeks": managed(
            JOB_IN,
            JOB_OUT,
            synchronous("openai", "gpt-5-mini"),
            batch_tier("openai", "gpt-5-mini"),
            TWO_WEEKS_H,
        ),
        "ex3.azure.gpt-4o-mini.two_days": managed(
            300,
            120,
            synchronous("azure-openai", "gpt-4o-mini"),
            batch_tier("azure-openai", "gpt-4o-mini"),
            48,
        ),
        "ex3.break_even.gpt-4o.half_a_day.aws": break_even_of_the_job(
            solution, aws_usd, "gpt-4o", 12
        ),
        "ex3.break_even.gpt-4o-mini.two_weeks.aws": break_even_of_the_job(
            solution, aws_usd, "gpt-4o-mini", TWO_WEEKS_H
        ),
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


@checks.visible("ex3_tests")
def batch_tier_for_a_job_that_can_wait(learner):
    "gpt-4o on OpenAI, due in two weeks: a document at the batch tier's prices"
    got = learner.managed_usd_per_doc(
        JOB_IN, JOB_OUT, synchronous("openai", "gpt-4o"), batch_tier("openai", "gpt-4o"), 336
    )
    assert near(got, checks.golden("ex3.gpt-4o.two_weeks")), (
        f"{got!r}: a 24 h window meets a 336 h deadline, so 800 tokens in and 50 out are priced"
        " at the tier's input_usd and output_usd"
    )


@checks.visible("ex3_tests")
def synchronous_price_for_a_job_due_soon(learner):
    "gpt-4o on OpenAI, due in one hour: the synchronous price"
    got = learner.managed_usd_per_doc(
        JOB_IN, JOB_OUT, synchronous("openai", "gpt-4o"), batch_tier("openai", "gpt-4o"), 1
    )
    assert near(got, checks.golden("ex3.gpt-4o.one_hour")), (
        f"{got!r}: a 24 h window misses a 1 h deadline: only the synchronous price qualifies"
    )


@checks.visible("ex3_tests")
def break_even_against_the_batch_tier(learner):
    "break-even of the ten-million-document job against gpt-4o's batch tier (Lambda's H100)"
    got = break_even_of_the_job(learner, h100_usd_per_hour("Lambda"), "gpt-4o", TWO_WEEKS_H)
    assert near(got, checks.golden("ex3.break_even.gpt-4o.two_weeks.lambda")), (
        f"{got!r}: break_even_docs(20,000, the modelled self-hosted cost per document,"
        " managed_usd_per_doc(...)) with the batch tier as the managed option"
    )


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


@checks.hidden("ex3_tests")
def batch_window_equal_to_the_deadline(learner):
    "a batch window exactly as long as the time to the deadline"
    f = learner.managed_usd_per_doc
    # synchronous (1,000 x 1.0 + 100 x 4.0) / 1e6 = 0.0014; tier (500 + 200) / 1e6 = 0.0007
    assert near(f(1000, 100, sync_price(1.0, 4.0), tier(0.5, 2.0, 24), 24), 0.0007)
    assert near(f(1000, 100, sync_price(1.0, 4.0), tier(0.5, 2.0, 36.5), 36.5), 0.0007)


@checks.hidden("ex3_tests")
def batch_window_longer_than_the_deadline(learner):
    "a batch window longer than the time to the deadline"
    f = learner.managed_usd_per_doc
    assert near(f(1000, 100, sync_price(1.0, 4.0), tier(0.5, 2.0, 24), 23.5), 0.0014)
    assert near(f(1000, 100, sync_price(1.0, 4.0), tier(0.5, 2.0, 24), 0), 0.0014)


@checks.hidden("ex3_tests")
def no_batch_tier(learner):
    "no batch tier catalogued: the synchronous price"
    f = learner.managed_usd_per_doc
    assert near(f(2000, 10, sync_price(0.25, 2.0), None, 336), 0.00052)  # (500 + 20) / 1e6
    got = f(
        JOB_IN,
        JOB_OUT,
        synchronous("openai", "gpt-5-mini"),
        batch_tier("openai", "gpt-5-mini"),
        TWO_WEEKS_H,
    )
    assert near(got, checks.golden("ex3.gpt-5-mini.two_weeks"))


@checks.hidden("ex3_tests")
def tier_prices_input_and_output_apart(learner):
    "the batch tier's own input and output prices"
    f = learner.managed_usd_per_doc
    # tier: (1,000 x 0.2 + 10 x 3.0) / 1e6 = 0.00023 (synchronous: 0.00104)
    assert near(f(1000, 10, sync_price(1.0, 4.0), tier(0.2, 3.0, 24), 48), 0.00023)
    got = f(
        300,
        120,
        synchronous("azure-openai", "gpt-4o-mini"),
        batch_tier("azure-openai", "gpt-4o-mini"),
        48,
    )
    assert near(got, checks.golden("ex3.azure.gpt-4o-mini.two_days"))


@checks.hidden("ex3_tests")
def a_dearer_tier_is_not_taken(learner):
    "a tier dearer than the synchronous price"
    f = learner.managed_usd_per_doc
    # synchronous (1,000 x 1.0 + 100 x 2.0) / 1e6 = 0.0012; tier (1,500 + 300) / 1e6 = 0.0018
    assert near(f(1000, 100, sync_price(1.0, 2.0), tier(1.5, 3.0, 24), 48), 0.0012)


@checks.hidden("ex3_tests")
def the_cheaper_option_depends_on_the_document(learner):
    "the cheaper option for long prompts and for long answers"
    f = learner.managed_usd_per_doc
    sync, cheap_in = sync_price(1.0, 2.0), tier(0.5, 5.0, 24)
    assert near(f(1000, 10, sync, cheap_in, 48), 0.00055)  # tier 500 + 50, sync 1,000 + 20
    assert near(f(10, 1000, sync, cheap_in, 48), 0.00201)  # sync 10 + 2,000, tier 5 + 5,000


@checks.hidden("ex3_tests")
def break_even_at_another_price_and_deadline(learner):
    "break-even of the job at AWS's on-demand price, due in half a day and in two weeks"
    aws = h100_usd_per_hour("AWS p5.48xlarge")
    got = break_even_of_the_job(learner, aws, "gpt-4o", 12)
    assert near(got, checks.golden("ex3.break_even.gpt-4o.half_a_day.aws"))
    got = break_even_of_the_job(learner, aws, "gpt-4o-mini", TWO_WEEKS_H)
    expected = checks.golden("ex3.break_even.gpt-4o-mini.two_weeks.aws")
    assert got == expected if math.isinf(expected) else near(got, expected)


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
