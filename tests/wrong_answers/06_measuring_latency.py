"""Lab 06: typical mistakes, each of which must fail the exercise's tests."""

_REST = """
def itls(record):
    times = [c["t"] for c in content(record)]
    return [b - a for a, b in zip(times, times[1:])]


def e2e(record):
    chunks = content(record) or record["chunks"]
    return chunks[-1]["t"] - record["sent_at"] if chunks else None


def tpot(record):
    n, first, last = output_tokens(record), ttft(record), e2e(record)
    if n < 2 or first is None or last is None:
        return None
    return (last - first) / (n - 1)
"""

_TTFT = """
def ttft(record):
    if not record["chunks"]:
        return None
    return record["chunks"][0]["t"] - record["sent_at"]


def ttfct(record):
    chunks = content(record)
    return chunks[0]["t"] - record["sent_at"] if chunks else None
"""

_TOKENS = """
def output_tokens(record):
    usage = record.get("usage")
    if usage and usage.get("completion_tokens") is not None:
        return usage["completion_tokens"]
    chunks = content(record)
    if chunks and all(c.get("n_tokens") is not None for c in chunks):
        return sum(c["n_tokens"] for c in chunks)
    return len(chunks)
"""

_TPOTS = """
def vllm_tpots(result):
    out = []
    for err, n, latency, first in zip(result["errors"], result["output_lens"],
                                      result["latencies"], result["ttfts"]):
        if not err and n > 1:
            out.append((latency - first) / (n - 1))
    return out
"""

_SUSPICIOUS = """
def suspicious(errors, threshold_ms):
    over = errors[errors.e2e_error_ms > threshold_ms]
    return list(over.sort_values("e2e_error_ms", ascending=False, kind="stable").index)
"""


def _client_error(first_kinds: str, sign: str = "+") -> str:
    return f"""
def client_error(client_records, server_records):
    truth_by_id = {{s["client_request_id"]: s for s in server_records}}
    rows = []
    for c in client_records:
        s = truth_by_id.get(c["request_id"])
        if s is None or c["error"] or c["status"] != 200 or not content(c):
            continue
        sent = [ch["sent_perf"] for ch in s["chunks"] if ch["kind"] == "content" and ch["text"]]
        first_any = [ch["sent_perf"] for ch in s["chunks"] if ch["kind"] in {first_kinds}]
        rows.append({{
            "request_id": c["request_id"],
            "ttft_error_ms": {sign}1000 * (ttft(c) - (first_any[0] - s["received_perf"])),
            "e2e_error_ms": {sign}1000 * (e2e(c) - (sent[-1] - s["received_perf"])),
        }})
    return pd.DataFrame(rows).set_index("request_id")
"""


WRONG = {
    "ex1_solution": {
        "tests": "ex1_tests",
        "answers": {
            "TTFT from the first non-empty chunk (AIPerf's definition)": """
def ttft(record):
    chunks = content(record)
    return chunks[0]["t"] - record["sent_at"] if chunks else None


def ttfct(record):
    chunks = content(record)
    return chunks[0]["t"] - record["sent_at"] if chunks else None
"""
            + _TOKENS
            + _REST,
            "output tokens always counted from chunks (usage ignored)": _TTFT
            + """
def output_tokens(record):
    return len(content(record))
"""
            + _REST,
            "ITL over every chunk, empty ones included": _TTFT
            + _TOKENS
            + """
def itls(record):
    times = [c["t"] for c in record["chunks"]]
    return [b - a for a, b in zip(times, times[1:])]


def e2e(record):
    chunks = content(record) or record["chunks"]
    return chunks[-1]["t"] - record["sent_at"] if chunks else None


def tpot(record):
    n, first, last = output_tokens(record), ttft(record), e2e(record)
    if n < 2 or first is None or last is None:
        return None
    return (last - first) / (n - 1)
""",
            "E2E ends at the last chunk of any kind": _TTFT
            + _TOKENS
            + """
def itls(record):
    times = [c["t"] for c in content(record)]
    return [b - a for a, b in zip(times, times[1:])]


def e2e(record):
    return record["chunks"][-1]["t"] - record["sent_at"] if record["chunks"] else None


def tpot(record):
    n, first, last = output_tokens(record), ttft(record), e2e(record)
    if n < 2 or first is None or last is None:
        return None
    return (last - first) / (n - 1)
""",
        },
    },
    "ex2_solution": {
        "tests": "ex2_tests",
        "answers": {
            "TPOT divided by every output token (not output_len - 1)": """
def vllm_tpots(result):
    out = []
    for err, n, latency, first in zip(result["errors"], result["output_lens"],
                                      result["latencies"], result["ttfts"]):
        if not err and n > 1:
            out.append((latency - first) / n)
    return out


def vllm_goodput(result, slos_ms):
    good = 0
    for err, n, latency, first in zip(result["errors"], result["output_lens"],
                                      result["latencies"], result["ttfts"]):
        if err:
            continue
        values = {"ttft": first, "e2el": latency, "tpot": (latency - first) / n if n else 0.0}
        if all(values[k] <= v / 1000 for k, v in slos_ms.items()):
            good += 1
    return good / result["duration"]
""",
            "one-token requests fail a TPOT SLO (vLLM counts them as TPOT 0)": _TPOTS
            + """
def vllm_goodput(result, slos_ms):
    good = 0
    for err, n, latency, first in zip(result["errors"], result["output_lens"],
                                      result["latencies"], result["ttfts"]):
        if err:
            continue
        values = {"ttft": first, "e2el": latency,
                  "tpot": (latency - first) / (n - 1) if n > 1 else float("inf")}
        if all(values[k] <= v / 1000 for k, v in slos_ms.items()):
            good += 1
    return good / result["duration"]
""",
            "goodput as a fraction of requests, not per second": _TPOTS
            + """
def vllm_goodput(result, slos_ms):
    good = 0
    for err, n, latency, first in zip(result["errors"], result["output_lens"],
                                      result["latencies"], result["ttfts"]):
        if err:
            continue
        values = {"ttft": first, "e2el": latency,
                  "tpot": (latency - first) / (n - 1) if n > 1 else 0.0}
        if all(values[k] <= v / 1000 for k, v in slos_ms.items()):
            good += 1
    return good / len(result["errors"])
""",
        },
    },
    "ex3_solution": {
        "tests": "ex3_tests",
        "answers": {
            "true TTFT from the first content chunk (role chunk ignored)": _client_error(
                '("content",)'
            )
            + _SUSPICIOUS,
            "error signed the wrong way (truth - client)": _client_error('("role", "content")', "-")
            + _SUSPICIOUS,
            "suspicious sorted best first": _client_error('("role", "content")')
            + """
def suspicious(errors, threshold_ms):
    over = errors[errors.e2e_error_ms > threshold_ms]
    return list(over.sort_values("e2e_error_ms", kind="stable").index)
""",
        },
    },
}

# -- more mistakes, from the classes (a failed request the server knows of, boundaries,
# one chunk, usage-less records) and the mutation run -----------------------------------------
_ITLS_E2E = """
def itls(record):
    times = [c["t"] for c in content(record)]
    return [b - a for a, b in zip(times, times[1:])]


def e2e(record):
    chunks = content(record) or record["chunks"]
    return chunks[-1]["t"] - record["sent_at"] if chunks else None
"""
_TPOT = """
def tpot(record):
    n, first, last = output_tokens(record), ttft(record), e2e(record)
    if n < 2 or first is None or last is None:
        return None
    return (last - first) / (n - 1)
"""
_GOODPUT = """
def vllm_goodput(result, slos_ms):
    good = 0
    for err, n, latency, first in zip(result["errors"], result["output_lens"],
                                      result["latencies"], result["ttfts"]):
        if err:
            continue
        values = {"ttft": first, "e2el": latency,
                  "tpot": (latency - first) / (n - 1) if n > 1 else 0.0}
        if all(values[k] <= v / 1000 for k, v in slos_ms.items()):
            good += 1
    return good / result["duration"]
"""

WRONG["ex1_solution"]["answers"] |= {
    "TPOT needs two content chunks (one chunk of several tokens gets none)": _TTFT
    + _TOKENS
    + _ITLS_E2E
    + """
def tpot(record):
    n, first, last = output_tokens(record), ttft(record), e2e(record)
    if n < 2 or first is None or last is None or len(content(record)) < 2:
        return None
    return (last - first) / (n - 1)
""",
    "per-chunk counts required of every chunk, the role chunk too": _TTFT
    + """
def output_tokens(record):
    usage = record.get("usage")
    if usage and usage.get("completion_tokens") is not None:
        return usage["completion_tokens"]
    chunks = content(record)
    if chunks and all(c.get("n_tokens") is not None for c in record["chunks"]):
        return sum(c["n_tokens"] for c in chunks)
    return len(chunks)
"""
    + _ITLS_E2E
    + _TPOT,
    "E2E of a request with no content is None (no fallback to the last chunk)": _TTFT
    + _TOKENS
    + """
def itls(record):
    times = [c["t"] for c in content(record)]
    return [b - a for a, b in zip(times, times[1:])]


def e2e(record):
    chunks = content(record)
    return chunks[-1]["t"] - record["sent_at"] if chunks else None
"""
    + _TPOT,
}
WRONG["ex2_solution"]["answers"] |= {
    "limits read strictly (below the limit, not at it)": _TPOTS
    + _GOODPUT.replace("values[k] <= v / 1000", "values[k] < v / 1000"),
    "one-token requests kept in the TPOT list as 0": """
def vllm_tpots(result):
    out = []
    for err, n, latency, first in zip(result["errors"], result["output_lens"],
                                      result["latencies"], result["ttfts"]):
        if not err:
            out.append((latency - first) / (n - 1) if n > 1 else 0.0)
    return out
"""
    + _GOODPUT,
    "failed requests count towards goodput": _TPOTS
    + _GOODPUT.replace("        if err:\n            continue\n", ""),
}
WRONG["ex3_solution"]["answers"] |= {
    "failed requests kept when the server has a record of them": _client_error(
        '("role", "content")'
    ).replace(
        'if s is None or c["error"] or c["status"] != 200 or not content(c):',
        "if s is None or not content(c):",
    )
    + _SUSPICIOUS,
    "suspicious at or above the threshold": _client_error('("role", "content")')
    + _SUSPICIOUS.replace(
        "errors.e2e_error_ms > threshold_ms", "errors.e2e_error_ms >= threshold_ms"
    ),
    "stops at the first request it cannot compare (break, not continue)": _client_error(
        '("role", "content")'
    ).replace("            continue", "            break")
    + _SUSPICIOUS,
}
