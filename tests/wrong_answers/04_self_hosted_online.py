"""Lab 04: typical mistakes, each of which must fail the exercise's tests."""

_SWEEP_HEAD = """
def sweep_table(records):
    rows = []
    for level in sorted({r["concurrency"] for r in records}):
"""

_SWEEP_TAIL = """
        ttfts = [1000 * ttft(r) for r in good]
        tpots = [1000 * t for t in (tpot(r) for r in good) if t is not None]
        tokens = sum(output_tokens(r)[0] for r in good)
        rows.append({
            "concurrency": level, "requests": len(good),
            "ttft_p50": np.percentile(ttfts, 50), "ttft_p99": np.percentile(ttfts, 99),
            "tpot_p50": np.percentile(tpots, 50), "tpot_p99": np.percentile(tpots, 99),
            "itl_p50": np.percentile(gaps, 50), "itl_p99": np.percentile(gaps, 99),
            "output_tok_s": tokens / duration(recs),
        })
    return pd.DataFrame(rows).set_index("concurrency")
"""

_SLO_TABLE = """
def slo_table(records, ttft_ms, tpot_ms):
    rows = []
    for level in sorted({r["concurrency"] for r in records}):
        recs = [r for r in records if r["concurrency"] == level and not r.get("warmup")]
        good = sum(meets_slo(r, ttft_ms, tpot_ms) for r in recs)
        rows.append({"concurrency": level, "attainment": good / len(recs),
                     "goodput": good / duration(recs)})
    return pd.DataFrame(rows).set_index("concurrency")


def max_concurrency_within_slo(records, ttft_ms, tpot_ms, attainment=0.9):
    table = slo_table(records, ttft_ms, tpot_ms)
    passing = table.index[table.attainment >= attainment]
    return int(max(passing)) if len(passing) else None
"""

_MEETS = """
def meets_slo(record, ttft_ms, tpot_ms):
    if not ok(record) or ttft(record) is None:
        return False
    per_token = tpot(record)
    return ttft(record) * 1000 <= ttft_ms and (per_token is None or per_token * 1000 <= tpot_ms)
"""

_FLOORS = """
def with_floors(points):
    out = points.copy()
    floors = [decode_floor_s(p.weight_bytes, p.bandwidth_tb_s * 1e12, p.kv_bytes_per_token,
                             p.batch, p.context_tokens, p.tensor_parallel)
              for p in points.itertuples()]
    out["floor_ms"] = [1000 * f for f in floors]
    out["utilisation"] = [bandwidth_utilisation(p.itl_ms / 1000, f)
                          for p, f in zip(points.itertuples(), floors)]
    return out
"""

_GAUGE = """
def gauge_value(text, name):
    total, found = 0.0, False
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name:
                total, found = total + s.value, True
    if not found:
        raise KeyError(name)
    return total
"""

WRONG = {
    "ex1_solution": {
        "tests": "ex1_tests",
        "answers": {
            "warm-up requests counted": _SWEEP_HEAD
            + """
        recs = [r for r in records if r["concurrency"] == level]
        good = [r for r in recs if ok(r)]
        gaps = [1000 * g for r in good for g in itls(r)]
"""
            + _SWEEP_TAIL,
            "ITL as per-request mean gaps, not all gaps pooled": _SWEEP_HEAD
            + """
        recs = [r for r in records if r["concurrency"] == level and not r.get("warmup")]
        good = [r for r in recs if ok(r)]
        gaps = [1000 * float(np.mean(itls(r))) for r in good if itls(r)]
"""
            + _SWEEP_TAIL,
            "requests that failed mid-stream kept": _SWEEP_HEAD
            + """
        recs = [r for r in records if r["concurrency"] == level and not r.get("warmup")]
        good = [r for r in recs if r["chunks"]]
        gaps = [1000 * g for r in good for g in itls(r)]
"""
            + _SWEEP_TAIL,
        },
    },
    "ex2_solution": {
        "tests": "ex2_tests",
        "answers": {
            "either SLO is enough (or instead of and)": """
def meets_slo(record, ttft_ms, tpot_ms):
    if not ok(record) or ttft(record) is None:
        return False
    per_token = tpot(record)
    return ttft(record) * 1000 <= ttft_ms or (per_token is None or per_token * 1000 <= tpot_ms)
"""
            + _SLO_TABLE,
            "failed requests left out of the attainment denominator": _MEETS
            + """
def slo_table(records, ttft_ms, tpot_ms):
    rows = []
    for level in sorted({r["concurrency"] for r in records}):
        recs = [r for r in records if r["concurrency"] == level and not r.get("warmup") and ok(r)]
        good = sum(meets_slo(r, ttft_ms, tpot_ms) for r in recs)
        rows.append({"concurrency": level, "attainment": good / len(recs),
                     "goodput": good / duration(recs)})
    return pd.DataFrame(rows).set_index("concurrency")


def max_concurrency_within_slo(records, ttft_ms, tpot_ms, attainment=0.9):
    table = slo_table(records, ttft_ms, tpot_ms)
    passing = table.index[table.attainment >= attainment]
    return int(max(passing)) if len(passing) else None
""",
            "TPOT counted over every token, first included (E2E / tokens)": """
def meets_slo(record, ttft_ms, tpot_ms):
    if not ok(record) or ttft(record) is None:
        return False
    n = output_tokens(record)[0]
    from servelab.bench.metrics import e2e
    per_token = e2e(record) / n if n else None
    return ttft(record) * 1000 <= ttft_ms and (per_token is None or per_token * 1000 <= tpot_ms)
"""
            + _SLO_TABLE,
        },
    },
    "ex4_solution": {
        "tests": "ex4_tests",
        "answers": {
            "KV-cache reads of the batch left out (weights only)": """
def decode_floor_s(weight_bytes, bandwidth_bytes_s, kv_bytes_per_token=0, batch=1,
                   context_tokens=0, tensor_parallel=1):
    return weight_bytes / tensor_parallel / bandwidth_bytes_s


def bandwidth_utilisation(itl_s, floor_s):
    return floor_s / itl_s
"""
            + _FLOORS,
            "utilisation inverted (ITL / floor)": """
def decode_floor_s(weight_bytes, bandwidth_bytes_s, kv_bytes_per_token=0, batch=1,
                   context_tokens=0, tensor_parallel=1):
    step_bytes = weight_bytes + batch * context_tokens * kv_bytes_per_token
    return step_bytes / tensor_parallel / bandwidth_bytes_s


def bandwidth_utilisation(itl_s, floor_s):
    return itl_s / floor_s
"""
            + _FLOORS,
            "tensor parallelism ignored": """
def decode_floor_s(weight_bytes, bandwidth_bytes_s, kv_bytes_per_token=0, batch=1,
                   context_tokens=0, tensor_parallel=1):
    step_bytes = weight_bytes + batch * context_tokens * kv_bytes_per_token
    return step_bytes / bandwidth_bytes_s


def bandwidth_utilisation(itl_s, floor_s):
    return floor_s / itl_s
"""
            + _FLOORS,
        },
    },
    "ex3_solution": {
        "tests": "ex3_tests",
        "answers": {
            "mean since the server started (after only, no difference)": _GAUGE
            + """

def histogram_mean_s(before, after, name):
    total, count = 0.0, 0.0
    for family in text_string_to_metric_families(after):
        for s in family.samples:
            if s.name == name + "_sum":
                total += s.value
            if s.name == name + "_count":
                count += s.value
    return total / count if count else None
""",
            "only the first label set read (engines not added up)": """
def _first(text, sample):
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == sample:
                return s.value
    return None


def gauge_value(text, name):
    value = _first(text, name)
    if value is None:
        raise KeyError(name)
    return value


def histogram_mean_s(before, after, name):
    count = (_first(after, name + "_count") or 0.0) - (_first(before, name + "_count") or 0.0)
    if count <= 0:
        return None
    return ((_first(after, name + "_sum") or 0.0) - (_first(before, name + "_sum") or 0.0)) / count
""",
            "buckets averaged instead of sum / count": _GAUGE
            + """

def histogram_mean_s(before, after, name):
    def buckets(text):
        return [s.value for family in text_string_to_metric_families(text)
                for s in family.samples if s.name == name + "_bucket"]
    b, a = buckets(before), buckets(after)
    diffs = [y - x for x, y in zip(b, a)] if b else a
    return sum(diffs) / len(diffs) if diffs and sum(diffs) else None
""",
        },
    },
}

# -- more mistakes, from the classes (boundaries, orderings) and the mutation run -------
_SWEEP = """
def sweep_table(records):
    rows = []
    for level in sorted({r["concurrency"] for r in records}):
        recs = [r for r in records if r["concurrency"] == level and not r.get("warmup")]
        good = [r for r in recs if ok(r)]
        ttfts = [1000 * ttft(r) for r in good]
        tpots = [1000 * t for t in (tpot(r) for r in good) if t is not None]
        gaps = [1000 * g for r in good for g in itls(r)]
        tokens = sum(output_tokens(r)[0] for r in good)
        rows.append({
            "concurrency": level, "requests": len(good),
            "ttft_p50": np.percentile(ttfts, 50), "ttft_p99": np.percentile(ttfts, 99),
            "tpot_p50": np.percentile(tpots, 50), "tpot_p99": np.percentile(tpots, 99),
            "itl_p50": np.percentile(gaps, 50), "itl_p99": np.percentile(gaps, 99),
            "output_tok_s": tokens / duration(recs),
        })
    return pd.DataFrame(rows).set_index("concurrency")
"""

WRONG["ex1_solution"]["answers"] |= {
    "levels in the order they first appear (not sorted)": _SWEEP.replace(
        'sorted({r["concurrency"] for r in records})',
        'dict.fromkeys(r["concurrency"] for r in records)',
    ),
    "throughput over the counted (successful) requests' duration only": _SWEEP.replace(
        "tokens / duration(recs)", "tokens / duration(good)"
    ),
    "percentiles by the nearest rank, not linear": """
def _pct(values, q):
    return np.percentile(values, q, method="nearest")
"""
    + _SWEEP.replace("np.percentile(", "_pct("),
}
WRONG["ex2_solution"]["answers"] |= {
    "limits read strictly (below the limit, not at it)": _MEETS.replace(
        "<= ttft_ms", "< ttft_ms"
    ).replace("<= tpot_ms", "< tpot_ms")
    + _SLO_TABLE,
    "attainment target read strictly (above it, not at least)": _MEETS
    + _SLO_TABLE.replace("table.attainment >= attainment", "table.attainment > attainment"),
    "stops at the first level that misses the target": _MEETS
    + _SLO_TABLE.replace(
        """    passing = table.index[table.attainment >= attainment]
    return int(max(passing)) if len(passing) else None""",
        """    best = None
    for level, row in table.iterrows():
        if row.attainment < attainment:
            break
        best = int(level)
    return best""",
    ),
}
_HISTOGRAM = """

def histogram_mean_s(before, after, name):
    def totals(text):
        out = {"_sum": 0.0, "_count": 0.0}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                for suffix in out:
                    if s.name == name + suffix:
                        out[suffix] += s.value
        return out

    b, a = totals(before), totals(after)
    count = a["_count"] - b["_count"]
    if count <= 0:
        return None
    return (a["_sum"] - b["_sum"]) / count
"""
WRONG["ex3_solution"]["answers"] |= {
    "gauge matched by prefix (startswith)": _GAUGE.replace(
        "if s.name == name:", "if s.name.startswith(name):"
    )
    + _HISTOGRAM,
    "a gauge at zero taken for a missing one": _GAUGE.replace("if not found:", "if not total:")
    + _HISTOGRAM,
    "histogram samples matched by prefix and suffix": _GAUGE
    + _HISTOGRAM.replace(
        "if s.name == name + suffix:",
        "if s.name.startswith(name) and s.name.endswith(suffix):",
    ),
}
_FLOOR_FUNCS = """
def decode_floor_s(weight_bytes, bandwidth_bytes_s, kv_bytes_per_token=0, batch=1,
                   context_tokens=0, tensor_parallel=1):
    step_bytes = weight_bytes + batch * context_tokens * kv_bytes_per_token
    return step_bytes / tensor_parallel / bandwidth_bytes_s


def bandwidth_utilisation(itl_s, floor_s):
    return floor_s / itl_s
"""
WRONG["ex4_solution"]["answers"] |= {
    "TB/s read as binary terabytes (2**40)": _FLOOR_FUNCS
    + _FLOORS.replace("p.bandwidth_tb_s * 1e12", "p.bandwidth_tb_s * 2**40"),
    "the KV cache read once, not once per sequence of the batch": _FLOOR_FUNCS.replace(
        "weight_bytes + batch * context_tokens * kv_bytes_per_token",
        "weight_bytes + context_tokens * kv_bytes_per_token",
    )
    + _FLOORS,
    "the columns read by position, not by name": _FLOOR_FUNCS
    + """
def with_floors(points):
    out = points.copy()
    floors = [decode_floor_s(row[4], row[3] * 1e12, row[5], row[6], row[7], row[8])
              for row in points.itertuples(index=False)]
    out["floor_ms"] = [1000 * f for f in floors]
    out["utilisation"] = [f / (row[9] / 1000)
                          for row, f in zip(points.itertuples(index=False), floors)]
    return out
""",
}

_TAILS = """
def tail_table(requests):
    rows = []
    for (config, rate), point in requests.groupby(["config", "rate"]):
        good = point[point.ok.astype(bool)].ttft_ms.to_numpy(dtype=float)
        p50, p99 = np.percentile(good, [50, 99]) if len(good) else (np.nan, np.nan)
        rows.append({"config": config, "rate": rate, "requests": len(good),
                     "failed": len(point) - len(good), "ttft_p50": p50, "ttft_p99": p99})
    return pd.DataFrame(rows).set_index(["config", "rate"]).sort_index()
"""
_SUSTAINED = """
def sustained_rate(table, config, p99_ms):
    best = None
    for rate, point in table.loc[config].sort_index().iterrows():
        if point.failed > 0 or not point.ttft_p99 <= p99_ms:
            break
        best = float(rate)
    return best
"""
WRONG["ex5_solution"] = {
    "tests": "ex5_tests",
    "answers": {
        "failed requests' TTFT in the percentiles": _TAILS.replace(
            "point[point.ok.astype(bool)].ttft_ms", "point.ttft_ms.dropna()"
        )
        + _SUSTAINED,
        "percentiles over all points of a config, not per rate": _TAILS.replace(
            "good = point[point.ok.astype(bool)].ttft_ms",
            "good = requests[(requests.config == config) & requests.ok.astype(bool)].ttft_ms",
        )
        + _SUSTAINED,
        "p99 as the slowest request": _TAILS.replace(
            "np.percentile(good, [50, 99])", "(np.percentile(good, 50), good.max())"
        )
        + _SUSTAINED,
        "a rate passing above a broken one still counts": _TAILS
        + _SUSTAINED.replace("break", "continue"),
        "a failure at a fast point ignored": _TAILS
        + _SUSTAINED.replace("point.failed > 0 or ", ""),
        "the limit exclusive": _TAILS + _SUSTAINED.replace("<= p99_ms", "< p99_ms"),
        "rates walked in the table's order, unsorted": _TAILS
        + _SUSTAINED.replace("table.loc[config].sort_index()", "table.loc[config]"),
        "the highest passing rate, not the knee": _TAILS
        + """
def sustained_rate(table, config, p99_ms):
    mine = table.loc[config]
    passing = mine.index[(mine.failed == 0) & (mine.ttft_p99 <= p99_ms)]
    return float(max(passing)) if len(passing) else None
""",
    },
}
