"""nbgrader configuration of the servelab course.

nbgrader reads config only from the current directory or JUPYTER_CONFIG_PATH (its --config flag
is ignored), so the Makefile and `servelab course` export JUPYTER_CONFIG_PATH=<repo>/grading.
The course root is the repository: solutions/ is the source, labs/ the release; everything an
instructor's grading produces stays under grading/ and is gitignored.
"""

import os
from pathlib import Path

c = get_config()  # noqa: F821  (injected by traitlets when it loads this file)

ROOT = Path(os.environ.get("SERVELAB_COURSE_ROOT", Path(__file__).resolve().parent.parent))
GRADING = Path(os.environ.get("SERVELAB_GRADING_DIR", ROOT / "grading"))

c.CourseDirectory.course_id = "servelab"
c.CourseDirectory.root = str(ROOT)
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "labs"
c.CourseDirectory.submitted_directory = os.path.relpath(GRADING / "submitted", ROOT)
c.CourseDirectory.autograded_directory = os.path.relpath(GRADING / "autograded", ROOT)
c.CourseDirectory.feedback_directory = os.path.relpath(GRADING / "feedback", ROOT)
c.CourseDirectory.db_url = f"sqlite:///{GRADING / 'gradebook.db'}"
# generate_assignment copies every non-notebook file of a source folder into the release;
# instructor-only files are named so they never reach learners.
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints",
    "*.pyc",
    "__pycache__",
    "feedback",
    "*.instructor.*",
    "instructor_*",
]
# A lab reads recorded data and calls a local stack; 120 s per cell is a generous ceiling
# (Execute.timeout wins over ExecutePreprocessor.timeout when both are set).
c.Execute.timeout = 120
# Feedback never shows hidden tests (nbgrader shows them unless ClearHiddenTests runs, and a
# failing hidden test's traceback quotes its lines) and never runs a learner's markup: the
# steps are servelab.grading.feedback.FEEDBACK_STEPS, kept in that one place.
from servelab.grading.feedback import FEEDBACK_STEPS  # noqa: E402

c.GenerateFeedback.preprocessors = FEEDBACK_STEPS
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
# nbgrader's exchange (JupyterHub course server, docs/course-server.md); SERVELAB_EXCHANGE_DIR
# moves it. Its steps keep learners apart: no submitting in another's name, submissions and
# feedback readable by their own learner only (servelab/course_server/exchange.py).
c.Exchange.root = os.environ.get("SERVELAB_EXCHANGE_DIR", "/srv/nbgrader/exchange")
c.ExchangeFactory.submit = "servelab.course_server.exchange.PrivateSubmit"
c.ExchangeFactory.collect = "servelab.course_server.exchange.VerifiedCollect"
c.ExchangeFactory.release_feedback = "servelab.course_server.exchange.OwnedReleaseFeedback"
# nbgrader's own autograde (the formgrader's Autograde button, `nbgrader autograde`) would run
# learners' code unsandboxed as the instructor: it refuses, naming `servelab grade autograde`,
# whose sandboxed steps it lets through (servelab/course_server/unsandboxed.py).
c.Autograde.exporter_class = "servelab.course_server.unsandboxed.SandboxOnlyExporter"
