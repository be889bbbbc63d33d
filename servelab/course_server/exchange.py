"""nbgrader's exchange between real users, with permissions that keep learners apart.

nbgrader's default exchange relies on names nobody can guess: the inbound folder is not
listable, each submission folder ends in a random string, each feedback file is named by a hash
of a secret only its learner holds. But the files themselves are readable by everyone, a learner
may submit under another learner's name (nbgrader's collect only logs a warning), and the
submission time is whatever the learner's own ``timestamp.txt`` says. The three steps below
change that, and nothing else; grading/nbgrader_config.py (instructor) and
deploy/jupyterhub/learner/nbgrader_config.py (learners) select them:

- ``PrivateSubmit``: a submission is readable by its learner and the instructor's group only;
- ``VerifiedCollect``: a submission whose folder does not belong to the learner it names is
  refused, and the submission time is the one the file system recorded, not the learner's claim;
- ``OwnedReleaseFeedback``: released as root, each feedback file belongs to its learner and is
  unreadable by the others.

``prepare`` makes the exchange folders with the modes nbgrader expects.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import pwd
import re
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.exchange.default.collect import ExchangeCollect
from nbgrader.exchange.default.release_feedback import ExchangeReleaseFeedback
from nbgrader.exchange.default.submit import ExchangeSubmit
from nbgrader.utils import ignore_patterns, notebook_hash

from servelab.grading.collect import TIMESTAMP
from servelab.grading.coursedir import STUDENT_ID

#: The exchange root: everyone may create entries (nbgrader checks for o+rwx), and the sticky bit
#: stops anyone from removing or renaming an entry they do not own (like /tmp).
ROOT_MODE = 0o1777
#: The course folder and its outbound folder: the instructor's, readable by all (nbgrader's 0755).
COURSE_MODE = 0o755
#: inbound: learners may create entries but not list them; setgid so each submission takes the
#: instructor's group (nbgrader's 2733).
INBOUND_MODE = 0o2733
#: feedback: not listable, files reachable by name (nbgrader's 0711).
FEEDBACK_MODE = 0o711
#: A submission: its learner and the instructor's group (which collects and deletes it).
SUBMISSION_DIR_MODE = 0o770
SUBMISSION_SUBDIR_MODE = 0o750
SUBMISSION_FILE_MODE = 0o640
#: A released feedback file, owned by its learner: they and the instructor's group may read it.
FEEDBACK_FILE_MODE = 0o440
#: nbgrader's timestamp format (nbgrader.utils.parse_utc reads it back).
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"


def prepare(root: Path, course_id: str, instructor: str) -> Path:
    """Create the exchange for ``course_id`` (as root): the course folder owned by ``instructor``.

    Pre-creating the course folder matters: in a world-writable root, the first user to create
    it owns it, and a learner who got there before the instructor's first release would own
    the inbound folder of the whole class.
    """
    user = pwd.getpwnam(instructor)
    root.mkdir(parents=True, exist_ok=True)
    os.chown(root, 0, 0)
    root.chmod(ROOT_MODE)
    course = root / course_id
    folders = [
        (course, COURSE_MODE),
        (course / "outbound", COURSE_MODE),
        (course / "inbound", INBOUND_MODE),
        (course / "feedback", FEEDBACK_MODE),
    ]
    for path, mode in folders:
        if path.is_symlink():
            raise ValueError(f"{path} is a symbolic link: refusing to use it")
        path.mkdir(exist_ok=True)
        os.chown(path, user.pw_uid, user.pw_gid)
        path.chmod(mode)  # after chown: chown clears the setgid bit
    return course


def _tighten(path: str) -> None:
    """A submission folder: files 0640, folders 0750, the top folder 0770 (group may delete)."""
    for folder, dirs, files in os.walk(path):
        for name in files:
            full = os.path.join(folder, name)
            if not os.path.islink(full):
                os.chmod(full, SUBMISSION_FILE_MODE)
        for name in dirs:
            full = os.path.join(folder, name)
            if not os.path.islink(full):
                os.chmod(full, SUBMISSION_SUBDIR_MODE)
    os.chmod(path, SUBMISSION_DIR_MODE)


class PrivateSubmit(ExchangeSubmit):
    """nbgrader's submit, then the submission made private to its learner and the instructor.

    nbgrader leaves a submission world-readable (files 0644, folder 0777) and counts on its
    random name; here other learners cannot read it even knowing the name.
    """

    def do_copy(self, src: str, dest: str, log: Any = None) -> None:
        """Copy into the inbound folder without ``copytree``'s final ``copystat``.

        That copystat gives the new folder the learner's folder's mode, which clears the
        setgid bit the inbound folder passed on; the files nbgrader writes next
        (timestamp.txt, submission_secret.txt) would then take the learner's group, and the
        instructor could not read them.
        """
        if os.path.dirname(dest) != self.inbound_path:
            super().do_copy(src, dest, log)  # the learner's own cache copy
            return
        if self.get_size(src) > 1000 * self.coursedir.max_dir_size:
            raise RuntimeError(f"Directory size is too big: {src}")
        ignore = ignore_patterns(
            exclude=self.coursedir.ignore,
            include=self.coursedir.include,
            max_file_size=self.coursedir.max_file_size,
            log=self.log,
        )
        os.mkdir(dest)  # in the setgid inbound folder: the instructor's group, setgid kept
        for folder, dirs, files in os.walk(src):
            skipped = ignore(folder, dirs + files)
            dirs[:] = [
                d for d in dirs if d not in skipped and not os.path.islink(os.path.join(folder, d))
            ]
            target = os.path.join(dest, os.path.relpath(folder, src))
            for name in dirs:
                os.mkdir(os.path.join(target, name))
            for name in files:
                path = os.path.join(folder, name)
                if name not in skipped and not os.path.islink(path):
                    shutil.copyfile(path, os.path.join(target, name))

    def copy_files(self) -> None:
        super().copy_files()
        _tighten(os.path.join(self.inbound_path, self.assignment_filename))


def received_at(path: str) -> dt.datetime:
    """When a submission arrived: the newest status-change time (ctime) of its files.

    A learner can set a file's modification time (``touch -d``) and writes the folder name and
    timestamp.txt themselves, but cannot move a ctime backwards: any change of theirs only
    makes the submission later.
    """
    times = [os.lstat(path).st_ctime]
    for folder, _dirs, files in os.walk(path):
        times += [os.lstat(os.path.join(folder, name)).st_ctime for name in files]
    return dt.datetime.fromtimestamp(max(times), dt.UTC).replace(tzinfo=None)


def owner_name(path: str) -> str:
    """The user name owning ``path`` ("uid N" when it has no passwd entry)."""
    uid = os.lstat(path).st_uid
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


class VerifiedCollect(ExchangeCollect):
    """nbgrader's collect, minus submissions made in another learner's name.

    A submission folder is ``<student>+<lab>+<time>+<random>``, all chosen by whoever submits.
    Only a folder owned by ``<student>`` (or by the collecting user itself) is collected; the
    others are logged as refused and listed in ``refused``. Among a learner's own submissions
    the newest by arrival time (``received_at``) wins, and that time replaces the learner's
    ``timestamp.txt`` in the collected copy.
    """

    def init_src(self) -> None:
        if self.coursedir.course_id == "":
            self.fail("No course id specified. Re-run with --course flag.")
        self.course_path = os.path.join(self.root, self.coursedir.course_id)
        self.inbound_path = os.path.join(self.course_path, "inbound")
        if not os.path.isdir(self.inbound_path):
            self.fail(f"Course not found: {self.inbound_path}")
        if not os.access(self.inbound_path, os.R_OK | os.X_OK):
            self.fail(f"You don't have read permissions for the directory: {self.inbound_path}")
        student_id = self.coursedir.student_id or "*"
        pattern = os.path.join(
            self.inbound_path,
            f"{glob.escape(student_id) if student_id != '*' else '*'}"
            f"+{glob.escape(self.coursedir.assignment_id)}+*",
        )
        me = pwd.getpwuid(os.geteuid()).pw_name
        self.refused: list[str] = []
        by_student: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for path in sorted(glob.glob(pattern)):
            name = os.path.basename(path)
            student = name.split("+", 1)[0]
            owner = owner_name(path)
            problem = ""
            if os.path.islink(path) or not os.path.isdir(path):
                problem = "not a folder"
            elif not STUDENT_ID.match(student):
                problem = "not a valid student id"
            elif owner not in (student, me):
                problem = f"claims to be by {student} but belongs to {owner}"
            if problem:
                self.log.error("Refusing %s: %s", name, problem)
                self.refused.append(f"{name}: {problem}")
                continue
            by_student[student].append(
                {"username": student, "filename": name, "timestamp": received_at(path)}
            )
        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gb:
            try:
                self.duedate = gb.find_assignment(self.coursedir.assignment_id).duedate
            except MissingEntry:
                self.duedate = None
        self.src_records = []
        for records in by_student.values():
            records.sort(key=lambda r: r["timestamp"], reverse=True)
            if self.duedate is not None and self.before_duedate:
                on_time = [r for r in records if r["timestamp"] <= self.duedate]
                records = on_time or records
            self.src_records.append(records[0])

    def copy_files(self) -> None:
        super().copy_files()
        for rec in self.src_records:
            dest = Path(
                self.coursedir.format_path(
                    self.coursedir.submitted_directory,
                    rec["username"],
                    self.coursedir.assignment_id,
                )
            )
            if dest.is_dir():
                (dest / TIMESTAMP).write_text(rec["timestamp"].strftime(TIMESTAMP_FORMAT))


class OwnedReleaseFeedback(ExchangeReleaseFeedback):
    """nbgrader's release of feedback; run as root, each file then belongs to its learner.

    nbgrader writes feedback readable by everyone, under a name only its learner can compute.
    As root this also gives the file to the learner (mode 0440, the feedback folder's group), so
    another learner cannot read it even with its name. Run by a user who is not root, it does
    what nbgrader does and says that the name is the only protection.
    """

    def init_dest(self) -> None:
        if self.coursedir.course_id == "":
            self.fail("No course id specified. Re-run with --course flag.")
        self.course_path = os.path.join(self.root, self.coursedir.course_id)
        self.outbound_feedback_path = self.dest_path = os.path.join(self.course_path, "feedback")
        if os.geteuid() != 0:
            super().init_dest()
            self.log.warning(
                "releasing feedback as a user who is not root: each file is protected only by "
                "its unguessable name (run `sudo servelab grade feedback --release` to give "
                "each file to its learner)"
            )
        elif not os.path.isdir(self.dest_path):
            self.fail(f"{self.dest_path} does not exist: run `servelab course server setup`")

    def copy_files(self) -> None:
        exclude = set(filter(None, (self.coursedir.student_id_exclude or "").split(",")))
        pattern = re.escape(os.path.sep).join(
            [
                self.coursedir.format_path(
                    self.coursedir.feedback_directory,
                    "(?P<student_id>.*)",
                    self.coursedir.assignment_id,
                    escape=True,
                ),
                "(?P<notebook_id>.*).html",
            ]
        )
        group = os.stat(self.dest_path).st_gid
        for html_file in glob.glob(os.path.join(self.src_path, "*.html")):
            match = re.match(pattern, html_file)
            if match is None:
                self.log.error("Could not match %r with %r", html_file, pattern)
                continue
            student_id, notebook_id = match.group("student_id"), match.group("notebook_id")
            if student_id in exclude:
                continue
            folder = os.path.dirname(html_file)
            with open(os.path.join(folder, "submission_secret.txt")) as handle:
                secret = handle.read()
            checksum = notebook_hash(secret=secret, notebook_id=notebook_id)
            tmp = os.path.join(self.dest_path, f"{checksum}-tmp.html")
            shutil.copy(html_file, tmp)
            if os.geteuid() == 0:
                try:
                    uid = pwd.getpwnam(student_id).pw_uid
                except KeyError:
                    os.unlink(tmp)
                    self.log.error("No user %r on this machine: feedback not released", student_id)
                    continue
                os.chown(tmp, uid, group)
                os.chmod(tmp, FEEDBACK_FILE_MODE)
            shutil.move(tmp, os.path.join(self.dest_path, f"{checksum}.html"))
            self.log.info(
                "Released feedback for %r on %s/%s",
                student_id,
                self.coursedir.assignment_id,
                notebook_id,
            )


def release_feedback(course: Any, lab: str) -> dict[str, Any]:
    """Release the feedback of ``lab`` through the exchange (nbgrader's API, this module's step)."""
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    api = NbGraderAPI(coursedir=CourseDirectory(config=course.config), config=course.config)
    return api.release_feedback(lab)
