"""Lab 01: other correct answers, each of which must keep full marks."""

RIGHT = {
    "ex1_solution": {
        "tests": "ex1_tests",
        "answers": {
            "pandas means instead of a loop over rows": """
def call_cost_usd(usage, price):
    return usage["prompt_tokens"] / 1e6 * price.input_usd + usage["completion_tokens"] / 1e6 * price.output_usd


def monthly_cost_usd(usage_log, price, calls_per_day, days=30):
    mean_in = usage_log["prompt_tokens"].mean()
    mean_out = usage_log["completion_tokens"].mean()
    return float(call_cost_usd({"prompt_tokens": mean_in, "completion_tokens": mean_out}, price)
                 * calls_per_day * days)
""",
            "apply and Series.mean, the price of one token first": """
def call_cost_usd(usage, price):
    per_token_in = price.input_usd / 1_000_000
    per_token_out = price.output_usd / 1_000_000
    return usage["prompt_tokens"] * per_token_in + usage["completion_tokens"] * per_token_out


def monthly_cost_usd(usage_log, price, calls_per_day, days=30):
    per_call = usage_log.apply(lambda row: call_cost_usd(row, price), axis=1)
    return float(per_call.mean()) * calls_per_day * days
""",
            "the total of the log divided by its length": """
def call_cost_usd(usage, price):
    return (usage["prompt_tokens"] * price.input_usd
            + usage["completion_tokens"] * price.output_usd) / 1e6


def monthly_cost_usd(usage_log, price, calls_per_day, days=30):
    total = sum(call_cost_usd(dict(zip(["prompt_tokens", "completion_tokens"], pair)), price)
                for pair in zip(usage_log.prompt_tokens, usage_log.completion_tokens))
    return total / len(usage_log) * days * calls_per_day
""",
        },
    },
    "ex2_solution": {
        "tests": "ex2_tests",
        "answers": {
            "SDK classes instead of status codes, a while loop": """
def call_with_retries(send, sleep, max_attempts=5):
    attempt = 0
    while True:
        try:
            return send()
        except (openai.RateLimitError, openai.InternalServerError) as e:
            attempt += 1
            if attempt >= max_attempts:
                raise
            retry_after = e.response.headers.get("retry-after")
            if retry_after is None:
                sleep(min(8, 0.5 * 2 ** (attempt - 1)))
            else:
                sleep(float(retry_after))
""",
            "remember the last error, raise it after the loop": """
def call_with_retries(send, sleep, max_attempts=5):
    last_error = None
    for attempt in range(max_attempts):
        if last_error is not None:
            header = last_error.response.headers.get("retry-after")
            sleep(float(header) if header is not None else min(8.0, 0.5 * 2**(attempt - 1)))
        try:
            return send()
        except openai.APIStatusError as e:
            if e.status_code != 429 and e.status_code < 500:
                raise
            last_error = e
    raise last_error
""",
            "a backoff table and an explicit 'retryable' helper": """
BACKOFF = [0.5, 1, 2, 4]


def _retryable(error):
    return isinstance(error, openai.APIStatusError) and (
        error.status_code == 429 or 500 <= error.status_code <= 599)


def call_with_retries(send, sleep, max_attempts=5):
    for attempt in range(1, max_attempts + 1):
        try:
            return send()
        except openai.APIError as error:
            if not _retryable(error) or attempt == max_attempts:
                raise
            if "retry-after" in error.response.headers:
                sleep(float(error.response.headers["retry-after"]))
            else:
                sleep(BACKOFF[attempt - 1] if attempt <= len(BACKOFF) else 8)
""",
        },
    },
    "ex3_solution": {
        "tests": "ex3_tests",
        "answers": {
            "explicit loops, scanning backwards for the last text": """
def _content(chunk):
    choices = chunk["data"].get("choices") or []
    if not choices:
        return ""
    return (choices[0].get("delta") or {}).get("content") or ""


def ttft(trace):
    for c in trace["chunks"]:
        if c["data"].get("choices"):
            return c["t"] - trace["sent_at"]
    raise ValueError("no chunk carries choices")


def e2e(trace):
    for c in reversed(trace["chunks"]):
        if _content(c):
            return c["t"] - trace["sent_at"]
    raise ValueError("no text")


def tpot(trace):
    tokens = None
    for c in trace["chunks"]:
        if c["data"].get("usage"):
            tokens = c["data"]["usage"]["completion_tokens"]
    if tokens is None or tokens <= 1:
        return None
    return (e2e(trace) - ttft(trace)) / (tokens - 1)
""",
            "pandas over the chunk table": """
def _table(trace):
    rows = []
    for c in trace["chunks"]:
        choices = c["data"].get("choices") or []
        delta = (choices[0].get("delta") or {}) if choices else {}
        rows.append({"t": c["t"] - trace["sent_at"], "choices": len(choices),
                     "text": delta.get("content") or "", "usage": c["data"].get("usage")})
    return pd.DataFrame(rows)


def ttft(trace):
    t = _table(trace)
    return float(t[t.choices > 0].t.iloc[0])


def e2e(trace):
    t = _table(trace)
    return float(t[t.text != ""].t.iloc[-1])


def tpot(trace):
    usage = _table(trace).usage.dropna()
    if usage.empty or usage.iloc[-1]["completion_tokens"] < 2:
        return None
    return (e2e(trace) - ttft(trace)) / (usage.iloc[-1]["completion_tokens"] - 1)
""",
        },
    },
}
