"""How `make test` shares the suite between two pytest-xdist workers.

Tests are handed out in *shares*: a share runs whole on one worker, so a costly fixture it
builds once (a module's JupyterLab and Chromium, the graded hostile class) is built once. A
share is a test file, except where the table below joins files that build the same session
fixture, or splits a long file whose tests each stand alone. The costliest shares go first, so
the two workers finish together instead of one waiting on the browser tier alone.
"""

from __future__ import annotations

#: Files that share one session fixture (built once per worker): one share.
JOINED = {
    "tests/integration/grading/test_grading_attacks.py": "hostile class",
    "tests/integration/grading/test_grading_sandbox.py": "hostile class",
}
#: Long files split in two shares; each half opens its own JupyterLab and Chromium. A test goes
#: to the half with less work so far, the longest first; its weight is the seconds it took in a
#: whole run with 3 workers on 2 cores (2026-12-08), or DEFAULT_WEIGHT_S for a test not listed.
SPLIT = {"tests/browser/test_labs.py"}
WEIGHTS_S = {
    "test_lab_runs_in_the_browser_and_validates[00_inference_path]": 34,
    "test_lab_runs_in_the_browser_and_validates[01_managed_api]": 50,
    "test_lab_runs_in_the_browser_and_validates[02_cloud_platform]": 44,
    "test_lab_runs_in_the_browser_and_validates[03_self_hosted_batch]": 91,
    "test_lab_runs_in_the_browser_and_validates[04_self_hosted_online]": 96,
    "test_lab_runs_in_the_browser_and_validates[05_edge]": 31,
    "test_lab_runs_in_the_browser_and_validates[06_measuring_latency]": 54,
    "test_lab_runs_in_the_browser_and_validates[07_failover]": 28,
    "test_lab_runs_in_the_browser_and_validates[08_residency]": 25,
    "test_lab_runs_in_the_browser_and_validates[09_choosing_the_pattern]": 32,
    "test_lab_runs_in_the_browser_and_validates[10_levers]": 63,
    "test_an_untouched_lab_runs_to_its_last_cell_and_fails_validate": 30,
}
DEFAULT_WEIGHT_S = 40
#: Shares that start first, costliest first (seconds on a quiet 2-core machine, 2026-12-08).
FIRST = [
    "tests/browser/test_labs.py #1",  # ~200 s
    "tests/browser/test_labs.py #2",  # ~200 s
    "tests/course/test_labs_degrade.py",  # ~110 s: every lab with the stack down, and slow
    "hostile class",  # ~100 s
    "tests/course/test_course.py",  # ~90 s: the nbgrader round trip of every lab
    "tests/integration/hub/test_hub_course.py",  # ~45 s
    "tests/browser/test_planted.py",
    "tests/integration/batch/test_batch_ray.py",
]


def shares(nodeids: list[str]) -> dict[str, str]:
    """Each test id's share; a split file's tests are balanced between its two halves."""
    out: dict[str, str] = {}
    split: dict[str, list[str]] = {}
    for nodeid in nodeids:
        path = nodeid.split("::", 1)[0]
        if path in SPLIT:
            split.setdefault(path, []).append(nodeid)
        else:
            out[nodeid] = JOINED.get(path, path)
    for path, tests in split.items():
        load = [0.0, 0.0]
        for nodeid in sorted(tests, key=lambda n: -weight(n)):
            half = load.index(min(load))
            load[half] += weight(nodeid)
            out[nodeid] = f"{path} #{half + 1}"
    return out


def weight(nodeid: str) -> float:
    return WEIGHTS_S.get(nodeid.split("::", 1)[-1], DEFAULT_WEIGHT_S)


def order(nodeids: list[str]) -> list[str]:
    """The test ids grouped by share, the costliest shares first, otherwise as collected."""
    of = shares(nodeids)
    grouped: dict[str, list[str]] = {}
    for nodeid in nodeids:
        grouped.setdefault(of[nodeid], []).append(nodeid)
    ranked = sorted(grouped, key=lambda s: FIRST.index(s) if s in FIRST else len(FIRST))
    return [nodeid for s in ranked for nodeid in grouped[s]]


def make_scheduler(config, log):
    """pytest-xdist's scope scheduler, with shares as its scopes, handed out in order."""
    from xdist.scheduler import LoadScopeScheduling

    class ByShare(LoadScopeScheduling):
        _shares: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self._shares is None:
                self._shares = shares(list(next(iter(self.registered_collections.values()))))
            return self._shares[nodeid]

    config.option.loadscopereorder = False  # keep the order above (not "most tests first")
    return ByShare(config, log)
