"""Checks: how an exercise is graded, written once by the instructor, run in two places.

A lab's checks live beside its solution notebook, in ``solutions/<lab>/instructor_checks.py``
(never released: nbgrader's ignore list holds ``instructor_*``). Each check is a plain function
that takes a ``learner`` and asserts::

    from servelab.grading.checks import Checks, raises

    checks = Checks()

    @checks.visible("ex1_tests")
    def ttft_of_the_recording(learner):
        "TTFT counts the first chunk, even an empty one"
        assert close(learner.ttft(trace), 0.053)

    # BEGIN HIDDEN CHECKS
    @checks.hidden("ex1_tests")
    def ttft_of_a_trace_with_an_empty_first_chunk(learner): ...
    # END HIDDEN CHECKS

``learner.ttft(x)`` calls the learner's function ``ttft`` with ``x`` and returns its result as
plain data (servelab/grading/wire.py). Where it runs decides what ``learner`` is:

- **In the learner's notebook** (and nbgrader's Validate), the grade cell calls
  ``run_checks("ex1_tests")``: the *visible* checks run in the kernel, against the notebook's own
  names, through the same plain-data round trip. ``make release`` writes them to
  ``labs/<lab>/checks.py`` with every ``BEGIN HIDDEN CHECKS`` block removed.
- **When graded**, nothing of this runs in the learner's kernel: the grader loads the
  instructor's file in its own process and drives the learner's code from outside
  (servelab/grading/remote.py); hidden checks, expected values and comparisons never enter it.

A grade cell's score is its points times the weighted share of its checks that pass (partial
credit); a failing hidden check shows the learner its title only, never its code.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from servelab.grading import wire

INSTRUCTOR_FILE = "instructor_checks.py"
RELEASED_FILE = "checks.py"
HIDDEN_GOLDENS = "instructor_expected.json"
HIDDEN_BEGIN = "# BEGIN HIDDEN CHECKS"
HIDDEN_END = "# END HIDDEN CHECKS"


class LearnerRaised(Exception):  # noqa: N818 - it names what happened, not an error of ours
    """The learner's code raised: its exception, as data (module-qualified class names)."""

    def __init__(self, record: dict[str, Any]) -> None:
        self.mro: list[str] = [str(n) for n in record.get("mro", [])]
        self.message = str(record.get("message", ""))
        super().__init__(f"{self.type}: {self.message}")

    @property
    def type(self) -> str:
        return self.mro[0] if self.mro else "unknown"

    @property
    def shown_type(self) -> str:
        """The class name a message may show: a builtin exception's, else a fixed phrase.

        The MRO is text the learner's kernel wrote; a made-up class name could carry anything
        (a hidden input, say) into feedback, so only names Python itself defines are echoed.
        """
        for name in self.mro:
            short = name.removeprefix("builtins.")
            if name.startswith("builtins.") and _is_builtin_exception(short):
                return short
        return "an exception of the notebook's own class"

    def is_a(self, name: str) -> bool:
        """True if it is (a subclass of) ``name``: ``"ValueError"`` means builtins' own."""
        qualified = name if "." in name else f"builtins.{name}"
        return qualified in self.mro


def _is_builtin_exception(name: str) -> bool:
    import builtins

    found = getattr(builtins, name, None)
    return isinstance(found, type) and issubclass(found, BaseException)


class AnswerProblem(AssertionError):
    """The answer could not be checked: a name is missing or the result is not plain data."""


@contextlib.contextmanager
def raises(name: str) -> Iterator[None]:
    """Assert that the learner's call inside the block raises ``name`` (e.g. "ValueError")."""
    try:
        yield
    except LearnerRaised as exc:
        if not exc.is_a(name):
            raise AssertionError(f"expected {name}, got {exc.shown_type}") from None
        return
    raise AssertionError(f"expected {name} to be raised")


def close(a: Any, b: float, tol: float = 1e-9) -> bool:
    """``a`` is a real number (exactly int or float, not bool) within ``tol`` of ``b``."""
    return type(a) in (int, float) and math.isclose(a, b, rel_tol=0.0, abs_tol=tol)


class Instance:
    """One instance of a learner's class, driven method call by method call."""

    def __init__(self, learner: Learner, handle: Any) -> None:
        self._learner = learner
        self._handle = handle

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self._learner._job(
            {"op": "method", "handle": self._handle, "name": name}, args, kwargs
        )

    def value(self, name: str) -> Any:
        """The instance's attribute ``name`` as plain data (a property is read, not called)."""
        return self._learner._job({"op": "attr", "handle": self._handle, "name": name}, (), {})


class Learner:
    """The learner's notebook as a check sees it: names to call, values to read, classes."""

    #: Pass the kernel's own words on in messages (True only where the learner runs checks in
    #: their own notebook; a graded kernel's text could carry what it saw of hidden inputs).
    _detail = False

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self._job({"op": "call", "name": name}, args, kwargs)

    def value(self, name: str) -> Any:
        """The notebook's variable ``name``, as plain data."""
        return self._job({"op": "value", "name": name}, (), {})

    def new(self, class_name: str, *args: Any, **kwargs: Any) -> Instance:
        """An instance of the learner's class ``class_name``, made with these arguments."""
        handle = self._job({"op": "new", "name": class_name}, args, kwargs)
        return Instance(self, handle)

    def _job(self, job: dict[str, Any], args: tuple, kwargs: dict) -> Any:
        job = {**job, "args": list(args), "kwargs": dict(kwargs)}
        return interpret(self._run(job), job, self._detail)

    def _run(self, job: dict[str, Any]) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError


NOT_PLAIN = (
    "the answer is not plain data: return None, bool, int, float, str, or a list / tuple / "
    "dict of them (a numpy value or a pandas DataFrame / Series also works)"
)


def interpret(reply: Any, job: dict[str, Any] | None = None, detail: bool = True) -> Any:
    """A reply from the learner's side -> the result, or the exception a check sees.

    Messages are the grader's own words, naming only what the grader asked for; with
    ``detail`` (the learner's own kernel) the kernel's explanation is passed on too.
    """
    name = str((job or {}).get("name", "?"))[:80]
    if type(reply) is not dict:
        raise AnswerProblem("the notebook gave no readable answer")
    if "ok" in reply:
        return wire.from_plain(reply["ok"])
    if "handle" in reply and type(reply["handle"]) is int:
        return reply["handle"]
    if "raised" in reply and type(reply["raised"]) is dict:
        raise LearnerRaised(reply["raised"])
    if "missing" in reply:
        raise AnswerProblem(f"`{name}` is not defined in the notebook")
    if "not_plain" in reply:
        raise AnswerProblem(str(reply["not_plain"])[:300] if detail else NOT_PLAIN)
    if "grader" in reply:  # written by the grader's side (a timeout, a dead kernel)
        raise AnswerProblem(str(reply["grader"])[:300])
    raise AnswerProblem("the notebook gave no readable answer")


class LocalLearner(Learner):
    """The notebook's own names, in its own kernel (visible checks, for the learner)."""

    _detail = True

    def __init__(self, namespace: dict[str, Any]) -> None:
        self._namespace = namespace
        self._proxies: dict[int, Any] = {}

    def _run(self, job: dict[str, Any]) -> dict[str, Any]:
        from servelab.grading import agent

        encoded = {k: encode_args(v, self._proxies) for k, v in job.items()}
        plain = wire.loads(wire.dumps(encoded))  # the same round trip as when graded
        saved = agent._ask
        agent._ask = lambda prompt: answer_rpc(prompt, self._proxies)
        try:
            return wire.loads(wire.dumps(agent.run_job(plain, self._namespace)))
        finally:
            agent._ask = saved


def encode_args(value: Any, proxies: dict[int, Any]) -> Any:
    """Arguments for the learner's code as plain data; grader objects become proxies."""
    methods = getattr(value, "__remote_methods__", None)
    if methods is not None and not isinstance(value, type):
        proxies[len(proxies) + 1] = value
        return {wire.PROXY: {"id": len(proxies), "methods": list(methods)}}
    if type(value) in (list, tuple):
        return [encode_args(v, proxies) for v in value]
    if type(value) is dict:
        return {k: encode_args(v, proxies) for k, v in value.items()}
    return wire.to_plain(value)


def grader_objects(value: Any, proxies: dict[int, Any]) -> Any:
    """An argument the learner's code sent back: a proxy it was given is the grader's object
    again (only ids the grader handed out; anything else is refused)."""
    if type(value) is list:
        return [grader_objects(v, proxies) for v in value]
    if type(value) is dict:
        if set(value) == {wire.PROXY}:
            spec = value[wire.PROXY]
            ident = spec.get("id") if type(spec) is dict else None
            if type(ident) is not int or ident not in proxies:
                raise ValueError("not a grader-side object this check handed out")
            return proxies[ident]
        return {k: grader_objects(v, proxies) for k, v in value.items()}
    return value


def answer_rpc(prompt: str, proxies: dict[int, Any]) -> str:
    """Run one method call of a grader-side object for the learner's code; reply as JSON."""
    from servelab.grading import agent

    if not prompt.startswith(agent.PROMPT_RPC):
        return ""
    try:
        request = wire.loads(prompt[len(agent.PROMPT_RPC) :])
        target = proxies[int(request["proxy"])]
        name = str(request["method"])
        if name not in target.__remote_methods__:
            raise AttributeError(name)
        args = [grader_objects(wire.from_plain(a), proxies) for a in request.get("args", [])]
        kwargs = {
            k: grader_objects(wire.from_plain(v), proxies)
            for k, v in request.get("kwargs", {}).items()
        }
        result = getattr(target, name)(*args, **kwargs)
        return wire.dumps({"ok": encode_args(result, proxies)})
    except Exception as exc:  # the grader-side object's own error, passed on as data
        record = {
            "type": f"{type(exc).__module__}.{type(exc).__qualname__}",
            "args": [a for a in exc.args if type(a) in (int, float, str, bool)],
            "attrs": {
                k: v
                for k, v in vars(exc).items()
                if not k.startswith("_") and type(v) in (int, float, str, bool, type(None))
            },
            "message": str(exc)[:300],
        }
        return wire.dumps({"raise": record})


@dataclass
class Check:
    """One check of one grade cell."""

    cell: str
    name: str
    function: Callable[[Learner], Any]
    hidden: bool
    weight: float = 1.0

    @property
    def title(self) -> str:
        doc = (self.function.__doc__ or "").strip().splitlines()
        return doc[0] if doc else self.name.replace("_", " ")


@dataclass
class Result:
    """The outcome of one check: what the learner may see of it."""

    check: Check
    passed: bool
    message: str = ""

    def line(self) -> str:
        mark = "PASS" if self.passed else "FAIL"
        kind = "hidden" if self.check.hidden else "visible"
        text = f"[{mark}] ({kind}) {self.check.title}"
        return text + (f": {self.message}" if self.message and not self.passed else "")


@dataclass
class Checks:
    """A lab's checks, registered by grade cell (the nbgrader grade_id of the test cell).

    ``goldens`` is the lab's file of visible expected values (``datasets/labNN/expected.json``);
    hidden ones are in ``instructor_expected.json`` beside the instructor's checks file, which
    is never released. Both are written by ``servelab course goldens LAB`` from the reference
    solution (see servelab/grading/goldens.py), never pasted into a notebook.
    """

    goldens: Path | None = None
    all: list[Check] = field(default_factory=list)
    golden_cases: Callable[[Learner], dict[str, dict[str, Any]]] | None = None
    _expected: dict[str, Any] | None = None
    _hidden_goldens: Path | None = None

    def golden(self, key: str) -> Any:
        """The expected value ``key`` (visible goldens first, then the hidden ones)."""
        if self._expected is None:
            self._expected = {}
            for path in (self.goldens, self._hidden_goldens):
                if path is not None and path.exists():
                    self._expected.update(json.loads(path.read_text()))
        if key not in self._expected:
            raise KeyError(f"no golden value {key!r}: run `servelab course goldens`")
        return wire.from_plain(self._expected[key])

    def cases(self, function: Callable) -> Callable:
        """Register the function that computes the goldens from the reference solution.

        It takes the solution as a ``learner`` and returns ``{"visible": {key: value},
        "hidden": {key: value}}``.
        """
        self.golden_cases = function
        return function

    def visible(self, cell: str, weight: float = 1.0) -> Callable:
        """Register a check the learner sees (and runs) in the notebook."""
        return self._register(cell, weight, hidden=False)

    def hidden(self, cell: str, weight: float = 1.0) -> Callable:
        """Register a check that only the grader runs; feedback shows its title only."""
        return self._register(cell, weight, hidden=True)

    def _register(self, cell: str, weight: float, hidden: bool) -> Callable:
        if weight <= 0:
            raise ValueError("a check's weight must be positive")

        def add(function: Callable[[Learner], Any]) -> Callable[[Learner], Any]:
            self.all.append(Check(cell, function.__name__, function, hidden, weight))
            return function

        return add

    def for_cell(self, cell: str) -> list[Check]:
        return [c for c in self.all if c.cell == cell]

    def cells(self) -> list[str]:
        return list(dict.fromkeys(c.cell for c in self.all))


def run_check(check: Check, learner: Learner) -> Result:
    """Run one check; any failure becomes a message the grader wrote (none for hidden ones)."""
    try:
        check.function(learner)
    except AnswerProblem as exc:
        return Result(check, False, str(exc))  # about the learner's answer, not the check
    except LearnerRaised as exc:
        return Result(check, False, f"your code raised {exc.shown_type}")
    except AssertionError as exc:
        return Result(check, False, "" if check.hidden else str(exc)[:500])
    except Exception as exc:  # e.g. comparing a None answer with a number
        detail = "" if check.hidden else f" ({type(exc).__name__})"
        return Result(check, False, f"the answer has the wrong shape{detail}")
    return Result(check, True)


def score(results: list[Result], points: float) -> float:
    """Points earned: ``points`` times the weighted share of passing checks."""
    total = sum(r.check.weight for r in results)
    if not total:
        return 0.0
    earned = sum(r.check.weight for r in results if r.passed)
    return round(points * earned / total, 4)


def load(path: Path) -> Checks:
    """Import a checks file (instructor's or released) and return its ``checks``."""
    name = f"_servelab_checks_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    found = getattr(module, "checks", None)
    if not isinstance(found, Checks):
        raise TypeError(f"{path} defines no `checks = Checks()`")
    found._hidden_goldens = path.parent / HIDDEN_GOLDENS
    return found


def strip_hidden(source: str) -> str:
    """The released checks file: every hidden block removed (markers must pair up)."""
    out, hiding = [], False
    for number, line in enumerate(source.splitlines(keepends=True), 1):
        marker = line.strip()
        if marker == HIDDEN_BEGIN:
            if hiding:
                raise ValueError(f"line {number}: {HIDDEN_BEGIN} inside a hidden block")
            hiding = True
        elif marker == HIDDEN_END:
            if not hiding:
                raise ValueError(f"line {number}: {HIDDEN_END} without {HIDDEN_BEGIN}")
            hiding = False
        elif not hiding:
            out.append(line)
    if hiding:
        raise ValueError(f"{HIDDEN_BEGIN} is never closed")
    return "".join(out)


def run_checks(cell: str, folder: str | Path = ".") -> None:
    """In a notebook: run this grade cell's checks here, print each, fail if one fails.

    The instructor's file (solutions/) runs every check; the released one only the visible
    ones. Nothing is returned: a value would show as the cell's result, which nbgrader reads
    as partial credit.
    """
    import IPython

    here = Path(folder)
    path = here / INSTRUCTOR_FILE
    if not path.exists():
        path = here / RELEASED_FILE
    checks = load(path)
    learner = LocalLearner(IPython.get_ipython().user_ns)
    results = [run_check(c, learner) for c in checks.for_cell(cell)]
    if not results:
        raise LookupError(f"{path.name} has no checks for {cell!r}")
    for result in results:
        print(result.line())
    failed = [r for r in results if not r.passed]
    if path.name == RELEASED_FILE:
        print("(the grader runs these and hidden checks too, outside your kernel)")
    if failed:
        raise AssertionError(f"{len(failed)} of {len(results)} checks failed: {failed[0].line()}")
