"""Check Helm values against a chart contract: the project's own note of what a chart accepts.

    .venv/bin/python scripts/chart_contract.py check CONTRACT VALUES
    .venv/bin/python scripts/chart_contract.py compare CONTRACT --schema FILE --defaults FILE

A chart contract (deploy/jupyterhub/z2jh/chart_contract.yaml,
deploy/kubernetes/production-stack/chart_contract.yaml) lists, in this project's words, every
key our values file sets and every key the chart requires beside them: its type, the values
or range it takes, whether our values must set it, and the chart's default where our
reasoning depends on it, with the chart commit it was read from. Nothing of the chart is
copied; the contract is deliberately narrower than the chart (only what we use).

`check` (used by the unit tests and by scripts/kubernetes_values.py) refuses a value the
contract does not describe: an unknown key (a misspelt `maxModelLength` would otherwise be
ignored by the chart without a word), a wrong type, a value outside the allowed ones or the
range, a required key left out. A key our values leave out takes the chart's recorded
default, which must then satisfy the same rules, as Helm merges its defaults under ours.

`compare` is run by hand when the chart's pin moves: given the chart's own values schema and
values.yaml from a checkout of the chart at the new commit, it lists where the contract and
the chart disagree (a key the chart refuses, a type or choice it does not accept, a changed
default, a key it requires that the contract leaves out).

Paths are dotted keys; `[]` stands for every item of a list and `*` for any key of a map
whose keys are free (environment variables, say).
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

#: the types a contract may name, and the Python values each accepts (YAML as PyYAML loads it)
TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "map": (dict,),
    "list": (list,),
}
#: what each contract type is called in a JSON schema
SCHEMA_TYPES = {
    "string": {"string"},
    "integer": {"integer", "number"},
    "number": {"number"},
    "boolean": {"boolean"},
    "map": {"object"},
    "list": {"array"},
}
#: the attributes an entry may have; anything else is a mistake in the contract
ATTRIBUTES = {
    "type",
    "nullable",
    "required",
    "values",
    "min",
    "max",
    "greater_than",
    "pattern",
    "default",
    "chart_fills",
    "why",
}


class ContractError(ValueError):
    """The contract file itself is malformed (an unknown attribute, a path without a parent)."""


@dataclass(frozen=True)
class Entry:
    """What the contract says about one path."""

    path: str
    type: str
    nullable: bool = False
    required: bool = False
    values: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None
    greater_than: float | None = None
    pattern: str | None = None
    has_default: bool = False
    default: Any = None
    chart_fills: bool = False
    why: str = ""


@dataclass(frozen=True)
class Contract:
    """A chart contract: where it was read (`chart`) and one Entry per path."""

    chart: dict[str, Any]
    entries: dict[str, Entry]
    children: dict[str, list[str]] = field(default_factory=dict)

    def default(self, path: str) -> Any:
        """The chart default the contract records for `path` (KeyError when it records none)."""
        entry = self.entries[path]
        if not entry.has_default:
            raise KeyError(f"the contract records no chart default for {path}")
        return entry.default


def parent(path: str) -> str:
    """`a.b[]` -> `a.b`, `a.b[].c` -> `a.b[]`, `a` -> `` (the root)."""
    if path.endswith("[]"):
        return path[:-2]
    return path.rpartition(".")[0]


def _entry(path: str, spec: Any) -> Entry:
    if not isinstance(spec, dict):
        raise ContractError(f"{path}: an entry is a map of attributes, not {spec!r}")
    unknown = set(spec) - ATTRIBUTES
    if unknown:
        raise ContractError(f"{path}: unknown attribute(s) {sorted(unknown)}")
    if spec.get("type") not in TYPES:
        raise ContractError(
            f"{path}: type must be one of {sorted(TYPES)}, not {spec.get('type')!r}"
        )
    values = spec.get("values")
    if values is not None and not isinstance(values, list):
        raise ContractError(f"{path}: values must be a list")
    if "pattern" in spec:
        if spec["type"] != "string":
            raise ContractError(f"{path}: a pattern needs type string")
        re.compile(spec["pattern"])
    bounds = {"min", "max", "greater_than"} & set(spec)
    if bounds and spec["type"] not in ("integer", "number"):
        raise ContractError(f"{path}: {sorted(bounds)} need type integer or number")
    return Entry(
        path=path,
        type=spec["type"],
        nullable=bool(spec.get("nullable", False)),
        required=bool(spec.get("required", False)),
        values=tuple(values) if values is not None else None,
        min=spec.get("min"),
        max=spec.get("max"),
        greater_than=spec.get("greater_than"),
        pattern=spec.get("pattern"),
        has_default="default" in spec,
        default=spec.get("default"),
        chart_fills=bool(spec.get("chart_fills", False)),
        why=str(spec.get("why", "")),
    )


def load(path: Path) -> Contract:
    """Read a contract file, refusing a malformed one (so a typo cannot disable a check)."""
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("fields"), dict):
        raise ContractError(f"{path}: needs a `fields:` map")
    chart = data.get("chart") or {}
    for key in ("repository", "commit"):
        if not chart.get(key):
            raise ContractError(f"{path}: chart.{key} is missing (say where it was read)")
    entries = {p: _entry(p, spec) for p, spec in data["fields"].items()}
    children: dict[str, list[str]] = {}
    for p in entries:
        up = parent(p)
        if up and up not in entries:
            raise ContractError(f"{p}: its parent {up} is not in the contract")
        if up and entries[up].type != ("list" if p.endswith("[]") else "map"):
            raise ContractError(f"{p}: its parent {up} is a {entries[up].type}")
        children.setdefault(up, []).append(p)
    return Contract(chart=chart, entries=entries, children=children)


def _type_name(value: Any) -> str:
    for name, kinds in TYPES.items():
        if isinstance(value, kinds) and not (isinstance(value, bool) and name != "boolean"):
            return name
    return type(value).__name__


def _rule_problems(value: Any, entry: Entry) -> list[str]:
    """Why `value` breaks the entry's type, choices, range or pattern ([] if it does not)."""
    if value is None:
        return [] if entry.nullable else [f"null, the contract says {entry.type}"]
    kinds = TYPES[entry.type]
    if not isinstance(value, kinds) or (isinstance(value, bool) and entry.type != "boolean"):
        return [f"{value!r} is of type {_type_name(value)}, the contract says {entry.type}"]
    problems = []
    if entry.values is not None and value not in entry.values:
        choices = ", ".join(repr(v) for v in entry.values)
        problems.append(f"{value!r} is not one of {choices}")
    if isinstance(value, str) and entry.pattern is not None:
        if not re.fullmatch(entry.pattern, value):
            problems.append(f"{value!r} does not match {entry.pattern}")
    if entry.type in ("integer", "number"):
        if entry.min is not None and value < entry.min:
            problems.append(f"{value!r} is below the minimum {entry.min}")
        if entry.max is not None and value > entry.max:
            problems.append(f"{value!r} is above the maximum {entry.max}")
        if entry.greater_than is not None and value <= entry.greater_than:
            problems.append(f"{value!r} must be greater than {entry.greater_than}")
    return problems


def _check_node(value: Any, pattern: str, where: str, contract: Contract, out: list[str]) -> None:
    entry = contract.entries.get(pattern)
    if entry is not None:
        problems = _rule_problems(value, entry)
        out += [f"{where}: {p}" for p in problems]
        if problems:
            return
    if isinstance(value, list):
        if value and f"{pattern}[]" not in contract.entries:
            out.append(f"{where}: the contract describes no items for this list")
            return
        for i, item in enumerate(value):
            _check_node(item, f"{pattern}[]", f"{where}[{i}]", contract, out)
    elif isinstance(value, dict):
        _check_map(value, pattern, where, contract, out)


def _check_map(value: dict, pattern: str, where: str, contract: Contract, out: list[str]) -> None:
    prefix = f"{pattern}." if pattern else ""
    at = f"{where}." if where else ""
    free = contract.entries.get(f"{prefix}*")
    named = {
        p.rpartition(".")[2]: p for p in contract.children.get(pattern, []) if p != f"{prefix}*"
    }
    for key, sub in value.items():
        if str(key) in named:
            _check_node(sub, named[str(key)], f"{at}{key}", contract, out)
        elif free is not None:
            _check_node(sub, free.path, f"{at}{key}", contract, out)
        else:
            known = ", ".join(sorted(named)) or "none"
            guess = difflib.get_close_matches(str(key), list(named), n=1)
            hint = f"; did you mean {guess[0]}?" if guess else ""
            out.append(f"{at}{key}: not a key the contract knows (known here: {known}){hint}")
    for key, path in named.items():
        if key in value:
            continue
        entry = contract.entries[path]
        if entry.required:
            why = f" ({entry.why.strip()})" if entry.why else ""
            out.append(f"{at}{key}: required, and not set{why}")
        elif entry.has_default:
            # Helm merges the chart's defaults under our values: the default is what runs
            for problem in _rule_problems(entry.default, entry):
                out.append(
                    f"{at}{key}: not set, and the chart's default breaks the contract: {problem}"
                )


def check(values: Any, contract: Contract) -> list[str]:
    """Every way `values` breaks the contract, one line each ([] when it keeps it)."""
    out: list[str] = []
    if not isinstance(values, dict):
        return [f"the values are of type {_type_name(values)}, not a map"]
    _check_map(values, "", "", contract, out)
    return out


# ---- compare: the contract against the chart itself (by hand, from a checkout of the chart)


def _segments(path: str) -> list[str]:
    """`a.b[].c` -> ['a', 'b', '[]', 'c']."""
    out = []
    for part in path.split("."):
        name = part.replace("[]", "")
        if name:
            out.append(name)
        out += ["[]"] * part.count("[]")
    return out


def _schema_node(schema: dict, path: str) -> tuple[str, dict | None]:
    """Where the chart's schema puts `path`: ("named", node), ("open", None), ("refused", None)."""
    node: Any = schema
    for seg in _segments(path):
        if not isinstance(node, dict):
            return "open", None
        if seg == "[]":
            node = node.get("items")
            continue
        props = node.get("properties") or {}
        if seg != "*" and seg in props:
            node = props[seg]
            continue
        matched = [
            sub
            for pat, sub in (node.get("patternProperties") or {}).items()
            if seg != "*" and re.search(pat, seg)
        ]
        if matched:
            node = matched[0]
        elif node.get("additionalProperties") is False:
            return "refused", None
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            return "open", None
    return ("named", node) if isinstance(node, dict) else ("open", None)


def _chart_default(defaults: Any, path: str) -> tuple[bool, Any]:
    """(found, value) of `path` in the chart's values.yaml; never through a list or `*`."""
    node = defaults
    for seg in _segments(path):
        if seg in ("[]", "*") or not isinstance(node, dict) or seg not in node:
            return False, None
        node = node[seg]
    return True, node


def compare(contract: Contract, schema: dict, defaults: dict) -> tuple[list[str], list[str]]:
    """(disagreements, notes) between the contract and the chart's schema and defaults."""
    wrong: list[str] = []
    notes: list[str] = []
    for path, entry in contract.entries.items():
        how, node = _schema_node(schema, path)
        if how == "refused":
            wrong.append(f"{path}: the chart's schema refuses this key")
            continue
        if how == "open":
            notes.append(f"{path}: the chart's schema does not describe it (passed through)")
        else:
            given = node.get("type")
            kinds = {given} if isinstance(given, str) else set(given or [])
            if kinds and not SCHEMA_TYPES[entry.type] & kinds:
                wrong.append(f"{path}: the contract says {entry.type}, the chart {sorted(kinds)}")
            if kinds and entry.nullable and "null" not in kinds:
                wrong.append(f"{path}: the contract allows null, the chart does not")
            enum = node.get("enum")
            if enum is not None and entry.values is not None:
                extra = [v for v in entry.values if v not in enum]
                if extra:
                    wrong.append(f"{path}: the chart does not accept {extra}")
            # a map the chart fills and we leave alone keeps what the chart requires inside it
            untouched = entry.chart_fills and not contract.children.get(path)
            for key in [] if untouched else node.get("required") or []:
                if f"{path}.{key}" not in contract.entries:
                    wrong.append(f"{path}.{key}: the chart requires it; the contract omits it")
        found, value = _chart_default(defaults, path)
        if entry.has_default and "[]" not in path:
            if not found:
                wrong.append(f"{path}: the contract records a default the chart does not have")
            elif value != entry.default:
                wrong.append(
                    f"{path}: chart default {value!r}, the contract says {entry.default!r}"
                )
        if entry.chart_fills and (not found or value is None):
            wrong.append(f"{path}: chart_fills, but the chart's values.yaml has no value")
    for key in schema.get("required") or []:
        if key not in contract.entries:
            wrong.append(f"{key}: the chart requires it; the contract omits it")
    return wrong, notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    check_cmd = sub.add_parser("check", help="check a values file against a contract")
    check_cmd.add_argument("contract", type=Path)
    check_cmd.add_argument("values", type=Path)
    compare_cmd = sub.add_parser("compare", help="compare a contract with the chart's own files")
    compare_cmd.add_argument("contract", type=Path)
    compare_cmd.add_argument("--schema", type=Path, required=True, help="the chart's schema")
    compare_cmd.add_argument("--defaults", type=Path, required=True, help="its values.yaml")
    args = parser.parse_args(argv)
    try:
        contract = load(args.contract)
        if args.command == "check":
            problems = check(yaml.safe_load(args.values.read_text()), contract)
            print("\n".join(problems) or f"{args.values}: keeps {args.contract}")
            return 1 if problems else 0
        schema = yaml.safe_load(args.schema.read_text())
        wrong, notes = compare(contract, schema, yaml.safe_load(args.defaults.read_text()))
    except (OSError, yaml.YAMLError, ContractError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print("\n".join(f"note: {n}" for n in notes))
    print("\n".join(wrong) or f"{args.contract} agrees with the chart's schema and defaults")
    return 1 if wrong else 0


if __name__ == "__main__":
    raise SystemExit(main())
