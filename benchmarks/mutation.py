"""Mutation testing of every exercise's checks: do they tell a changed answer from the right one?

    .venv/bin/python benchmarks/mutation.py                      # every lab with checks
    .venv/bin/python benchmarks/mutation.py 07_failover --cell ex2_tests --show-killed

For each lab, the reference solution's answer cells (the ``### BEGIN SOLUTION`` code the learner
replaces) are extracted to one module. Cosmic Ray's mutation operators (cosmic-ray, the real
tool: binary / comparison / unary operator replacement, number and boolean replacement,
break / continue swaps, zero-iteration loops, exception replacement ...) enumerate every
single-point change of that module, and each mutant is judged exactly as the grader judges a
learner: the checks of the exercise whose answer cell the mutation falls in (instructor checks,
hidden ones included) score it, in a forked child of a process that ran the lab's first code cell
once. A mutant is KILLED when it loses marks (an error, a timeout or a failed check); it
SURVIVES when it keeps full marks. A survivor is either a gap in the checks (add a check that
kills it) or EQUIVALENT (no input can tell it apart from the reference): those are listed in
``benchmarks/mutation/equivalent/<lab>.toml`` with a one-line reason, and the score leaves them
out::

    [[equivalent]]
    cell = "ex3_tests"
    operator = "core/ReplaceComparisonOperator_Lt_LtE"
    line = "if n < 1:"
    mutated = "if n <= 1:"
    reason = "n is an int >= 1 past this point; n == 1 takes the same path either way"

Results: ``benchmarks/results/mutation/<lab>.json`` per lab and ``SUMMARY.md`` for all, with
the score per exercise (killed / (mutants - equivalent)). A benchmark, not a test: a lab takes
from seconds to a few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
import json
import os
import signal
import sys
import time
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from cosmic_ray import plugins  # noqa: E402
from cosmic_ray.ast import ast_nodes, get_ast  # noqa: E402
from cosmic_ray.mutating import mutate_code  # noqa: E402

from servelab.grading import checks as api  # noqa: E402
from servelab.grading.release import lab_names  # noqa: E402
from servelab_base.paths import SOLUTIONS  # noqa: E402

EQUIVALENT_DIR = ROOT / "benchmarks" / "mutation" / "equivalent"
RESULTS_DIR = ROOT / "benchmarks" / "results" / "mutation"
#: Seconds one mutant may take: the reference's checks run in well under a second; a mutant
#: that loops forever is killed (the grader would time it out too).
MUTANT_TIMEOUT_S = 10.0
#: The goal the course sets itself (issue: every exercise tells right from wrong).
TARGET = 0.95


@dataclass
class Answer:
    """One answer cell of the reference solution, placed in the extracted module."""

    grade_id: str
    tests: str
    first_line: int  # 1-based, inclusive, in the extracted module
    last_line: int


@dataclass
class Mutant:
    operator: str
    occurrence: int
    cell: str
    line_no: int
    line: str
    mutated: str
    outcome: str = ""  # killed | survived | equivalent
    reason: str = ""


@dataclass
class CellScore:
    cell: str
    mutants: int = 0
    killed: int = 0
    equivalent: int = 0
    survived: list[dict] = field(default_factory=list)

    @property
    def score(self) -> float:
        judged = self.mutants - self.equivalent
        return self.killed / judged if judged else 1.0


def tests_cell_of(lab: str, solution_id: str) -> str:
    """The test cell that grades an answer cell: from the kept answers, else by convention."""
    path = ROOT / "tests" / "wrong_answers" / f"{lab}.py"
    if path.exists():
        from kept_answers import answers

        entry = answers("wrong", lab).get(solution_id)
        if entry:
            return entry["tests"]
    return solution_id.replace("_solution", "_tests")


class _NoAnnotations(ast.NodeTransformer):
    """Type hints are not behaviour: mutating ``float | None`` only makes noise."""

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.annotation = None
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:  # noqa: N802
        node.returns = None
        self.generic_visit(node)
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST | None:  # noqa: N802
        if node.value is None:
            return None
        return ast.copy_location(ast.Assign(targets=[node.target], value=node.value), node)


def without_annotations(source: str) -> str:
    """The cell's code with every annotation removed (same behaviour, fewer noise mutants)."""
    tree = _NoAnnotations().visit(ast.parse(source))
    return ast.unparse(ast.fix_missing_locations(tree))


def extract(lab: str) -> tuple[str, str, list[Answer]]:
    """(first code cell, answers module source, where each answer cell sits in it)."""
    nb = nbformat.read(SOLUTIONS / lab / f"{lab}.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    setup = code[0].source
    lines: list[str] = []
    placed = []
    for cell in code[1:]:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("solution") or meta.get("grade"):
            continue
        first = len(lines) + 1
        lines += without_annotations(cell.source).splitlines() + ["", ""]
        gid = meta["grade_id"]
        placed.append(Answer(gid, tests_cell_of(lab, gid), first, len(lines) - 2))
    return setup, "\n".join(lines) + "\n", placed


def enumerate_mutants(source: str, answers: list[Answer]) -> list[Mutant]:
    """Every single-point mutation cosmic-ray's operators make in an answer cell."""
    module = get_ast(source)
    nodes = list(ast_nodes(module))
    original = source.splitlines()
    out = []
    for name in plugins.operator_names():
        cls = plugins.get_operator(name)
        if cls.arguments():  # VariableReplacer / VariableInserter need a configuration
            continue
        operator = cls()
        positions = [pos for node in nodes for pos in operator.mutation_positions(node)]
        for occurrence, (start, _end) in enumerate(positions):
            line_no = start[0]
            owner = next((a for a in answers if a.first_line <= line_no <= a.last_line), None)
            if owner is None:
                continue
            mutated = mutate_code(source, operator, occurrence)
            if mutated is None:
                continue
            changed = mutated.splitlines()
            new_line = changed[line_no - 1] if line_no - 1 < len(changed) else ""
            out.append(
                Mutant(
                    name,
                    occurrence,
                    owner.tests,
                    line_no,
                    original[line_no - 1].strip(),
                    new_line.strip(),
                )
            )
            out[-1]._code = mutated  # type: ignore[attr-defined]
    return out


def load_equivalent(lab: str) -> list[dict]:
    path = EQUIVALENT_DIR / f"{lab}.toml"
    if not path.exists():
        return []
    entries = tomllib.loads(path.read_text()).get("equivalent", [])
    for entry in entries:
        missing = {"cell", "operator", "line", "mutated", "reason"} - set(entry)
        if missing:
            raise ValueError(f"{path}: an entry lacks {sorted(missing)}: {entry}")
    return entries


def is_equivalent(mutant: Mutant, entries: list[dict]) -> str:
    for entry in entries:
        if (entry["cell"], entry["operator"], entry["line"], entry["mutated"]) == (
            mutant.cell,
            mutant.operator,
            mutant.line,
            mutant.mutated,
        ):
            return entry["reason"]
    return ""


def judge(code: str, cell: str, setup_ns: dict, checks: api.Checks, points: float) -> bool:
    """In a forked child: True if the mutated answers keep full marks on ``cell``."""
    pid = os.fork()
    if pid == 0:  # child: never returns
        survived = False
        try:
            signal.alarm(int(MUTANT_TIMEOUT_S) + 1)
            namespace = dict(setup_ns)
            with (
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()),
            ):
                exec(compile(code, "<mutant>", "exec"), namespace)
                learner = api.LocalLearner(namespace)
                results = [api.run_check(c, learner) for c in checks.for_cell(cell)]
            survived = bool(results) and api.score(results, points) >= points
        except BaseException:  # noqa: BLE001 - a mutant may break anything: it is killed
            survived = False
        os._exit(0 if survived else 1)
    deadline = time.monotonic() + MUTANT_TIMEOUT_S
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status) == 0
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return False  # a timeout loses marks: killed
        time.sleep(0.002)


def points_of(lab: str) -> dict[str, float]:
    nb = nbformat.read(SOLUTIONS / lab / f"{lab}.ipynb", as_version=4)
    out = {}
    for c in nb.cells:
        meta = c.metadata.get("nbgrader", {})
        if c.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            out[meta["grade_id"]] = float(meta.get("points", 0))
    return out


def run_lab(lab: str, only_cell: str | None, show_killed: bool) -> dict[str, CellScore]:
    setup, source, answers = extract(lab)
    checks = api.load(SOLUTIONS / lab / api.INSTRUCTOR_FILE)
    points = points_of(lab)
    setup_ns: dict = {"__name__": "__solution__"}
    cwd = os.getcwd()
    os.chdir(SOLUTIONS / lab)  # the notebook's own folder, as when it runs
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(setup, f"{lab}:setup", "exec"), setup_ns)
        reference_ok = {
            a.tests: judge(source, a.tests, setup_ns, checks, points[a.tests]) for a in answers
        }
        broken = [cell for cell, ok in reference_ok.items() if not ok]
        if broken:
            raise SystemExit(f"{lab}: the reference solution itself loses marks on {broken}")
        mutants = enumerate_mutants(source, answers)
        if only_cell:
            mutants = [m for m in mutants if m.cell == only_cell]
        equivalent = load_equivalent(lab)
        scores = {a.tests: CellScore(a.tests) for a in answers if a.tests in points}
        started = time.monotonic()
        for number, mutant in enumerate(mutants, 1):
            score = scores.setdefault(mutant.cell, CellScore(mutant.cell))
            score.mutants += 1
            reason = is_equivalent(mutant, equivalent)
            code = mutant._code  # type: ignore[attr-defined]
            survived = judge(code, mutant.cell, setup_ns, checks, points[mutant.cell])
            if survived and reason:
                mutant.outcome, mutant.reason = "equivalent", reason
                score.equivalent += 1
            elif survived:
                mutant.outcome = "survived"
                score.survived.append(
                    {k: v for k, v in asdict(mutant).items() if k not in ("outcome", "reason")}
                )
            else:
                mutant.outcome = "killed"
                score.killed += 1
                if reason:
                    print(f"  note: listed as equivalent but killed: {mutant.line!r}")
                if show_killed:
                    print(f"  killed  {mutant.cell} L{mutant.line_no} {mutant.operator}")
            if number % 50 == 0:
                rate = number / (time.monotonic() - started)
                print(f"  {lab}: {number}/{len(mutants)} mutants ({rate:.0f}/s)", flush=True)
    finally:
        os.chdir(cwd)
    return scores


def stanza(lab: str, survivor: dict) -> str:
    return (
        "[[equivalent]]\n"
        f"cell = {json.dumps(survivor['cell'])}\n"
        f"operator = {json.dumps(survivor['operator'])}\n"
        f"line = {json.dumps(survivor['line'])}\n"
        f"mutated = {json.dumps(survivor['mutated'])}\n"
        'reason = "WHY NO INPUT CAN TELL THEM APART"\n'
    )


def write_results(lab: str, scores: dict[str, CellScore]) -> None:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    record = {
        "lab": lab,
        "command": f"python benchmarks/mutation.py {lab}",
        "date": time.strftime("%Y-%m-%d"),
        "cells": {
            cell: {
                "mutants": s.mutants,
                "killed": s.killed,
                "equivalent": s.equivalent,
                "survived": s.survived,
                "score": round(s.score, 4),
            }
            for cell, s in sorted(scores.items())
        },
    }
    (RESULTS_DIR / f"{lab}.json").write_text(json.dumps(record, indent=1) + "\n")
    write_summary()


def write_summary() -> None:
    rows = []
    for path in sorted(RESULTS_DIR.glob("*.json")):
        record = json.loads(path.read_text())
        for cell, s in record["cells"].items():
            mark = "yes" if s["score"] >= TARGET else "**no**"
            rows.append(
                f"| {record['lab']} | {cell} | {s['mutants']} | {s['killed']} | "
                f"{s['equivalent']} | {len(s['survived'])} | {s['score']:.1%} | {mark} |"
            )
    text = (
        "# Mutation scores of the exercises' checks\n\n"
        "Written by `python benchmarks/mutation.py` (cosmic-ray operators on each lab's "
        "reference answers, each mutant judged by its exercise's instructor checks). "
        "Score = killed / (mutants - equivalent); equivalent mutants and their reasons are in "
        f"`benchmarks/mutation/equivalent/`. Target: {TARGET:.0%} per exercise.\n\n"
        "| lab | exercise | mutants | killed | equivalent | survived | score | target met |\n"
        "|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )
    (RESULTS_DIR / "SUMMARY.md").write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labs", nargs="*", help="lab folders (default: every lab with checks)")
    parser.add_argument("--cell", help="only mutants of this exercise (its test cell's grade id)")
    parser.add_argument("--show-killed", action="store_true")
    args = parser.parse_args(argv)
    labs = args.labs or [
        lab for lab in lab_names() if (SOLUTIONS / lab / api.INSTRUCTOR_FILE).exists()
    ]
    below = []
    for lab in labs:
        print(f"== {lab}", flush=True)
        started = time.monotonic()
        scores = run_lab(lab, args.cell, args.show_killed)
        for cell, s in sorted(scores.items()):
            print(
                f"  {cell}: {s.killed}/{s.mutants - s.equivalent} killed "
                f"({s.score:.1%}; {s.equivalent} equivalent, {len(s.survived)} survived)"
            )
            for survivor in s.survived:
                print(
                    f"    SURVIVED L{survivor['line_no']} {survivor['operator']}: "
                    f"{survivor['line']!r} -> {survivor['mutated']!r}"
                )
            if s.score < TARGET:
                below.append(f"{lab}/{cell}")
        if not args.cell:
            write_results(lab, scores)
        survivors = [x for s in scores.values() for x in s.survived]
        if survivors:
            print("  stanzas for benchmarks/mutation/equivalent/ (only for TRUE equivalents):")
            for survivor in survivors:
                print("    " + stanza(lab, survivor).replace("\n", "\n    ").rstrip())
        print(f"  ({time.monotonic() - started:.0f} s)")
    if below:
        print(f"below {TARGET:.0%}: {', '.join(below)}")
    return 1 if below else 0


if __name__ == "__main__":
    sys.exit(main())
