"""Plausible wrong answers for lab 05; each must lose marks (tests/course/test_answers.py)."""

WRONG = {
    "ex1_solution": {
        "tests": "ex1_tests",
        "answers": {
            "prompt and generated tokens both counted as decode": """
def decode_tokens_per_s(timings):
    return (timings["prompt_n"] + timings["predicted_n"]) / (timings["prompt_ms"] + timings["predicted_ms"]) * 1000


def kv_bytes_per_context_token(servers):
    small = min(servers, key=lambda s: s["ctx_size"])
    large = max(servers, key=lambda s: s["ctx_size"])
    return (large["rss_idle_bytes"] - small["rss_idle_bytes"]) / (large["ctx_size"] - small["ctx_size"])
""",
            "memory divided by context of one run (weights counted as KV)": """
def decode_tokens_per_s(timings):
    return timings["predicted_n"] / timings["predicted_ms"] * 1000


def kv_bytes_per_context_token(servers):
    large = max(servers, key=lambda s: s["ctx_size"])
    return large["rss_idle_bytes"] / large["ctx_size"]
""",
            "first and last record instead of smallest and largest context": """
def decode_tokens_per_s(timings):
    return timings["predicted_n"] / timings["predicted_ms"] * 1000


def kv_bytes_per_context_token(servers):
    small, large = servers[0], servers[-1]
    return (large["rss_idle_bytes"] - small["rss_idle_bytes"]) / (large["ctx_size"] - small["ctx_size"])
""",
            "every generated token counted as a decode step (predicted_n / predicted_ms)": """
def decode_tokens_per_s(timings):
    return timings["predicted_n"] / timings["predicted_ms"] * 1000


def kv_bytes_per_context_token(servers):
    small = min(servers, key=lambda s: s["ctx_size"])
    large = max(servers, key=lambda s: s["ctx_size"])
    return (large["rss_idle_bytes"] - small["rss_idle_bytes"]) / (large["ctx_size"] - small["ctx_size"])
""",
            "llama-server's own predicted_per_second read back, not computed": """
def decode_tokens_per_s(timings):
    return timings["predicted_per_second"]


def kv_bytes_per_context_token(servers):
    small = min(servers, key=lambda s: s["ctx_size"])
    large = max(servers, key=lambda s: s["ctx_size"])
    return (large["rss_idle_bytes"] - small["rss_idle_bytes"]) / (large["ctx_size"] - small["ctx_size"])
""",
            "0.0 instead of None when no decode step was timed": """
def decode_tokens_per_s(timings):
    return (timings["predicted_n"] - 1) / timings["predicted_ms"] * 1000 if timings["predicted_n"] > 1 else 0.0


def kv_bytes_per_context_token(servers):
    small = min(servers, key=lambda s: s["ctx_size"])
    large = max(servers, key=lambda s: s["ctx_size"])
    return (large["rss_idle_bytes"] - small["rss_idle_bytes"]) / (large["ctx_size"] - small["ctx_size"])
""",
            "largest and smallest memory instead of largest and smallest context": """
def decode_tokens_per_s(timings):
    n = timings["predicted_n"]
    return (n - 1) / timings["predicted_ms"] * 1000 if n > 1 else None


def kv_bytes_per_context_token(servers):
    small = min(servers, key=lambda s: s["rss_idle_bytes"])
    large = max(servers, key=lambda s: s["rss_idle_bytes"])
    return (large["rss_idle_bytes"] - small["rss_idle_bytes"]) / (large["ctx_size"] - small["ctx_size"])
""",
        },
    },
    "ex2_solution": {
        "tests": "ex2_tests",
        "answers": {
            "KV cache without the factor 2 (K only)": """
def memory_needed_bytes(shape, bits_per_weight, context_tokens, kv_bytes_per_value=2):
    weights = shape.params * bits_per_weight / 8
    return weights + shape.layers * shape.kv_heads * shape.head_dim * kv_bytes_per_value * context_tokens


def fits(needed_bytes, device_memory_gb, usable_fraction):
    return needed_bytes <= device_memory_gb * 1e9 * usable_fraction
""",
            "bits per weight used as bytes": """
def memory_needed_bytes(shape, bits_per_weight, context_tokens, kv_bytes_per_value=2):
    weights = shape.params * bits_per_weight
    kv = 2 * shape.layers * shape.kv_heads * shape.head_dim * kv_bytes_per_value
    return weights + kv * context_tokens


def fits(needed_bytes, device_memory_gb, usable_fraction):
    return needed_bytes <= device_memory_gb * 1e9 * usable_fraction
""",
            "device memory in GiB instead of GB": """
def memory_needed_bytes(shape, bits_per_weight, context_tokens, kv_bytes_per_value=2):
    weights = shape.params * bits_per_weight / 8
    kv = 2 * shape.layers * shape.kv_heads * shape.head_dim * kv_bytes_per_value
    return weights + kv * context_tokens


def fits(needed_bytes, device_memory_gb, usable_fraction):
    return needed_bytes <= device_memory_gb * 2**30 * usable_fraction
""",
            "fits only strictly below the usable memory": """
def memory_needed_bytes(shape, bits_per_weight, context_tokens, kv_bytes_per_value=2):
    weights = shape.params * bits_per_weight / 8
    kv = 2 * shape.layers * shape.kv_heads * shape.head_dim * kv_bytes_per_value
    return weights + kv * context_tokens


def fits(needed_bytes, device_memory_gb, usable_fraction):
    return needed_bytes < device_memory_gb * 1e9 * usable_fraction
""",
            "kv_bytes_per_value ignored (always fp16)": """
def memory_needed_bytes(shape, bits_per_weight, context_tokens, kv_bytes_per_value=2):
    weights = shape.params * bits_per_weight / 8
    return weights + 2 * shape.layers * shape.kv_heads * shape.head_dim * 2 * context_tokens


def fits(needed_bytes, device_memory_gb, usable_fraction):
    return needed_bytes <= device_memory_gb * 1e9 * usable_fraction
""",
            "KV cache counted per query head group once (layers forgotten)": """
def memory_needed_bytes(shape, bits_per_weight, context_tokens, kv_bytes_per_value=2):
    weights = shape.params * bits_per_weight / 8
    return weights + 2 * shape.kv_heads * shape.head_dim * kv_bytes_per_value * context_tokens


def fits(needed_bytes, device_memory_gb, usable_fraction):
    return needed_bytes <= device_memory_gb * 1e9 * usable_fraction
""",
        },
    },
    "ex3_solution": {
        "tests": "ex3_tests",
        "answers": {
            "GB/s taken as GiB/s": """
def decode_ceiling_tokens_per_s(weight_bytes, bandwidth_gb_s):
    return bandwidth_gb_s * 2**30 / weight_bytes


def itl_floor_ms(weight_bytes, bandwidth_gb_s):
    return 1000 / decode_ceiling_tokens_per_s(weight_bytes, bandwidth_gb_s)
""",
            "floor in seconds, not milliseconds": """
def decode_ceiling_tokens_per_s(weight_bytes, bandwidth_gb_s):
    return bandwidth_gb_s * 1e9 / weight_bytes


def itl_floor_ms(weight_bytes, bandwidth_gb_s):
    return 1 / decode_ceiling_tokens_per_s(weight_bytes, bandwidth_gb_s)
""",
            "bandwidth counted in bits (x 8)": """
def decode_ceiling_tokens_per_s(weight_bytes, bandwidth_gb_s):
    return bandwidth_gb_s * 8e9 / weight_bytes


def itl_floor_ms(weight_bytes, bandwidth_gb_s):
    return 1000 / decode_ceiling_tokens_per_s(weight_bytes, bandwidth_gb_s)
""",
            "ITL floor in microseconds": """
def decode_ceiling_tokens_per_s(weight_bytes, bandwidth_gb_s):
    return bandwidth_gb_s * 1e9 / weight_bytes


def itl_floor_ms(weight_bytes, bandwidth_gb_s):
    return 1e6 / decode_ceiling_tokens_per_s(weight_bytes, bandwidth_gb_s)
""",
        },
    },
    "ex4_solution": {
        "tests": "ex4_tests",
        "answers": {
            "offline checked before capability (a frontier task put on the device)": """
def placement(case, cloud_first_token_ms):
    if case["offline_required"] or case["first_token_budget_ms"] < cloud_first_token_ms:
        return "edge"
    if case["capability"] == "frontier":
        return "cloud"
    return "either"
""",
            "cloud whenever the cloud is fast enough (no 'either')": """
def placement(case, cloud_first_token_ms):
    if case["capability"] == "frontier":
        return "not feasible" if case["offline_required"] else "cloud"
    if case["offline_required"] or case["first_token_budget_ms"] < cloud_first_token_ms:
        return "edge"
    return "cloud"
""",
            "budget equal to the cloud's latency treated as too slow": """
def placement(case, cloud_first_token_ms):
    if case["capability"] == "frontier":
        return "not feasible" if case["offline_required"] else "cloud"
    if case["offline_required"] or case["first_token_budget_ms"] <= cloud_first_token_ms:
        return "edge"
    return "either"
""",
            "the cloud's first token hard-coded at 560 ms (the argument ignored)": """
def placement(case, cloud_first_token_ms):
    if case["capability"] == "frontier":
        return "not feasible" if case["offline_required"] else "cloud"
    if case["offline_required"] or case["first_token_budget_ms"] < 560:
        return "edge"
    return "either"
""",
            "attribute access: works on a Series, not on a dict": """
def placement(case, cloud_first_token_ms):
    if case.capability == "frontier":
        return "not feasible" if case.offline_required else "cloud"
    if case.offline_required or case.first_token_budget_ms < cloud_first_token_ms:
        return "edge"
    return "either"
""",
            "frontier ruled out only offline (a fast online frontier task sent to the edge)": """
def placement(case, cloud_first_token_ms):
    if case["capability"] == "frontier" and case["offline_required"]:
        return "not feasible"
    if case["offline_required"] or case["first_token_budget_ms"] < cloud_first_token_ms:
        return "edge"
    if case["capability"] == "frontier":
        return "cloud"
    return "either"
""",
        },
    },
}
