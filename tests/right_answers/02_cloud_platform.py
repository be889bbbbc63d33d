"""Lab 02: other correct answers, each of which must keep full marks."""

RIGHT = {
    "ex1_solution": {
        "tests": "ex1_tests",
        "answers": {
            "integer block arithmetic and a while loop": """
def ptus_needed(peak_rpm, prompt_tokens, completion_tokens, sizing):
    normalized = peak_rpm * (prompt_tokens + sizing["output_to_input_ratio"] * completion_tokens)
    step = sizing["regional_increment"]
    blocks = -(-normalized // (sizing["input_tpm_per_ptu"] * step))  # ceiling division
    return int(max(sizing["regional_min_ptus"], blocks * step))


def monthly_serverless_usd(mean_rpm, prompt_tokens, completion_tokens, price):
    calls = mean_rpm * 60 * costs.HOURS_PER_MONTH
    return calls * (prompt_tokens * price.input_usd + completion_tokens * price.output_usd) / 1e6


def monthly_provisioned_usd(peak_rpm, prompt_tokens, completion_tokens, sizing, usd_per_ptu_month):
    return usd_per_ptu_month * ptus_needed(peak_rpm, prompt_tokens, completion_tokens, sizing)


def break_even_rpm(prompt_tokens, completion_tokens, price, sizing, usd_per_ptu_month,
                   max_rpm=100_000):
    rpm = 1
    while rpm <= max_rpm:
        if not (monthly_provisioned_usd(rpm, prompt_tokens, completion_tokens, sizing,
                                        usd_per_ptu_month)
                > monthly_serverless_usd(rpm, prompt_tokens, completion_tokens, price)):
            return rpm
        rpm += 1
    return None
""",
            "numpy over every rate at once": """
import numpy as np


def ptus_needed(peak_rpm, prompt_tokens, completion_tokens, sizing):
    tpm = peak_rpm * prompt_tokens + sizing["output_to_input_ratio"] * peak_rpm * completion_tokens
    step = sizing["regional_increment"]
    rounded = int(np.ceil(tpm / sizing["input_tpm_per_ptu"] / step)) * step
    return max(int(sizing["regional_min_ptus"]), rounded)


def monthly_serverless_usd(mean_rpm, prompt_tokens, completion_tokens, price):
    per_call = prompt_tokens / 1e6 * price.input_usd + completion_tokens / 1e6 * price.output_usd
    return float(mean_rpm * 60 * 730 * per_call)


def monthly_provisioned_usd(peak_rpm, prompt_tokens, completion_tokens, sizing, usd_per_ptu_month):
    return float(ptus_needed(peak_rpm, prompt_tokens, completion_tokens, sizing) * usd_per_ptu_month)


def break_even_rpm(prompt_tokens, completion_tokens, price, sizing, usd_per_ptu_month,
                   max_rpm=100_000):
    rates = np.arange(1, max_rpm + 1)
    tpm = rates * prompt_tokens + sizing["output_to_input_ratio"] * rates * completion_tokens
    step = sizing["regional_increment"]
    blocks = np.ceil(tpm / sizing["input_tpm_per_ptu"] / step) * step
    reserved = np.maximum(sizing["regional_min_ptus"], blocks) * usd_per_ptu_month
    per_call = (prompt_tokens * price.input_usd + completion_tokens * price.output_usd) / 1e6
    serverless = rates * 60 * 730 * per_call
    cheaper = np.flatnonzero(reserved <= serverless)
    return int(rates[cheaper[0]]) if cheaper.size else None
""",
        },
    },
    "ex2_solution": {
        "tests": "ex2_tests",
        "answers": {
            "a loop over records": """
def eligible(offers, model, jurisdictions, on, deployment_type=None):
    found = []
    for row in offers.to_dict("records"):
        if (row["model"] == model and row["jurisdiction"] in jurisdictions
                and row["available_from"] <= on
                and (deployment_type is None or row["deployment_type"] == deployment_type)):
            found.append((row["region"], row["deployment"]))
    return sorted(found)


def first_arrival(offers, model, jurisdictions, deployment_type="serverless"):
    best = None
    for row in offers.to_dict("records"):
        if (row["model"] == model and row["jurisdiction"] in jurisdictions
                and row["deployment_type"] == deployment_type):
            key = (row["available_from"], row["region"])
            if best is None or key < best:
                best = key
    return None if best is None else (best[1], best[0])
""",
            "query and sort_values": """
def eligible(offers, model, jurisdictions, on, deployment_type=None):
    rows = offers[offers.model.eq(model) & offers.jurisdiction.isin(list(jurisdictions))]
    rows = rows.loc[rows.available_from.map(lambda d: d <= on).astype(bool)]
    if deployment_type is not None:
        rows = rows.query("deployment_type == @deployment_type")
    rows = rows.sort_values(["region", "deployment"])
    return list(zip(rows.region, rows.deployment))


def first_arrival(offers, model, jurisdictions, deployment_type="serverless"):
    rows = offers[(offers.model == model) & offers.jurisdiction.isin(list(jurisdictions))
                  & (offers.deployment_type == deployment_type)]
    if len(rows) == 0:
        return None
    first = rows.sort_values(["available_from", "region"]).iloc[0]
    return (first.region, first.available_from)
""",
        },
    },
    "ex3_solution": {
        "tests": "ex3_tests",
        "answers": {
            "agg with named quantiles, min over rows": """
def latency_summary(samples):
    return samples.groupby(["region", "deployment_type"]).agg(
        p50_ms=("ttft_ms", lambda s: s.quantile(0.5)),
        p95_ms=("ttft_ms", lambda s: s.quantile(0.95)),
    )


def pick(summary, regions, p95_budget_ms):
    best = None
    for (region, dtype), row in summary.iterrows():
        if region in regions and row.p95_ms <= p95_budget_ms:
            key = (row.p95_ms, region, dtype)
            if best is None or key < best:
                best = key
    return None if best is None else (best[1], best[2])
""",
            "numpy percentiles and a sorted filter": """
import numpy as np


def latency_summary(samples):
    rows = {}
    for key, group in samples.groupby(["region", "deployment_type"]):
        values = group.ttft_ms.to_numpy()
        rows[key] = {"p50_ms": float(np.percentile(values, 50)),
                     "p95_ms": float(np.percentile(values, 95))}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index = pd.MultiIndex.from_tuples(table.index, names=["region", "deployment_type"])
    return table


def pick(summary, regions, p95_budget_ms):
    ok = summary.reset_index()
    ok = ok[ok.region.isin(list(regions)) & (ok.p95_ms <= p95_budget_ms)]
    if ok.empty:
        return None
    first = ok.sort_values(["p95_ms", "region", "deployment_type"]).iloc[0]
    return (first.region, first.deployment_type)
""",
        },
    },
}
