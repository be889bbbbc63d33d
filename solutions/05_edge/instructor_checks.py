"""Lab 05's checks: the instructor's only copy (never released; labs/ gets the visible part).

Expected values for recordings are goldens (``servelab course goldens 05_edge``); constructed
cases carry their expected value beside the case, where a reader can verify it. A use case
reaches ``placement`` as a pandas Series (a row of use_cases.csv, index kept) or as a dict.
"""

from __future__ import annotations

import pandas as pd

from servelab.grading.checks import Checks, close
from servelab.labs import sizing
from servelab.labs.lab05_edge import LAB05, load_recording
from servelab_base.paths import DATASETS

checks = Checks(goldens=DATASETS / "lab05" / "expected.json")

#: A made-up model shape: every factor of the KV cache a different prime, so none can be lost.
TOY = sizing.ModelShape("toy", 1000, 3, 5, 7, 64, "constructed for the checks")


def near(got, expected: float, rel: float = 1e-9) -> bool:
    """``got`` is an int or float within ``rel`` (relative) of ``expected``."""
    return close(got, expected, max(abs(expected) * rel, 1e-12))


def one_thread_servers() -> list[dict]:
    """The recorded servers with one thread, in recording order (ctx 1,024 ... 8,192)."""
    return [s for s in load_recording()["servers"] if s["threads"] == 1]


def use_cases() -> pd.DataFrame:
    return pd.read_csv(LAB05 / "use_cases.csv")


def placements(function, cloud_first_token_ms: float) -> list:
    """``function`` applied to every row of use_cases.csv (each a Series), in file order."""
    return [function(row, cloud_first_token_ms) for _, row in use_cases().iterrows()]


def timings(predicted_n: int, predicted_ms: float) -> dict:
    """A llama-server ``timings`` block without its derived rates (the answer is not in it)."""
    return {
        "prompt_n": 500,
        "prompt_ms": 100.0,
        "predicted_n": predicted_n,
        "predicted_ms": predicted_ms,
    }


# BEGIN HIDDEN CHECKS
@checks.cases
def cases(solution) -> dict:
    """Goldens: what the reference solution makes of the recording and of use_cases.csv."""
    probes = load_recording()["probes"]
    visible = {
        "ex1.probe_0": solution.decode_tokens_per_s(probes[0]["timings"]),
        "ex1.kv_slope": solution.kv_bytes_per_context_token(one_thread_servers()),
        "ex4.use_cases_560": placements(solution.placement, 560.0),
    }
    hidden = {
        "ex1.every_probe": [solution.decode_tokens_per_s(p["timings"]) for p in probes],
        "ex4.use_cases_1500": placements(solution.placement, 1500),
        "ex4.use_cases_2000": placements(solution.placement, 2000.0),
        "ex4.use_cases_100": placements(solution.placement, 100.0),
    }
    return {"visible": visible, "hidden": hidden}


# END HIDDEN CHECKS

# Exercise 1: decode speed and the price of context ------------------------------------------------


@checks.visible("ex1_tests")
def decode_rate_of_the_first_probe(learner):
    "decode tokens/s of the first recorded probe"
    got = learner.decode_tokens_per_s(load_recording()["probes"][0]["timings"])
    assert near(got, checks.golden("ex1.probe_0")), (
        f"{got!r}: predicted_n - 1 decode steps in predicted_ms (the first token is prefill's)"
    )


@checks.visible("ex1_tests")
def kv_bytes_per_token_of_the_recording(learner):
    "KV bytes per token of context, from the one-thread runs"
    got = learner.kv_bytes_per_context_token(one_thread_servers())
    assert near(got, checks.golden("ex1.kv_slope")), (
        f"{got!r}: idle RSS difference between the largest and the smallest context, per token"
    )


# BEGIN HIDDEN CHECKS
@checks.hidden("ex1_tests")
def decode_rate_of_every_probe(learner):
    "decode tokens/s of every recorded probe"
    expected = checks.golden("ex1.every_probe")
    for probe, want in zip(load_recording()["probes"], expected, strict=True):
        assert near(learner.decode_tokens_per_s(probe["timings"]), want)


@checks.hidden("ex1_tests")
def decode_rate_counts_decode_steps(learner):
    "a timings block without llama-server's own rates"
    assert near(learner.decode_tokens_per_s(timings(11, 200.0)), 50.0)  # 10 steps in 0.2 s
    assert near(learner.decode_tokens_per_s(timings(2, 20)), 50.0)  # 1 step in 20 ms
    assert near(learner.decode_tokens_per_s(timings(101, 4000)), 25.0)  # 100 steps in 4 s


@checks.hidden("ex1_tests")
def too_few_tokens_have_no_decode_rate(learner):
    "fewer than two generated tokens: no decode rate"
    assert learner.decode_tokens_per_s(timings(1, 0.001)) is None  # llama-server: 1 us, 0 steps
    assert learner.decode_tokens_per_s(timings(0, 0.0)) is None


@checks.hidden("ex1_tests")
def kv_slope_with_records_in_any_order(learner):
    "records in any order"
    rows = [
        {"ctx_size": 4000, "rss_idle_bytes": 500_000, "threads": 1},
        {"ctx_size": 1000, "rss_idle_bytes": 200_000, "threads": 1},
        {"ctx_size": 2000, "rss_idle_bytes": 999_999, "threads": 1},
    ]
    assert near(learner.kv_bytes_per_context_token(rows), 100.0)  # 300,000 B / 3,000 tokens
    got = learner.kv_bytes_per_context_token(list(reversed(one_thread_servers())))
    assert near(got, checks.golden("ex1.kv_slope"))


@checks.hidden("ex1_tests")
def kv_slope_uses_the_extremes_of_context(learner):
    "the smallest and largest context, not the first and last records or the largest memory"
    rows = [
        {"ctx_size": 3000, "rss_idle_bytes": 9_000},
        {"ctx_size": 1000, "rss_idle_bytes": 1_000},
        {"ctx_size": 5000, "rss_idle_bytes": 4_500},
        {"ctx_size": 2000, "rss_idle_bytes": 8_000},
    ]
    assert near(learner.kv_bytes_per_context_token(rows), 0.875)  # 3,500 B / 4,000 tokens


# END HIDDEN CHECKS

# Exercise 2: memory needed on the device ----------------------------------------------------------


@checks.visible("ex2_tests")
def phi3_mini_at_4k(learner):
    "Phi-3 Mini, 4.5 bits per weight, 4,096 tokens"
    got = learner.memory_needed_bytes(sizing.MODELS["Phi-3 Mini"], 4.5, 4096)
    # 3.82e9 x 4.5 / 8 = 2,148,750,000 B of weights
    # + 2 x 32 layers x 32 KV heads x 96 dims x 2 B = 393,216 B per token, x 4,096 tokens
    assert near(got, 3_759_362_736), f"{got!r}: weights + K and V of every layer and KV head"


@checks.visible("ex2_tests")
def phi3_mini_fits_half_of_8_gb(learner):
    "Phi-3 Mini at 4k fits half of 8 GB, not 40 %"
    assert learner.fits(3_759_362_736, 8, 0.5) is True, "3.76 GB <= 4 GB: it fits"
    assert learner.fits(3_759_362_736, 8, 0.4) is False, "3.76 GB > 3.2 GB: it does not"


# BEGIN HIDDEN CHECKS
@checks.hidden("ex2_tests")
def memory_of_the_other_models(learner):
    "Llama 3 8B, Gemma 2B and Mistral 7B"
    f = learner.memory_needed_bytes
    # 4,516,875,000 B of weights + 131,072 B/token x 8,192
    assert near(f(sizing.MODELS["Llama 3 8B"], 4.5, 8192), 5_590_616_824)
    # 1,411,875,000 B + 18,432 B/token (one KV head) x 8,192
    assert near(f(sizing.MODELS["Gemma 2B"], 4.5, 8192), 1_562_869_944)


@checks.hidden("ex2_tests")
def no_context_is_the_weights_alone(learner):
    "no context: the weights alone"
    assert near(learner.memory_needed_bytes(sizing.MODELS["Mistral 7B"], 16, 0), 14.48e9)


@checks.hidden("ex2_tests")
def every_factor_of_the_kv_cache(learner):
    "K and V, layers, KV heads and head size all count"
    # weights 1,000 x 8 / 8 = 1,000 B; KV 2 x 3 x 5 x 7 x 2 B = 420 B per token, x 10
    assert near(learner.memory_needed_bytes(TOY, 8, 10), 5200.0)
    # 4 bits: 500 B; 420 B x 3 tokens = 1,260 B
    assert near(learner.memory_needed_bytes(TOY, 4, 3), 1760.0)
    assert near(learner.memory_needed_bytes(TOY, 4.5, 0), 562.5)  # 4,500 bits: not whole bytes


@checks.hidden("ex2_tests")
def kv_bytes_per_value_is_used(learner):
    "an 8-bit KV cache (one byte per value)"
    # 4,516,875,000 B of weights + 65,536 B/token x 1,000 tokens
    llama = sizing.MODELS["Llama 3 8B"]
    assert near(learner.memory_needed_bytes(llama, 4.5, 1000, kv_bytes_per_value=1), 4_582_411_000)
    assert near(learner.memory_needed_bytes(TOY, 8, 10, 1), 3100.0)  # 1,000 + 210 x 10


@checks.hidden("ex2_tests")
def fits_at_exactly_the_usable_memory(learner):
    "a model that takes exactly the usable memory fits; one byte more does not"
    assert learner.fits(4e9, 8, 0.5) is True  # 8 GB x 0.5 = 4e9 bytes
    assert learner.fits(4e9 + 1, 8, 0.5) is False
    assert learner.fits(3_000_000_000, 12, 0.25) is True  # ints: 12 GB x 0.25 = 3e9
    assert learner.fits(3_000_000_001, 12, 0.25) is False


@checks.hidden("ex2_tests")
def device_memory_is_decimal_gb(learner):
    "device memory in decimal GB"
    assert learner.fits(4.1e9, 8, 0.5) is False  # 8 GB is 8e9 bytes, not 8 GiB
    assert learner.fits(1, 1, 1e-9) is True  # 1 GB x 1e-9 = 1 byte


@checks.hidden("ex2_tests")
def fits_varies_with_memory_and_share(learner):
    "other devices and shares"
    assert learner.fits(6e9, 12, 0.5) is True
    assert learner.fits(6e9, 12, 0.25) is False
    assert learner.fits(6e9, 8, 0.75) is True  # 6e9 bytes exactly
    assert learner.fits(6e9, 6, 0.75) is False


# END HIDDEN CHECKS

# Exercise 3: the decode floor of a device's bandwidth ---------------------------------------------


@checks.visible("ex3_tests")
def h100_decode_ceiling(learner):
    "decode ceiling of Llama 3 8B in bf16 on an H100 (3,350 GB/s)"
    got = learner.decode_ceiling_tokens_per_s(16.06e9, 3350)
    assert near(got, 3350e9 / 16.06e9), f"{got!r}: bytes per second over bytes per token"


@checks.visible("ex3_tests")
def h100_itl_floor(learner):
    "ITL floor of Llama 3 8B in bf16 on an H100 (3,350 GB/s)"
    got = learner.itl_floor_ms(16.06e9, 3350)
    assert close(got, 4.794, 1e-3), f"{got!r} ms: docs/metrics.md gives 4.794 ms"


# BEGIN HIDDEN CHECKS
@checks.hidden("ex3_tests")
def ceiling_varies_with_weights_and_bandwidth(learner):
    "other weights and bandwidths"
    w = sizing.weight_bytes(sizing.MODELS["Llama 3 8B"].params, 4.5)
    assert near(learner.decode_ceiling_tokens_per_s(w, 100), 100e9 / w)
    assert near(learner.decode_ceiling_tokens_per_s(1e9, 1), 1.0)
    assert near(learner.decode_ceiling_tokens_per_s(2_000_000_000, 100), 50.0)  # ints


@checks.hidden("ex3_tests")
def floor_in_milliseconds(learner):
    "the ITL floor in milliseconds"
    w = sizing.weight_bytes(sizing.MODELS["Llama 3 8B"].params, 4.5)
    assert near(learner.itl_floor_ms(w, 68), 1000 * w / 68e9)
    assert near(learner.itl_floor_ms(98_362_432, 20), 1000 * 98_362_432 / 20e9)
    assert near(learner.itl_floor_ms(2_000_000_000, 100), 20.0)  # 2 GB at 100 GB/s


# END HIDDEN CHECKS

# Exercise 4: first resort, last resort ------------------------------------------------------------


@checks.visible("ex4_tests")
def placement_of_the_use_cases(learner):
    "placement of every use case (rows of use_cases.csv), cloud first token at 560 ms"
    got = placements(learner.placement, 560.0)
    assert got == checks.golden("ex4.use_cases_560"), got


# BEGIN HIDDEN CHECKS
@checks.hidden("ex4_tests")
def the_cloud_first_token_time_is_used(learner):
    "the use cases against slower and faster clouds"
    assert placements(learner.placement, 1500) == checks.golden("ex4.use_cases_1500")
    assert placements(learner.placement, 2000.0) == checks.golden("ex4.use_cases_2000")
    assert placements(learner.placement, 100.0) == checks.golden("ex4.use_cases_100")


@checks.hidden("ex4_tests")
def budget_equal_to_the_cloud(learner):
    "a budget equal to the cloud's first-token time"
    for cloud in (560, 250.0, 1200):
        case = {"offline_required": False, "first_token_budget_ms": cloud, "capability": "small"}
        assert learner.placement(case, cloud) == "either", cloud  # the cloud meets it


@checks.hidden("ex4_tests")
def budget_just_below_the_cloud(learner):
    "a budget just below the cloud's first-token time"
    for cloud in (560, 250.0, 1200):
        case = {
            "offline_required": False,
            "first_token_budget_ms": cloud - 1,
            "capability": "medium",
        }
        assert learner.placement(case, cloud) == "edge", cloud


@checks.hidden("ex4_tests")
def one_budget_against_different_clouds(learner):
    "the same case against different clouds"
    case = {"offline_required": False, "first_token_budget_ms": 300, "capability": "small"}
    assert learner.placement(case, 560) == "edge"  # 300 < 560
    assert learner.placement(case, 300) == "either"  # 300 == 300
    assert learner.placement(case, 200.0) == "either"  # 300 > 200


@checks.hidden("ex4_tests")
def offline_goes_to_the_edge(learner):
    "offline required, whatever the budget"
    case = {"offline_required": True, "first_token_budget_ms": 99999, "capability": "medium"}
    assert learner.placement(case, 560) == "edge"
    assert learner.placement(case, 100_000) == "edge"


@checks.hidden("ex4_tests")
def frontier_comes_first(learner):
    "frontier capability, online and offline"
    online = {"offline_required": False, "first_token_budget_ms": 10, "capability": "frontier"}
    assert learner.placement(online, 560) == "cloud"  # even below the cloud's first token
    offline = {"offline_required": True, "first_token_budget_ms": 10, "capability": "frontier"}
    assert learner.placement(offline, 560) == "not feasible"


@checks.hidden("ex4_tests")
def a_case_as_a_series(learner):
    "a case given as a Series, fields in any order"
    case = pd.Series(
        {
            "capability": "small",
            "note": "x",
            "first_token_budget_ms": 400,
            "offline_required": False,
        }
    )
    assert learner.placement(case, 450.0) == "edge"
    assert learner.placement(case, 400) == "either"
    frontier = pd.Series(
        {"first_token_budget_ms": 5000, "offline_required": True, "capability": "frontier"}
    )
    assert learner.placement(frontier, 560) == "not feasible"


# END HIDDEN CHECKS
