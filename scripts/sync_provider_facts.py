"""Carry the provider catalog's facts into the gateway's routing tables, or check that they are.

    .venv/bin/python scripts/sync_provider_facts.py           # rewrite the facts in place
    .venv/bin/python scripts/sync_provider_facts.py --check   # list what differs; exit 1 if any

The facts are ``datasets/providers/`` (read through ``servelab_base.catalog``): per upstream of a
routing table, its ``region``, its ``jurisdiction`` (regions.csv) and its ``retention`` (days,
``used_for_training`` and the terms' address, providers.yaml). Which catalog region an upstream
is comes from where it points, not from a second hand-kept list: the default of its
``base_url`` is either a provider stand-in's loopback port (the stand-ins serve the catalog
region whose ``standin_port`` that is) or a region's ``real_endpoint``. An upstream that is
neither must be ``on-prem`` (our own engines: not catalog facts, left alone).

Only those lines of each upstream of ``reference_stack/gateway/routing.yaml`` are rewritten;
comments, prices, ports and chains stay as written. ``--check`` also reads lab 08's
``datasets/lab08/gateway_routing.yaml``, which ``scripts/record_lab08.py`` generates from the
embedded table: run that one after this one. The tests that fail on a difference
(tests/unit/gateway/test_gateway_residency.py, tests/unit/labs/test_lab08_residency.py) name
this command.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reference_stack.gateway.routing import RoutingTable  # noqa: E402
from servelab_base.catalog import Catalog, load  # noqa: E402
from servelab_base.paths import ROOT  # noqa: E402

ROUTING = ROOT / "reference_stack" / "gateway" / "routing.yaml"
#: checked; the lab's table is generated from ROUTING by scripts/record_lab08.py, not rewritten
LAB_ROUTING = ROOT / "datasets" / "lab08" / "gateway_routing.yaml"
COMMAND = ".venv/bin/python scripts/sync_provider_facts.py"
_DEFAULT = re.compile(r"^\$\{\w+:-([^}]*)\}$")
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def default_url(base_url: str) -> str:
    """The URL a ``${VAR:-default}`` reference falls back to (the table as shipped)."""
    match = _DEFAULT.match(base_url.strip())
    return match.group(1) if match else base_url


def address(upstream: dict) -> str:
    """An upstream's ``base_url``, or a replica pool's first replica (all share one place)."""
    return upstream.get("base_url") or upstream["replicas"][0]


def catalog_region(base_url: str, catalog: Catalog) -> tuple[str, str] | None:
    """(provider, region) of the catalog that an upstream's ``base_url`` reaches, or None."""
    url = default_url(base_url)
    parts = urlsplit(url)
    for row in catalog.rows["regions"]:
        port = int(row["standin_port"]) if row["standin_port"] else None
        if parts.hostname in _LOOPBACK and port is not None and parts.port == port:
            return row["provider"], row["region"]
        if url.rstrip("/") == row["real_endpoint"].rstrip("/"):
            return row["provider"], row["region"]
    return None


def expected_facts(provider: str, region: str, catalog: Catalog) -> dict:
    """The routing-table fields the catalog decides for one provider region."""
    p, r = catalog.provider(provider), catalog.region(provider, region)
    return {
        "region": r.region,
        "jurisdiction": r.jurisdiction,
        "retention": {
            "days": p["retention_days"],
            "used_for_training": p["trains_on_api_data"],
            "terms": p["retention_source"],
        },
    }


def differences(path: Path, catalog: Catalog | None = None) -> list[str]:
    """Every fact of ``path`` that is not the catalog's, one line each (empty: in sync)."""
    catalog = catalog or load()
    upstreams = yaml.safe_load(path.read_text())["upstreams"]
    out = []
    for name, up in upstreams.items():
        where = catalog_region(address(up), catalog)
        if where is None:
            if up["jurisdiction"] != "on-prem":
                out.append(
                    f"{path.name}: upstream '{name}' ({address(up)}) is no catalogued "
                    f"provider region and not on-prem: add it to datasets/providers/ first"
                )
            continue
        want = expected_facts(*where, catalog)
        if want["retention"]["days"] is None:
            out.append(
                f"{path.name}: upstream '{name}' is {'/'.join(where)}, whose retention is not "
                f"catalogued: a gateway upstream needs known retention terms"
            )
            continue
        have = {
            "region": up.get("region"),
            "jurisdiction": up.get("jurisdiction"),
            "retention": {
                "days": up.get("retention", {}).get("days"),
                "used_for_training": up.get("retention", {}).get("used_for_training", False),
                "terms": up.get("retention", {}).get("terms", ""),
            },
        }
        for field in ("region", "jurisdiction"):
            if have[field] != want[field]:
                out.append(
                    f"{path.name}: upstream '{name}' ({'/'.join(where)}): {field} "
                    f"{have[field]!r}, catalog says {want[field]!r}"
                )
        for field, value in want["retention"].items():
            if have["retention"][field] != value:
                out.append(
                    f"{path.name}: upstream '{name}' ({'/'.join(where)}): retention.{field} "
                    f"{have['retention'][field]!r}, catalog says {value!r}"
                )
    return out


def _retention_text(retention: dict) -> str:
    training = "true" if retention["used_for_training"] else "false"
    return (
        f"retention: {{days: {retention['days']}, used_for_training: {training},\n"
        f'                terms: "{retention["terms"]}"}}'
    )


def rewrite(path: Path, catalog: Catalog | None = None) -> bool:
    """Rewrite the catalog's facts of every catalogued upstream of ``path``; True if changed."""
    catalog = catalog or load()
    text = path.read_text()
    upstreams = yaml.safe_load(text)["upstreams"]
    lines = text.split("\n")
    block_start = lines.index("upstreams:")
    for name, up in upstreams.items():
        where = catalog_region(address(up), catalog)
        if where is None:
            continue
        want = expected_facts(*where, catalog)
        if want["retention"]["days"] is None:
            raise SystemExit(
                f"{path}: upstream '{name}' is {'/'.join(where)}, whose retention is not "
                f"catalogued; catalogue it or take the upstream out"
            )
        start = lines.index(f"  {name}:", block_start)
        end = start + 1
        while end < len(lines) and (lines[end].startswith("    ") or not lines[end].strip()):
            end += 1
        block = "\n".join(lines[start:end])
        block = re.sub(r"(?m)^    region: .*$", f"    region: {want['region']}", block)
        block = re.sub(
            r"(?m)^    jurisdiction: .*$", f"    jurisdiction: {want['jurisdiction']}", block
        )
        block = re.sub(
            r"(?ms)^    retention: \{.*?\}", "    " + _retention_text(want["retention"]), block
        )
        lines[start:end] = block.split("\n")
    new = "\n".join(lines)
    if new == text:
        return False
    path.write_text(new)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only list differences")
    args = parser.parse_args(argv)
    catalog = load()
    if args.check:
        found = [line for path in (ROUTING, LAB_ROUTING) for line in differences(path, catalog)]
        print("\n".join(found) or "routing tables match the catalog")
        return 1 if found else 0
    changed = rewrite(ROUTING, catalog)
    print(f"{ROUTING.relative_to(ROOT)}: {'rewritten' if changed else 'unchanged'}")
    RoutingTable.load(ROUTING)  # still a valid table
    left = differences(ROUTING, catalog)
    if left:
        print("\n".join(left))
        return 1
    print("now run .venv/bin/python scripts/record_lab08.py (lab 08's copy of these upstreams)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
