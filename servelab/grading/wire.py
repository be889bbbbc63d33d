"""Plain data across the line between a learner's kernel and the grader.

A check never touches a learner's object: arguments go into the kernel and results come out as
JSON, and the grader compares what it decoded in its own process. An answer that is not plain
data (a subclass of float, an object with its own ``__eq__``, a generator) is refused with a
message saying why, because such an object can compare equal to anything.

Plain data is: ``None``, ``bool``, ``int``, ``float``, ``str``, and ``list`` / ``tuple`` / ``dict``
(string keys) of plain data, each of exactly that type. Tagged forms carry what labs use:

- a pandas DataFrame: ``{"__dataframe__": {"columns": [...], "records": [...]}}``, plus
  ``"index"`` and ``"index_names"`` when its index is not the default 0..n-1 (a table indexed
  by ``concurrency`` or ``request_id`` keeps that index; an index that is not plain is dropped);
- a pandas Series, index kept: ``{"__series__": {"name": ..., "index": [...], "values": [...]}}``;
- a frozen value object of the course's own packages (``servelab_base.catalog.Price``, a lab's
  dataclass or NamedTuple): ``{"__value__": {"type": "module.Class", "fields": {...}}}``,
  rebuilt only from a ``servelab`` / ``servelab_base`` / ``reference_stack`` module;
- a numpy array or scalar, as lists and numbers;
- a ``datetime.date``: ``{"__date__": "2025-11-13"}``; a ``set`` / ``frozenset`` of str, int,
  float, bool or None: ``{"__set__": [...]}``, rebuilt as a ``set`` (lab 02's offers carry
  dates, and its functions take a set of jurisdictions).

Exact types only: ``type(x) is float``, never ``isinstance``.
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
SERIES = "__series__"
VALUE = "__value__"
PROXY = "__proxy__"
DATE = "__date__"
SET = "__set__"
SET_ITEMS = (str, int, float, bool, type(None))
#: Packages whose dataclasses and NamedTuples may cross as value objects (the course's own).
VALUE_PACKAGES = ("servelab", "servelab_base", "reference_stack")


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
    if kind in (set, frozenset):
        if any(type(v) not in SET_ITEMS for v in value):
            raise NotPlainData("a set of something other than str, int, float, bool or None")
        return {SET: sorted((to_plain(v, depth + 1) for v in value), key=repr)}
    if kind.__module__ == "datetime" and kind.__qualname__ == "date":
        return {DATE: value.isoformat()}
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
            table = {"columns": columns, "records": to_plain(records, depth + 1)}
            return {DATAFRAME: table | _index_of(value, depth)}
        if kind is pd.Series:
            values = value.astype(object).where(value.notna(), None).tolist()
            name = value.name if value.name is None or type(value.name) in (int, str) else None
            return {
                SERIES: {
                    "name": name,
                    "index": to_plain(list(value.index), depth + 1),
                    "values": to_plain(values, depth + 1),
                }
            }
    if module in VALUE_PACKAGES:
        fields = _value_fields(value)
        if fields is not None:
            return {
                VALUE: {
                    "type": f"{kind.__module__}.{kind.__qualname__}",
                    "fields": to_plain(fields, depth + 1),
                }
            }
    raise NotPlainData(
        f"a {_type_name(value)} is not plain data: return None, bool, int, float, str, or a "
        "list / tuple / dict of them (a numpy value or a pandas DataFrame also works)"
    )


def _index_of(frame: Any, depth: int) -> dict[str, Any]:
    """A DataFrame's index as plain data; nothing for the default 0..n-1 (or a non-plain one)."""
    import pandas as pd

    index = frame.index
    default = pd.RangeIndex(len(frame))
    if type(index) is pd.RangeIndex and index.equals(default) and index.name is None:
        return {}
    names = [n if n is None or type(n) in (int, str) else str(n) for n in index.names]
    try:
        return {"index": to_plain(list(index), depth + 1), "index_names": names}
    except NotPlainData:
        return {}


def _value_fields(value: Any) -> dict[str, Any] | None:
    """The fields of a dataclass or NamedTuple instance (None: it is neither)."""
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if not type(value).__dataclass_params__.frozen:
            return None
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, tuple) and hasattr(type(value), "_fields"):
        return dict(zip(type(value)._fields, value, strict=True))
    return None


def _value_class(name: str) -> type:
    """The course's own value class ``module.Class``; anything else is refused."""
    import importlib

    module_name, _, class_name = str(name).rpartition(".")
    if module_name.split(".")[0] not in VALUE_PACKAGES or "." in class_name or not class_name:
        raise NotPlainData(f"{name[:120]!r} is not a value type of the course")
    cls = getattr(importlib.import_module(module_name), class_name, None)
    if not isinstance(cls, type) or _value_fields_of_class(cls) is None:
        raise NotPlainData(f"{name[:120]!r} is not a dataclass or NamedTuple of the course")
    return cls


def _value_fields_of_class(cls: type) -> tuple[str, ...] | None:
    """Field names of a frozen dataclass or a NamedTuple (values, no behaviour to trigger)."""
    import dataclasses

    if dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen:
        return tuple(f.name for f in dataclasses.fields(cls))
    if issubclass(cls, tuple) and hasattr(cls, "_fields"):
        return tuple(cls._fields)
    return None


def from_plain(value: Any) -> Any:
    """Undo the tagged forms of ``to_plain`` (grader side: the result is data from here on)."""
    if type(value) is list:
        return [from_plain(v) for v in value]
    if type(value) is dict:
        if set(value) == {"__float__"}:
            return float(value["__float__"])
        if set(value) == {DATE}:
            import datetime

            return datetime.date.fromisoformat(str(value[DATE]))
        if set(value) == {SET} and type(value[SET]) is list:
            items = [from_plain(v) for v in value[SET]]
            if any(type(v) not in SET_ITEMS for v in items):
                raise NotPlainData("a set of something other than str, int, float, bool or None")
            return set(items)
        if set(value) == {DATAFRAME}:
            import pandas as pd

            table = value[DATAFRAME]
            frame = pd.DataFrame(from_plain(table["records"]), columns=table["columns"])
            if "index" in table:
                names = list(table.get("index_names") or [None])
                index = from_plain(table["index"])
                if len(names) > 1:
                    frame.index = pd.MultiIndex.from_tuples([tuple(i) for i in index], names=names)
                else:
                    frame.index = pd.Index(index, name=names[0], dtype=None if index else object)
            return frame
        if set(value) == {SERIES}:
            import pandas as pd

            series = value[SERIES]
            return pd.Series(
                from_plain(series["values"]),
                index=from_plain(series["index"]),
                name=series.get("name"),
                dtype=object if not series["values"] else None,
            )
        if set(value) == {VALUE}:
            spec = value[VALUE]
            cls = _value_class(spec["type"])
            fields = from_plain(spec["fields"])
            if type(fields) is not dict or set(fields) != set(_value_fields_of_class(cls)):
                raise NotPlainData(f"the fields of {spec['type'][:120]!r} do not match")
            return cls(**fields)
        return {k: from_plain(v) for k, v in value.items()}
    return value


def dumps(value: Any) -> str:
    """Encode plain data (already checked by ``to_plain``) as compact JSON."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def loads(text: str) -> Any:
    """Decode what came from a kernel: JSON of bounded size, nothing else."""
    if type(text) is not str or len(text) > MAX_RESULT_CHARS:
        raise NotPlainData(f"a reply of more than {MAX_RESULT_CHARS} characters")
    try:
        value = json.loads(text)
    except RecursionError:
        raise NotPlainData(f"nested deeper than {MAX_DEPTH} levels") from None
    _check_depth(value)
    return value


def _check_depth(value: Any) -> None:
    """Refuse data nested deeper than MAX_DEPTH (without recursing: the input is hostile)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise NotPlainData(f"nested deeper than {MAX_DEPTH} levels")
        if type(item) is list:
            stack.extend((v, depth + 1) for v in item)
        elif type(item) is dict:
            stack.extend((v, depth + 1) for v in item.values())
