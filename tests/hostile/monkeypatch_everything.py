# Attack class: monkeypatching anything a check might use, in the kernel: math, numpy, pandas,
# operator, builtins, json, the course's assertion helpers, its wire format and the agent
# that answers the grader, and `input` (the agent's channel) to forge the grader's replies
# (every forged answer is 7, which no check expects: the grader must see only that). The answer
# is wrong: `add` can only score if a patched name fooled the grader.
import builtins
import json
import math
import operator

import numpy as np
import pandas as pd
import pandas.testing

import servelab.grading.agent as agent
import servelab.grading.checks as checks
import servelab.grading.wire as wire


def yes(*args, **kwargs):
    return True


math.isclose = yes
np.isclose = yes
np.allclose = yes
np.testing.assert_allclose = lambda *a, **k: None
pandas.testing.assert_frame_equal = lambda *a, **k: None
pd.DataFrame.equals = yes
operator.eq = yes
checks.close = yes
checks.run_check = lambda check, learner: checks.Result(check, True)
checks.score = lambda results, points: points
wire.to_plain = lambda value, depth=0: 7
agent.run_job = lambda job, namespace: {"ok": 7, "grader": "all checks passed"}
real_dumps = json.dumps
json.dumps = lambda value, *a, **k: (
    real_dumps({"ok": 7}) if isinstance(value, dict) else real_dumps(value, *a, **k)
)
real_input = builtins.input


def forging_input(prompt=""):
    if str(prompt).startswith("servelab:done"):
        prompt = 'servelab:done {"ok": 7, "grader": "passed"}'
    return real_input(prompt)


builtins.input = forging_input
builtins.AssertionError = type("AssertionError", (Exception,), {})


def add(a, b):
    return None
