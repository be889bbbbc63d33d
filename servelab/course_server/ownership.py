"""Grading state handed back to the instructor after a step that had to run as root.

On a course server the instructor owns the course (solutions/, grading/): their formgrader reads
the gradebook and the graded notebooks. Autograding needs root (the sandbox switches uid and
makes namespaces), so `sudo servelab grade ...` leaves new files owned by root, private (0600 /
0700), which the instructor's formgrader could then no longer open. After each such step the
grading folder is given back to its owner, the user who owns it. On a laptop, where root owns
everything, nothing changes.
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path

from servelab.grading.coursedir import Course


def course_owner(grading: Path) -> tuple[int, int] | None:
    """(uid, gid) of the grading folder's owner, or None when root owns it (nothing to do)."""
    try:
        st = grading.stat()
    except FileNotFoundError:
        return None
    return None if st.st_uid == 0 else (st.st_uid, st.st_gid)


def hand_back(grading: Path) -> int:
    """Give everything under ``grading`` to the folder's owner (as root); returns files changed.

    Symbolic links are changed themselves, never followed (``lchown``), so a link planted in
    the folder cannot hand a system file to the instructor.
    """
    owner = course_owner(grading)
    if os.geteuid() != 0 or owner is None:
        return 0
    uid, gid = owner
    changed = 0
    for folder, dirs, files in os.walk(grading):
        for name in dirs + files:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            if (st.st_uid, st.st_gid) != (uid, gid):
                os.lchown(path, uid, gid)
                changed += 1
    return changed


def give_course(course: Course, instructor: str) -> None:
    """Make the instructor the owner of the course's source and grading state, private to them.

    Learners must not read solutions/ (the hidden tests, instructor_checks.py) or grading/
    (the gradebook, everyone's submissions): both become the instructor's, mode 0700. labs/
    (the release) stays readable and becomes theirs too, so the formgrader can regenerate it.
    """
    user = pwd.getpwnam(instructor)
    for top in (course.source, course.grading):
        top.mkdir(parents=True, exist_ok=True)
        for folder, dirs, files in os.walk(top):
            for name in dirs + files:
                os.lchown(os.path.join(folder, name), user.pw_uid, user.pw_gid)
        os.chown(top, user.pw_uid, user.pw_gid)
        top.chmod(0o700)
    release = course.release
    if release.is_dir():
        for folder, dirs, files in os.walk(release):
            for name in dirs + files:
                os.lchown(os.path.join(folder, name), user.pw_uid, user.pw_gid)
        os.chown(release, user.pw_uid, user.pw_gid)
