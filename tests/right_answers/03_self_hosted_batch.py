"""Lab 03: other correct answers, each of which must keep full marks."""

RIGHT = {
    "ex1_solution": {
        "tests": "ex1_tests",
        "answers": {
            "one regular expression, pandas for the share": """
import re

def parse_label(text):
    match = re.search("|".join(LABELS), text.lower())
    return match.group(0) if match else None

def accuracy(df):
    return float((df.text.map(parse_label) == df.label).mean())
""",
            "scan the text position by position, a loop for the share": """
def parse_label(text):
    low = text.casefold()
    for i in range(len(low)):
        for label in LABELS:
            if low.startswith(label, i):
                return label
    return None

def accuracy(df):
    right = 0
    for row in df.itertuples():
        right += parse_label(row.text) == row.label
    return right / len(df)
""",
            "earliest by sorted positions, numpy for the share": """
import numpy as np

def parse_label(text):
    low = text.lower()
    positions = sorted((low.index(label), label) for label in LABELS if low.find(label) >= 0)
    return positions[0][1] if positions else None

def accuracy(df):
    return float(np.mean([parse_label(t) == g for t, g in zip(df["text"], df["label"])]))
""",
        },
    },
    "ex2_solution": {
        "tests": "ex2_tests",
        "answers": {
            "float() of each field; 3.6e-3 million tokens per hour per tok/s": """
def output_tokens_per_s(run):
    return float(run["output_tokens"]) / float(run["elapsed_s"])

def usd_per_million_tokens(tokens_per_s, usd_per_hour):
    return usd_per_hour / (tokens_per_s * 3600 / 1e6)
""",
            "the row turned into a dict first; price per second first": """
def output_tokens_per_s(run):
    fields = dict(run)
    return fields["output_tokens"] / fields["elapsed_s"]

def usd_per_million_tokens(tokens_per_s, usd_per_hour):
    usd_per_s = usd_per_hour / 3600
    return usd_per_s / tokens_per_s * 1_000_000
""",
        },
    },
    "ex3_solution": {
        "tests": "ex3_tests",
        "answers": {
            "explicit comparison and float('inf'); seconds then hours": """
def gpu_hours(n_docs, output_tokens_per_doc, tokens_per_s):
    seconds = n_docs * output_tokens_per_doc / tokens_per_s
    return seconds / 3600

def api_cost_usd(n_docs, input_tokens, output_tokens, input_usd_per_m, output_usd_per_m):
    input_usd = n_docs * input_tokens / 1e6 * input_usd_per_m
    output_usd = n_docs * output_tokens / 1e6 * output_usd_per_m
    return input_usd + output_usd

def managed_usd_per_doc(input_tokens, output_tokens, price, batch, deadline_h):
    sync = api_cost_usd(1, input_tokens, output_tokens, price.input_usd, price.output_usd)
    if batch is None or batch.window_hours > deadline_h:
        return sync
    tier = (input_tokens * batch.input_usd + output_tokens * batch.output_usd) / 1_000_000
    return tier if tier < sync else sync

def break_even_docs(fixed_usd, self_hosted_usd_per_doc, api_usd_per_doc):
    if api_usd_per_doc <= self_hosted_usd_per_doc:
        return float("inf")
    return fixed_usd / (api_usd_per_doc - self_hosted_usd_per_doc)
""",
            "numpy's inf; the job as token totals": """
import numpy as np

def gpu_hours(n_docs, output_tokens_per_doc, tokens_per_s):
    total_tokens = n_docs * output_tokens_per_doc
    return total_tokens / (tokens_per_s * 3600)

def api_cost_usd(n_docs, input_tokens, output_tokens, input_usd_per_m, output_usd_per_m):
    total_in, total_out = n_docs * input_tokens, n_docs * output_tokens
    return (total_in * input_usd_per_m + total_out * output_usd_per_m) / 1e6

def managed_usd_per_doc(input_tokens, output_tokens, price, batch, deadline_h):
    options = [price]
    if batch is not None and not batch.window_hours > deadline_h:
        options.append(batch)
    return min((input_tokens * p.input_usd + output_tokens * p.output_usd) / 1e6 for p in options)

def break_even_docs(fixed_usd, self_hosted_usd_per_doc, api_usd_per_doc):
    saving = api_usd_per_doc - self_hosted_usd_per_doc
    return fixed_usd / saving if saving > 0 else np.inf
""",
            "a dict of the options that meet the deadline, the cheapest by sorted()": """
def gpu_hours(n_docs, output_tokens_per_doc, tokens_per_s):
    return float(n_docs) * output_tokens_per_doc / (3600 * tokens_per_s)

def api_cost_usd(n_docs, input_tokens, output_tokens, input_usd_per_m, output_usd_per_m):
    per_doc = input_tokens * input_usd_per_m / 1e6 + output_tokens * output_usd_per_m / 1e6
    return n_docs * per_doc

def managed_usd_per_doc(input_tokens, output_tokens, price, batch, deadline_h):
    in_time = {"synchronous": price}
    if batch is not None and batch.window_hours <= deadline_h:
        in_time["batch"] = batch
    costs = sorted(
        api_cost_usd(1, input_tokens, output_tokens, p.input_usd, p.output_usd)
        for p in in_time.values()
    )
    return costs[0]

def break_even_docs(fixed_usd, self_hosted_usd_per_doc, api_usd_per_doc):
    if api_usd_per_doc - self_hosted_usd_per_doc > 0:
        return fixed_usd / (api_usd_per_doc - self_hosted_usd_per_doc)
    return math.inf
""",
        },
    },
    "ex4_solution": {
        "tests": "ex4_tests",
        "answers": {
            "math.floor of a true division, max(0, ...)": """
def max_sequences(memory_bytes, weight_bytes, kv_bytes_per_token, tokens_per_sequence, utilization=0.9):
    free = memory_bytes * utilization - weight_bytes
    return max(0, math.floor(free / (kv_bytes_per_token * tokens_per_sequence)))
""",
            "add sequences while the next one still fits": """
def max_sequences(memory_bytes, weight_bytes, kv_bytes_per_token, tokens_per_sequence, utilization=0.9):
    free = memory_bytes * utilization - weight_bytes
    per_sequence = kv_bytes_per_token * tokens_per_sequence
    n = 0
    while (n + 1) * per_sequence <= free:
        n += 1
    return n
""",
        },
    },
}
