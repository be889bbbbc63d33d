"""Plausible wrong answers to lab 09; each must lose the marks of its test cell."""

#: The right batch-tier rule, shared by the wrong answers whose mistake lies elsewhere.
_BATCH = """
def _waits_too_little(workload, path):
    window = path.get("window_hours")
    if window is None or math.isnan(window):
        return False
    return workload.get("deadline_h") is None or workload["deadline_h"] < window
"""

_RECOMMEND = """
def recommend(scores, case):
    survivors = scores
    for criterion, minimum in (case.get("must") or {}).items():
        survivors = survivors[survivors[criterion] >= minimum]
    if survivors.empty:
        return None
    return weighted_scores(survivors, case["weights"]).index[0]
"""

_WEIGHTED = """
def weighted_scores(scores, weights):
    unknown = set(weights) - set(scores.columns)
    if unknown:
        raise ValueError(unknown)
    if any(w < 0 for w in weights.values()):
        raise ValueError("negative")
    total = sum(weights.values())
    if total <= 0:
        raise ValueError("all zero")
    result = sum(scores[c] * w for c, w in weights.items()) / total
    return result.sort_index().sort_values(ascending=False, kind="stable")
"""

_GPUS = """
def gpus_for_deadline(requests, output_tokens, tokens_per_s, deadline_h):
    return math.ceil(requests * output_tokens / tokens_per_s / 3600 / deadline_h)
"""

_COST = """
def path_cost(workload, path):
    n, tin, tout = workload["requests"], workload["input_tokens"], workload["output_tokens"]
    if _waits_too_little(workload, path):
        raise ValueError("a batch tier cannot serve this workload")
    if path["unit"] == "per_million_tokens":
        return n * (tin * path["input_usd"] + tout * path["output_usd"]) / 1_000_000
    if path["unit"] == "per_gpu_hour":
        return n * tout / path["tokens_per_s"] / 3600 * path["hourly_usd"]
    if path["unit"] == "on_device":
        return 0.0
    raise ValueError(path["unit"])
"""

_BUDGET = """
def e2e_budget_ms(path, n_tokens):
    if n_tokens < 1:
        raise ValueError("n_tokens")
    return (path["network_rtt_ms"] + path["queue_ms"] + path["ttft_ms"]
            + path["per_token_ms"] * (n_tokens - 1))
"""

WRONG = {
    "ex1_solution": {
        "tests": "ex1_tests",
        "answers": {
            "weighted sum, not divided by the total weight": """
def weighted_scores(scores, weights):
    unknown = set(weights) - set(scores.columns)
    if unknown or any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise ValueError("bad weights")
    result = sum(scores[c] * w for c, w in weights.items())
    return result.sort_index().sort_values(ascending=False, kind="stable")
"""
            + _RECOMMEND,
            "ties left in file order instead of by pattern name": """
def weighted_scores(scores, weights):
    unknown = set(weights) - set(scores.columns)
    if unknown or any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise ValueError("bad weights")
    result = sum(scores[c] * w for c, w in weights.items()) / sum(weights.values())
    return result.sort_values(ascending=False, kind="stable")
"""
            + _RECOMMEND,
            "unknown criteria silently ignored": """
def weighted_scores(scores, weights):
    weights = {c: w for c, w in weights.items() if c in scores.columns}
    if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise ValueError("bad weights")
    result = sum(scores[c] * w for c, w in weights.items()) / sum(weights.values())
    return result.sort_index().sort_values(ascending=False, kind="stable")
"""
            + _RECOMMEND,
            "knock-out minimum treated as exclusive (> instead of >=)": _WEIGHTED
            + """
def recommend(scores, case):
    survivors = scores
    for criterion, minimum in (case.get("must") or {}).items():
        survivors = survivors[survivors[criterion] > minimum]
    if survivors.empty:
        return None
    return weighted_scores(survivors, case["weights"]).index[0]
""",
            "knock-outs ignored: best weighted score wins": _WEIGHTED
            + """
def recommend(scores, case):
    return weighted_scores(scores, case["weights"]).index[0]
""",
            "only the last minimum applies (each knock-out filters the full table)": _WEIGHTED
            + """
def recommend(scores, case):
    survivors = scores
    for criterion, minimum in (case.get("must") or {}).items():
        survivors = scores[scores[criterion] >= minimum]
    if survivors.empty:
        return None
    return weighted_scores(survivors, case["weights"]).index[0]
""",
            "a zero weight refused like a negative one": """
def weighted_scores(scores, weights):
    if set(weights) - set(scores.columns):
        raise ValueError("unknown criteria")
    if any(w <= 0 for w in weights.values()):
        raise ValueError("weights must be positive")
    result = sum(scores[c] * w for c, w in weights.items()) / sum(weights.values())
    return result.sort_index().sort_values(ascending=False, kind="stable")
"""
            + _RECOMMEND,
            "divided by the number of criteria, not the sum of the weights": """
def weighted_scores(scores, weights):
    if set(weights) - set(scores.columns) or any(w < 0 for w in weights.values()):
        raise ValueError("bad weights")
    if sum(weights.values()) <= 0:
        raise ValueError("all zero")
    result = sum(scores[c] * w for c, w in weights.items()) / len(weights)
    return result.sort_index().sort_values(ascending=False, kind="stable")
"""
            + _RECOMMEND,
        },
    },
    "ex2_solution": {
        "tests": "ex2_tests",
        "answers": {
            "prices read as per thousand tokens": """
def path_cost(workload, path):
    n, tin, tout = workload["requests"], workload["input_tokens"], workload["output_tokens"]
    if _waits_too_little(workload, path):
        raise ValueError("a batch tier cannot serve this workload")
    if path["unit"] == "per_million_tokens":
        return n * (tin * path["input_usd"] + tout * path["output_usd"]) / 1_000
    if path["unit"] == "per_gpu_hour":
        return n * tout / path["tokens_per_s"] / 3600 * path["hourly_usd"]
    if path["unit"] == "on_device":
        return 0.0
    raise ValueError(path["unit"])
"""
            + _GPUS
            + _BATCH,
            "every token at the input price": """
def path_cost(workload, path):
    n, tin, tout = workload["requests"], workload["input_tokens"], workload["output_tokens"]
    if _waits_too_little(workload, path):
        raise ValueError("a batch tier cannot serve this workload")
    if path["unit"] == "per_million_tokens":
        return n * (tin + tout) * path["input_usd"] / 1_000_000
    if path["unit"] == "per_gpu_hour":
        return n * tout / path["tokens_per_s"] / 3600 * path["hourly_usd"]
    if path["unit"] == "on_device":
        return 0.0
    raise ValueError(path["unit"])
"""
            + _GPUS
            + _BATCH,
            "GPU-seconds billed as GPU-hours": """
def path_cost(workload, path):
    n, tin, tout = workload["requests"], workload["input_tokens"], workload["output_tokens"]
    if _waits_too_little(workload, path):
        raise ValueError("a batch tier cannot serve this workload")
    if path["unit"] == "per_million_tokens":
        return n * (tin * path["input_usd"] + tout * path["output_usd"]) / 1_000_000
    if path["unit"] == "per_gpu_hour":
        return n * tout / path["tokens_per_s"] * path["hourly_usd"]
    if path["unit"] == "on_device":
        return 0.0
    raise ValueError(path["unit"])
"""
            + _GPUS
            + _BATCH,
            "GPUs rounded to the nearest whole number": _COST
            + _BATCH
            + """
def gpus_for_deadline(requests, output_tokens, tokens_per_s, deadline_h):
    return max(1, round(requests * output_tokens / tokens_per_s / 3600 / deadline_h))
""",
            "GPUs by floor division plus one (one too many at an exact fit)": _COST
            + _BATCH
            + """
def gpus_for_deadline(requests, output_tokens, tokens_per_s, deadline_h):
    return int(requests * output_tokens / tokens_per_s / 3600 / deadline_h // 1) + 1
""",
            "input tokens counted as GPU work too": """
def path_cost(workload, path):
    n, tin, tout = workload["requests"], workload["input_tokens"], workload["output_tokens"]
    if _waits_too_little(workload, path):
        raise ValueError("a batch tier cannot serve this workload")
    if path["unit"] == "per_million_tokens":
        return n * (tin * path["input_usd"] + tout * path["output_usd"]) / 1_000_000
    if path["unit"] == "per_gpu_hour":
        return n * (tin + tout) / path["tokens_per_s"] / 3600 * path["hourly_usd"]
    if path["unit"] == "on_device":
        return 0.0
    raise ValueError(path["unit"])
"""
            + _GPUS
            + _BATCH,
            "unknown units priced as zero instead of refused": """
def path_cost(workload, path):
    n, tin, tout = workload["requests"], workload["input_tokens"], workload["output_tokens"]
    if _waits_too_little(workload, path):
        raise ValueError("a batch tier cannot serve this workload")
    if path["unit"] == "per_million_tokens":
        return n * (tin * path["input_usd"] + tout * path["output_usd"]) / 1_000_000
    if path["unit"] == "per_gpu_hour":
        return n * tout / path["tokens_per_s"] / 3600 * path["hourly_usd"]
    return 0.0
"""
            + _GPUS
            + _BATCH,
            "a batch window that must be shorter than the deadline (24 h refused for 24 h)": """
def path_cost(workload, path):
    window = path.get("window_hours")
    if window is not None and not math.isnan(window):
        if workload.get("deadline_h") is None or workload["deadline_h"] <= window:
            raise ValueError("too soon for the batch window")
    n, tin, tout = workload["requests"], workload["input_tokens"], workload["output_tokens"]
    if path["unit"] == "per_million_tokens":
        return n * (tin * path["input_usd"] + tout * path["output_usd"]) / 1_000_000
    if path["unit"] == "per_gpu_hour":
        return n * tout / path["tokens_per_s"] / 3600 * path["hourly_usd"]
    if path["unit"] == "on_device":
        return 0.0
    raise ValueError(path["unit"])
"""
            + _GPUS,
            "interactive workloads (no deadline) priced on a batch tier": """
def path_cost(workload, path):
    window = path.get("window_hours")
    deadline = workload.get("deadline_h")
    if window is not None and not math.isnan(window) and deadline is not None and deadline < window:
        raise ValueError("the deadline comes before the batch window closes")
    n, tin, tout = workload["requests"], workload["input_tokens"], workload["output_tokens"]
    if path["unit"] == "per_million_tokens":
        return n * (tin * path["input_usd"] + tout * path["output_usd"]) / 1_000_000
    if path["unit"] == "per_gpu_hour":
        return n * tout / path["tokens_per_s"] / 3600 * path["hourly_usd"]
    if path["unit"] == "on_device":
        return 0.0
    raise ValueError(path["unit"])
"""
            + _GPUS,
            "an empty window (NaN) taken for a batch tier": """
def path_cost(workload, path):
    if "window_hours" in path and (
        workload.get("deadline_h") is None or workload["deadline_h"] < path["window_hours"]
    ):
        raise ValueError("a batch tier cannot serve this workload")
    n, tin, tout = workload["requests"], workload["input_tokens"], workload["output_tokens"]
    if path["unit"] == "per_million_tokens":
        return n * (tin * path["input_usd"] + tout * path["output_usd"]) / 1_000_000
    if path["unit"] == "per_gpu_hour":
        return n * tout / path["tokens_per_s"] / 3600 * path["hourly_usd"]
    if path["unit"] == "on_device":
        return 0.0
    raise ValueError(path["unit"])
"""
            + _GPUS,
            "the batch discount applied again to the tier's already discounted prices": """
def path_cost(workload, path):
    n, tin, tout = workload["requests"], workload["input_tokens"], workload["output_tokens"]
    if _waits_too_little(workload, path):
        raise ValueError("a batch tier cannot serve this workload")
    window = path.get("window_hours")
    discount = 0.5 if window is not None and not math.isnan(window) else 1.0
    if path["unit"] == "per_million_tokens":
        return discount * n * (tin * path["input_usd"] + tout * path["output_usd"]) / 1_000_000
    if path["unit"] == "per_gpu_hour":
        return n * tout / path["tokens_per_s"] / 3600 * path["hourly_usd"]
    if path["unit"] == "on_device":
        return 0.0
    raise ValueError(path["unit"])
"""
            + _GPUS
            + _BATCH,
        },
    },
    "ex3_solution": {
        "tests": "ex3_tests",
        "answers": {
            "N gaps instead of N - 1": """
def e2e_budget_ms(path, n_tokens):
    if n_tokens < 1:
        raise ValueError("n_tokens")
    return (path["network_rtt_ms"] + path["queue_ms"] + path["ttft_ms"]
            + path["per_token_ms"] * n_tokens)


def paths_within(paths, slo_ms, n_tokens):
    budget = {p: e2e_budget_ms(r, n_tokens) for p, r in paths.iterrows()}
    return sorted([p for p, b in budget.items() if b <= slo_ms], key=budget.get)
""",
            "network and queue left out of the budget": """
def e2e_budget_ms(path, n_tokens):
    if n_tokens < 1:
        raise ValueError("n_tokens")
    return path["ttft_ms"] + path["per_token_ms"] * (n_tokens - 1)


def paths_within(paths, slo_ms, n_tokens):
    budget = {p: e2e_budget_ms(r, n_tokens) for p, r in paths.iterrows()}
    return sorted([p for p, b in budget.items() if b <= slo_ms], key=budget.get)
""",
            "paths kept in table order, not fastest first": _BUDGET
            + """
def paths_within(paths, slo_ms, n_tokens):
    return [p for p, r in paths.iterrows() if e2e_budget_ms(r, n_tokens) <= slo_ms]
""",
            "paths sorted by id, not by budget": _BUDGET
            + """
def paths_within(paths, slo_ms, n_tokens):
    return sorted(p for p, r in paths.iterrows() if e2e_budget_ms(r, n_tokens) <= slo_ms)
""",
            "a missing latency profile read as zero latency": _BUDGET
            + """
def paths_within(paths, slo_ms, n_tokens):
    filled = paths.fillna(0)
    budget = {p: e2e_budget_ms(r, n_tokens) for p, r in filled.iterrows()}
    return sorted([p for p, b in budget.items() if b <= slo_ms], key=budget.get)
""",
            "SLO treated as strict (< instead of <=)": _BUDGET
            + """
def paths_within(paths, slo_ms, n_tokens):
    budget = {p: e2e_budget_ms(r, n_tokens) for p, r in paths.iterrows()}
    return sorted([p for p, b in budget.items() if b < slo_ms], key=budget.get)
""",
        },
    },
}
