"""Lab 10: alternative right answers, each of which must keep full marks."""

RIGHT = {
    "ex1_solution": {
        "tests": "ex1_tests",
        "answers": {
            "guard clauses in another order, cost as two terms": """
def hit_rate(before, after):
    delta = {k: after[k] - before[k] for k in (QUERIES, HITS)}
    if min(delta.values()) < 0:
        raise ValueError("counter reset")
    return None if delta[QUERIES] == 0 else float(delta[HITS]) / delta[QUERIES]

def prompt_cost_usd(requests, prompt_tokens, hit_rate, input_usd, cached_usd):
    tokens = requests * prompt_tokens
    cached = tokens * hit_rate
    return ((tokens - cached) * input_usd + cached * cached_usd) / 1e6
""",
            "the discount form: input price minus the saving": """
def hit_rate(before, after):
    queries = after[QUERIES] - before[QUERIES]
    hits = after[HITS] - before[HITS]
    if hits < 0:
        raise ValueError("hits went down")
    if queries < 0:
        raise ValueError("queries went down")
    if not queries:
        return None
    return hits / queries

def prompt_cost_usd(requests, prompt_tokens, hit_rate, input_usd, cached_usd):
    per_million = input_usd - hit_rate * (input_usd - cached_usd)
    return requests * prompt_tokens / 1_000_000 * per_million
""",
        },
    },
    "ex2_solution": {
        "tests": "ex2_tests",
        "answers": {
            "min over the eligible options (min keeps the first of equals)": """
def monthly_cost(option, tokens_in, tokens_out):
    return option["fixed_usd"] + tokens_in / 1e6 * option["input_usd"] + tokens_out / 1e6 * option["output_usd"]

def cheapest_option(options, tokens_in, tokens_out, deadline_h):
    eligible = [o for o in options if o["window_h"] <= deadline_h]
    if not eligible:
        return None
    return min(eligible, key=lambda o: monthly_cost(o, tokens_in, tokens_out))["name"]
""",
            "sorted with the index as the tie-break": """
def monthly_cost(option, tokens_in, tokens_out):
    return (option["fixed_usd"] * 1e6 + tokens_in * option["input_usd"] + tokens_out * option["output_usd"]) / 1e6

def cheapest_option(options, tokens_in, tokens_out, deadline_h):
    ranked = sorted(
        (monthly_cost(o, tokens_in, tokens_out), i, o["name"])
        for i, o in enumerate(options)
        if not o["window_h"] > deadline_h
    )
    return ranked[0][2] if ranked else None
""",
        },
    },
    "ex3_solution": {
        "tests": "ex3_tests",
        "answers": {
            "a loop over the rows": """
def smallest_within(table, max_increase):
    rows = list(table.itertuples())
    baseline = max(rows, key=lambda r: r.size_bytes).perplexity
    ok = [r for r in rows if r.perplexity <= baseline * (1 + max_increase)]
    return min(ok, key=lambda r: (r.size_bytes, r.perplexity)).variant

def decode_ceiling_tps(size_bytes, bandwidth_gb_s):
    return float(bandwidth_gb_s * 1_000_000_000 / size_bytes)
""",
            "the relative increase compared with the bound": """
def smallest_within(table, max_increase):
    baseline = table.sort_values("size_bytes").perplexity.iloc[-1]
    ok = table[table.perplexity / baseline - 1 <= max_increase]
    best = ok.sort_values(["size_bytes", "perplexity"]).iloc[0]
    return str(best["variant"])

def decode_ceiling_tps(size_bytes, bandwidth_gb_s):
    return 1 / (size_bytes / (bandwidth_gb_s * 1e9))
""",
        },
    },
    "ex4_solution": {
        "tests": "ex4_tests",
        "answers": {
            "a geometric sum": """
def acceptance_rate(timings):
    if timings.get("draft_n", 0) in (0, None):
        return None
    return float(timings["draft_n_accepted"]) / timings["draft_n"]

def expected_tokens_per_step(alpha, k):
    if alpha < 0 or alpha > 1 or k < 0:
        raise ValueError("out of range")
    return float(sum(alpha**i for i in range(k + 1)))
""",
            "the closed form, alpha == 1 by its limit": """
def acceptance_rate(timings):
    drafted = timings.get("draft_n")
    if not drafted:
        return None
    return timings.get("draft_n_accepted", 0) / drafted

def expected_tokens_per_step(alpha, k):
    if not (0.0 <= alpha <= 1.0) or k < 0:
        raise ValueError(f"alpha {alpha} or k {k} out of range")
    if alpha >= 1.0:
        return k + 1.0
    return (1.0 - alpha ** (k + 1)) / (1.0 - alpha)
""",
        },
    },
    "ex5_solution": {
        "tests": "ex5_tests",
        "answers": {
            "sums in Python, sort by name then by cost (stable)": """
def tokens_per_word(table, tokenizer):
    return sum(int(x) for x in table[tokenizer]) / sum(int(x) for x in table["words"])

def rank_offers(offers, table):
    by_name = sorted(offers, key=lambda o: o["name"])
    ranked = sorted(by_name, key=lambda o: o["output_usd"] * tokens_per_word(table, o["tokenizer"]))
    return [o["name"] for o in ranked]
""",
            "per million words": """
def tokens_per_word(table, tokenizer):
    totals = table[[tokenizer, "words"]].sum()
    return float(totals[tokenizer]) / float(totals["words"])

def rank_offers(offers, table):
    rows = [(o["output_usd"] * tokens_per_word(table, o["tokenizer"]), o["name"]) for o in offers]
    return [name for _, name in sorted(rows)]
""",
        },
    },
}
