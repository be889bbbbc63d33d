"""A class on a real course server: JupyterHub on loopback, an instructor and two learners with
real Linux accounts, nbgrader's exchange between them, grades out to Canvas and Moodle.

The class runs once (the ``course`` fixture): the hub creates the accounts, the instructor
releases lab 00 through the formgrader, each learner fetches it through their own server (the
hub's API, with their own token), A submits the solution and B the untouched lab, B also plants
a submission in A's name; the instructor collects, root autogrades in the sandbox and releases
feedback, each learner fetches theirs, the instructor exports. Each test checks one promise of
docs/course-server.md. Needs root, useradd, the grading sandbox and configurable-http-proxy
(`make setup` installs it).
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
import yaml
from hub_support import LAB, CourseServer, free_port, new_server

from reference_stack.gateway.auth import KeyStore, hash_key
from servelab.course_server.hub import BUNDLED_PROXY
from servelab.course_server.runtime import reachable_by_others
from servelab.grading.sandbox import SandboxUnavailable, check_available
from servelab_base.paths import ROOT, SOLUTIONS


def _missing() -> str:
    if sys.platform != "linux" or os.geteuid() != 0:
        return "needs root on Linux (real accounts, the grading sandbox)"
    if not shutil.which("useradd") or not shutil.which("userdel"):
        return "needs useradd/userdel"
    if not BUNDLED_PROXY.exists() and not shutil.which("configurable-http-proxy"):
        return "configurable-http-proxy is not installed (make setup installs it with npm)"
    try:
        check_available()
    except SandboxUnavailable as exc:
        return str(exc)
    if not reachable_by_others(ROOT / "servelab"):
        return f"the checkout ({ROOT}) is not readable by other accounts: learners' servers need it"
    return ""


pytestmark = [
    pytest.mark.slow,
    pytest.mark.system,  # `make test-all` (and CI), not `make test`
    pytest.mark.skipif(bool(_missing()), reason=_missing() or "ok"),
    pytest.mark.timeout(900),
]

COURSE_ID = "servelab"
#: Run as B: a submission folder in A's name, with B's notebook and a timestamp.txt from 2000.
FORGE = (
    "import os, shutil, sys; os.mkdir(sys.argv[2]); shutil.copy(sys.argv[1], sys.argv[2]); "
    "open(os.path.join(sys.argv[2], 'timestamp.txt'), 'w').write('2000-01-01 00:00:00.0 UTC')"
)


def ok(response, what: str) -> dict:
    assert response.status_code == 200, f"{what}: {response.status_code} {response.text[:500]}"
    return response.json()


def submission_of(server: CourseServer, student: str) -> Path:
    inbound = server.exchange / COURSE_ID / "inbound"
    found = [
        p
        for p in inbound.iterdir()
        if p.name.startswith(f"{student}+{LAB}+") and p.stat().st_uid == _uid(student)
    ]
    assert len(found) == 1, found
    return found[0]


@pytest.fixture(scope="module")
def course():
    server = new_server()
    inst, alice, bob = server.instructor, *server.learners
    try:
        server.start()
        hub = server.hub
        t = time.perf_counter()
        hub.add_users(server.people)  # the hub runs useradd (private homes)
        server.sessions = {name: hub.as_user(name) for name in server.people}
        server.timed("accounts", t)

        # The course: lab 00 generated (labs/ + gradebook), then handed to the instructor.
        t = time.perf_counter()
        (server.course / "solutions").mkdir(parents=True)
        shutil.copytree(SOLUTIONS / LAB, server.course / "solutions" / LAB)
        from servelab.grading import release

        release.release(server.course, [LAB])
        assert server.cli("course", "hub-setup", "--instructor", inst) == 0
        roster = server.base / "roster.csv"
        roster.write_text(
            "username,first_name,last_name,email,student_number,section\n"
            f"{alice},Ada,Lovelace,ada@example.org,S001,A\n"
            f"{bob},Alan,Turing,alan@example.org,S002,B\n"
        )
        server.keys_file = server.base / "gateway-keys.yaml"
        keys = ["--roster", str(roster), "--keys-file", str(server.keys_file)]
        assert server.cli("course", "keys", *keys) == 0
        server.roster = roster
        server.timed("course + keys", t)

        t = time.perf_counter()
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(lambda s: s.start_server(), server.sessions.values()))
        server.timed("three servers", t)
        s = server.sessions

        # The instructor releases lab 00 through the exchange (the formgrader's API).
        t = time.perf_counter()
        released = ok(s[inst].server("POST", f"formgrader/api/assignment/{LAB}/release"), "release")
        assert released["success"], released.get("log")
        # Each learner fetches it through their own server.
        for name in (alice, bob):
            listed = ok(s[name].server("GET", f"assignments?course_id={COURSE_ID}"), "list")
            assert [a["assignment_id"] for a in listed["value"]] == [LAB], listed
            ok(
                s[name].server(
                    "POST", "assignments/fetch", json={"course_id": COURSE_ID, "assignment_id": LAB}
                ),
                "fetch",
            )
        # A puts the solution in place of her fetched notebook (the contents API, as an editor
        # saving it would); B leaves his untouched.
        solution = nbformat.read(SOLUTIONS / LAB / f"{LAB}.ipynb", as_version=4)
        saved = s[alice].server(
            "PUT",
            f"api/contents/{LAB}/{LAB}.ipynb",
            json={"type": "notebook", "format": "json", "content": solution},
        )
        assert saved.status_code in (200, 201), saved.text[:500]
        for name in (alice, bob):
            answer = ok(
                s[name].server(
                    "POST",
                    "assignments/submit",
                    json={"course_id": COURSE_ID, "assignment_id": LAB},
                ),
                "submit",
            )
            assert answer.get("success"), answer
        server.timed("release, fetch, submit", t)

        # Before submitting, each learner's self-check (`servelab check`), as that learner.
        t = time.perf_counter()
        # The lab's live (ungraded) cells find no engine on a closed port and fail at once,
        # instead of generating on a busy CPU: the check is about the graded cells.
        check = [str(server.python), "-m", "servelab.cli.main", "check"]
        closed = str(free_port())
        no_stack = {f"SERVELAB_{s}_PORT": closed for s in ("VLLM", "GATEWAY", "LLAMACPP")}
        server.checks = {
            alice: server.run_as(alice, [*check, f"{LAB}/{LAB}.ipynb"], env=no_stack),
            bob: server.run_as(bob, [*check, "--no-run", f"{LAB}/{LAB}.ipynb"]),
        }
        server.timed("self-checks", t)

        # B plants a submission in A's name, dated to win (the newest is collected).
        forged = (
            server.exchange
            / COURSE_ID
            / "inbound"
            / f"{alice}+{LAB}+2099-01-01 00:00:00.000000 UTC+forged"
        )
        mine = Path(f"/home/{bob}") / LAB / f"{LAB}.ipynb"
        out = server.run_as(
            bob,
            [
                str(server.python),
                "-c",
                FORGE,
                str(mine),
                str(forged),
            ],
        )
        assert out.returncode == 0, out.stderr
        server.forged = forged

        # Collect (as the instructor), autograde (root: the sandbox), feedback released (root).
        t = time.perf_counter()
        collect_env = {
            k: v
            for k, v in server.course_env().items()
            if k.startswith(("SERVELAB_", "JUPYTER_", "HF_"))
        }
        server.collect = server.run_as(
            inst,
            [str(server.python), "-m", "servelab.cli.main", "grade", "collect", LAB, "--exchange"],
            env=collect_env,
        )
        assert server.collect.returncode == 0, server.collect.stdout + server.collect.stderr
        server.timed("collect (instructor)", t)
        t = time.perf_counter()
        out = server.run_root("grade", "autograde", LAB, "--jobs", "2")
        assert out.returncode == 0, out.stdout + out.stderr
        server.timed("autograde (root, sandbox)", t)
        # The formgrader's own Autograde button would run A's code unsandboxed, as the
        # instructor: refused (A's sandboxed grade stays, the export below shows it).
        server.formgrader_autograde = ok(
            s[inst].server("POST", f"formgrader/api/submission/{LAB}/{alice}/autograde"),
            "formgrader autograde",
        )
        t = time.perf_counter()
        out = server.run_root("grade", "feedback", LAB, "--release")
        assert out.returncode == 0, out.stdout + out.stderr
        server.timed("feedback + release (root)", t)
        t = time.perf_counter()
        for name in (alice, bob):
            ok(
                s[name].server(
                    "POST",
                    "assignments/fetch_feedback",
                    json={"course_id": COURSE_ID, "assignment_id": LAB},
                ),
                "fetch_feedback",
            )
        server.timed("fetch feedback", t)
        t = time.perf_counter()
        server.export = server.run_as(
            inst,
            [
                str(server.python),
                "-m",
                "servelab.cli.main",
                "grade",
                "export",
                "--lab",
                LAB,
                "--lms",
                "canvas",
                "--lms",
                "moodle",
                "--roster",
                str(roster),
            ],
            env=collect_env,
        )
        assert server.export.returncode == 0, server.export.stdout + server.export.stderr
        server.timed("export (instructor)", t)
        print("course server timings (s):", json.dumps(server.timings))
        yield server
    except BaseException:
        if server.process:
            print(server.hub_log(), file=sys.stderr)
        raise
    finally:
        server.close()


def feedback_html(server: CourseServer, name: str) -> str:
    """The learner's fetched feedback, read through their own server."""
    session = server.sessions[name]
    folder = ok(session.server("GET", f"api/contents/{LAB}/feedback"), "feedback folder")
    stamps = [item["path"] for item in folder["content"] if item["type"] == "directory"]
    assert len(stamps) == 1, folder
    page = ok(session.server("GET", f"api/contents/{stamps[0]}/{LAB}.html"), "feedback page")
    return page["content"]


def test_accounts_have_private_homes(course):
    for name in course.people:
        home = Path(f"/home/{name}")
        assert home.stat().st_mode & 0o777 == 0o700, name


def feedback_score(html: str) -> tuple[float, float]:
    """The notebook's total on a feedback page: "<lab> (Score: 9.0 / 11.0)"."""
    found = re.search(rf"{LAB} \(Score: ([\d.]+) / ([\d.]+)\)", html)
    assert found, html[-3000:]
    return float(found.group(1)), float(found.group(2))


def test_each_learner_gets_their_own_feedback_with_their_score(course):
    alice, bob = course.learners
    # A: the three checked exercises (9 points); the written answer waits for a person
    assert feedback_score(feedback_html(course, alice)) == (9.0, 11.0)
    assert feedback_score(feedback_html(course, bob)) == (0.0, 11.0)


def test_a_submission_in_another_learners_name_is_refused(course):
    alice, bob = course.learners
    log = course.collect.stdout + course.collect.stderr
    assert f"claims to be by {alice} but belongs to {bob}" in log
    # A's own submission was collected (she scored 9, the forged copy of B's lab would be 0),
    # and its time is when it arrived, not what a timestamp.txt claimed.
    stamp = (course.course / "grading" / "submitted" / alice / LAB / "timestamp.txt").read_text()
    assert not stamp.startswith(("2000", "2099")), stamp


def test_lms_exports_carry_the_run_scores(course):
    alice, bob = course.learners
    exports = course.course / "grading" / "exports"
    with (exports / "canvas.csv").open() as handle:
        canvas = list(csv.reader(handle))
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", LAB]
    assert canvas[1] == ["Points Possible", "", "", "", "", "11"]
    assert canvas[2] == ["Lovelace, Ada", "", "S001", alice, "A", "9"]
    assert canvas[3] == ["Turing, Alan", "", "S002", bob, "B", "0"]
    with (exports / "moodle.csv").open() as handle:
        moodle = list(csv.DictReader(handle))
    assert [(r["Email address"], r["ID number"], r["Username"], r[LAB]) for r in moodle] == [
        ("ada@example.org", "S001", alice, "9"),
        ("alan@example.org", "S002", bob, "0"),
    ]
    # A's written answer waits for the instructor: the export says so
    assert f"{alice}/{LAB}" in course.export.stdout


def test_a_learner_cannot_reach_another_through_the_hub(course):
    inst, alice, bob = course.instructor, *course.learners
    b = course.sessions[bob]
    own = f"api/contents/{LAB}/{LAB}.ipynb"
    assert b.server("GET", own).status_code == 200  # his own: yes
    for owner, path in [
        (alice, own),  # her notebook
        (alice, f"api/contents/{LAB}/feedback"),  # her feedback
        (alice, f"assignments?course_id={COURSE_ID}"),
        (inst, f"formgrader/api/submissions/{LAB}"),  # the instructor's formgrader
        (inst, "api/contents/solutions"),  # the instructor's source
    ]:
        status = b.server_of(owner, "GET", path).status_code
        assert status == 403, (owner, path, status)
    hub_status = b._client().get(f"hub/api/users/{alice}").status_code
    assert hub_status in (403, 404), hub_status


def test_a_learner_cannot_read_anothers_work_or_the_source_on_disk(course):
    inst, alice, bob = course.instructor, *course.learners
    course_id_dir = course.exchange / COURSE_ID
    theirs = submission_of(course, alice)
    feedback = [p for p in (course_id_dir / "feedback").iterdir() if p.suffix == ".html"]
    assert len(feedback) == 2, feedback
    alice_feedback = [p for p in feedback if p.stat().st_uid == _uid(alice)]
    assert len(alice_feedback) == 1
    secret_paths = [
        course_id_dir / "inbound",  # listing the class's submissions
        course_id_dir / "feedback",  # listing the class's feedback
        theirs / f"{LAB}.ipynb",  # A's submission, even knowing its exact name
        theirs / "submission_secret.txt",
        alice_feedback[0],  # A's feedback, even knowing its name
        Path(f"/home/{alice}") / LAB / f"{LAB}.ipynb",  # her working copy
        Path(f"/home/{alice}") / ".servelab" / "gateway-key",  # her key
        course.course / "solutions" / LAB / f"{LAB}.ipynb",  # the instructor's source
        course.course / "solutions" / LAB / "instructor_checks.py",
        course.course / "grading" / "gradebook.db",
        course.course / "grading" / "submitted",
        Path(f"/home/{inst}"),
    ]
    seen = course.probe(bob, secret_paths)
    assert all(v == "denied" for v in seen.values()), seen
    # The same paths exist and the owners can read them: the permissions, not a typo, stop B.
    assert course.probe(alice, [theirs / f"{LAB}.ipynb", alice_feedback[0]]) == {
        str(theirs / f"{LAB}.ipynb"): "read",
        str(alice_feedback[0]): "read",
    }
    # The instructor reads submissions through the inbound folder's group.
    assert set(
        course.probe(inst, [course_id_dir / "inbound", theirs / f"{LAB}.ipynb"]).values()
    ) == {"read"}


def _uid(name: str) -> int:
    import pwd

    return pwd.getpwnam(name).pw_uid


def test_grading_state_is_handed_back_to_the_instructor(course):
    """Root autograded; the instructor's formgrader can still open what it wrote."""
    grading = course.course / "grading"
    owners = {p.stat().st_uid for p in grading.rglob("*") if not p.is_symlink()}
    assert owners == {_uid(course.instructor)}, owners
    listed = course.sessions[course.instructor].server("GET", f"formgrader/api/submissions/{LAB}")
    rows = ok(listed, "formgrader submissions")
    assert {r["student"] for r in rows if r["submitted"]} == set(course.learners)


def test_learner_keys_are_hashed_scoped_and_found_by_the_notebook(course):
    alice, bob = course.learners
    text = course.keys_file.read_text()
    document = yaml.safe_load(text)
    store = KeyStore.load(
        course.keys_file,
        "production",
        {"public", "internal", "personal-eu", "special-category-eu", "restricted"},
    )
    found = {}
    for name in (alice, bob):
        # as the learner, the notebook's lookup finds the delivered key
        out = course.run_as(
            name,
            [
                str(course.python),
                "-c",
                "from servelab.course_server.learner import gateway_key; print(gateway_key())",
            ],
        )
        assert out.returncode == 0, out.stderr
        key = out.stdout.strip()
        assert key.startswith("sk-servelab-") and key not in text  # only its hash is stored
        api_key = store.authenticate(f"Bearer {key}")
        assert api_key.name == f"learner:{name}" and api_key.owner == name
        assert api_key.may_use("smollm2-135m-instruct")
        assert not api_key.may_use("openai/gpt-4o-mini")  # the paid real provider: not scoped
        assert api_key.requests_per_minute == 300
        found[name] = key
        path = Path(f"/home/{name}/.servelab/gateway-key")
        assert path.stat().st_mode & 0o777 == 0o600 and path.stat().st_uid == _uid(name)
    assert found[alice] != found[bob]
    assert {k["sha256"] for k in document["keys"]} == {hash_key(k) for k in found.values()}


def test_the_self_check_lists_unanswered_exercises_and_runs_visible_checks(course):
    alice, bob = course.learners
    solved, untouched = course.checks[alice], course.checks[bob]
    assert solved.returncode == 0, solved.stdout + solved.stderr
    assert "[PASS] (visible)" in solved.stdout and "[FAIL]" not in solved.stdout
    assert "every exercise answered, visible checks pass" in solved.stdout
    assert untouched.returncode == 1, untouched.stdout + untouched.stderr
    assert "4 of 4 exercises unanswered" in untouched.stdout


def test_the_formgraders_unsandboxed_autograde_is_refused(course):
    answer = course.formgrader_autograde
    assert answer["success"] is False, answer
    assert "sudo servelab grade autograde" in answer.get("error", "") + answer.get("log", "")
