"""Every path the repository cites must be in the repository.

The scanner reads the text files git would ship (tracked, or new and not ignored): code,
Markdown, YAML, shell, TOML, the Makefile and the sources of notebook cells. In them it finds

- path-like tokens: ``dir/file.ext`` whose first folder is a top-level folder of the repository
  or whose name ends in a known extension, with an optional ``#anchor`` (``docs/metrics.md#itl``);
- relative Markdown links, ``[text](../y.md)``, resolved against the linking file's folder;
- globs such as ``datasets/prompts/*.jsonl``, which must match at least one file;
- dotted module paths of the project's packages (``servelab.bench.floors``);
- any mention of the design notes that live outside the repository (``METRICS.md`` and its
  siblings, ``../shared``, ``/work/``).

A path token resolves when it names a file or folder of the repository, counted from the root or
from the citing file's folder; an anchor must match a heading of the Markdown file it points
into. ``dangling(root)`` returns one line per reference that does not resolve.
"""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

from servelab_base.paths import ROOT

#: Suffixes of the text files scanned for paths (plus the Makefile).
SCANNED = (".py", ".md", ".yaml", ".yml", ".sh", ".toml", ".ipynb")
#: Data files, scanned only for mentions of the notes outside the repository (their source
#: columns cite where a number came from).
DATA = (".csv", ".txt", ".json", ".jsonl", ".cfg")
#: A token ending in one of these names a file even when its first folder is not a repo folder.
EXTENSIONS = SCANNED + (".json", ".jsonl", ".csv", ".txt", ".cfg", ".db", ".gguf")
#: Project packages whose dotted module paths are checked.
PACKAGES = ("servelab_base", "reference_stack", "servelab")

#: Design notes that live outside the repository: the product cites its own docs/ instead.
FORBIDDEN = re.compile(
    r"\b(?:METRICS|ARCHITECTURE|COURSE|PLATFORM|STYLE)\.md\b|\.\./shared\b|/work/"
)

#: Paths that exist only after set-up or at run time (gitignored, created by `make setup`, the
#: stack or nbgrader), so a reference to them is right although git does not hold them.
GENERATED = (
    ".venv/",  # the virtual environment scripts/setup.sh creates
    ".cache/",  # model conversions and llama.cpp builds (scripts/setup.sh)
    ".stack/",  # pid files and logs of the running stack (reference_stack/stack)
    "build/",  # packaging output
    "grading/submitted/",  # nbgrader working state (grading/nbgrader_config.py)
    "grading/autograded/",
    "grading/feedback/",
    "grading/exchange/",
    "grading/exports/",
    "grading/gradebook.db",
)

#: Tokens that look like paths but are not references into this repository, each with why.
NOT_PATHS = {
    "docs/source/performance.md",  # a file of NVIDIA TensorRT-LLM, cited as a data source
    "servelab/vllm",  # a ratio column (servelab's number over vLLM's), not a path
    "servelab.gateway",  # the gateway's logger name, not a module
}
#: Placeholder names that stand for any file of a kind: ``reference_stack/profiles/NAME.yaml``,
#: ``datasets/labNN/``, ``solutions/NN_lab/``.
PLACEHOLDER = re.compile(r"(?:^|_|lab)(?:NAME|DIR|LAB|STUDENT|NN|N)(?:_|$)")
#: This file: it names the forbidden notes and plants dangling paths on purpose.
SELF = "tests/unit/project/test_references.py"

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s)\]>'\"`]*")
_TOKEN = re.compile(
    r"(?<![\w.\-/~$@{}<>*\\])"  # not the middle of a longer path, URL or template
    r"((?:\.\.?/)*[\w.\-]+(?:/[\w.\-]+)+/?(?:#[\w\-]+)?)"
    r"(?![\w\-/{}<>*$\[]|\.[\w\-/])"  # nor a template's start (``datasets/lab01/stream_{n}``)
)
_GLOB = re.compile(r"(?<![\w.\-/~$@{}<>\\])((?:[\w.\-]+/)+[\w.\-]*\*[\w.\-*]*)")
_MD_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_PACKAGE = "|".join(PACKAGES)
_MODULE = re.compile(rf"(?<![\w./\-])((?:{_PACKAGE})(?:\.\w+)+)")
_FROM_IMPORT = re.compile(rf"\bfrom ((?:{_PACKAGE})(?:\.\w+)*) import (\w+)")


def repo_files(root: Path) -> list[str]:
    """Files git would ship under ``root`` (tracked or new, not ignored); all files outside git."""
    if (root / ".git").exists():
        out = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return sorted(p for p in set(out.split("\0")) if p and (root / p).is_file())
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def text_of(path: Path) -> str:
    """The text to scan: a notebook's cell sources, any other file as it is."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix != ".ipynb":
        return text
    cells = json.loads(text).get("cells", [])
    return "\n".join("".join(cell.get("source", "")) for cell in cells)


def anchors(text: str) -> set[str]:
    """GitHub-style anchors of the Markdown headings in ``text``."""
    found = set()
    for line in text.splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            slug = re.sub(r"[^\w\- ]", "", title).replace(" ", "-")
            found.add(slug)
    return found


class Repo:
    """The files and folders of a repository, for resolving references."""

    def __init__(self, root: Path, files: Iterable[str]) -> None:
        self.root = root
        self.files = set(files)
        self.dirs = {str(Path(f).parents[i]) for f in self.files for i in range(f.count("/"))}
        self.top = {d for d in self.dirs if "/" not in d} - {"."}
        self._anchors: dict[str, set[str]] = {}

    def exists(self, rel: str) -> bool:
        """Is ``rel`` (a normalised path relative to the root) a file or folder of the repo?"""
        rel = rel.rstrip("/")
        return rel in self.files or rel in self.dirs

    def anchors_of(self, rel: str) -> set[str]:
        """Heading anchors of the Markdown file ``rel`` (cached)."""
        if rel not in self._anchors:
            self._anchors[rel] = anchors((self.root / rel).read_text(encoding="utf-8"))
        return self._anchors[rel]

    def resolve(self, token: str, folder: str, md_link: bool = False) -> str | None:
        """Why ``token`` cited from ``folder`` does not resolve, or None when it does."""
        path, _, anchor = token.partition("#")
        bases = [folder] if md_link or path.startswith(("./", "../")) else ["", folder]
        for base in bases:
            rel = _normalise(f"{base}/{path}" if base else path)
            if rel is None or not self.exists(rel):  # None: it climbs above the root
                continue
            if anchor and rel.endswith(".md") and anchor not in self.anchors_of(rel):
                return f"no heading #{anchor} in {rel}"
            return None
        return "no such file or folder"

    def matches(self, pattern: str, folder: str) -> bool:
        """Does the glob ``pattern`` (from the root or from ``folder``) match a repo file?"""
        patterns = [pattern, f"{folder}/{pattern}"] if folder else [pattern]
        return any(fnmatch.filter(self.files, p) for p in patterns)

    def module_missing(self, dotted: str) -> bool:
        """True when ``dotted`` names no module of the project, nor a name defined in one."""
        first, *rest = dotted.split(".")
        path = first
        for part in rest:
            if f"{path}/{part}" in self.dirs or f"{path}/{part}.py" in self.files:
                path = f"{path}/{part}"
                continue
            module = f"{path}.py" if f"{path}.py" in self.files else f"{path}/__init__.py"
            if module not in self.files:
                return True
            source = (self.root / module).read_text(encoding="utf-8")
            return re.search(rf"\b{re.escape(part)}\b", source) is None
        return False


def _normalise(rel: str) -> str | None:
    """Collapse ``.`` and ``..`` in a relative path; None when it climbs above the root."""
    out: list[str] = []
    for part in rel.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not out:
                return None
            out.pop()
        else:
            out.append(part)
    return "/".join(out)


def _is_generated(token: str) -> bool:
    path = token.removeprefix("./")
    return any(path == g.rstrip("/") or path.startswith(g) for g in GENERATED)


def _checked(token: str, repo: Repo, folder: str) -> str | None:
    """Why a path-like ``token`` cited from ``folder`` is dangling; None when fine or not a path.

    A token that starts with a top-level folder of the repository must resolve, and so must a
    relative one (``../y.md``) that names a file. Any other token with a file extension is
    checked only when it is the tail of a repo file's path (``engines/llama_shapes.py``): the
    reader cannot find it from the root. Tokens that match no repo file (an example such as
    ``DIR/alice/lab.ipynb``, another project's file) pass.
    """
    path = token.partition("#")[0]
    placeholder = any(PLACEHOLDER.search(Path(part).stem) for part in path.split("/"))
    if token in NOT_PATHS or placeholder or _is_generated(token):
        return None
    if path.split("/")[0] in repo.top:
        return repo.resolve(token, folder)
    if path.startswith(("./", "../")):  # ``../etc`` in a path-traversal test is no citation
        return repo.resolve(token, folder) if path.endswith(EXTENSIONS) else None
    if not path.endswith(EXTENSIONS) or repo.resolve(token, folder) is None:
        return None
    full = sorted(f for f in repo.files if f.endswith("/" + path))
    return f"write the path from the root: {full[0]}" if full else None


def dangling(root: Path, files: Iterable[str] | None = None) -> list[str]:
    """Every reference under ``root`` that does not resolve, as 'file:line: token (why)'."""
    files = repo_files(root) if files is None else sorted(files)
    repo = Repo(root, files)
    bad: list[str] = []
    for name in files:
        if name == SELF:
            continue
        if name.endswith(DATA):
            text = (root / name).read_text(encoding="utf-8", errors="replace")
            for lineno, line in enumerate(text.splitlines(), start=1):
                for hit in FORBIDDEN.finditer(line):
                    bad.append(f"{name}:{lineno}: {hit.group(0)} (outside the repository)")
            continue
        if not (name.endswith(SCANNED) or Path(name).name == "Makefile"):
            continue
        folder = str(Path(name).parent) if "/" in name else ""
        for lineno, line in enumerate(text_of(root / name).splitlines(), start=1):
            for hit in FORBIDDEN.finditer(line):
                bad.append(f"{name}:{lineno}: {hit.group(0)} (outside the repository)")
            for link in _MD_LINK.findall(line) if name.endswith((".md", ".ipynb")) else []:
                if (
                    _URL.match(link)
                    or link.startswith(("mailto:", "#", "javascript:"))
                    or FORBIDDEN.search(link)
                ):
                    continue
                why = repo.resolve(link, folder, md_link=True)
                if why and not _is_generated(link):
                    bad.append(f"{name}:{lineno}: {link} ({why})")
            bare = _MD_LINK.sub(" ", _URL.sub(" ", line))
            for token in _TOKEN.findall(bare):
                token = token.rstrip(".")
                if token.startswith("/") or FORBIDDEN.search(token):  # reported above
                    continue
                why = _checked(token, repo, folder)
                if why:
                    bad.append(f"{name}:{lineno}: {token} ({why})")
            for glob in _GLOB.findall(bare):
                if glob.split("/")[0] in repo.top and not repo.matches(glob, folder):
                    bad.append(f"{name}:{lineno}: {glob} (matches no file)")
            imported = [f"{a}.{b}" for a, b in _FROM_IMPORT.findall(bare)]
            for dotted in _MODULE.findall(bare) + imported:
                dotted = dotted.rstrip(".")
                if dotted not in NOT_PATHS and repo.module_missing(dotted):
                    bad.append(f"{name}:{lineno}: {dotted} (no such module or name)")
    return bad


def test_every_reference_resolves():
    assert dangling(ROOT) == []


def test_a_planted_dangling_reference_is_reported(tmp_path):
    files = {
        "docs/metrics.md": "# Glossary\n\n## TTFT\n",
        "servelab/__init__.py": "",
        "servelab/bench.py": "def ttft(): ...\n",
        "reference_stack/engines/shapes.py": "",
        "README.md": (
            "See [the glossary](docs/metrics.md#ttft), servelab/bench.py and .venv/bin/python.\n"
            "Gone: servelab/online.py and [old](docs/gone.md); docs/metrics.md#itl.\n"
            "Modules: servelab.bench.ttft is fine, servelab.online is not.\n"
            "Outside: METRICS.md, ../shared/STYLE.md. Partial: engines/shapes.py.\n"
            "Globs: servelab/*.py fine, docs/*.txt not.\n"
        ),
        "servelab/notes.md": "[up](../docs/metrics.md) [here](docs/metrics.md)\n",
        "servelab/tool.py": '"""Reads reference_stack/profiles/NAME.yaml."""\n'
        "from servelab import gone\n",
        "datasets/prices.csv": "id,source\nh100,/work/shared/PLATFORM.md\n",
        "solutions/lab/lab.ipynb": json.dumps(
            {"cells": [{"cell_type": "markdown", "source": ["Floors: [x](../../docs/nope.md)"]}]}
        ),
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert dangling(tmp_path) == [
        "README.md:2: docs/gone.md (no such file or folder)",
        "README.md:2: servelab/online.py (no such file or folder)",
        "README.md:2: docs/metrics.md#itl (no heading #itl in docs/metrics.md)",
        "README.md:3: servelab.online (no such module or name)",
        "README.md:4: METRICS.md (outside the repository)",
        "README.md:4: ../shared (outside the repository)",
        "README.md:4: STYLE.md (outside the repository)",
        "README.md:4: engines/shapes.py (write the path from the root: "
        "reference_stack/engines/shapes.py)",
        "README.md:5: docs/*.txt (matches no file)",
        "datasets/prices.csv:2: /work/ (outside the repository)",
        "datasets/prices.csv:2: PLATFORM.md (outside the repository)",
        "servelab/notes.md:1: docs/metrics.md (no such file or folder)",
        "servelab/tool.py:2: servelab.gone (no such module or name)",
        "solutions/lab/lab.ipynb:1: ../../docs/nope.md (no such file or folder)",
    ]


def test_the_scan_is_fast():
    start = time.perf_counter()
    dangling(ROOT)
    assert time.perf_counter() - start < 5
