"""Inside the learner's kernel, while it is graded: call what the grader asks for, return data.

The grader (servelab/grading/remote.py) sends one short, fixed line of code,
``__import__("servelab.grading.agent").grading.agent.serve()``, with no data in it. ``serve``
asks for its job over the kernel's stdin channel (``input()``, answered by the grader), runs it
against the notebook's names and hands back the result, as plain data, the same way. Objects a
check hands to the learner's code (a scripted endpoint, a fake clock) are stand-ins here whose
every method call goes back to the grader and runs there.

Nothing here is trusted: the learner's code shares this process and may change any of it. What
the grader believes is only the data it receives, checked and compared on its own side.
"""

from __future__ import annotations

import builtins
import importlib
import traceback
from typing import Any

from servelab.grading import wire

PROMPT_JOB = "servelab:job"
PROMPT_RPC = "servelab:rpc "
PROMPT_DONE = "servelab:done "
#: Instances of the learner's classes that a check drives method by method.
_HANDLES: dict[int, Any] = {}
#: Modules an exception raised by a grader-side object may be re-created from (labs' own types).
EXCEPTION_MODULES = ("builtins", "servelab.labs.")
#: Tagged forms of plain data that decode to something other than a dict (wire.py).
TAGGED = (wire.DATAFRAME, wire.SERIES, wire.VALUE, wire.DATE, wire.SET, "__float__")


def _ask(prompt: str) -> str:
    return builtins.input(prompt)


def error_record(exc: BaseException) -> dict[str, Any]:
    """An exception as data: its class's MRO (module-qualified names), message and last lines."""
    mro = [f"{c.__module__}.{c.__qualname__}" for c in type(exc).__mro__]
    try:
        message = str(exc)[:500]
    except Exception:  # a learner's __str__ may itself raise
        message = "<unprintable>"
    tail = traceback.format_exception_only(type(exc), exc)[-1:] if message else []
    return {"mro": mro[:20], "message": message, "tail": "".join(tail)[:500]}


class Remote:
    """A grader-side object, seen from the learner's code: each method call runs in the grader."""

    def __init__(self, proxy_id: int, methods: list[str]) -> None:
        object.__setattr__(self, "_id", proxy_id)
        object.__setattr__(self, "_methods", tuple(methods))

    def __getattr__(self, name: str) -> Any:
        if name not in self._methods or name == "__call__":
            raise AttributeError(name)
        return lambda *args, **kwargs: self._call(name, args, kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """A grader-side function (``send``, ``sleep``): calling it calls it in the grader."""
        if "__call__" not in self._methods:
            raise TypeError(f"{self!r} is not callable")
        return self._call("__call__", args, kwargs)

    def _call(self, name: str, args: tuple, kwargs: dict) -> Any:
        request = {"proxy": self._id, "method": name, "args": args, "kwargs": kwargs}
        reply = wire.loads(_ask(PROMPT_RPC + wire.dumps(encode_remotes(request))))
        if "raise" in reply:
            raise _rebuild_exception(reply["raise"])
        return decode_args(reply["ok"])

    def __repr__(self) -> str:
        return f"<grader-side object {self._id}: {', '.join(self._methods)}>"


def encode_remotes(value: Any) -> Any:
    """Plain data for a call back to the grader: a grader-side object goes back as its id (the
    learner's code hands the clock it was given to an endpoint it was given, say)."""
    if type(value) is Remote:
        return {wire.PROXY: {"id": value._id}}
    if type(value) in (list, tuple):
        return [encode_remotes(v) for v in value]
    if type(value) is dict and all(type(k) is str for k in value):
        return {k: encode_remotes(v) for k, v in value.items()}
    return wire.to_plain(value)


def _rebuild_exception(record: dict[str, Any]) -> BaseException:
    module_name, _, name = record["type"].rpartition(".")
    if module_name == "builtins" or module_name.startswith(EXCEPTION_MODULES[1]):
        cls = getattr(importlib.import_module(module_name), name, None)
        if isinstance(cls, type) and issubclass(cls, Exception):
            try:
                exc = cls(*record.get("args", []))
            except Exception:
                exc = cls()
            for key, value in record.get("attrs", {}).items():
                setattr(exc, key, value)
            return exc
    return RuntimeError(record.get("message", "error in a grader-side object"))


def decode_args(value: Any) -> Any:
    """Arguments as the learner's code receives them: DataFrames rebuilt, proxies made."""
    if type(value) is list:
        return [decode_args(v) for v in value]
    if type(value) is dict:
        if set(value) == {wire.PROXY}:
            spec = value[wire.PROXY]
            return Remote(int(spec["id"]), list(spec["methods"]))
        if len(value) == 1 and next(iter(value)) in TAGGED:
            return wire.from_plain(value)
        return {k: decode_args(v) for k, v in value.items()}
    return value


def run_job(job: dict[str, Any], namespace: dict[str, Any]) -> dict[str, Any]:
    """Do one job (call a function, read a value, make or drive an instance) -> a reply."""
    try:
        op = job["op"]
        args = decode_args(job.get("args", []))
        kwargs = decode_args(job.get("kwargs", {}))
        if op in ("method", "attr"):
            target = getattr(_HANDLES[int(job["handle"])], job["name"])
        elif job["name"] not in namespace:
            return {"missing": job["name"]}
        else:
            target = namespace[job["name"]]
        if op in ("value", "attr"):
            result = target
        elif op == "new":
            instance = target(*args, **kwargs)
            _HANDLES[len(_HANDLES) + 1] = instance
            return {"handle": len(_HANDLES)}
        else:
            result = target(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - the learner's code may raise anything
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            return {"raised": error_record(exc), "interrupted": True}
        return {"raised": error_record(exc)}
    try:
        return {"ok": wire.to_plain(result)}
    except wire.NotPlainData as exc:
        return {"not_plain": str(exc)}


def serve() -> None:
    """Ask the grader for one job, run it, send the reply (all over the stdin channel)."""
    import IPython

    namespace = IPython.get_ipython().user_ns
    job = wire.loads(_ask(PROMPT_JOB))
    reply = run_job(job, namespace)
    _ask(PROMPT_DONE + wire.dumps(reply))
