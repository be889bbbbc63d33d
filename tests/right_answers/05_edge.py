"""Lab 05: other correct answers, each of which must keep full marks."""

RIGHT = {
    "ex1_solution": {
        "tests": "ex1_tests",
        "answers": {
            "ms per decode step first; sorted records": """
def decode_tokens_per_s(timings):
    n = timings["predicted_n"]
    if n < 2:
        return None
    ms_per_token = timings["predicted_ms"] / (n - 1)
    return 1000 / ms_per_token


def kv_bytes_per_context_token(servers):
    ordered = sorted(servers, key=lambda s: s["ctx_size"])
    small, large = ordered[0], ordered[-1]
    return (large["rss_idle_bytes"] - small["rss_idle_bytes"]) / (large["ctx_size"] - small["ctx_size"])
""",
            "seconds, not ms; pandas for the extremes": """
import pandas as pd

def decode_tokens_per_s(timings):
    steps = timings["predicted_n"] - 1
    return steps / (timings["predicted_ms"] / 1000) if steps > 0 else None


def kv_bytes_per_context_token(servers):
    df = pd.DataFrame(servers).sort_values("ctx_size")
    d_rss = df.rss_idle_bytes.iloc[-1] - df.rss_idle_bytes.iloc[0]
    d_ctx = df.ctx_size.iloc[-1] - df.ctx_size.iloc[0]
    return float(d_rss / d_ctx)
""",
        },
    },
    "ex2_solution": {
        "tests": "ex2_tests",
        "answers": {
            "the shape's own kv_bytes_per_token; GB as 10**9": """
def memory_needed_bytes(shape, bits_per_weight, context_tokens, kv_bytes_per_value=2):
    return shape.params * bits_per_weight / 8 + shape.kv_bytes_per_token(kv_bytes_per_value) * context_tokens


def fits(needed_bytes, device_memory_gb, usable_fraction):
    return bool(needed_bytes <= usable_fraction * device_memory_gb * 10**9)
""",
            "bytes per weight first; not-greater-than": """
def memory_needed_bytes(shape, bits_per_weight, context_tokens, kv_bytes_per_value=2):
    bytes_per_weight = bits_per_weight / 8
    k_and_v = 2
    kv = k_and_v * shape.layers * shape.kv_heads * shape.head_dim * kv_bytes_per_value * context_tokens
    return shape.params * bytes_per_weight + kv


def fits(needed_bytes, device_memory_gb, usable_fraction):
    usable = device_memory_gb * 1e9 * usable_fraction
    return not needed_bytes > usable
""",
        },
    },
    "ex3_solution": {
        "tests": "ex3_tests",
        "answers": {
            "floor from its own formula": """
def decode_ceiling_tokens_per_s(weight_bytes, bandwidth_gb_s):
    return bandwidth_gb_s * 1e9 / weight_bytes


def itl_floor_ms(weight_bytes, bandwidth_gb_s):
    return weight_bytes / (bandwidth_gb_s * 1e9) * 1000
""",
            "bandwidth in bytes per ms": """
def decode_ceiling_tokens_per_s(weight_bytes, bandwidth_gb_s):
    bytes_per_s = bandwidth_gb_s * 10**9
    return bytes_per_s / weight_bytes


def itl_floor_ms(weight_bytes, bandwidth_gb_s):
    bytes_per_ms = bandwidth_gb_s * 1e6
    return weight_bytes / bytes_per_ms
""",
        },
    },
    "ex4_solution": {
        "tests": "ex4_tests",
        "answers": {
            "offline first, then frontier (same outcome)": """
def placement(case, cloud_first_token_ms):
    frontier = case["capability"] == "frontier"
    if case["offline_required"]:
        return "not feasible" if frontier else "edge"
    if frontier:
        return "cloud"
    if case["first_token_budget_ms"] < cloud_first_token_ms:
        return "edge"
    return "either"
""",
            "dict(case) and a table of rules": """
def placement(case, cloud_first_token_ms):
    c = dict(case)
    rules = [
        (c["capability"] == "frontier" and c["offline_required"], "not feasible"),
        (c["capability"] == "frontier", "cloud"),
        (bool(c["offline_required"]), "edge"),
        (c["first_token_budget_ms"] < cloud_first_token_ms, "edge"),
    ]
    return next((result for hit, result in rules if hit), "either")
""",
            "network too slow as 'budget >= cloud' negated": """
def placement(case, cloud_first_token_ms):
    if case["capability"] == "frontier":
        return "not feasible" if case["offline_required"] else "cloud"
    cloud_fast_enough = case["first_token_budget_ms"] >= cloud_first_token_ms
    if case["offline_required"] or not cloud_fast_enough:
        return "edge"
    return "either"
""",
        },
    },
}
