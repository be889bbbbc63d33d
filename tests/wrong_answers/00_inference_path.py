"""Lab 00: typical mistakes, each of which must fail the exercise's tests."""

WRONG = {
    "ex1_solution": {
        "tests": "ex1_tests",
        "answers": {
            "TTFT from the first chunk that carries text (AIPerf's definition, not ours)": """
def ttft(trace):
    return next(c["t"] for c in trace["chunks"] if c["text"]) - trace["sent_at"]

def itl_mean(trace):
    times = [c["t"] for c in trace["chunks"] if c["text"]]
    return None if len(times) < 2 else (times[-1] - times[0]) / (len(times) - 1)

def e2e(trace):
    return [c["t"] for c in trace["chunks"] if c["text"]][-1] - trace["sent_at"]
""",
            "ITL and E2E over every chunk, empty ones included": """
def ttft(trace):
    return trace["chunks"][0]["t"] - trace["sent_at"]

def itl_mean(trace):
    times = [c["t"] for c in trace["chunks"]]
    return None if len(times) < 2 else (times[-1] - times[0]) / (len(times) - 1)

def e2e(trace):
    return trace["chunks"][-1]["t"] - trace["sent_at"]
""",
            "the median gap instead of the mean": """
import statistics

def ttft(trace):
    return trace["chunks"][0]["t"] - trace["sent_at"]

def itl_mean(trace):
    times = [c["t"] for c in trace["chunks"] if c["text"]]
    if len(times) < 2:
        return None
    return statistics.median(b - a for a, b in zip(times, times[1:]))

def e2e(trace):
    return [c["t"] for c in trace["chunks"] if c["text"]][-1] - trace["sent_at"]
""",
            "E2E at the last chunk, even an empty one (TTFT and ITL right)": """
def ttft(trace):
    return trace["chunks"][0]["t"] - trace["sent_at"]

def itl_mean(trace):
    times = [c["t"] for c in trace["chunks"] if c["text"]]
    return None if len(times) < 2 else (times[-1] - times[0]) / (len(times) - 1)

def e2e(trace):
    return trace["chunks"][-1]["t"] - trace["sent_at"]
""",
            "0.0 instead of None when there is no gap to measure": """
def ttft(trace):
    return trace["chunks"][0]["t"] - trace["sent_at"]

def itl_mean(trace):
    times = [c["t"] for c in trace["chunks"] if c["text"]]
    return 0.0 if len(times) < 2 else (times[-1] - times[0]) / (len(times) - 1)

def e2e(trace):
    return [c["t"] for c in trace["chunks"] if c["text"]][-1] - trace["sent_at"]
""",
        },
    },
    "ex2_solution": {
        "tests": "ex2_tests",
        "answers": {
            "at or above budget counts as over": """
def over_budget(stages):
    over = stages[stages.actual_ms >= stages.budget_ms]
    return list(over.assign(o=over.actual_ms - over.budget_ms).sort_values("o", ascending=False).stage)
""",
            "sorted by ratio instead of overshoot in ms": """
def over_budget(stages):
    over = stages[stages.actual_ms > stages.budget_ms]
    return list(over.assign(r=over.actual_ms / over.budget_ms).sort_values("r", ascending=False).stage)
""",
            "smallest overshoot first": """
def over_budget(stages):
    over = stages[stages.actual_ms > stages.budget_ms]
    return list(over.assign(o=over.actual_ms - over.budget_ms).sort_values("o").stage)
""",
            "over-budget stages in the table's order": """
def over_budget(stages):
    return list(stages[stages.actual_ms > stages.budget_ms].stage)
""",
        },
    },
    "ex3_solution": {
        "tests": "ex3_tests",
        "answers": {
            "the course shorthand TTFT + ITL x N (off by one gap)": """
def predict_e2e(ttft_s, itl_s, n_tokens):
    if n_tokens < 1:
        raise ValueError("at least one token")
    return ttft_s + itl_s * n_tokens

def max_tokens_within(slo_s, ttft_s, itl_s):
    if ttft_s > slo_s:
        return 0
    return int((slo_s - ttft_s) // itl_s)
""",
            "no guard: negative token counts when TTFT already misses the SLO": """
def predict_e2e(ttft_s, itl_s, n_tokens):
    return ttft_s + itl_s * (n_tokens - 1)

def max_tokens_within(slo_s, ttft_s, itl_s):
    return int((slo_s - ttft_s) // itl_s) + 1
""",
            "float floor division: one token short when the last one lands exactly on the SLO": """
def predict_e2e(ttft_s, itl_s, n_tokens):
    if n_tokens < 1:
        raise ValueError("at least one token")
    return ttft_s + itl_s * (n_tokens - 1)

def max_tokens_within(slo_s, ttft_s, itl_s):
    if ttft_s > slo_s:
        return 0
    return int((slo_s - ttft_s) // itl_s) + 1
""",
            "the SLO read as strict (below it, not at or below)": """
def predict_e2e(ttft_s, itl_s, n_tokens):
    if n_tokens < 1:
        raise ValueError("at least one token")
    return ttft_s + itl_s * (n_tokens - 1)

def max_tokens_within(slo_s, ttft_s, itl_s):
    n = 0
    while ttft_s + itl_s * n < slo_s - 1e-9:
        n += 1
    return n
""",
            "zero tokens predicted as the TTFT instead of refused": """
def predict_e2e(ttft_s, itl_s, n_tokens):
    return ttft_s + itl_s * max(n_tokens - 1, 0)

def max_tokens_within(slo_s, ttft_s, itl_s):
    if ttft_s > slo_s:
        return 0
    return math.floor((slo_s - ttft_s) / itl_s + 1e-9) + 1
""",
        },
    },
}
