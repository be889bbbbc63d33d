"""Lab 04: other correct answers, each of which must keep full marks."""

RIGHT = {
    "ex1_solution": {
        "tests": "ex1_tests",
        "answers": {
            "numpy quantiles, levels grouped in a dict, requests as a float": """
def sweep_table(records):
    by_level = {}
    for r in records:
        if not r.get("warmup"):
            by_level.setdefault(r["concurrency"], []).append(r)
    out = {}
    for level in sorted(by_level):
        recs = by_level[level]
        good = [r for r in recs if ok(r)]
        ttfts = np.array([ttft(r) for r in good]) * 1000
        tpots = np.array([t for t in map(tpot, good) if t is not None]) * 1000
        gaps = np.concatenate([itls(r) for r in good]) * 1000
        out[level] = {
            "requests": float(len(good)),
            "ttft_p50": np.quantile(ttfts, 0.5), "ttft_p99": np.quantile(ttfts, 0.99),
            "tpot_p50": np.quantile(tpots, 0.5), "tpot_p99": np.quantile(tpots, 0.99),
            "itl_p50": np.quantile(gaps, 0.5), "itl_p99": np.quantile(gaps, 0.99),
            "output_tok_s": sum(output_tokens(r)[0] for r in good) / duration(recs),
        }
    return pd.DataFrame.from_dict(out, orient="index").rename_axis("concurrency")
""",
            "pandas groupby and Series.quantile, an unnamed index": """
def sweep_table(records):
    frame = pd.DataFrame({"rec": records, "level": [r["concurrency"] for r in records]})
    frame = frame[[not r.get("warmup") for r in records]]
    rows = []
    for level, group in frame.groupby("level"):
        recs = list(group.rec)
        good = [r for r in recs if ok(r)]
        ttfts = pd.Series([1000 * ttft(r) for r in good])
        tpots = pd.Series([1000 * tpot(r) for r in good if tpot(r) is not None])
        gaps = pd.Series([1000 * g for r in good for g in itls(r)])
        rows.append(pd.Series({
            "requests": len(good),
            "ttft_p50": ttfts.quantile(0.5), "ttft_p99": ttfts.quantile(0.99),
            "tpot_p50": tpots.quantile(0.5), "tpot_p99": tpots.quantile(0.99),
            "itl_p50": gaps.quantile(0.5), "itl_p99": gaps.quantile(0.99),
            "output_tok_s": sum(output_tokens(r)[0] for r in good) / duration(recs),
        }, name=level))
    return pd.DataFrame(rows)
""",
        },
    },
    "ex2_solution": {
        "tests": "ex2_tests",
        "answers": {
            "limits compared in seconds, np.mean of hits, a loop from the top level": """
def meets_slo(record, ttft_ms, tpot_ms):
    if not ok(record):
        return False
    first, per_token = ttft(record), tpot(record)
    if first is None or first > ttft_ms / 1000:
        return False
    return per_token is None or per_token <= tpot_ms / 1000


def slo_table(records, ttft_ms, tpot_ms):
    counted = [r for r in records if not r.get("warmup")]
    levels = sorted({r["concurrency"] for r in counted})
    attainment, goodput = [], []
    for level in levels:
        recs = [r for r in counted if r["concurrency"] == level]
        hits = [meets_slo(r, ttft_ms, tpot_ms) for r in recs]
        attainment.append(np.mean(hits))
        goodput.append(sum(hits) / duration(recs))
    return pd.DataFrame(
        {"attainment": attainment, "goodput": goodput},
        index=pd.Index(levels, name="concurrency"),
    )


def max_concurrency_within_slo(records, ttft_ms, tpot_ms, attainment=0.9):
    table = slo_table(records, ttft_ms, tpot_ms)
    for level in sorted(table.index, reverse=True):
        if table.loc[level, "attainment"] >= attainment:
            return int(level)
    return None
""",
            "a missing TPOT as zero, pandas filtering for the highest level": """
def meets_slo(record, ttft_ms, tpot_ms):
    per_token = tpot(record) or 0.0
    return bool(
        ok(record)
        and ttft(record) is not None
        and ttft(record) * 1000 <= ttft_ms
        and per_token * 1000 <= tpot_ms
    )


def slo_table(records, ttft_ms, tpot_ms):
    rows = {}
    for level in sorted({r["concurrency"] for r in records}):
        recs = [r for r in records if r["concurrency"] == level and not r.get("warmup")]
        good = len([r for r in recs if meets_slo(r, ttft_ms, tpot_ms)])
        rows[level] = {"attainment": good / len(recs), "goodput": good / duration(recs)}
    return pd.DataFrame.from_dict(rows, orient="index")


def max_concurrency_within_slo(records, ttft_ms, tpot_ms, attainment=0.9):
    table = slo_table(records, ttft_ms, tpot_ms)
    passing = table[table["attainment"] >= attainment]
    return None if passing.empty else int(passing.index.max())
""",
        },
    },
    "ex3_solution": {
        "tests": "ex3_tests",
        "answers": {
            "the count read from the +Inf bucket": """
def gauge_value(text, name):
    values = [
        s.value
        for family in text_string_to_metric_families(text)
        if family.name == name
        for s in family.samples
        if s.name == name
    ]
    if not values:
        raise KeyError(name)
    return float(sum(values))


def histogram_mean_s(before, after, name):
    def totals(text):
        total, count = 0.0, 0.0
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                if s.name == name + "_sum":
                    total += s.value
                elif s.name == name + "_bucket" and s.labels.get("le") == "+Inf":
                    count += s.value
        return total, count

    (sum0, count0), (sum1, count1) = totals(before), totals(after)
    if count1 == count0:
        return None
    return (sum1 - sum0) / (count1 - count0)
""",
            "a regular expression over the text, no parser": """
import re

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{[^}]*\\})?\\s+(\\S+)")


def _values(text, sample):
    out = []
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match and not line.startswith("#") and match.group(1) == sample:
            out.append(float(match.group(3)))
    return out


def gauge_value(text, name):
    values = _values(text, name)
    if not values:
        raise KeyError(name)
    return sum(values)


def histogram_mean_s(before, after, name):
    count = sum(_values(after, name + "_count")) - sum(_values(before, name + "_count"))
    if count == 0:
        return None
    return (sum(_values(after, name + "_sum")) - sum(_values(before, name + "_sum"))) / count
""",
        },
    },
    "ex4_solution": {
        "tests": "ex4_tests",
        "answers": {
            "vectorised over the table with assign": """
def decode_floor_s(weight_bytes, bandwidth_bytes_s, kv_bytes_per_token=0, batch=1,
                   context_tokens=0, tensor_parallel=1):
    per_gpu = (weight_bytes + kv_bytes_per_token * context_tokens * batch) / tensor_parallel
    return per_gpu / bandwidth_bytes_s


def bandwidth_utilisation(itl_s, floor_s):
    return floor_s / itl_s


def with_floors(points):
    floor_s = decode_floor_s(
        points.weight_bytes, points.bandwidth_tb_s * 1e12, points.kv_bytes_per_token,
        points.batch, points.context_tokens, points.tensor_parallel,
    )
    return points.assign(
        floor_ms=floor_s * 1000, utilisation=bandwidth_utilisation(points.itl_ms / 1000, floor_s)
    )
""",
            "row by row with apply, utilisation from milliseconds": """
def decode_floor_s(weight_bytes, bandwidth_bytes_s, kv_bytes_per_token=0, batch=1,
                   context_tokens=0, tensor_parallel=1):
    kv_bytes = kv_bytes_per_token * batch * context_tokens
    return (weight_bytes + kv_bytes) / (tensor_parallel * bandwidth_bytes_s)


def bandwidth_utilisation(itl_s, floor_s):
    return float(floor_s) / float(itl_s)


def with_floors(points):
    out = points.copy()
    out["floor_ms"] = out.apply(
        lambda p: 1000 * decode_floor_s(
            p["weight_bytes"], p["bandwidth_tb_s"] * 1e12, p["kv_bytes_per_token"],
            p["batch"], p["context_tokens"], p["tensor_parallel"],
        ),
        axis=1,
    )
    out["utilisation"] = out["floor_ms"] / out["itl_ms"]
    return out
""",
        },
    },
}

RIGHT["ex5_solution"] = {
    "tests": "ex5_tests",
    "answers": {
        "groupby with a named aggregation, a while loop over sorted rates": """
def tail_table(requests):
    good = requests.ok.astype(bool)
    frame = requests.assign(
        good_ttft=requests.ttft_ms.where(good), bad=(~good).astype(int), hit=good.astype(int)
    )
    return frame.groupby(["config", "rate"]).agg(
        requests=("hit", "sum"),
        failed=("bad", "sum"),
        ttft_p50=("good_ttft", lambda s: s.dropna().quantile(0.5) if s.notna().any() else np.nan),
        ttft_p99=("good_ttft", lambda s: s.dropna().quantile(0.99) if s.notna().any() else np.nan),
    )


def sustained_rate(table, config, p99_ms):
    mine = table.xs(config, level="config").sort_index()
    rates, i, best = list(mine.index), 0, None
    while i < len(rates) and mine.failed.iloc[i] == 0 and mine.ttft_p99.iloc[i] <= p99_ms:
        best = float(rates[i])
        i += 1
    return best
""",
        "plain dicts and numpy, rates compared as a list": """
def tail_table(requests):
    points = {}
    for row in requests.itertuples():
        points.setdefault((row.config, row.rate), []).append(row)
    out = []
    for key in sorted(points):
        ttfts = [r.ttft_ms for r in points[key] if r.ok]
        out.append({
            "config": key[0], "rate": key[1], "requests": len(ttfts),
            "failed": len(points[key]) - len(ttfts),
            "ttft_p50": float(np.quantile(ttfts, 0.5)) if ttfts else float("nan"),
            "ttft_p99": float(np.quantile(ttfts, 0.99)) if ttfts else float("nan"),
        })
    return pd.DataFrame(out).set_index(["config", "rate"])


def sustained_rate(table, config, p99_ms):
    rows = sorted(
        (rate, failed, p99)
        for (c, rate), failed, p99 in zip(table.index, table.failed, table.ttft_p99)
        if c == config
    )
    kept = None
    for rate, failed, p99 in rows:
        if failed or p99 > p99_ms or p99 != p99:
            return kept
        kept = rate
    return kept
""",
    },
}
