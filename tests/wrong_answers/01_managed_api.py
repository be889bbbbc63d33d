"""Plausible wrong answers to lab 01's exercises; each must lose marks (tests/course/test_answers.py)."""

WRONG = {
    "ex1_solution": {
        "tests": "ex1_tests",
        "answers": {
            "prices read as per thousand tokens": """
def call_cost_usd(usage, price):
    return (usage["prompt_tokens"] * price.input_usd
            + usage["completion_tokens"] * price.output_usd) / 1_000


def monthly_cost_usd(usage_log, price, calls_per_day, days=30):
    per_call = [call_cost_usd(row, price) for _, row in usage_log.iterrows()]
    return sum(per_call) / len(per_call) * calls_per_day * days
""",
            "input and output prices swapped": """
def call_cost_usd(usage, price):
    return (usage["prompt_tokens"] * price.output_usd
            + usage["completion_tokens"] * price.input_usd) / 1_000_000


def monthly_cost_usd(usage_log, price, calls_per_day, days=30):
    per_call = [call_cost_usd(row, price) for _, row in usage_log.iterrows()]
    return sum(per_call) / len(per_call) * calls_per_day * days
""",
            "every token billed at the input price": """
def call_cost_usd(usage, price):
    return (usage["prompt_tokens"] + usage["completion_tokens"]) * price.input_usd / 1_000_000


def monthly_cost_usd(usage_log, price, calls_per_day, days=30):
    per_call = [call_cost_usd(row, price) for _, row in usage_log.iterrows()]
    return sum(per_call) / len(per_call) * calls_per_day * days
""",
            "month = the whole log's cost x calls per day (sum, not mean)": """
def call_cost_usd(usage, price):
    return (usage["prompt_tokens"] * price.input_usd
            + usage["completion_tokens"] * price.output_usd) / 1_000_000


def monthly_cost_usd(usage_log, price, calls_per_day, days=30):
    return sum(call_cost_usd(row, price) for _, row in usage_log.iterrows()) * calls_per_day * days
""",
            "days argument ignored (always 30)": """
def call_cost_usd(usage, price):
    return (usage["prompt_tokens"] * price.input_usd
            + usage["completion_tokens"] * price.output_usd) / 1_000_000


def monthly_cost_usd(usage_log, price, calls_per_day, days=30):
    per_call = [call_cost_usd(row, price) for _, row in usage_log.iterrows()]
    return sum(per_call) / len(per_call) * calls_per_day * 30
""",
            "the catalog's gpt-4o-mini price instead of the price given": """
from servelab_base.catalog import load as load_catalog


def call_cost_usd(usage, price):
    mini = load_catalog().price("openai", "gpt-4o-mini")
    return (usage["prompt_tokens"] * mini.input_usd
            + usage["completion_tokens"] * mini.output_usd) / 1_000_000


def monthly_cost_usd(usage_log, price, calls_per_day, days=30):
    per_call = [call_cost_usd(row, price) for _, row in usage_log.iterrows()]
    return sum(per_call) / len(per_call) * calls_per_day * days
""",
            "calls per day truncated to a whole number": """
def call_cost_usd(usage, price):
    return (usage["prompt_tokens"] * price.input_usd
            + usage["completion_tokens"] * price.output_usd) / 1_000_000


def monthly_cost_usd(usage_log, price, calls_per_day, days=30):
    per_call = [call_cost_usd(row, price) for _, row in usage_log.iterrows()]
    return sum(per_call) / len(per_call) * int(calls_per_day) * days
""",
        },
    },
    "ex2_solution": {
        "tests": "ex2_tests",
        "answers": {
            "Retry-After ignored: exponential backoff every time": """
def call_with_retries(send, sleep, max_attempts=5):
    for attempt in range(max_attempts):
        try:
            return send()
        except openai.APIStatusError as e:
            if not (e.status_code == 429 or e.status_code >= 500) or attempt == max_attempts - 1:
                raise
            sleep(min(8.0, 0.5 * 2 ** attempt))
""",
            "every error retried, a 401 included": """
def call_with_retries(send, sleep, max_attempts=5):
    for attempt in range(max_attempts):
        try:
            return send()
        except openai.APIStatusError as e:
            if attempt == max_attempts - 1:
                raise
            header = e.response.headers.get("retry-after")
            sleep(float(header) if header is not None else min(8.0, 0.5 * 2 ** attempt))
""",
            "max_attempts retries, so one attempt too many": """
def call_with_retries(send, sleep, max_attempts=5):
    for attempt in range(max_attempts + 1):
        try:
            return send()
        except openai.APIStatusError as e:
            if not (e.status_code == 429 or e.status_code >= 500) or attempt == max_attempts:
                raise
            header = e.response.headers.get("retry-after")
            sleep(float(header) if header is not None else min(8.0, 0.5 * 2 ** attempt))
""",
            "sleeps after the last failed attempt too": """
def call_with_retries(send, sleep, max_attempts=5):
    last = None
    for attempt in range(max_attempts):
        try:
            return send()
        except openai.APIStatusError as e:
            if not (e.status_code == 429 or e.status_code >= 500):
                raise
            last = e
            header = e.response.headers.get("retry-after")
            sleep(float(header) if header is not None else min(8.0, 0.5 * 2 ** attempt))
    raise last
""",
            "only 429 retried, 5xx raised at once": """
def call_with_retries(send, sleep, max_attempts=5):
    for attempt in range(max_attempts):
        try:
            return send()
        except openai.RateLimitError as e:
            if attempt == max_attempts - 1:
                raise
            sleep(float(e.response.headers.get("retry-after", 0.5 * 2 ** attempt)))
""",
            "Retry-After capped at 8 s like the backoff": """
def call_with_retries(send, sleep, max_attempts=5):
    for attempt in range(max_attempts):
        try:
            return send()
        except openai.APIStatusError as e:
            if not (e.status_code == 429 or e.status_code >= 500) or attempt == max_attempts - 1:
                raise
            header = e.response.headers.get("retry-after")
            sleep(min(8.0, float(header) if header is not None else 0.5 * 2 ** attempt))
""",
            "backoff never capped": """
def call_with_retries(send, sleep, max_attempts=5):
    for attempt in range(max_attempts):
        try:
            return send()
        except openai.APIStatusError as e:
            if not (e.status_code == 429 or e.status_code >= 500) or attempt == max_attempts - 1:
                raise
            header = e.response.headers.get("retry-after")
            sleep(float(header) if header is not None else 0.5 * 2 ** attempt)
""",
            "only a 401 raised at once, every other error retried": """
def call_with_retries(send, sleep, max_attempts=5):
    for attempt in range(max_attempts):
        try:
            return send()
        except openai.APIStatusError as e:
            if e.status_code == 401 or attempt == max_attempts - 1:
                raise
            header = e.response.headers.get("retry-after")
            sleep(float(header) if header is not None else min(8.0, 0.5 * 2 ** attempt))
""",
            "the backoff counts only its own waits, not the Retry-After ones": """
def call_with_retries(send, sleep, max_attempts=5):
    backoffs = 0
    for attempt in range(max_attempts):
        try:
            return send()
        except openai.APIStatusError as e:
            if not (e.status_code == 429 or e.status_code >= 500) or attempt == max_attempts - 1:
                raise
            header = e.response.headers.get("retry-after")
            if header is not None:
                sleep(float(header))
            else:
                sleep(min(8.0, 0.5 * 2 ** backoffs))
                backoffs += 1
""",
            "Retry-After read as a whole number": """
def call_with_retries(send, sleep, max_attempts=5):
    for attempt in range(max_attempts):
        try:
            return send()
        except openai.APIStatusError as e:
            if not (e.status_code == 429 or e.status_code >= 500) or attempt == max_attempts - 1:
                raise
            header = e.response.headers.get("retry-after")
            sleep(int(header) if header is not None else min(8.0, 0.5 * 2 ** attempt))
""",
            "gives up by returning None instead of raising": """
def call_with_retries(send, sleep, max_attempts=5):
    for attempt in range(max_attempts):
        try:
            return send()
        except openai.APIStatusError as e:
            if not (e.status_code == 429 or e.status_code >= 500):
                return None
            if attempt == max_attempts - 1:
                return None
            header = e.response.headers.get("retry-after")
            sleep(float(header) if header is not None else min(8.0, 0.5 * 2 ** attempt))
""",
        },
    },
    "ex3_solution": {
        "tests": "ex3_tests",
        "answers": {
            "TTFT from the very first chunk, with or without choices": """
def _text(c):
    choices = c["data"].get("choices") or []
    return (choices[0].get("delta") or {}).get("content") or "" if choices else ""


def ttft(trace):
    return trace["chunks"][0]["t"] - trace["sent_at"]


def e2e(trace):
    return [c["t"] for c in trace["chunks"] if _text(c)][-1] - trace["sent_at"]


def tpot(trace):
    usage = next((c["data"]["usage"] for c in trace["chunks"] if c["data"].get("usage")), None)
    if usage is None or usage["completion_tokens"] < 2:
        return None
    return (e2e(trace) - ttft(trace)) / (usage["completion_tokens"] - 1)
""",
            "E2E at the last chunk (the usage chunk), not the last text": """
def ttft(trace):
    return next(c for c in trace["chunks"] if c["data"].get("choices"))["t"] - trace["sent_at"]


def e2e(trace):
    return trace["chunks"][-1]["t"] - trace["sent_at"]


def tpot(trace):
    usage = next((c["data"]["usage"] for c in trace["chunks"] if c["data"].get("usage")), None)
    if usage is None or usage["completion_tokens"] < 2:
        return None
    return (e2e(trace) - ttft(trace)) / (usage["completion_tokens"] - 1)
""",
            "TPOT counts text chunks instead of usage tokens": """
def _text(c):
    choices = c["data"].get("choices") or []
    return (choices[0].get("delta") or {}).get("content") or "" if choices else ""


def ttft(trace):
    return next(c for c in trace["chunks"] if c["data"].get("choices"))["t"] - trace["sent_at"]


def e2e(trace):
    return [c["t"] for c in trace["chunks"] if _text(c)][-1] - trace["sent_at"]


def tpot(trace):
    n = sum(1 for c in trace["chunks"] if _text(c))
    if n < 2:
        return None
    return (e2e(trace) - ttft(trace)) / (n - 1)
""",
            "TPOT: one token divides by zero (only a missing usage gives None)": """
def _text(c):
    choices = c["data"].get("choices") or []
    return (choices[0].get("delta") or {}).get("content") or "" if choices else ""


def ttft(trace):
    return next(c for c in trace["chunks"] if c["data"].get("choices"))["t"] - trace["sent_at"]


def e2e(trace):
    return [c["t"] for c in trace["chunks"] if _text(c)][-1] - trace["sent_at"]


def tpot(trace):
    usage = next((c["data"]["usage"] for c in trace["chunks"] if c["data"].get("usage")), None)
    if usage is None:
        return None
    return (e2e(trace) - ttft(trace)) / (usage["completion_tokens"] - 1)
""",
            "TTFT at the first chunk with text, not the role chunk": """
def _text(c):
    choices = c["data"].get("choices") or []
    return (choices[0].get("delta") or {}).get("content") or "" if choices else ""


def ttft(trace):
    return next(c for c in trace["chunks"] if _text(c))["t"] - trace["sent_at"]


def e2e(trace):
    return [c["t"] for c in trace["chunks"] if _text(c)][-1] - trace["sent_at"]


def tpot(trace):
    usage = next((c["data"]["usage"] for c in trace["chunks"] if c["data"].get("usage")), None)
    if usage is None or usage["completion_tokens"] < 2:
        return None
    return (e2e(trace) - ttft(trace)) / (usage["completion_tokens"] - 1)
""",
            "TPOT without the minus one": """
def _text(c):
    choices = c["data"].get("choices") or []
    return (choices[0].get("delta") or {}).get("content") or "" if choices else ""


def ttft(trace):
    return next(c for c in trace["chunks"] if c["data"].get("choices"))["t"] - trace["sent_at"]


def e2e(trace):
    return [c["t"] for c in trace["chunks"] if _text(c)][-1] - trace["sent_at"]


def tpot(trace):
    usage = next((c["data"]["usage"] for c in trace["chunks"] if c["data"].get("usage")), None)
    if usage is None or usage["completion_tokens"] < 2:
        return None
    return (e2e(trace) - ttft(trace)) / usage["completion_tokens"]
""",
        },
    },
}
