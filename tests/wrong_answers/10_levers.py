"""Lab 10: typical mistakes, each of which must lose marks."""

WRONG = {
    "ex1_solution": {
        "tests": "ex1_tests",
        "answers": {
            "the ratio of the totals, not of what happened between the snapshots": """
def hit_rate(before, after):
    if after[QUERIES] == 0:
        return None
    return after[HITS] / after[QUERIES]

def prompt_cost_usd(requests, prompt_tokens, hit_rate, input_usd, cached_usd):
    tokens = requests * prompt_tokens
    return tokens * ((1 - hit_rate) * input_usd + hit_rate * cached_usd) / 1_000_000
""",
            "no lookups give 0.0 instead of None, and no restart check": """
def hit_rate(before, after):
    queries = after[QUERIES] - before[QUERIES]
    hits = after[HITS] - before[HITS]
    return hits / queries if queries else 0.0

def prompt_cost_usd(requests, prompt_tokens, hit_rate, input_usd, cached_usd):
    tokens = requests * prompt_tokens
    return tokens * ((1 - hit_rate) * input_usd + hit_rate * cached_usd) / 1_000_000
""",
            "cached tokens billed at the input price minus the cached price (partial credit)": """
def hit_rate(before, after):
    queries = after[QUERIES] - before[QUERIES]
    hits = after[HITS] - before[HITS]
    if queries < 0 or hits < 0:
        raise ValueError("restart")
    if queries == 0:
        return None
    return hits / queries

def prompt_cost_usd(requests, prompt_tokens, hit_rate, input_usd, cached_usd):
    tokens = requests * prompt_tokens
    return tokens * ((1 - hit_rate) * input_usd + hit_rate * (input_usd - cached_usd)) / 1_000_000
""",
            "forgets the per-million unit": """
def hit_rate(before, after):
    queries = after[QUERIES] - before[QUERIES]
    hits = after[HITS] - before[HITS]
    if queries < 0 or hits < 0:
        raise ValueError("restart")
    if queries == 0:
        return None
    return hits / queries

def prompt_cost_usd(requests, prompt_tokens, hit_rate, input_usd, cached_usd):
    return requests * prompt_tokens * ((1 - hit_rate) * input_usd + hit_rate * cached_usd)
""",
        },
    },
    "ex2_solution": {
        "tests": "ex2_tests",
        "answers": {
            "a window must be strictly shorter than the deadline": """
def monthly_cost(option, tokens_in, tokens_out):
    return option["fixed_usd"] + (tokens_in * option["input_usd"] + tokens_out * option["output_usd"]) / 1_000_000

def cheapest_option(options, tokens_in, tokens_out, deadline_h):
    ok = [o for o in options if o["window_h"] < deadline_h]
    if not ok:
        return None
    return min(ok, key=lambda o: monthly_cost(o, tokens_in, tokens_out))["name"]
""",
            "ignores the deadline": """
def monthly_cost(option, tokens_in, tokens_out):
    return option["fixed_usd"] + (tokens_in * option["input_usd"] + tokens_out * option["output_usd"]) / 1_000_000

def cheapest_option(options, tokens_in, tokens_out, deadline_h):
    return min(options, key=lambda o: monthly_cost(o, tokens_in, tokens_out))["name"]
""",
            "forgets the fixed part of the bill": """
def monthly_cost(option, tokens_in, tokens_out):
    return (tokens_in * option["input_usd"] + tokens_out * option["output_usd"]) / 1_000_000

def cheapest_option(options, tokens_in, tokens_out, deadline_h):
    ok = [o for o in options if o["window_h"] <= deadline_h]
    if not ok:
        return None
    return min(ok, key=lambda o: monthly_cost(o, tokens_in, tokens_out))["name"]
""",
            "stops at the first option that misses the deadline": """
def monthly_cost(option, tokens_in, tokens_out):
    return option["fixed_usd"] + (tokens_in * option["input_usd"] + tokens_out * option["output_usd"]) / 1_000_000

def cheapest_option(options, tokens_in, tokens_out, deadline_h):
    best_name, best_cost = None, float("inf")
    for o in options:
        if o["window_h"] > deadline_h:
            break
        cost = monthly_cost(o, tokens_in, tokens_out)
        if cost < best_cost:
            best_name, best_cost = o["name"], cost
    return best_name
""",
            "a tie goes to the last listed": """
def monthly_cost(option, tokens_in, tokens_out):
    return option["fixed_usd"] + (tokens_in * option["input_usd"] + tokens_out * option["output_usd"]) / 1_000_000

def cheapest_option(options, tokens_in, tokens_out, deadline_h):
    best = None
    for o in options:
        if o["window_h"] <= deadline_h:
            cost = monthly_cost(o, tokens_in, tokens_out)
            if best is None or cost <= best[1]:
                best = (o["name"], cost)
    return None if best is None else best[0]
""",
        },
    },
    "ex3_solution": {
        "tests": "ex3_tests",
        "answers": {
            "the baseline is the lowest perplexity, not the largest file": """
def smallest_within(table, max_increase):
    baseline = table.perplexity.min()
    ok = table[table.perplexity <= baseline * (1 + max_increase)]
    return str(ok.sort_values(["size_bytes", "perplexity"]).variant.iloc[0])

def decode_ceiling_tps(size_bytes, bandwidth_gb_s):
    return bandwidth_gb_s * 1e9 / size_bytes
""",
            "strictly below the bound": """
def smallest_within(table, max_increase):
    baseline = table.loc[table.size_bytes.idxmax(), "perplexity"]
    ok = table[table.perplexity < baseline * (1 + max_increase)]
    return str(ok.sort_values(["size_bytes", "perplexity"]).variant.iloc[0])

def decode_ceiling_tps(size_bytes, bandwidth_gb_s):
    return bandwidth_gb_s * 1e9 / size_bytes
""",
            "the bandwidth in GiB (2**30) and the first row as baseline (partial credit)": """
def smallest_within(table, max_increase):
    baseline = table.perplexity.iloc[0]
    ok = table[table.perplexity <= baseline * (1 + max_increase)]
    return str(ok.sort_values(["size_bytes", "perplexity"]).variant.iloc[0])

def decode_ceiling_tps(size_bytes, bandwidth_gb_s):
    return bandwidth_gb_s * 2**30 / size_bytes
""",
            "equal sizes keep the table's order": """
def smallest_within(table, max_increase):
    baseline = table.loc[table.size_bytes.idxmax(), "perplexity"]
    ok = table[table.perplexity <= baseline * (1 + max_increase)]
    return str(ok.sort_values("size_bytes", kind="stable").variant.iloc[0])

def decode_ceiling_tps(size_bytes, bandwidth_gb_s):
    return bandwidth_gb_s * 1e9 / size_bytes
""",
        },
    },
    "ex4_solution": {
        "tests": "ex4_tests",
        "answers": {
            "accepted over generated tokens, not over proposed ones": """
def acceptance_rate(timings):
    if not timings.get("draft_n"):
        return None
    return timings["draft_n_accepted"] / timings["predicted_n"]

def expected_tokens_per_step(alpha, k):
    if not 0 <= alpha <= 1 or k < 0:
        raise ValueError("range")
    if alpha == 1:
        return float(k + 1)
    return (1 - alpha ** (k + 1)) / (1 - alpha)
""",
            "the exponent k instead of k + 1 (partial credit)": """
def acceptance_rate(timings):
    drafted = timings.get("draft_n") or 0
    return None if drafted == 0 else timings["draft_n_accepted"] / drafted

def expected_tokens_per_step(alpha, k):
    if not 0 <= alpha <= 1 or k < 0:
        raise ValueError("range")
    if alpha == 1:
        return float(k)
    return (1 - alpha ** k) / (1 - alpha)
""",
            "alpha times k + 1, and no range check": """
def acceptance_rate(timings):
    drafted = timings.get("draft_n") or 0
    return None if drafted == 0 else timings["draft_n_accepted"] / drafted

def expected_tokens_per_step(alpha, k):
    return alpha * k + 1
""",
            "nothing proposed counts as 0.0 accepted": """
def acceptance_rate(timings):
    drafted = timings.get("draft_n", 0)
    return timings.get("draft_n_accepted", 0) / drafted if drafted else 0.0

def expected_tokens_per_step(alpha, k):
    if not 0 <= alpha <= 1 or k < 0:
        raise ValueError("range")
    if alpha == 1:
        return float(k + 1)
    return (1 - alpha ** (k + 1)) / (1 - alpha)
""",
        },
    },
    "ex5_solution": {
        "tests": "ex5_tests",
        "answers": {
            "the mean of per-text ratios": """
def tokens_per_word(table, tokenizer):
    return float((table[tokenizer] / table.words).mean())

def rank_offers(offers, table):
    cost = {o["name"]: o["output_usd"] * tokens_per_word(table, o["tokenizer"]) for o in offers}
    return sorted(cost, key=lambda n: (cost[n], n))
""",
            "ranks by price per token": """
def tokens_per_word(table, tokenizer):
    return float(table[tokenizer].sum() / table.words.sum())

def rank_offers(offers, table):
    return [o["name"] for o in sorted(offers, key=lambda o: (o["output_usd"], o["name"]))]
""",
            "divides the price by tokens per word (partial credit)": """
def tokens_per_word(table, tokenizer):
    return float(table[tokenizer].sum() / table.words.sum())

def rank_offers(offers, table):
    cost = {o["name"]: o["output_usd"] / tokens_per_word(table, o["tokenizer"]) for o in offers}
    return sorted(cost, key=lambda n: (cost[n], n))
""",
            "ties keep the offers' order": """
def tokens_per_word(table, tokenizer):
    return float(table[tokenizer].sum() / table.words.sum())

def rank_offers(offers, table):
    ranked = sorted(offers, key=lambda o: o["output_usd"] * tokens_per_word(table, o["tokenizer"]))
    return [o["name"] for o in ranked]
""",
        },
    },
}
