"""Plain data across the line between a learner's kernel and the grader.

A check never touches a learner's object: arguments go into the kernel and results come out as
JSON, and the grader compares what it decoded in its own process. An answer that is not plain
data (a subclass of float, an object with its own ``__eq__``, a generator) is refused with a
message saying why, because such an object can compare equal to anything.

Plain data is: ``None``, ``bool``, ``int``, ``float``, ``str``, and ``list`` / ``tuple`` / ``dict``
(string keys) of plain data, each of exactly that type. Two tagged forms carry what labs use:
a pandas DataFrame (``{"__dataframe__": {"columns": [...], "records": [...]}}``) and a numpy
array or scalar (as lists and numbers). Exact types only: ``type(x) is float``, never
``isinstance``.
"""

from __future__ import annotations

import json
import math
from typing import Any

#: Largest encoded result the grader accepts (a lab's answer is a few numbers or a small table).
MAX_RESULT_CHARS = 4 * 2**20
#: Deepest nesting accepted (a recursive structure would never end).
MAX_DEPTH = 32
DATAFRAME = "__dataframe__"
PROXY = "__proxy__"


class NotPlainData(TypeError):
    """A value that cannot cross as plain data (the message says which part and why)."""


def _type_name(value: Any) -> str:
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}"[:120]


def to_plain(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON-ready plain data, or NotPlainData saying what is not."""
    if depth > MAX_DEPTH:
        raise NotPlainData(f"nested deeper than {MAX_DEPTH} levels")
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if kind in (list, tuple):
        return [to_plain(v, depth + 1) for v in value]
    if kind is dict:
        out = {}
        for key, item in value.items():
            if type(key) is not str:
                raise NotPlainData(f"a dict key of type {_type_name(key)} (keys must be str)")
            out[key] = to_plain(item, depth + 1)
        return out
    module = kind.__module__.split(".")[0]
    if module == "numpy":
        import numpy as np

        if kind is np.ndarray:
            return to_plain(value.tolist(), depth + 1)
        if isinstance(value, np.generic) and kind.__module__ == "numpy":
            return to_plain(value.item(), depth + 1)
    if module == "pandas":
        import pandas as pd

        if kind is pd.DataFrame:
            columns = [str(c) for c in value.columns]
            frame = value.astype(object).where(value.notna(), None)
            records = [dict(zip(columns, row, strict=True)) for row in frame.values.tolist()]
            return {DATAFRAME: {"columns": columns, "records": to_plain(records, depth + 1)}}
        if kind is pd.Series:
            return to_plain(value.astype(object).where(value.notna(), None).tolist(), depth + 1)
    raise NotPlainData(
        f"a {_type_name(value)} is not plain data: return None, bool, int, float, str, or a "
        "list / tuple / dict of them (a numpy value or a pandas DataFrame also works)"
    )


def from_plain(value: Any) -> Any:
    """Undo the tagged forms of ``to_plain`` (grader side: the result is data from here on)."""
    if type(value) is list:
        return [from_plain(v) for v in value]
    if type(value) is dict:
        if set(value) == {"__float__"}:
            return float(value["__float__"])
        if set(value) == {DATAFRAME}:
            import pandas as pd

            table = value[DATAFRAME]
            return pd.DataFrame(from_plain(table["records"]), columns=table["columns"])
        return {k: from_plain(v) for k, v in value.items()}
    return value


def dumps(value: Any) -> str:
    """Encode plain data (already checked by ``to_plain``) as compact JSON."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def loads(text: str) -> Any:
    """Decode what came from a kernel: JSON of bounded size, nothing else."""
    if type(text) is not str or len(text) > MAX_RESULT_CHARS:
        raise NotPlainData(f"a reply of more than {MAX_RESULT_CHARS} characters")
    return json.loads(text)
