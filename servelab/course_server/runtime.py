"""The Python that learners' and instructors' servers run: one every account can execute.

JupyterHub starts each person's server as that person's uid, so the course's interpreter and
packages must be readable by every account. A checkout set up with a Python under a private
folder (pyenv in /root, mode 0700, as on the development machine) is not: the servers would fail
with "Permission denied". Rather than opening /root, ``learner_python`` then builds a small
runtime: a virtual environment made from a system Python of the same version (e.g.
/usr/bin/python3.11) whose only content is a ``.pth`` line adding the course's site-packages.
Same packages, same versions, an interpreter everyone may run. The cleaner fix on a server is to
set servelab up with a system Python in the first place (``PYTHON=/usr/bin/python3.11 make
setup``); then ``learner_python`` returns the course's own interpreter.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import sysconfig
from pathlib import Path

PTH_NAME = "servelab-course.pth"
#: Console scripts the servers run from PATH (nbgrader runs `alembic` to create a gradebook),
#: written into the runtime as wrappers: the course's own scripts start the private Python.
SCRIPTS = {"alembic": "alembic.config:main", "jupyter": "jupyter_core.command:main"}


def reachable_by_others(path: Path) -> bool:
    """Can an account that is neither owner nor in the group read/run ``path``?

    Every folder on the way (symbolic links resolved) needs o+x, the file itself o+r (and o+x
    when it is a program).
    """
    target = path.resolve()
    try:
        mode = target.stat().st_mode
    except OSError:
        return False
    need = stat.S_IROTH | (stat.S_IXOTH if (target.is_dir() or mode & stat.S_IXUSR) else 0)
    if mode & need != need:
        return False
    return all(p.stat().st_mode & stat.S_IXOTH for p in target.parents)


def same_version_pythons() -> list[Path]:
    """System interpreters of this Python's major.minor version, in the usual places."""
    name = f"python{sys.version_info.major}.{sys.version_info.minor}"
    found = [Path(folder) / name for folder in ("/usr/bin", "/usr/local/bin", "/opt/python/bin")]
    on_path = shutil.which(name)
    if on_path:
        found.append(Path(on_path))
    return [p for p in dict.fromkeys(found) if p.exists() and reachable_by_others(p)]


def learner_python(runtime_dir: Path) -> Path:
    """An interpreter every account can run, with the course's packages importable.

    The course's own interpreter when it is reachable; else a runtime in ``runtime_dir``
    (rebuilt when it points elsewhere). Raises RuntimeError saying what to do when neither the
    course's packages nor a same-version system Python are reachable by other accounts.
    """
    own = Path(sys.executable)
    if reachable_by_others(own):
        return own
    site_packages = Path(sysconfig.get_paths()["purelib"])
    if not reachable_by_others(site_packages):
        raise RuntimeError(
            f"the course's packages ({site_packages}) are not readable by other accounts: put "
            "the servelab checkout where every account can read it (e.g. /srv/servelab)"
        )
    candidates = same_version_pythons()
    if not candidates:
        raise RuntimeError(
            f"the course's Python ({own.resolve()}) cannot be run by other accounts and there is "
            f"no system python{sys.version_info.major}.{sys.version_info.minor} to build a "
            "runtime from: set servelab up with a Python every account can run "
            "(PYTHON=/usr/bin/python3.X make setup)"
        )
    python = runtime_dir / "bin" / "python"
    line = f"import site; site.addsitedir({str(site_packages)!r})\n"
    pth = runtime_dir / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    pth = pth / "site-packages" / PTH_NAME
    if not (
        python.exists()
        and pth.exists()
        and pth.read_text() == line
        and (runtime_dir / "share" / "jupyter").exists()
    ):
        shutil.rmtree(runtime_dir, ignore_errors=True)
        subprocess.run(
            [str(candidates[0]), "-m", "venv", "--without-pip", str(runtime_dir)],
            check=True,
            capture_output=True,
        )
        pth.write_text(line)
        # Jupyter finds server extensions, JupyterLab's assets and kernel specs under
        # sys.prefix: the runtime's prefix shows the course's.
        for part in ("etc/jupyter", "share/jupyter"):
            link = runtime_dir / part
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(Path(sys.prefix) / part)
        for name, target in SCRIPTS.items():
            module, func = target.split(":")
            script = runtime_dir / "bin" / name
            script.write_text(
                f"#!{python}\nimport sys\nfrom {module} import {func}\nsys.exit({func}())\n"
            )
            script.chmod(0o755)
    for folder in [runtime_dir, *runtime_dir.parents]:
        if folder == Path(folder.anchor):
            break
        if not folder.stat().st_mode & stat.S_IXOTH:
            raise RuntimeError(f"{folder} is not reachable by other accounts (needs o+x)")
    os.chmod(runtime_dir, 0o755)
    return python
