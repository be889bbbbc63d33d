"""``servelab bench``: measure an OpenAI-compatible endpoint; re-derive and plot saved runs.

    servelab bench serve --base-url http://127.0.0.1:8400 --model M --max-concurrency 4 ...
    servelab bench report RUN.jsonl [--goodput ttft:500 tpot:50]
    servelab bench plot RUN.jsonl [--out DIR]
    servelab bench floors

Flag names follow `vllm bench serve` where the two overlap.
"""

from __future__ import annotations

import argparse
import math
import os
from datetime import datetime
from pathlib import Path

from servelab_base.config import get_settings


def parse_goodput(items: list[str] | None) -> dict[str, float]:
    """``["ttft:500", "tpot:50"]`` -> ``{"ttft": 500.0, "tpot": 50.0}`` (milliseconds)."""
    from servelab.bench.metrics import SLO_METRICS

    slos = {}
    for item in items or []:
        name, sep, value = item.partition(":")
        key = "e2e" if name == "e2el" else name
        if not sep or key not in SLO_METRICS:
            raise argparse.ArgumentTypeError(
                f"--goodput takes NAME:MS with NAME in {SLO_METRICS} (or e2el); got {item!r}"
            )
        slos[key] = float(value)
    return slos


def parse_headers(items: list[str] | None) -> dict[str, str]:
    headers = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"--header takes KEY=VALUE; got {item!r}")
        headers[key.strip()] = value.strip()
    return headers


def _base_url(args: argparse.Namespace) -> str:
    if args.base_url:
        url = args.base_url.rstrip("/")
    else:
        url = f"http://{args.host}:{args.port}"
    return url if url.endswith("/v1") else url + "/v1"


def cmd_serve(args: argparse.Namespace) -> int:
    import json

    from servelab.bench import events, metrics
    from servelab.bench.client import Target
    from servelab.bench.loadgen import Load, Workload, run_sync
    from servelab.bench.prompts import load_prompts

    try:
        slos = parse_goodput(args.goodput)
        target = Target(
            _base_url(args),
            args.model,
            api_key=os.environ.get(args.api_key_env),
            headers=parse_headers(args.header),
        )
        prompts = load_prompts(args.dataset_name)
        extra = json.loads(args.extra_body) if args.extra_body else {}
        if args.ignore_eos:
            extra["ignore_eos"] = True
        load = Load(
            max_concurrency=args.max_concurrency,
            request_rate=args.request_rate,
            burstiness=args.burstiness,
            num_requests=args.num_prompts,
            duration_s=args.duration,
            warmup=args.num_warmups,
            seed=args.seed,
        )
    except (ValueError, FileNotFoundError, argparse.ArgumentTypeError) as exc:
        print(f"servelab bench: {exc}")
        return 2
    workload = Workload(
        prompts, max_tokens=args.output_len, extra_body=extra, name=str(args.dataset_name)
    )
    print(f"target {target.base_url} model {target.model}; {load.describe()}")
    result = run_sync(target, workload, load, progress=not args.disable_tqdm)
    percentiles = [float(p) for p in args.metric_percentiles.split(",")]
    print(metrics.report(result.records, slos, percentiles, result.meta["duration_s"]))
    client = result.meta["client"]
    print(
        f"\nclient CPU: {client['cpu_s']:.3f} s "
        f"({client['cpu_per_request_ms'] or 0:.3f} ms per request, "
        f"{100 * (client['cpu_util_of_one_core'] or 0):.1f}% of one core)"
    )
    if args.save_result:
        name = args.result_filename or (
            f"servelab-{args.request_rate}qps-c{args.max_concurrency}-"
            f"{datetime.now():%Y%m%d-%H%M%S}.jsonl"
        )
        path = events.save(
            Path(args.result_dir or ".") / name, result.records, result.meta | {"slos_ms": slos}
        )
        print(f"saved raw events: {path}")
    return 0 if any(metrics.ok(r) for r in result.records) else 1


def cmd_report(args: argparse.Namespace) -> int:
    from servelab.bench import events, metrics

    run = events.load(args.file)
    slos = parse_goodput(args.goodput) or run.meta.get("slos_ms") or None
    percentiles = [float(p) for p in args.metric_percentiles.split(",")]
    if run.meta.get("load"):
        print(f"{run.meta['load'].get('description')}  target {run.meta.get('target')}")
    print(metrics.report(run.records, slos, percentiles, run.meta.get("duration_s")))
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from servelab.bench import events, floors, plots

    run = events.load(args.file)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = Path(args.file).name.split(".")[0]
    fig, axes = plt.subplots(1, 3, figsize=(18, 5))
    plots.latency_cdf(run.records, "ttft", ax=axes[0])
    plots.timeline(run.records, n=16, ax=axes[1])
    floor = floors.itl_floor(
        floors.MODEL_BYTES[args.floor_model], floors.GPU_BANDWIDTH[args.floor_gpu]
    )
    plots.itl_vs_floor(run.records, floor, f"{args.floor_gpu} {args.floor_model} floor", ax=axes[2])
    fig.tight_layout()
    path = out / f"{stem}.png"
    fig.savefig(path, dpi=100)
    print(f"wrote {path}")
    return 0


def cmd_floors(args: argparse.Namespace) -> int:
    from servelab.bench import floors

    print("Single-stream ITL floors, MODELLED from published bandwidths (docs/metrics.md):")
    print(floors.floor_table().round(2).to_string())
    if args.measure:
        bw = floors.measure_memory_bandwidth()
        smol = floors.itl_floor(floors.MODEL_BYTES["SmolLM2-135M bf16"], bw)
        print(
            f"\nthis machine, MEASURED single-thread copy bandwidth: {bw / 1e9:.1f} GB/s -> "
            f"SmolLM2-135M bf16 floor about {1000 * smol:.1f} ms"
        )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    settings = get_settings()
    parser = subparsers.add_parser("bench", help="measure TTFT / ITL / TPOT / E2E / goodput")
    sub = parser.add_subparsers(dest="bench_command", metavar="SUBCOMMAND")
    parser.set_defaults(func=lambda a: parser.print_help() or 2)

    s = sub.add_parser("serve", help="run a benchmark (flags as in `vllm bench serve`)")
    s.add_argument("--base-url", help="e.g. http://127.0.0.1:8400 (default: the gateway)")
    s.add_argument("--host", default=settings.host)
    s.add_argument("--port", type=int, default=settings.gateway_port)
    s.add_argument("--model", default=settings.model)
    s.add_argument(
        "--api-key-env",
        default="OPENAI_API_KEY",
        help="environment variable holding the API key (sent as Bearer)",
    )
    s.add_argument(
        "--dataset-name",
        default="short_chat",
        help="prompt set in datasets/prompts/ or a .jsonl path",
    )
    s.add_argument("--num-prompts", type=int, default=100)
    s.add_argument("--duration", type=float, help="stop issuing requests after this many s")
    s.add_argument("--max-concurrency", type=int, default=None)
    s.add_argument(
        "--request-rate",
        type=float,
        default=math.inf,
        help="requests/s (inf: all at once, or closed loop with --max-concurrency)",
    )
    s.add_argument("--burstiness", type=float, default=1.0, help="1 = Poisson; gamma shape")
    s.add_argument("--num-warmups", type=int, default=0)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--output-len", type=int, default=128, help="max_tokens of each request")
    s.add_argument("--ignore-eos", action="store_true", help="vLLM: generate all output-len")
    s.add_argument("--extra-body", help="JSON merged into every request body")
    s.add_argument("--header", nargs="*", metavar="KEY=VALUE")
    s.add_argument("--goodput", nargs="*", metavar="NAME:MS", help="SLOs, e.g. ttft:500 tpot:50")
    s.add_argument("--metric-percentiles", default="50,90,99")
    s.add_argument("--save-result", action="store_true", help="save the raw events")
    s.add_argument("--result-dir")
    s.add_argument("--result-filename", help="*.jsonl or *.parquet")
    s.add_argument("--disable-tqdm", action="store_true")
    s.set_defaults(func=cmd_serve)

    r = sub.add_parser("report", help="recompute the metrics of a saved run")
    r.add_argument("file")
    r.add_argument("--goodput", nargs="*", metavar="NAME:MS")
    r.add_argument("--metric-percentiles", default="50,90,99")
    r.set_defaults(func=cmd_report)

    p = sub.add_parser("plot", help="TTFT CDF, request timeline and ITL vs floor of a saved run")
    p.add_argument("file")
    p.add_argument("--out", default=".")
    p.add_argument("--floor-gpu", default="H100 SXM", choices=sorted(_gpus()))
    p.add_argument("--floor-model", default="Llama 3 8B bf16", choices=sorted(_models()))
    p.set_defaults(func=cmd_plot)

    f = sub.add_parser("floors", help="physical ITL floors (modelled) and this machine's")
    f.add_argument("--measure", action="store_true", help="measure this machine's bandwidth")
    f.set_defaults(func=cmd_floors)


def _gpus() -> list[str]:
    from servelab.bench.floors import GPU_BANDWIDTH

    return list(GPU_BANDWIDTH)


def _models() -> list[str]:
    from servelab.bench.floors import MODEL_BYTES

    return list(MODEL_BYTES)
