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
# Feedback never shows hidden tests: nbgrader shows them unless ClearHiddenTests runs, and even
# then a failing hidden test's traceback quotes its lines, which RedactHiddenTests removes.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "servelab.grading.feedback.RedactHiddenTests",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
