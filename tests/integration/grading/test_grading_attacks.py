"""Every attack class on the verdict, the feedback and the host, graded in one run (conftest.py).

One hostile submission per class (tests/hostile/, each script says what it tries). For each:
the run finishes, the gradebook is intact and the others' grades are unchanged
(test_grading_sandbox.py), and here:

- the attacker gets **no points it did not earn**: a cheat wrapped around a wrong answer scores
  zero on that question;
- its feedback and graded notebook hold **no trace of the hidden checks** (their code carries a
  run-time marker) **nor of a hidden input** (another run-time marker handed to ``mul``), in any
  disguise tests/hostile/decode.py can undo (HTML entities, ANSI, zero-width characters,
  base64 / base32 / hex, reversal), and no secret of the grader's environment;
- no markup a learner wrote is live in a feedback page;
- nothing a sandbox wrote outlives it on the host, and no process of a sandbox uid survives;
- a tampered notebook is scored from the instructor's release, never higher, and reported.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from grading_support import GOOD, GRADER_SECRETS, feedback_page, graded_notebook, grades
from hostile import decode, notebook_tampering
from hostile import fixture_course as fc
from test_grading_sandbox import EXPECTED_ERROR

from servelab.grading.autograde import left_behind_path, tampering_path
from servelab.grading.leftovers import idle_strays, idle_uids
from servelab.grading.sandbox import UID_BASE, UID_SLOTS

pytestmark = pytest.mark.slow

#: Attack class -> score of `add` it may have (every cheat wraps a wrong `add`: 0; the
#: scripts whose question is what outlives the sandbox or what the grader keeps answer right).
ATTACKS = {
    "ipython_hooks": 0.0,
    "monkeypatch_everything": 0.0,
    "always_equal": 0.0,
    "frame_inspection": 0.0,
    "tracer": 0.0,
    "history_and_files": 0.0,
    "exfiltrate_inputs": 0.0,
    "feedback_injection": 0.0,
    "environ_and_proc": 0.0,
    "malformed_replies": 0.0,
    "leave_behind": fc.ADD_POINTS,
    "display_flood": fc.ADD_POINTS,
}
#: The right `mul` is worth this much; an attack may lose it by breaking its own kernel.
MUL = fc.MUL_POINTS
# Its own answer cell searches for the hidden marker: its feedback shows its own code.
SHOWS_MARKER_IN_ITS_OWN_CODE = {"read_hidden_tests"}


def everyone(graded) -> list[str]:
    return sorted(graded["results"])


def test_every_hostile_submission_is_a_known_class():
    assert set(fc.HOSTILE) == set(EXPECTED_ERROR) | set(ATTACKS) | {"network_allowed"}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_a_cheat_earns_nothing(graded, name):
    scores = grades(graded["course"], name)
    assert scores["test_add"] == ATTACKS[name], scores
    assert 0.0 <= scores["test_mul"] <= MUL


def test_honest_learners_are_unaffected(graded):
    for student in GOOD:
        assert grades(graded["course"], student)["test_mul"] == MUL
        assert graded["results"][student].success


def test_every_feedback_page_was_written(graded):
    failed = {s: r.get("error") or r.get("log", "")[-300:] for s, r in graded["feedback"].items()}
    failed = {s: why for s, why in failed.items() if not graded["feedback"][s]["success"]}
    assert not failed
    for student in everyone(graded):
        assert feedback_page(graded["course"], student)


@pytest.mark.parametrize("what", ["hidden checks", "hidden input", "grader secrets"])
def test_nothing_secret_reaches_a_learner_in_any_disguise(graded, what):
    secrets = {
        "hidden checks": [graded["marker"]],
        "hidden input": [graded["input_marker"]],
        "grader secrets": list(GRADER_SECRETS.values()),
    }[what]
    course = graded["course"]
    leaked = {}
    for student in everyone(graded):
        if what == "hidden checks" and student in SHOWS_MARKER_IN_ITS_OWN_CODE:
            continue
        page = feedback_page(course, student)
        notebook = json.dumps(graded_notebook(course, student))
        for secret in secrets:
            found = decode.leaks(page, secret) + decode.leaks(notebook, secret)
            if found:
                leaked[student] = found
    assert not leaked, f"{what} reached learners: {leaked}"


def test_the_leak_detector_sees_disguises():
    """The check above can fail: each disguise of a secret in a page is found."""
    import base64

    secret = "INPUTdeadbeefcafe0123456789"
    pages = {
        "plain": f"<p>{secret}</p>",
        "entities": "".join(f"&#{ord(c)};" for c in secret),
        "ansi": "\x1b[31m" + secret[:6] + "\x1b[0m" + secret[6:],
        "zero-width": "\u200b".join(secret),
        "base64": base64.b64encode(b"xy" + secret.encode()).decode(),
        "base32": base64.b32encode(secret.encode() + b"!").decode(),
        "hex": secret.encode().hex(),
        "reversed": secret[::-1],
    }
    assert {name: bool(decode.leaks(page, secret)) for name, page in pages.items()} == {
        name: True for name in pages
    }
    assert not decode.leaks("INPUT" + "0" * 30, secret)


def live_markup(page: str, canary: str) -> list[str]:
    """Places in an HTML page where ``canary`` would run or load: scripts, attributes, URLs."""
    soup = BeautifulSoup(page, "html.parser")
    found = []
    for tag in soup.find_all(True):
        if tag.name in ("script", "style", "iframe", "object", "embed", "svg") and canary in str(
            tag
        ):
            found.append(f"<{tag.name}>")
        for attribute, value in tag.attrs.items():
            text = " ".join(value) if isinstance(value, list) else str(value)
            if canary in text or canary in attribute:
                found.append(f"<{tag.name} {attribute}=...>")
    return found


def test_no_learner_markup_is_live_in_feedback(graded):
    page = feedback_page(graded["course"], "feedback_injection")
    canary = graded["placeholders"]["CANARY"]
    assert canary in page, "the injected outputs must still be shown, as text"
    assert live_markup(page, canary) == []


def test_the_markup_check_can_fail():
    canary = "PWNcafe"
    assert live_markup(f'<img src=x onerror="{canary}()">', canary)
    assert live_markup(f"<script>{canary}</script>", canary)
    assert live_markup(f'<a href="javascript:{canary}()">x</a>', canary)
    assert not live_markup(f"<pre>&lt;script&gt;{canary}&lt;/script&gt;</pre>", canary)


def host_places() -> list[Path]:
    """Where a process may write on this host: the usual shared places and every directory
    anyone may write to under the usual roots (a few levels deep)."""
    places = [Path(p) for p in ("/tmp", "/var/tmp", "/dev/shm", "/run", "/run/lock", "/var/lock")]
    for top in ("/var", "/opt", "/srv", "/etc", "/usr/local", "/home", "/mnt", "/media"):
        for folder, dirs, _ in os.walk(top):
            if folder.count("/") > 4:
                dirs[:] = []
            mode = os.stat(folder).st_mode if os.path.exists(folder) else 0
            if mode & 0o002:
                places.append(Path(folder))
    return places


def test_nothing_outlives_the_sandbox(graded):
    course = graded["course"]
    name = graded["placeholders"]["LEFTOVER"]
    left = [str(p / name) for p in host_places() if (p / name).exists()]
    left += [f"/dev/mqueue/{name}"] if Path(f"/dev/mqueue/{name}").exists() else []
    shm = Path("/proc/sysvipc/shm").read_text() if Path("/proc/sysvipc/shm").exists() else ""
    left += ["System V shm 0x5e12"] if " 24082 " in shm or "5e12" in shm.lower() else []
    assert not left, f"left behind on the host: {left}"
    # a sandbox of another grading run (another test session, another course) holds its lease:
    # what runs as a uid no one holds is what this run left
    with idle_uids(UID_BASE, UID_SLOTS) as idle:
        assert idle_strays(UID_BASE, UID_SLOTS, idle) == []
    assert not left_behind_path(course, fc.LAB).exists(), left_behind_path(course, fc.LAB)
    assert grades(course, "leave_behind")["test_add"] == fc.ADD_POINTS  # it did run


def test_output_through_updates_and_widgets_is_capped(graded):
    course = graded["course"]
    path = course.autograded / "display_flood" / fc.LAB / f"{fc.LAB}.ipynb"
    assert path.stat().st_size < 2 * 2**20, path.stat().st_size
    assert "widgets" not in graded_notebook(course, "display_flood").get("metadata", {})
    assert grades(course, "display_flood") == {
        "test_add": fc.ADD_POINTS,
        "test_mul": MUL,
        "reflection": None,
    }


EXPECTED_TAMPERING = {
    # right answers in a tampered notebook: scored from the release, full marks, never more
    "tamper_many_edits": ((fc.ADD_POINTS, MUL), ["deleted", "claims grade", "edited", "kernel"]),
    "tamper_test_cells_to_markdown": ((fc.ADD_POINTS, MUL), ["cell type", "schema_version"]),
    # not a notebook: graded as the untouched release
    "tamper_not_json": ((0.0, 0.0), ["could not be read"]),
}


@pytest.mark.parametrize("name", sorted(notebook_tampering.TAMPERS))
def test_a_tampered_notebook_is_scored_from_the_release_and_reported(graded, name):
    course = graded["course"]
    (add, mul), words = EXPECTED_TAMPERING[name]
    scores = grades(course, name)
    assert (scores["test_add"], scores["test_mul"]) == (add, mul), scores
    report = json.loads(tampering_path(course, fc.LAB, name).read_text())["tampering"]
    for word in words:
        assert any(word in line for line in report), (word, report)
    graded_nb = graded_notebook(course, name)
    assert graded_nb["metadata"]["kernelspec"]["name"] == "python3"
    ids = [c["metadata"].get("nbgrader", {}).get("grade_id") for c in graded_nb["cells"]]
    assert ids.count("test_add") == 1 and "bonus" not in ids and "helper" in ids


def test_the_export_names_tampering(graded):
    import csv

    from servelab.grading.export import export

    done = export(graded["course"], [fc.LAB], graded["course"].grading / "attack-export")
    rows = {r["student"]: r for r in csv.DictReader(done.students_csv.open())}
    assert rows["tamper_many_edits"]["tampering"]
    assert not rows["good_one"]["tampering"]
