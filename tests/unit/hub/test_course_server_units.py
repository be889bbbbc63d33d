"""The course server's parts, in process: roster, learner keys, the notebook's key lookup, LMS
grade files, the exchange's collection rules, the self-check's reading of a notebook, and the
hub configuration. tests/integration/hub runs them together on a real JupyterHub."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from pathlib import Path

import nbformat
import pytest
import yaml

from reference_stack.gateway.auth import KeyStore, hash_key
from reference_stack.gateway.settings import LOCAL_LEARNER_KEY
from servelab.course_server import keys, learner
from servelab.course_server.exchange import owner_name, received_at
from servelab.course_server.hub import HubSettings, learner_args, server_environment
from servelab.course_server.roster import Learner, RosterError, read_roster
from servelab.course_server.selfcheck import exercises, summary
from servelab.grading.export import lms_table
from servelab_base.paths import LABS

DATA_CLASSES = {"public", "internal", "personal-eu", "special-category-eu", "restricted"}


def roster_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "roster.csv"
    path.write_text(text)
    return path


# --- roster -----------------------------------------------------------------------------------
def test_roster_reads_names_ids_and_quotas(tmp_path):
    path = roster_file(
        tmp_path,
        "\ufeffusername,first_name,last_name,email,student_number,tokens_per_minute\n"
        "ada,Ada,Lovelace,ada@example.org,S1,5000\n\n"
        "alan,,,,,\n",
    )
    ada, alan = read_roster(path)
    assert (ada.username, ada.sortable_name, ada.tokens_per_minute) == (
        "ada",
        "Lovelace, Ada",
        5000,
    )
    assert (alan.sortable_name, alan.requests_per_minute) == ("alan", None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name\nada\n", "no 'username' column"),
        ("username,shoe_size\nada,42\n", "unknown columns ['shoe_size']"),
        ("username\nAda\n", "line 2: username 'Ada' is not a valid login"),
        ("username\n../etc\n", "line 2: username '../etc'"),
        ("username\nada\nada\n", "line 3: username 'ada' repeats line 2"),
        ("username,requests_per_minute\nada,0\n", "line 2: requests_per_minute must be"),
        ("username,requests_per_minute\nada,lots\n", "line 2: requests_per_minute must be"),
        ("username\n", "no learners"),
    ],
)
def test_a_bad_roster_is_refused_whole_with_the_line(tmp_path, text, message):
    with pytest.raises(RosterError, match=message.replace("[", r"\[").replace("(", r"\(")):
        read_roster(roster_file(tmp_path, text))


def test_every_problem_of_a_roster_is_reported_at_once(tmp_path):
    with pytest.raises(RosterError) as err:
        read_roster(roster_file(tmp_path, "username\nAda\nada\nada\nBob\n"))
    assert "line 2" in str(err.value) and "line 4" in str(err.value) and "line 5" in str(err.value)


# --- keys -------------------------------------------------------------------------------------
def issue(tmp_path, learners, **kwargs):
    kwargs.setdefault("to_homes", False)
    kwargs.setdefault("plaintext_csv", tmp_path / "handout.csv")
    return keys.issue(learners, tmp_path / "keys.yaml", **kwargs)


def handout(tmp_path) -> dict[str, str]:
    with (tmp_path / "handout.csv").open() as f:
        return {row["username"]: row["key"] for row in csv.DictReader(f)}


def test_keys_file_holds_hashes_scoped_to_the_labs_models_with_quotas(tmp_path):
    issued = issue(tmp_path, [Learner("ada"), Learner("alan", requests_per_minute=10)])
    assert issued.new == ["ada", "alan"] and not issued.kept
    plain = handout(tmp_path)
    text = (tmp_path / "keys.yaml").read_text()
    assert not any(k in text for k in plain.values())  # hashes only
    assert (tmp_path / "keys.yaml").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "handout.csv").stat().st_mode & 0o777 == 0o600
    store = KeyStore.load(tmp_path / "keys.yaml", "production", DATA_CLASSES)
    ada = store.authenticate(f"Bearer {plain['ada']}")
    alan = store.authenticate(f"Bearer {plain['alan']}")
    assert (ada.name, ada.owner, ada.kind) == ("learner:ada", "ada", "learner")
    assert ada.requests_per_minute == keys.CLASS_REQUESTS_PER_MINUTE
    assert alan.requests_per_minute == 10  # the roster's own quota wins
    assert ada.tokens_per_minute == keys.CLASS_TOKENS_PER_MINUTE
    assert ada.models == keys.course_models()
    assert ada.may_use("smollm2-135m-instruct") and ada.may_use("gpt-4o-mini-eu")
    assert not ada.may_use("openai/gpt-4o-mini")  # starts at the paid, optional upstream
    assert ada.data_class_for(None) == "public"


def test_issuing_again_keeps_rotates_and_revokes(tmp_path):
    issue(tmp_path, [Learner("ada"), Learner("alan")])
    first = handout(tmp_path)
    other = {
        "name": "admin",
        "owner": "instructor",
        "kind": "team",
        "sha256": hash_key("sk-x"),
        "data_classes": ["public"],
    }
    doc = yaml.safe_load((tmp_path / "keys.yaml").read_text())
    doc["keys"].append(other)
    (tmp_path / "keys.yaml").write_text(yaml.safe_dump(doc))
    (tmp_path / "handout.csv").unlink()
    issued = issue(tmp_path, [Learner("ada"), Learner("grace")], rotate={"ada"})
    assert (issued.new, issued.kept, issued.revoked) == (["ada", "grace"], [], ["alan"])
    second = handout(tmp_path)
    assert second["ada"] != first["ada"]
    store = KeyStore.load(tmp_path / "keys.yaml", "production", DATA_CLASSES)
    assert store.authenticate(f"Bearer {second['ada']}").owner == "ada"
    assert store.authenticate("Bearer sk-x").name == "admin"  # not a learner key: kept
    for revoked in (first["ada"], first["alan"]):
        with pytest.raises(Exception, match="Incorrect API key"):
            store.authenticate(f"Bearer {revoked}")
    (tmp_path / "handout.csv").unlink()
    again = issue(tmp_path, [Learner("ada"), Learner("grace")])
    assert (again.new, again.kept) == ([], ["ada", "grace"])
    assert not (tmp_path / "handout.csv").exists()  # nothing new to hand out


def test_a_key_that_would_reach_nobody_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(keys.KeyIssueError, match="no account on this machine for nobody-here"):
        keys.issue([Learner("nobody-here")], tmp_path / "keys.yaml", to_homes=True)
    assert not (tmp_path / "keys.yaml").exists()
    with pytest.raises(keys.KeyIssueError, match="--rotate names learners not on the roster"):
        issue(tmp_path, [Learner("ada")], rotate={"alan"})


def test_a_broken_keys_file_stops_issuing_and_is_left_as_it_was(tmp_path):
    (tmp_path / "keys.yaml").write_text("keys: [not, a, key]\n")
    with pytest.raises(keys.KeyIssueError, match="cannot be read"):
        issue(tmp_path, [Learner("ada")])
    assert (tmp_path / "keys.yaml").read_text() == "keys: [not, a, key]\n"


def test_the_notebook_finds_its_key_env_then_file_then_the_local_key(tmp_path, monkeypatch):
    monkeypatch.setattr(Path, "home", lambda: tmp_path)
    monkeypatch.delenv(learner.KEY_ENV, raising=False)
    assert learner.gateway_key() == LOCAL_LEARNER_KEY
    (tmp_path / ".servelab").mkdir()
    (tmp_path / ".servelab" / "gateway-key").write_text("sk-servelab-mine\n")
    assert learner.gateway_key() == "sk-servelab-mine"
    monkeypatch.setenv(learner.KEY_ENV, "sk-servelab-from-env")
    assert learner.gateway_key() == "sk-servelab-from-env"
    monkeypatch.delenv(learner.KEY_ENV)
    (tmp_path / ".servelab" / "gateway-key").write_text("\n")
    with pytest.raises(ValueError, match="is empty"):
        learner.gateway_key()


# --- LMS files --------------------------------------------------------------------------------
STUDENTS = [
    {"student": "ada", "lab": "00_x", "score": 9.0},
    {"student": "alan", "lab": "00_x", "score": 0.0},
    {"student": "ada", "lab": "01_y", "score": 7.5},
    {"student": "walk-in", "lab": "00_x", "score": 3.0},
]
POINTS = {"00_x": 11.0, "01_y": 10.0}
ROSTER = [
    Learner("alan", "Alan", "Turing", "alan@example.org", "S2", "42", "B"),
    Learner("ada", "Ada", "Lovelace", "ada@example.org", "S1", "", "A"),
]


def test_canvas_table_has_canvas_identity_points_and_one_column_per_lab():
    table = lms_table("canvas", STUDENTS, POINTS, ROSTER, canvas_ids={"01_y": "777"})
    assert table[0] == [
        "Student",
        "ID",
        "SIS User ID",
        "SIS Login ID",
        "Section",
        "00_x",
        "01_y (777)",
    ]
    assert table[1] == ["Points Possible", "", "", "", "", "11", "10"]
    # roster order first; a learner missing a lab gets a blank (Canvas leaves it ungraded)
    assert table[2] == ["Turing, Alan", "42", "S2", "alan", "B", "0", ""]
    assert table[3] == ["Lovelace, Ada", "", "S1", "ada", "A", "9", "7.5"]
    assert table[4] == ["walk-in", "", "", "walk-in", "", "3", ""]  # graded, not on the roster


def test_moodle_table_has_its_user_fields_and_no_points_row():
    table = lms_table("moodle", STUDENTS, POINTS, ROSTER, missing="0")
    assert table[0] == [
        "First name", "Last name", "ID number", "Email address", "Username", "00_x", "01_y",
    ]  # fmt: skip
    assert table[1] == ["Alan", "Turing", "S2", "alan@example.org", "alan", "0", "0"]
    assert table[2] == ["Ada", "Lovelace", "S1", "ada@example.org", "ada", "9", "7.5"]
    out = io.StringIO()
    csv.writer(out).writerows(table)
    assert list(csv.reader(io.StringIO(out.getvalue()))) == table  # round-trips as CSV


def test_an_unknown_lms_is_refused():
    with pytest.raises(ValueError, match="unknown LMS format 'blackboard'"):
        lms_table("blackboard", STUDENTS, POINTS)


# --- exchange ---------------------------------------------------------------------------------
def test_arrival_time_is_the_newest_ctime_not_a_claimed_mtime(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "nb.ipynb").write_text("{}")
    os.utime(sub / "nb.ipynb", (0, 0))  # a learner can backdate mtime...
    arrived = received_at(str(sub))
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert abs((now - arrived).total_seconds()) < 60  # ...but not the ctime


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_owner_of_a_folder_is_its_passwd_name(tmp_path):
    folder = tmp_path / "x"
    folder.mkdir()
    os.chown(folder, 65534, 65534)
    assert owner_name(str(folder)) == "nobody"
    os.chown(folder, 4_000_123, 0)
    assert owner_name(str(folder)) == "uid 4000123"


# --- self-check -------------------------------------------------------------------------------
def test_self_check_groups_answers_with_their_tests_and_finds_unanswered():
    nb = nbformat.read(LABS / "00_inference_path" / "00_inference_path.ipynb", as_version=4)
    found = exercises(nb)
    assert [(e.grade_id, e.answers, e.manual) for e in found] == [
        ("ex1_tests", ["ex1_solution"], False),
        ("ex2_tests", ["ex2_solution"], False),
        ("ex3_tests", ["ex3_solution"], False),
        ("reflection", ["reflection"], True),
    ]
    assert all(not e.answered for e in found)
    answer = next(
        c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "ex2_solution"
    )
    answer.source = "def over_budget(stages):\n    return []\n"
    again = exercises(nb)
    assert [e.answered for e in again] == [False, True, False, False]
    text = summary(Path("lab.ipynb"), again)
    assert "3 of 4 exercises unanswered: ['ex1_tests', 'ex3_tests', 'reflection']" in text


# --- hub configuration ------------------------------------------------------------------------
def test_learner_and_instructor_servers_get_their_own_nbgrader_config(tmp_path):
    settings = HubSettings(course_root=tmp_path / "course", exchange_dir=tmp_path / "ex")
    python = Path("/opt/py/bin/python")
    mine = server_environment(settings, instructor=False, python=python)
    theirs = server_environment(settings, instructor=True, python=python)
    assert mine["JUPYTER_CONFIG_PATH"].endswith("deploy/jupyterhub/learner")
    assert "SERVELAB_COURSE_ROOT" not in mine  # a learner's server knows nothing of the course
    assert theirs["SERVELAB_COURSE_ROOT"] == str(tmp_path / "course")
    assert theirs["JUPYTER_CONFIG_PATH"].endswith("grading")
    assert mine["SERVELAB_EXCHANGE_DIR"] == theirs["SERVELAB_EXCHANGE_DIR"] == str(tmp_path / "ex")
    assert mine["PATH"].startswith("/opt/py/bin:")
    assert "--ServerApp.jpserver_extensions=nbgrader.server_extensions.formgrader=False" in (
        learner_args()
    )


def test_the_learner_nbgrader_config_selects_the_private_submit(tmp_path, monkeypatch):
    from traitlets.config.loader import PyFileConfigLoader

    monkeypatch.setenv("SERVELAB_EXCHANGE_DIR", str(tmp_path))
    folder = Path(__file__).resolve().parents[3] / "deploy" / "jupyterhub" / "learner"
    config = PyFileConfigLoader("nbgrader_config.py", path=str(folder)).load_config()
    assert config.Exchange.root == str(tmp_path)
    assert config.ExchangeFactory.submit == "servelab.course_server.exchange.PrivateSubmit"
    assert config.CourseDirectory.course_id == "servelab"


def test_nbgraders_own_autograde_is_refused_but_servelabs_sandboxed_one_is_not(tmp_path):
    from nbgrader.converters import Autograde
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    from servelab.course_server.unsandboxed import SandboxOnlyExporter
    from servelab.grading.autograde import AUTOGRADE_STEPS
    from servelab_base.paths import GRADING

    course = PyFileConfigLoader("nbgrader_config.py", path=str(GRADING)).load_config()
    course.CourseDirectory.root = str(tmp_path)

    def exporter(config: Config):
        app = Autograde(coursedir=CourseDirectory(config=config), config=config)
        return app.exporter_class(parent=app, config=app.config)  # what start() does first

    with pytest.raises(RuntimeError, match="sudo servelab grade autograde"):
        exporter(course)  # the formgrader's button: nbgrader's default, unsandboxed steps
    # servelab's worker merges its own steps over the course config (autograde.py)
    merged = Config(course)
    merged.merge(Config({"Autograde": {"autograde_preprocessors": AUTOGRADE_STEPS}}))
    assert isinstance(exporter(merged), SandboxOnlyExporter)


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_exchange_folders_have_nbgraders_modes_and_the_instructor_owns_the_course(tmp_path):
    from servelab.course_server import exchange

    course = exchange.prepare(tmp_path / "exchange", "servelab", "nobody")
    modes = {
        p.name: (p.stat().st_mode & 0o7777, p.stat().st_uid) for p in [course, *course.iterdir()]
    }
    assert modes == {
        "servelab": (0o755, 65534),
        "outbound": (0o755, 65534),
        "inbound": (0o2733, 65534),  # learners may add, not list; setgid: instructor's group
        "feedback": (0o711, 65534),
    }
    assert (tmp_path / "exchange").stat().st_mode & 0o7777 == 0o1777  # sticky, like /tmp


def test_the_hub_lets_the_roster_and_the_instructors_in(tmp_path, monkeypatch):
    from traitlets.config import Config

    from servelab.course_server import hub

    monkeypatch.setattr(hub, "learner_python", lambda runtime: Path("/usr/bin/python3"))
    roster = roster_file(tmp_path, "username\nada\nalan\n")
    settings = HubSettings(
        state_dir=tmp_path / "state", instructors="grace", admins="ops", roster=roster
    )
    c = Config()
    hub.configure(c, settings)
    assert c.Authenticator.allowed_users == {"grace", "ada", "alan"}
    assert c.Authenticator.admin_users == {"ops"}
    assert c.LocalAuthenticator.add_user_cmd[:4] == [
        "useradd",
        "--create-home",
        "--key",
        "HOME_MODE=0700",
    ]
    assert c.Spawner.cmd == ["/usr/bin/python3", "-m", "jupyterhub.singleuser"]
    assert (tmp_path / "state").stat().st_mode & 0o777 == 0o700
