"""Lab 06: other correct answers, each of which must keep full marks."""

RIGHT = {
    "ex1_solution": {
        "tests": "ex1_tests",
        "answers": {
            "min / next / np.diff instead of indexing": """
import numpy as np


def ttft(record):
    times = [c["t"] for c in record["chunks"]]
    return min(times) - record["sent_at"] if times else None


def ttfct(record):
    first = next((c for c in record["chunks"] if c["text"]), None)
    return None if first is None else first["t"] - record["sent_at"]


def itls(record):
    return np.diff([c["t"] for c in content(record)]).tolist()


def e2e(record):
    texts = [c["t"] for c in record["chunks"] if c["text"]]
    anything = [c["t"] for c in record["chunks"]]
    last = texts[-1] if texts else (anything[-1] if anything else None)
    return None if last is None else last - record["sent_at"]


def output_tokens(record):
    if (record.get("usage") or {}).get("completion_tokens") is not None:
        return int(record["usage"]["completion_tokens"])
    counts = [c.get("n_tokens") for c in content(record)]
    if counts and None not in counts:
        return int(sum(counts))
    return len(counts)


def tpot(record):
    n = output_tokens(record)
    if n <= 1 or ttft(record) is None or e2e(record) is None:
        return None
    return (e2e(record) - ttft(record)) / (n - 1)
""",
            "plain loops that return early": """
def ttft(record):
    for c in record["chunks"]:
        return c["t"] - record["sent_at"]
    return None


def ttfct(record):
    for c in record["chunks"]:
        if c["text"]:
            return c["t"] - record["sent_at"]
    return None


def itls(record):
    gaps, previous = [], None
    for c in content(record):
        if previous is not None:
            gaps.append(c["t"] - previous)
        previous = c["t"]
    return gaps


def e2e(record):
    if not record["chunks"]:
        return None
    end = (content(record) or record["chunks"])[-1]["t"]
    return end - record["sent_at"]


def output_tokens(record):
    usage = record.get("usage") or {}
    if usage.get("completion_tokens") is not None:
        return usage["completion_tokens"]
    total = 0
    for c in content(record):
        if c.get("n_tokens") is None:
            return len(content(record))
        total += c["n_tokens"]
    return total


def tpot(record):
    first, last, n = ttft(record), e2e(record), output_tokens(record)
    if first is None or last is None or n < 2:
        return None
    return (last - first) / (n - 1)
""",
        },
    },
    "ex2_solution": {
        "tests": "ex2_tests",
        "answers": {
            "numpy arrays and masks": """
def vllm_tpots(result):
    ok = np.array([e == "" for e in result["errors"]])
    n = np.array(result["output_lens"])
    latency, first = np.array(result["latencies"]), np.array(result["ttfts"])
    keep = ok & (n > 1)
    return ((latency[keep] - first[keep]) / (n[keep] - 1)).tolist()


def vllm_goodput(result, slos_ms):
    n = np.array(result["output_lens"], dtype=float)
    latency, first = np.array(result["latencies"]), np.array(result["ttfts"])
    per_token = np.where(n > 1, (latency - first) / np.maximum(n - 1, 1), 0.0)
    values = {"ttft": first, "tpot": per_token, "e2el": latency}
    good = np.array([not e for e in result["errors"]])
    for key, limit in slos_ms.items():
        good &= values[key] <= limit / 1000
    return float(good.sum() / result["duration"])
""",
            "limits compared in milliseconds": """
def vllm_tpots(result):
    rows = zip(result["errors"], result["output_lens"], result["latencies"], result["ttfts"])
    return [(latency - t) / (n - 1) for err, n, latency, t in rows if err == "" and n >= 2]


def vllm_goodput(result, slos_ms):
    good = 0
    rows = zip(result["errors"], result["output_lens"], result["latencies"], result["ttfts"])
    for err, n, latency, t in rows:
        if err:
            continue
        ms = {
            "ttft": t * 1000,
            "e2el": latency * 1000,
            "tpot": 1000 * (latency - t) / (n - 1) if n > 1 else 0,
        }
        good += all(ms[key] <= limit for key, limit in slos_ms.items())
    return good / result["duration"]
""",
        },
    },
    "ex3_solution": {
        "tests": "ex3_tests",
        "answers": {
            "columns built as lists, min / max of the server's stamps, Series sort": """
def client_error(client_records, server_records):
    servers = {s["client_request_id"]: s for s in server_records}
    ids, ttft_err, e2e_err = [], [], []
    for c in client_records:
        succeeded = c["status"] == 200 and not c["error"] and any(ch["text"] for ch in c["chunks"])
        if not succeeded or c["request_id"] not in servers:
            continue
        s = servers[c["request_id"]]
        start = s["received_perf"]
        true_ttft = min(ch["sent_perf"] for ch in s["chunks"] if ch["kind"] in ("role", "content"))
        true_e2e = max(
            ch["sent_perf"] for ch in s["chunks"] if ch["kind"] == "content" and ch["text"]
        )
        ids.append(c["request_id"])
        ttft_err.append((ttft(c) - (true_ttft - start)) * 1000)
        e2e_err.append((e2e(c) - (true_e2e - start)) * 1000)
    return pd.DataFrame(
        {"ttft_error_ms": ttft_err, "e2e_error_ms": e2e_err},
        index=pd.Index(ids, name="request_id"),
    )


def suspicious(errors, threshold_ms):
    late = errors["e2e_error_ms"][errors["e2e_error_ms"] > threshold_ms]
    return late.sort_values(ascending=False).index.tolist()
""",
            "sorted pairs, ties in reverse table order": """
def client_error(client_records, server_records):
    truth_by_id = {s["client_request_id"]: s for s in server_records}
    rows = {}
    for c in client_records:
        s = truth_by_id.get(c["request_id"])
        if s is None or c["status"] != 200 or c["error"] or not content(c):
            continue
        first = [ch for ch in s["chunks"] if ch["kind"] == "role" or ch["kind"] == "content"][0]
        last = [ch for ch in s["chunks"] if ch["kind"] == "content" and ch["text"] != ""][-1]
        rows[c["request_id"]] = {
            "ttft_error_ms": 1000 * ttft(c) - 1000 * (first["sent_perf"] - s["received_perf"]),
            "e2e_error_ms": 1000 * e2e(c) - 1000 * (last["sent_perf"] - s["received_perf"]),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def suspicious(errors, threshold_ms):
    over = errors[errors.e2e_error_ms > threshold_ms].sort_values("e2e_error_ms")
    return list(reversed(over.index.tolist()))
""",
        },
    },
}
