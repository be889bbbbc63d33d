"""Record lab 07's one measured file: the gateway's failover, as the lab's live cell asks for it.

    .venv/bin/servelab up                        # the embedded stack (gateway on 8400)
    .venv/bin/python scripts/record_lab07.py     # writes datasets/lab07/gateway_failover.json

``gateway_failover.json``: ``servelab.labs.lab07_failover.gateway_failover`` against the
embedded gateway: one request as usual, one with ``x-servelab-force-failover: 1`` (status, who
served, after how many attempts), with the recording's meta. The lab shows it when its live cell
cannot reach the gateway. Everything else in datasets/lab07/ is constructed, not measured.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from servelab.bench.loadgen import hardware, versions  # noqa: E402
from servelab.labs import lab07_failover as lab  # noqa: E402
from servelab_base.config import get_settings  # noqa: E402

#: the embedded gateway's learner key (reference_stack/gateway/keys.yaml)
GATEWAY_KEY = "sk-servelab-local-learner"


def main() -> None:
    settings = get_settings()
    rows = lab.gateway_failover(settings.gateway_url, GATEWAY_KEY, settings.model)
    meta = {
        "recorded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python scripts/record_lab07.py",
        "hardware": hardware(),
        "versions": versions(),
        "kind": "measured",
        "through": "the embedded gateway (reference_stack/gateway/, routing.yaml), learner key",
        "model": settings.model,
    }
    lab.GATEWAY_FAILOVER.write_text(json.dumps({"rows": rows, "meta": meta}, indent=2) + "\n")
    for row in rows:
        print(row)
    print(f"wrote {lab.GATEWAY_FAILOVER}")


if __name__ == "__main__":
    main()
