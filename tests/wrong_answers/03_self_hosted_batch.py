"""Plausible wrong answers for lab 03; each must lose marks (tests/course/test_answers.py)."""

WRONG = {
    "ex1_solution": {
        "tests": "ex1_tests",
        "answers": {
            "first label in LABELS order, not earliest in the text": """
def parse_label(text):
    low = text.lower()
    for label in LABELS:
        if label in low:
            return label
    return None


def accuracy(df):
    return sum(parse_label(t) == g for t, g in zip(df.text, df.label)) / len(df)
""",
            "exact match only (no label found inside a sentence)": """
def parse_label(text):
    word = text.strip().strip(".!").lower()
    return word if word in LABELS else None


def accuracy(df):
    return sum(parse_label(t) == g for t, g in zip(df.text, df.label)) / len(df)
""",
            "unparsed answers dropped from the denominator": """
def parse_label(text):
    low = text.lower()
    found = [(low.find(label), label) for label in LABELS if label in low]
    return min(found)[1] if found else None


def accuracy(df):
    parsed = [(parse_label(t), g) for t, g in zip(df.text, df.label)]
    parsed = [(p, g) for p, g in parsed if p is not None]
    return sum(p == g for p, g in parsed) / len(parsed) if parsed else 0.0
""",
            "words only: a label inside a longer word is missed": """
import re

def parse_label(text):
    for word in re.findall("[a-z]+", text.lower()):
        if word in LABELS:
            return word
    return None


def accuracy(df):
    return sum(parse_label(t) == g for t, g in zip(df.text, df.label)) / len(df)
""",
            "the label as written in the text (case kept)": """
def parse_label(text):
    low = text.lower()
    found = [(low.find(label), label) for label in LABELS if label in low]
    if not found:
        return None
    start, label = min(found)
    return text[start : start + len(label)]


def accuracy(df):
    return sum(parse_label(t) == g for t, g in zip(df.text, df.label)) / len(df)
""",
            "accuracy as a percentage": """
def parse_label(text):
    low = text.lower()
    found = [(low.find(label), label) for label in LABELS if label in low]
    return min(found)[1] if found else None


def accuracy(df):
    return 100 * sum(parse_label(t) == g for t, g in zip(df.text, df.label)) / len(df)
""",
            "the string 'none' instead of None": """
def parse_label(text):
    low = text.lower()
    found = [(low.find(label), label) for label in LABELS if label in low]
    return min(found)[1] if found else "none"


def accuracy(df):
    return sum(parse_label(t) == g for t, g in zip(df.text, df.label)) / len(df)
""",
        },
    },
    "ex2_solution": {
        "tests": "ex2_tests",
        "answers": {
            "prompt + output tokens counted as throughput": """
def output_tokens_per_s(run):
    return (run["output_tokens"] + run["prompt_tokens"]) / run["elapsed_s"]


def usd_per_million_tokens(tokens_per_s, usd_per_hour):
    return usd_per_hour / (tokens_per_s * 3600) * 1_000_000
""",
            "hourly price divided by tokens per second (no hours-to-seconds)": """
def output_tokens_per_s(run):
    return run["output_tokens"] / run["elapsed_s"]


def usd_per_million_tokens(tokens_per_s, usd_per_hour):
    return usd_per_hour / tokens_per_s * 1_000_000
""",
            "price per thousand tokens": """
def output_tokens_per_s(run):
    return run["output_tokens"] / run["elapsed_s"]


def usd_per_million_tokens(tokens_per_s, usd_per_hour):
    return usd_per_hour / (tokens_per_s * 3600) * 1000
""",
            "attribute access: works on a Series, not on a dict": """
def output_tokens_per_s(run):
    return run.output_tokens / run.elapsed_s


def usd_per_million_tokens(tokens_per_s, usd_per_hour):
    return usd_per_hour / (tokens_per_s * 3600) * 1_000_000
""",
            "floor division for the rate": """
def output_tokens_per_s(run):
    return run["output_tokens"] // run["elapsed_s"]


def usd_per_million_tokens(tokens_per_s, usd_per_hour):
    return usd_per_hour / (tokens_per_s * 3600) * 1_000_000
""",
            "price per million tokens inverted (tokens per dollar)": """
def output_tokens_per_s(run):
    return run["output_tokens"] / run["elapsed_s"]


def usd_per_million_tokens(tokens_per_s, usd_per_hour):
    return tokens_per_s * 3600 / usd_per_hour / 1_000_000
""",
        },
    },
    "ex3_solution": {
        "tests": "ex3_tests",
        "answers": {
            "GPU-seconds reported as GPU-hours": """
def gpu_hours(n_docs, output_tokens_per_doc, tokens_per_s):
    return n_docs * output_tokens_per_doc / tokens_per_s


def api_cost_usd(n_docs, input_tokens, output_tokens, input_usd_per_m, output_usd_per_m):
    return n_docs * (input_tokens * input_usd_per_m + output_tokens * output_usd_per_m) / 1_000_000


def managed_usd_per_doc(input_tokens, output_tokens, price, batch, deadline_h):
    cost = api_cost_usd(1, input_tokens, output_tokens, price.input_usd, price.output_usd)
    if batch is not None and batch.window_hours <= deadline_h:
        cost = min(cost, api_cost_usd(1, input_tokens, output_tokens, batch.input_usd, batch.output_usd))
    return cost


def break_even_docs(fixed_usd, self_hosted_usd_per_doc, api_usd_per_doc):
    saving = api_usd_per_doc - self_hosted_usd_per_doc
    return math.inf if saving <= 0 else fixed_usd / saving
""",
            "API bill priced at the output rate only": """
def gpu_hours(n_docs, output_tokens_per_doc, tokens_per_s):
    return n_docs * output_tokens_per_doc / tokens_per_s / 3600


def api_cost_usd(n_docs, input_tokens, output_tokens, input_usd_per_m, output_usd_per_m):
    return n_docs * (input_tokens + output_tokens) * output_usd_per_m / 1_000_000


def managed_usd_per_doc(input_tokens, output_tokens, price, batch, deadline_h):
    cost = api_cost_usd(1, input_tokens, output_tokens, price.input_usd, price.output_usd)
    if batch is not None and batch.window_hours <= deadline_h:
        cost = min(cost, api_cost_usd(1, input_tokens, output_tokens, batch.input_usd, batch.output_usd))
    return cost


def break_even_docs(fixed_usd, self_hosted_usd_per_doc, api_usd_per_doc):
    saving = api_usd_per_doc - self_hosted_usd_per_doc
    return math.inf if saving <= 0 else fixed_usd / saving
""",
            "break-even from the API price alone (self-hosting's per-document cost ignored)": """
def gpu_hours(n_docs, output_tokens_per_doc, tokens_per_s):
    return n_docs * output_tokens_per_doc / tokens_per_s / 3600


def api_cost_usd(n_docs, input_tokens, output_tokens, input_usd_per_m, output_usd_per_m):
    return n_docs * (input_tokens * input_usd_per_m + output_tokens * output_usd_per_m) / 1_000_000


def managed_usd_per_doc(input_tokens, output_tokens, price, batch, deadline_h):
    cost = api_cost_usd(1, input_tokens, output_tokens, price.input_usd, price.output_usd)
    if batch is not None and batch.window_hours <= deadline_h:
        cost = min(cost, api_cost_usd(1, input_tokens, output_tokens, batch.input_usd, batch.output_usd))
    return cost


def break_even_docs(fixed_usd, self_hosted_usd_per_doc, api_usd_per_doc):
    return fixed_usd / api_usd_per_doc
""",
            "strict comparison: equal costs per document divide by zero": """
def gpu_hours(n_docs, output_tokens_per_doc, tokens_per_s):
    return n_docs * output_tokens_per_doc / tokens_per_s / 3600


def api_cost_usd(n_docs, input_tokens, output_tokens, input_usd_per_m, output_usd_per_m):
    return n_docs * (input_tokens * input_usd_per_m + output_tokens * output_usd_per_m) / 1_000_000


def managed_usd_per_doc(input_tokens, output_tokens, price, batch, deadline_h):
    cost = api_cost_usd(1, input_tokens, output_tokens, price.input_usd, price.output_usd)
    if batch is not None and batch.window_hours <= deadline_h:
        cost = min(cost, api_cost_usd(1, input_tokens, output_tokens, batch.input_usd, batch.output_usd))
    return cost


def break_even_docs(fixed_usd, self_hosted_usd_per_doc, api_usd_per_doc):
    saving = api_usd_per_doc - self_hosted_usd_per_doc
    return math.inf if saving < 0 else fixed_usd / saving
""",
            "break-even rounded up to whole documents": """
def gpu_hours(n_docs, output_tokens_per_doc, tokens_per_s):
    return n_docs * output_tokens_per_doc / tokens_per_s / 3600


def api_cost_usd(n_docs, input_tokens, output_tokens, input_usd_per_m, output_usd_per_m):
    return n_docs * (input_tokens * input_usd_per_m + output_tokens * output_usd_per_m) / 1_000_000


def managed_usd_per_doc(input_tokens, output_tokens, price, batch, deadline_h):
    cost = api_cost_usd(1, input_tokens, output_tokens, price.input_usd, price.output_usd)
    if batch is not None and batch.window_hours <= deadline_h:
        cost = min(cost, api_cost_usd(1, input_tokens, output_tokens, batch.input_usd, batch.output_usd))
    return cost


def break_even_docs(fixed_usd, self_hosted_usd_per_doc, api_usd_per_doc):
    saving = api_usd_per_doc - self_hosted_usd_per_doc
    return math.inf if saving <= 0 else math.ceil(fixed_usd / saving)
""",
            "negative break-even when the API is cheaper": """
def gpu_hours(n_docs, output_tokens_per_doc, tokens_per_s):
    return n_docs * output_tokens_per_doc / tokens_per_s / 3600


def api_cost_usd(n_docs, input_tokens, output_tokens, input_usd_per_m, output_usd_per_m):
    return n_docs * (input_tokens * input_usd_per_m + output_tokens * output_usd_per_m) / 1_000_000


def managed_usd_per_doc(input_tokens, output_tokens, price, batch, deadline_h):
    cost = api_cost_usd(1, input_tokens, output_tokens, price.input_usd, price.output_usd)
    if batch is not None and batch.window_hours <= deadline_h:
        cost = min(cost, api_cost_usd(1, input_tokens, output_tokens, batch.input_usd, batch.output_usd))
    return cost


def break_even_docs(fixed_usd, self_hosted_usd_per_doc, api_usd_per_doc):
    saving = api_usd_per_doc - self_hosted_usd_per_doc
    return math.inf if saving == 0 else fixed_usd / saving
""",
            "the batch tier whenever one exists (the deadline ignored)": """
def gpu_hours(n_docs, output_tokens_per_doc, tokens_per_s):
    return n_docs * output_tokens_per_doc / tokens_per_s / 3600


def api_cost_usd(n_docs, input_tokens, output_tokens, input_usd_per_m, output_usd_per_m):
    return n_docs * (input_tokens * input_usd_per_m + output_tokens * output_usd_per_m) / 1_000_000


def managed_usd_per_doc(input_tokens, output_tokens, price, batch, deadline_h):
    chosen = batch if batch is not None else price
    return api_cost_usd(1, input_tokens, output_tokens, chosen.input_usd, chosen.output_usd)


def break_even_docs(fixed_usd, self_hosted_usd_per_doc, api_usd_per_doc):
    saving = api_usd_per_doc - self_hosted_usd_per_doc
    return math.inf if saving <= 0 else fixed_usd / saving
""",
            "strict window: a 24 h window misses a 24 h deadline": """
def gpu_hours(n_docs, output_tokens_per_doc, tokens_per_s):
    return n_docs * output_tokens_per_doc / tokens_per_s / 3600


def api_cost_usd(n_docs, input_tokens, output_tokens, input_usd_per_m, output_usd_per_m):
    return n_docs * (input_tokens * input_usd_per_m + output_tokens * output_usd_per_m) / 1_000_000


def managed_usd_per_doc(input_tokens, output_tokens, price, batch, deadline_h):
    cost = api_cost_usd(1, input_tokens, output_tokens, price.input_usd, price.output_usd)
    if batch is not None and batch.window_hours < deadline_h:
        cost = min(cost, api_cost_usd(1, input_tokens, output_tokens, batch.input_usd, batch.output_usd))
    return cost


def break_even_docs(fixed_usd, self_hosted_usd_per_doc, api_usd_per_doc):
    saving = api_usd_per_doc - self_hosted_usd_per_doc
    return math.inf if saving <= 0 else fixed_usd / saving
""",
            "the tier taken whenever it is in time, even when dearer": """
def gpu_hours(n_docs, output_tokens_per_doc, tokens_per_s):
    return n_docs * output_tokens_per_doc / tokens_per_s / 3600


def api_cost_usd(n_docs, input_tokens, output_tokens, input_usd_per_m, output_usd_per_m):
    return n_docs * (input_tokens * input_usd_per_m + output_tokens * output_usd_per_m) / 1_000_000


def managed_usd_per_doc(input_tokens, output_tokens, price, batch, deadline_h):
    if batch is not None and batch.window_hours <= deadline_h:
        return api_cost_usd(1, input_tokens, output_tokens, batch.input_usd, batch.output_usd)
    return api_cost_usd(1, input_tokens, output_tokens, price.input_usd, price.output_usd)


def break_even_docs(fixed_usd, self_hosted_usd_per_doc, api_usd_per_doc):
    saving = api_usd_per_doc - self_hosted_usd_per_doc
    return math.inf if saving <= 0 else fixed_usd / saving
""",
            "half the synchronous price assumed, the tier's prices not read": """
def gpu_hours(n_docs, output_tokens_per_doc, tokens_per_s):
    return n_docs * output_tokens_per_doc / tokens_per_s / 3600


def api_cost_usd(n_docs, input_tokens, output_tokens, input_usd_per_m, output_usd_per_m):
    return n_docs * (input_tokens * input_usd_per_m + output_tokens * output_usd_per_m) / 1_000_000


def managed_usd_per_doc(input_tokens, output_tokens, price, batch, deadline_h):
    cost = api_cost_usd(1, input_tokens, output_tokens, price.input_usd, price.output_usd)
    if batch is not None and batch.window_hours <= deadline_h:
        return cost / 2
    return cost


def break_even_docs(fixed_usd, self_hosted_usd_per_doc, api_usd_per_doc):
    saving = api_usd_per_doc - self_hosted_usd_per_doc
    return math.inf if saving <= 0 else fixed_usd / saving
""",
            "no tier (None) not handled: AttributeError": """
def gpu_hours(n_docs, output_tokens_per_doc, tokens_per_s):
    return n_docs * output_tokens_per_doc / tokens_per_s / 3600


def api_cost_usd(n_docs, input_tokens, output_tokens, input_usd_per_m, output_usd_per_m):
    return n_docs * (input_tokens * input_usd_per_m + output_tokens * output_usd_per_m) / 1_000_000


def managed_usd_per_doc(input_tokens, output_tokens, price, batch, deadline_h):
    cost = api_cost_usd(1, input_tokens, output_tokens, price.input_usd, price.output_usd)
    if batch.window_hours <= deadline_h:
        cost = min(cost, api_cost_usd(1, input_tokens, output_tokens, batch.input_usd, batch.output_usd))
    return cost


def break_even_docs(fixed_usd, self_hosted_usd_per_doc, api_usd_per_doc):
    saving = api_usd_per_doc - self_hosted_usd_per_doc
    return math.inf if saving <= 0 else fixed_usd / saving
""",
            "cheaper judged by the input price alone": """
def gpu_hours(n_docs, output_tokens_per_doc, tokens_per_s):
    return n_docs * output_tokens_per_doc / tokens_per_s / 3600


def api_cost_usd(n_docs, input_tokens, output_tokens, input_usd_per_m, output_usd_per_m):
    return n_docs * (input_tokens * input_usd_per_m + output_tokens * output_usd_per_m) / 1_000_000


def managed_usd_per_doc(input_tokens, output_tokens, price, batch, deadline_h):
    chosen = price
    if batch is not None and batch.window_hours <= deadline_h and batch.input_usd < price.input_usd:
        chosen = batch
    return api_cost_usd(1, input_tokens, output_tokens, chosen.input_usd, chosen.output_usd)


def break_even_docs(fixed_usd, self_hosted_usd_per_doc, api_usd_per_doc):
    saving = api_usd_per_doc - self_hosted_usd_per_doc
    return math.inf if saving <= 0 else fixed_usd / saving
""",
            "the tier's input and output prices swapped": """
def gpu_hours(n_docs, output_tokens_per_doc, tokens_per_s):
    return n_docs * output_tokens_per_doc / tokens_per_s / 3600


def api_cost_usd(n_docs, input_tokens, output_tokens, input_usd_per_m, output_usd_per_m):
    return n_docs * (input_tokens * input_usd_per_m + output_tokens * output_usd_per_m) / 1_000_000


def managed_usd_per_doc(input_tokens, output_tokens, price, batch, deadline_h):
    cost = api_cost_usd(1, input_tokens, output_tokens, price.input_usd, price.output_usd)
    if batch is not None and batch.window_hours <= deadline_h:
        cost = min(cost, api_cost_usd(1, input_tokens, output_tokens, batch.output_usd, batch.input_usd))
    return cost


def break_even_docs(fixed_usd, self_hosted_usd_per_doc, api_usd_per_doc):
    saving = api_usd_per_doc - self_hosted_usd_per_doc
    return math.inf if saving <= 0 else fixed_usd / saving
""",
        },
    },
    "ex4_solution": {
        "tests": "ex4_tests",
        "answers": {
            "weights forgotten: the whole GPU for the KV cache": """
def max_sequences(memory_bytes, weight_bytes, kv_bytes_per_token, tokens_per_sequence, utilization=0.9):
    return int(memory_bytes * utilization // (kv_bytes_per_token * tokens_per_sequence))
""",
            "utilization ignored": """
def max_sequences(memory_bytes, weight_bytes, kv_bytes_per_token, tokens_per_sequence, utilization=0.9):
    free = memory_bytes - weight_bytes
    return max(0, int(free // (kv_bytes_per_token * tokens_per_sequence)))
""",
            "rounded instead of floored": """
def max_sequences(memory_bytes, weight_bytes, kv_bytes_per_token, tokens_per_sequence, utilization=0.9):
    free = memory_bytes * utilization - weight_bytes
    return max(0, round(free / (kv_bytes_per_token * tokens_per_sequence)))
""",
            "an exact fit not counted (strictly less than the free memory)": """
def max_sequences(memory_bytes, weight_bytes, kv_bytes_per_token, tokens_per_sequence, utilization=0.9):
    free = memory_bytes * utilization - weight_bytes
    if free <= 0:
        return 0
    return math.ceil(free / (kv_bytes_per_token * tokens_per_sequence)) - 1
""",
            "default utilization of 1.0 (the whole card)": """
def max_sequences(memory_bytes, weight_bytes, kv_bytes_per_token, tokens_per_sequence, utilization=1.0):
    free = memory_bytes * utilization - weight_bytes
    if free <= 0:
        return 0
    return int(free // (kv_bytes_per_token * tokens_per_sequence))
""",
            "no guard: a negative count when the weights do not fit": """
def max_sequences(memory_bytes, weight_bytes, kv_bytes_per_token, tokens_per_sequence, utilization=0.9):
    free = memory_bytes * utilization - weight_bytes
    return int(free // (kv_bytes_per_token * tokens_per_sequence))
""",
            "a float count (true division floored, not made an int)": """
def max_sequences(memory_bytes, weight_bytes, kv_bytes_per_token, tokens_per_sequence, utilization=0.9):
    free = memory_bytes * utilization - weight_bytes
    if free <= 0:
        return 0
    return free // (kv_bytes_per_token * tokens_per_sequence)
""",
        },
    },
}
