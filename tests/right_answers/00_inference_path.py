"""Lab 00: other correct answers, each of which must keep full marks."""

RIGHT = {
    "ex1_solution": {
        "tests": "ex1_tests",
        "answers": {
            "numpy differences instead of a loop": """
import numpy as np

def ttft(trace):
    return trace["chunks"][0]["t"] - trace["sent_at"]

def itl_mean(trace):
    times = np.array([c["t"] for c in trace["chunks"] if c["text"]])
    return None if len(times) < 2 else float(np.diff(times).mean())

def e2e(trace):
    return [c["t"] for c in trace["chunks"] if c["text"]][-1] - trace["sent_at"]
""",
            "pandas over the chunk table": """
import pandas as pd

def ttft(trace):
    return float(pd.DataFrame(trace["chunks"]).t.min() - trace["sent_at"])

def itl_mean(trace):
    df = pd.DataFrame(trace["chunks"])
    t = df[df.text != ""].t
    return None if len(t) < 2 else float(t.diff().dropna().mean())

def e2e(trace):
    df = pd.DataFrame(trace["chunks"])
    return float(df[df.text != ""].t.max() - trace["sent_at"])
""",
            "one pass over the chunks, remembering the previous text time": """
def ttft(trace):
    first = trace["chunks"][0]
    return first["t"] - trace["sent_at"]

def itl_mean(trace):
    gaps, previous = [], None
    for chunk in trace["chunks"]:
        if not chunk["text"]:
            continue
        if previous is not None:
            gaps.append(chunk["t"] - previous)
        previous = chunk["t"]
    if not gaps:
        return None
    return sum(gaps) / len(gaps)

def e2e(trace):
    last = None
    for chunk in trace["chunks"]:
        if chunk["text"] != "":
            last = chunk["t"]
    return last - trace["sent_at"]
""",
        },
    },
    "ex2_solution": {
        "tests": "ex2_tests",
        "answers": {
            "a loop and sorted()": """
def over_budget(stages):
    rows = [(r.actual_ms - r.budget_ms, r.stage) for r in stages.itertuples() if r.actual_ms > r.budget_ms]
    return [stage for _, stage in sorted(rows, key=lambda x: -x[0])]
""",
            "nlargest on the overshoot": """
def over_budget(stages):
    over = stages.assign(o=stages.actual_ms - stages.budget_ms)
    over = over[over.o > 0]
    return over.nlargest(len(over), "o").stage.tolist()
""",
            "a dict of overshoots and sorted() with a reversed key": """
def over_budget(stages):
    overshoot = {}
    for stage, budget, actual in zip(stages["stage"], stages["budget_ms"], stages["actual_ms"]):
        if actual > budget:
            overshoot[stage] = actual - budget
    return sorted(overshoot, key=overshoot.get, reverse=True)
""",
        },
    },
    "ex3_solution": {
        "tests": "ex3_tests",
        "answers": {
            "a counting loop for the token budget": """
def predict_e2e(ttft, itl, n_tokens):
    if n_tokens < 1:
        raise ValueError("at least one token")
    return ttft + itl * (n_tokens - 1)

def max_tokens_within(slo, ttft, itl):
    n = 0
    while ttft + itl * n <= slo + 1e-9:
        n += 1
    return n
""",
            "fractions for an exact boundary": """
from fractions import Fraction

def predict_e2e(ttft, itl, n_tokens):
    if n_tokens < 1:
        raise ValueError("n_tokens must be at least 1")
    return ttft + (n_tokens - 1) * itl

def max_tokens_within(slo, ttft, itl):
    if slo < ttft:
        return 0
    gaps = (Fraction(str(slo)) - Fraction(str(ttft))) / Fraction(str(itl))
    return int(gaps) + 1
""",
            "decimal arithmetic, an int count of gaps": """
from decimal import Decimal

def predict_e2e(ttft_s, itl_s, n_tokens):
    if n_tokens <= 0:
        raise ValueError("n_tokens must be >= 1")
    return ttft_s + itl_s * (n_tokens - 1)

def max_tokens_within(slo_s, ttft_s, itl_s):
    room = Decimal(repr(slo_s)) - Decimal(repr(ttft_s))
    if room < 0:
        return 0
    return int(room // Decimal(repr(itl_s))) + 1
""",
        },
    },
}
