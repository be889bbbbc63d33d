"""Plausible wrong answers to lab 02's exercises; each must lose marks (tests/course/test_answers.py)."""

_COSTS_OK = """

def monthly_serverless_usd(mean_rpm, prompt_tokens, completion_tokens, price):
    per_call = (prompt_tokens * price.input_usd + completion_tokens * price.output_usd) / 1e6
    return mean_rpm * 60 * HOURS * per_call


def monthly_provisioned_usd(peak_rpm, prompt_tokens, completion_tokens, sizing, usd_per_ptu_month):
    return ptus_needed(peak_rpm, prompt_tokens, completion_tokens, sizing) * usd_per_ptu_month


def break_even_rpm(prompt_tokens, completion_tokens, price, sizing, usd_per_ptu_month,
                   max_rpm=100_000):
    for rpm in range(1, max_rpm + 1):
        reserved = monthly_provisioned_usd(rpm, prompt_tokens, completion_tokens, sizing,
                                           usd_per_ptu_month)
        if reserved <= monthly_serverless_usd(rpm, prompt_tokens, completion_tokens, price):
            return rpm
    return None
"""

_PTUS_OK = """
def ptus_needed(peak_rpm, prompt_tokens, completion_tokens, sizing):
    normalized = (peak_rpm * prompt_tokens
                  + sizing["output_to_input_ratio"] * peak_rpm * completion_tokens)
    step = sizing["regional_increment"]
    return max(sizing["regional_min_ptus"],
               math.ceil(normalized / sizing["input_tpm_per_ptu"] / step) * step)
"""

_FIRST_OK = """

def first_arrival(offers, model, jurisdictions, deployment_type="serverless"):
    rows = offers[(offers.model == model) & offers.jurisdiction.isin(jurisdictions)
                  & (offers.deployment_type == deployment_type)]
    if rows.empty:
        return None
    when, region = min(zip(rows.available_from, rows.region))
    return region, when
"""

_ELIGIBLE_OK = """
def eligible(offers, model, jurisdictions, on, deployment_type=None):
    rows = offers[(offers.model == model) & offers.jurisdiction.isin(jurisdictions)
                  & (offers.available_from <= on)]
    if deployment_type is not None:
        rows = rows[rows.deployment_type == deployment_type]
    return sorted(zip(rows.region, rows.deployment))
"""

_SUMMARY_OK = """
def latency_summary(samples):
    ttft = samples.groupby(["region", "deployment_type"]).ttft_ms
    return ttft.quantile(0.5).to_frame("p50_ms").join(ttft.quantile(0.95).rename("p95_ms"))
"""

_PICK_OK = """

def pick(summary, regions, p95_budget_ms):
    ok = summary[summary.index.get_level_values("region").isin(regions)
                 & (summary.p95_ms <= p95_budget_ms)]
    return None if ok.empty else ok.p95_ms.idxmin()
"""

WRONG = {
    "ex1_solution": {
        "tests": "ex1_tests",
        "answers": {
            "PTUs not rounded up to the increment": """
def ptus_needed(peak_rpm, prompt_tokens, completion_tokens, sizing):
    normalized = (peak_rpm * prompt_tokens
                  + sizing["output_to_input_ratio"] * peak_rpm * completion_tokens)
    return max(sizing["regional_min_ptus"], math.ceil(normalized / sizing["input_tpm_per_ptu"]))
"""
            + _COSTS_OK,
            "the regional minimum forgotten": """
def ptus_needed(peak_rpm, prompt_tokens, completion_tokens, sizing):
    normalized = (peak_rpm * prompt_tokens
                  + sizing["output_to_input_ratio"] * peak_rpm * completion_tokens)
    step = sizing["regional_increment"]
    return math.ceil(normalized / sizing["input_tpm_per_ptu"] / step) * step
"""
            + _COSTS_OK,
            "output tokens counted like input tokens": """
def ptus_needed(peak_rpm, prompt_tokens, completion_tokens, sizing):
    normalized = peak_rpm * (prompt_tokens + completion_tokens)
    step = sizing["regional_increment"]
    return max(sizing["regional_min_ptus"],
               math.ceil(normalized / sizing["input_tpm_per_ptu"] / step) * step)
"""
            + _COSTS_OK,
            "a month of 30 x 24 = 720 hours": _PTUS_OK
            + """

def monthly_serverless_usd(mean_rpm, prompt_tokens, completion_tokens, price):
    per_call = (prompt_tokens * price.input_usd + completion_tokens * price.output_usd) / 1e6
    return mean_rpm * 60 * 24 * 30 * per_call


def monthly_provisioned_usd(peak_rpm, prompt_tokens, completion_tokens, sizing, usd_per_ptu_month):
    return ptus_needed(peak_rpm, prompt_tokens, completion_tokens, sizing) * usd_per_ptu_month


def break_even_rpm(prompt_tokens, completion_tokens, price, sizing, usd_per_ptu_month,
                   max_rpm=100_000):
    for rpm in range(1, max_rpm + 1):
        if (monthly_provisioned_usd(rpm, prompt_tokens, completion_tokens, sizing, usd_per_ptu_month)
                <= monthly_serverless_usd(rpm, prompt_tokens, completion_tokens, price)):
            return rpm
    return None
""",
            "break-even from the raw PTU count (no blocks), solved in closed form": _PTUS_OK
            + """

def monthly_serverless_usd(mean_rpm, prompt_tokens, completion_tokens, price):
    per_call = (prompt_tokens * price.input_usd + completion_tokens * price.output_usd) / 1e6
    return mean_rpm * 60 * HOURS * per_call


def monthly_provisioned_usd(peak_rpm, prompt_tokens, completion_tokens, sizing, usd_per_ptu_month):
    return ptus_needed(peak_rpm, prompt_tokens, completion_tokens, sizing) * usd_per_ptu_month


def break_even_rpm(prompt_tokens, completion_tokens, price, sizing, usd_per_ptu_month,
                   max_rpm=100_000):
    per_rpm = monthly_serverless_usd(1, prompt_tokens, completion_tokens, price)
    rpm = math.ceil(sizing["regional_min_ptus"] * usd_per_ptu_month / per_rpm)
    return rpm if rpm <= max_rpm else None
""",
            "break-even only where provisioned is strictly cheaper": _PTUS_OK
            + """

def monthly_serverless_usd(mean_rpm, prompt_tokens, completion_tokens, price):
    per_call = (prompt_tokens * price.input_usd + completion_tokens * price.output_usd) / 1e6
    return mean_rpm * 60 * HOURS * per_call


def monthly_provisioned_usd(peak_rpm, prompt_tokens, completion_tokens, sizing, usd_per_ptu_month):
    return ptus_needed(peak_rpm, prompt_tokens, completion_tokens, sizing) * usd_per_ptu_month


def break_even_rpm(prompt_tokens, completion_tokens, price, sizing, usd_per_ptu_month,
                   max_rpm=100_000):
    for rpm in range(1, max_rpm + 1):
        if (monthly_provisioned_usd(rpm, prompt_tokens, completion_tokens, sizing, usd_per_ptu_month)
                < monthly_serverless_usd(rpm, prompt_tokens, completion_tokens, price)):
            return rpm
    return None
""",
            "max_rpm itself never tried": _PTUS_OK
            + """

def monthly_serverless_usd(mean_rpm, prompt_tokens, completion_tokens, price):
    per_call = (prompt_tokens * price.input_usd + completion_tokens * price.output_usd) / 1e6
    return mean_rpm * 60 * HOURS * per_call


def monthly_provisioned_usd(peak_rpm, prompt_tokens, completion_tokens, sizing, usd_per_ptu_month):
    return ptus_needed(peak_rpm, prompt_tokens, completion_tokens, sizing) * usd_per_ptu_month


def break_even_rpm(prompt_tokens, completion_tokens, price, sizing, usd_per_ptu_month,
                   max_rpm=100_000):
    for rpm in range(1, max_rpm):
        if (monthly_provisioned_usd(rpm, prompt_tokens, completion_tokens, sizing, usd_per_ptu_month)
                <= monthly_serverless_usd(rpm, prompt_tokens, completion_tokens, price)):
            return rpm
    return None
""",
        },
    },
    "ex2_solution": {
        "tests": "ex2_tests",
        "answers": {
            "availability dates ignored": """
def eligible(offers, model, jurisdictions, on, deployment_type=None):
    rows = offers[(offers.model == model) & offers.jurisdiction.isin(jurisdictions)]
    if deployment_type is not None:
        rows = rows[rows.deployment_type == deployment_type]
    return sorted(zip(rows.region, rows.deployment))
"""
            + _FIRST_OK,
            "available only strictly after the arrival date": """
def eligible(offers, model, jurisdictions, on, deployment_type=None):
    rows = offers[(offers.model == model) & offers.jurisdiction.isin(jurisdictions)
                  & (offers.available_from < on)]
    if deployment_type is not None:
        rows = rows[rows.deployment_type == deployment_type]
    return sorted(zip(rows.region, rows.deployment))
"""
            + _FIRST_OK,
            "residency by data zone instead of jurisdiction": """
def eligible(offers, model, jurisdictions, on, deployment_type=None):
    rows = offers[(offers.model == model) & offers.data_zone.isin(jurisdictions)
                  & (offers.available_from <= on)]
    if deployment_type is not None:
        rows = rows[rows.deployment_type == deployment_type]
    return sorted(zip(rows.region, rows.deployment))
"""
            + _FIRST_OK,
            "eligible in the table's order, not sorted": """
def eligible(offers, model, jurisdictions, on, deployment_type=None):
    rows = offers[(offers.model == model) & offers.jurisdiction.isin(jurisdictions)
                  & (offers.available_from <= on)]
    if deployment_type is not None:
        rows = rows[rows.deployment_type == deployment_type]
    return list(zip(rows.region, rows.deployment))
"""
            + _FIRST_OK,
            "model matched by the start of its name": """
def eligible(offers, model, jurisdictions, on, deployment_type=None):
    rows = offers[offers.model.str.startswith(model) & offers.jurisdiction.isin(jurisdictions)
                  & (offers.available_from <= on)]
    if deployment_type is not None:
        rows = rows[rows.deployment_type == deployment_type]
    return sorted(zip(rows.region, rows.deployment))
"""
            + _FIRST_OK,
            "first arrival: a tie goes to the first row": _ELIGIBLE_OK
            + """

def first_arrival(offers, model, jurisdictions, deployment_type="serverless"):
    rows = offers[(offers.model == model) & offers.jurisdiction.isin(jurisdictions)
                  & (offers.deployment_type == deployment_type)]
    if rows.empty:
        return None
    first = rows.loc[rows.available_from.idxmin()]
    return first.region, first.available_from
""",
            "first arrival of any deployment type": _ELIGIBLE_OK
            + """

def first_arrival(offers, model, jurisdictions, deployment_type="serverless"):
    rows = offers[(offers.model == model) & offers.jurisdiction.isin(jurisdictions)]
    if rows.empty:
        return None
    when, region = min(zip(rows.available_from, rows.region))
    return region, when
""",
            "first arrival = first region in alphabetical order": _ELIGIBLE_OK
            + """

def first_arrival(offers, model, jurisdictions, deployment_type="serverless"):
    rows = offers[(offers.model == model) & offers.jurisdiction.isin(jurisdictions)
                  & (offers.deployment_type == deployment_type)]
    if rows.empty:
        return None
    row = rows.sort_values("region").iloc[0]
    return row.region, row.available_from
""",
        },
    },
    "ex3_solution": {
        "tests": "ex3_tests",
        "answers": {
            "p95 from the mean plus two standard deviations": """
def latency_summary(samples):
    ttft = samples.groupby(["region", "deployment_type"]).ttft_ms
    return ttft.quantile(0.5).to_frame("p50_ms").join(
        (ttft.mean() + 2 * ttft.std()).rename("p95_ms"))
"""
            + _PICK_OK,
            "p50 as the mean": """
def latency_summary(samples):
    ttft = samples.groupby(["region", "deployment_type"]).ttft_ms
    return ttft.mean().to_frame("p50_ms").join(ttft.quantile(0.95).rename("p95_ms"))
"""
            + _PICK_OK,
            "picked by the median instead of the tail": _SUMMARY_OK
            + """

def pick(summary, regions, p95_budget_ms):
    ok = summary[summary.index.get_level_values("region").isin(regions)
                 & (summary.p95_ms <= p95_budget_ms)]
    return None if ok.empty else ok.p50_ms.idxmin()
""",
            "budget treated as strict": _SUMMARY_OK
            + """

def pick(summary, regions, p95_budget_ms):
    ok = summary[summary.index.get_level_values("region").isin(regions)
                 & (summary.p95_ms < p95_budget_ms)]
    return None if ok.empty else ok.p95_ms.idxmin()
""",
            "pick: a tie goes to the first row of the summary": _SUMMARY_OK
            + """

def pick(summary, regions, p95_budget_ms):
    ok = summary[summary.index.get_level_values("region").isin(regions)
                 & (summary.p95_ms <= p95_budget_ms)]
    return None if ok.empty else ok.p95_ms.idxmin()
""",
            "percentiles of the nearest sample, not interpolated": """
def latency_summary(samples):
    ttft = samples.groupby(["region", "deployment_type"]).ttft_ms
    return ttft.quantile(0.5, interpolation="nearest").to_frame("p50_ms").join(
        ttft.quantile(0.95, interpolation="nearest").rename("p95_ms"))
"""
            + _PICK_OK,
            "allowed regions ignored": _SUMMARY_OK
            + """

def pick(summary, regions, p95_budget_ms):
    ok = summary[summary.p95_ms <= p95_budget_ms]
    return None if ok.empty else ok.p95_ms.idxmin()
""",
        },
    },
}
