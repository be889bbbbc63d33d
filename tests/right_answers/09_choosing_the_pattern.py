"""Lab 09: other correct answers, each of which must keep full marks."""

RIGHT = {
    "ex1_solution": {
        "tests": "ex1_tests",
        "answers": {
            "numpy dot product, sorted() with a (-score, name) key, a boolean mask for knock-outs": """
import numpy as np

def weighted_scores(scores, weights):
    for criterion, weight in weights.items():
        if criterion not in scores.columns:
            raise ValueError(f"unknown criterion {criterion}")
        if weight < 0:
            raise ValueError("negative weight")
    if sum(weights.values()) == 0:
        raise ValueError("all weights are zero")
    w = np.array([float(weights.get(c, 0)) for c in scores.columns])
    values = scores.to_numpy(dtype=float) @ w / w.sum()
    pairs = sorted(zip(scores.index, values), key=lambda pv: (-pv[1], pv[0]))
    return pd.Series([v for _, v in pairs], index=[p for p, _ in pairs], name="score")

def recommend(scores, case):
    must = case.get("must", {})
    keep = np.ones(len(scores), dtype=bool)
    for criterion, minimum in must.items():
        keep &= (scores[criterion] >= minimum).to_numpy()
    if not keep.any():
        return None
    return str(weighted_scores(scores[keep], case["weights"]).index[0])
""",
            "a loop over rows, a table sorted on score then name, all() for knock-outs": """
def weighted_scores(scores, weights):
    bad = [c for c in weights if c not in scores.columns]
    if bad:
        raise ValueError(f"not a criterion: {bad}")
    if min(weights.values()) < 0:
        raise ValueError("weights must be >= 0")
    total = sum(weights.values())
    if not total > 0:
        raise ValueError("all weights are 0")
    rows = []
    for pattern, row in scores.iterrows():
        mean = sum(row[c] * w for c, w in weights.items()) / total
        rows.append({"pattern": pattern, "score": float(mean)})
    table = pd.DataFrame(rows).sort_values(["score", "pattern"], ascending=[False, True])
    return table.set_index("pattern")["score"]

def recommend(scores, case):
    must = case.get("must") or {}
    alive = [p for p, row in scores.iterrows() if all(row[c] >= m for c, m in must.items())]
    if not alive:
        return None
    return weighted_scores(scores.loc[alive], case["weights"]).index[0]
""",
            "pandas mul/sum, ties by a name sort first, knock-outs as one query": """
def weighted_scores(scores, weights):
    w = pd.Series(weights, dtype=float)
    if not set(w.index) <= set(scores.columns):
        raise ValueError("unknown criterion")
    if (w < 0).any() or w.sum() == 0:
        raise ValueError("weights must be non-negative and not all zero")
    mean = scores[list(w.index)].mul(w).sum(axis=1) / w.sum()
    return mean.sort_index().sort_values(ascending=False, kind="mergesort")

def recommend(scores, case):
    must = pd.Series(case.get("must") or {}, dtype=float)
    ok = scores[(scores[list(must.index)] >= must).all(axis=1)] if len(must) else scores
    return None if ok.empty else weighted_scores(ok, case["weights"]).index[0]
""",
        },
    },
    "ex2_solution": {
        "tests": "ex2_tests",
        "answers": {
            "a match on the unit, GPU-hours as tokens / (tokens per hour)": """
def path_cost(workload, path):
    window = path.get("window_hours")
    if pd.notna(window) and not workload.get("deadline_h", -1) >= window:
        raise ValueError("a batch tier answers within its window: this workload cannot wait")
    match path["unit"]:
        case "per_million_tokens":
            input_cost = workload["input_tokens"] * path["input_usd"] / 1e6
            output_cost = workload["output_tokens"] * path["output_usd"] / 1e6
            return workload["requests"] * (input_cost + output_cost)
        case "per_gpu_hour":
            tokens = workload["requests"] * workload["output_tokens"]
            return tokens / (path["tokens_per_s"] * 3600) * path["hourly_usd"]
        case "on_device":
            return 0.0
        case other:
            raise ValueError(f"unit {other} cannot be priced from a workload")

def gpus_for_deadline(requests, output_tokens, tokens_per_s, deadline_h):
    gpu_hours = requests * output_tokens / (tokens_per_s * 3600)
    return math.ceil(gpu_hours / deadline_h)
""",
            "a table of unit prices, GPUs by integer ceiling division": """
PER_MILLION = 1_000_000

def path_cost(workload, path):
    if "window_hours" in path and path["window_hours"] == path["window_hours"]:  # not NaN
        deadline = workload.get("deadline_h")
        if deadline is None:
            raise ValueError("interactive traffic cannot use a batch tier")
        if deadline < path["window_hours"]:
            raise ValueError("the batch window closes after the deadline")
    unit = path["unit"]
    if unit not in ("per_million_tokens", "per_gpu_hour", "on_device"):
        raise ValueError("unsupported unit: " + str(unit))
    if unit == "on_device":
        return 0.0
    total_in = workload["requests"] * workload["input_tokens"]
    total_out = workload["requests"] * workload["output_tokens"]
    if unit == "per_gpu_hour":
        seconds = total_out / path["tokens_per_s"]
        return float(seconds / 3600 * path["hourly_usd"])
    return float(total_in / PER_MILLION * path["input_usd"] + total_out / PER_MILLION * path["output_usd"])

def gpus_for_deadline(requests, output_tokens, tokens_per_s, deadline_h):
    work = requests * output_tokens
    one_gpu = tokens_per_s * 3600 * deadline_h
    return int(-(-work // one_gpu))
""",
            "NaN compares false, so a missing deadline counts as 0 and no NaN test is needed": """
def path_cost(workload, path):
    if "window_hours" in path and workload.get("deadline_h", 0) < path["window_hours"]:
        raise ValueError("a batch tier cannot serve this workload")
    n, tin, tout = workload["requests"], workload["input_tokens"], workload["output_tokens"]
    if path["unit"] == "per_million_tokens":
        return n * (tin * path["input_usd"] + tout * path["output_usd"]) / 1_000_000
    if path["unit"] == "per_gpu_hour":
        return n * tout / path["tokens_per_s"] / 3600 * path["hourly_usd"]
    if path["unit"] == "on_device":
        return 0.0
    raise ValueError(path["unit"])

def gpus_for_deadline(requests, output_tokens, tokens_per_s, deadline_h):
    return math.ceil(requests * output_tokens / tokens_per_s / 3600 / deadline_h)
""",
            "the batch tier as a unit check first, prices through a dict of token counts": """
def _can_wait(workload, path):
    window = path.get("window_hours", math.nan)
    if window is None or math.isnan(window):
        return True
    return "deadline_h" in workload and workload["deadline_h"] >= window

def path_cost(workload, path):
    if not _can_wait(workload, path):
        raise ValueError("not within the batch window")
    if path["unit"] == "on_device":
        return 0.0
    tokens = {k: workload["requests"] * workload[k] for k in ("input_tokens", "output_tokens")}
    if path["unit"] == "per_million_tokens":
        return (tokens["input_tokens"] * path["input_usd"]
                + tokens["output_tokens"] * path["output_usd"]) / 1e6
    if path["unit"] == "per_gpu_hour":
        return tokens["output_tokens"] / path["tokens_per_s"] / 3600 * path["hourly_usd"]
    raise ValueError(f"no workload price for {path['unit']}")

def gpus_for_deadline(requests, output_tokens, tokens_per_s, deadline_h):
    needed = requests * output_tokens / tokens_per_s / 3600 / deadline_h
    whole = int(needed)
    return whole if whole == needed else whole + 1
""",
        },
    },
    "ex3_solution": {
        "tests": "ex3_tests",
        "answers": {
            "vectorised budgets over the table, NaN drops out of the comparison": """
def e2e_budget_ms(path, n_tokens):
    if n_tokens < 1:
        raise ValueError("n_tokens must be at least 1")
    fixed = path["network_rtt_ms"] + path["queue_ms"] + path["ttft_ms"]
    return fixed + (n_tokens - 1) * path["per_token_ms"]

def paths_within(paths, slo_ms, n_tokens):
    budget = e2e_budget_ms(paths, n_tokens)
    return budget[budget <= slo_ms].sort_values(kind="stable").index.tolist()
""",
            "a loop, pd.isna for missing profiles, ties by path id": """
def e2e_budget_ms(path, n_tokens):
    if not n_tokens >= 1:
        raise ValueError("an answer has at least one token")
    stages = [path["network_rtt_ms"], path["queue_ms"], path["ttft_ms"]]
    return float(sum(stages) + path["per_token_ms"] * (n_tokens - 1))

def paths_within(paths, slo_ms, n_tokens):
    found = []
    for path_id, row in paths.iterrows():
        if pd.isna(row[["network_rtt_ms", "queue_ms", "ttft_ms", "per_token_ms"]]).any():
            continue
        budget = e2e_budget_ms(row, n_tokens)
        if budget <= slo_ms:
            found.append((budget, path_id))
    return [path_id for _, path_id in sorted(found)]
""",
        },
    },
}
