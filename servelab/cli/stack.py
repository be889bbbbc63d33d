"""`servelab prepare | up | down | status | logs`: the reference stack's life cycle.

- prepare: once, idempotently: check the vLLM CPU install, prepare the model (GGUF + Hugging
  Face checkpoint) and build llama-server, all into .cache/ (scripts/setup.sh calls it).
- up: start the services a profile names, in order, waiting for health; prints URLs and models.
  `--dry-run` prints the commands instead (the GPU profiles' exact `vllm serve` lines).
- status / logs / down: what runs, what it printed, stop everything `up` started.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from servelab_base.config import get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("prepare", help="prepare the model and build llama.cpp into .cache/")
    p.add_argument("--force-build", action="store_true", help="rebuild llama-server")
    p.set_defaults(func=run_prepare)

    p = subparsers.add_parser("up", help="start the reference stack and wait until it is healthy")
    p.add_argument(
        "--profile", default=None, help="profile name (default: cpu, or SERVELAB_PROFILE)"
    )
    p.add_argument(
        "--service",
        action="append",
        default=None,
        metavar="NAME",
        help="start only this service (repeatable)",
    )
    p.add_argument("--dry-run", action="store_true", help="print the commands, start nothing")
    p.add_argument(
        "--dummy-weights",
        action="store_true",
        help="GPU profiles: random weights with the real model shapes "
        "(--load-format dummy; no Hugging Face token needed)",
    )
    p.set_defaults(func=run_up)

    p = subparsers.add_parser("down", help="stop every service `servelab up` started")
    p.set_defaults(func=run_down)

    p = subparsers.add_parser("status", help="which services run and answer /health")
    p.add_argument("--profile", default=None)
    p.set_defaults(func=run_status)

    p = subparsers.add_parser("logs", help="the end of each service's log")
    p.add_argument("service", nargs="?", help="one service (default: all)")
    p.add_argument("-n", "--lines", type=int, default=40)
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    p.set_defaults(func=run_logs)


def say(message: str) -> None:
    print(message, flush=True)


def _profile(name: str | None):
    from reference_stack.stack import profile

    try:
        return profile.load(name or get_settings().profile)
    except (FileNotFoundError, ValueError) as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return None


def run_prepare(args: argparse.Namespace) -> int:
    from reference_stack.engines import llamacpp_build, model_files, vllm_install

    started = time.monotonic()
    failures: list[str] = []
    say("[prepare] 1/3 vLLM CPU engine install")
    left = vllm_install.repair(say)
    failures += [f"vLLM install: {p}" for p in left]
    say("[prepare]     ok" if not left else "[prepare]     " + "; ".join(left))

    say("[prepare] 2/3 model SmolLM2-135M-Instruct (GGUF for llama.cpp, checkpoint for vLLM)")
    try:
        model_files.prepare(lambda m: say(f"[prepare]     {m}"))
    except model_files.ModelError as e:
        failures.append(f"model: {e}")

    say("[prepare] 3/3 llama.cpp llama-server")
    try:
        llamacpp_build.build(force=args.force_build, say=lambda m: say(f"[prepare]     {m}"))
    except llamacpp_build.BuildError as e:
        failures.append(f"llama.cpp: {e}")

    if failures:
        for f in failures:
            print(f"[prepare] ERROR: {f}", file=sys.stderr)
        return 1
    say(f"[prepare] done in {time.monotonic() - started:.0f} s")
    return 0


def run_up(args: argparse.Namespace) -> int:
    from reference_stack.stack import lifecycle, supervisor

    profile = _profile(args.profile)
    if profile is None:
        return 2
    settings = get_settings()
    if args.dummy_weights and profile.model is None:
        print(
            f"[up] ERROR: profile {profile.name!r} has no --dummy-weights variant (the GPU "
            "profiles have one)",
            file=sys.stderr,
        )
        return 2
    if args.dry_run:
        try:
            lines = lifecycle.dry_run(profile, settings, args.dummy_weights)
        except supervisor.StackError as e:
            print(f"[up] ERROR: {e}", file=sys.stderr)
            return 2
        print("\n".join(lines))
        return 0
    say(f"[up] profile {profile.name}: {', '.join(s.name for s in profile.services)}")
    started = time.monotonic()
    try:
        result = lifecycle.up(profile, settings, args.service, args.dummy_weights, say)
    except supervisor.StackError as e:
        print(f"[up] ERROR: {e}", file=sys.stderr)
        return 1
    for st in result.states:
        if st.healthy:
            models = f"  models: {', '.join(st.models)}" if st.models else ""
            say(f"[up] {st.name:<16} {st.url}{models}")
    for name, error in result.errors.items():
        print(f"[up] FAILED {name}: {error}", file=sys.stderr)
    if not result.ok:
        print(
            f"[up] {len(result.errors)} service(s) failed; the others keep running. "
            "Details: `servelab logs NAME`; stop all: `servelab down`.",
            file=sys.stderr,
        )
        return 1
    say(f"[up] stack healthy in {time.monotonic() - started:.1f} s")
    return 0


def run_down(args: argparse.Namespace) -> int:
    from reference_stack.stack import lifecycle, profile

    try:
        prof = profile.load(get_settings().profile)
    except (FileNotFoundError, ValueError):
        prof = None
    stopped = lifecycle.down(prof, say)
    say(f"[down] stopped {stopped} service(s)" if stopped else "[down] nothing was running")
    return 0


def run_status(args: argparse.Namespace) -> int:
    from reference_stack.stack import lifecycle

    profile = _profile(args.profile)
    if profile is None:
        return 2
    states = lifecycle.status(profile, get_settings())
    for st in states:
        health = "healthy" if st.healthy else ("starting/unhealthy" if st.running else "down")
        owner = f"pid {st.pid}" if st.pid else ("not started by servelab" if st.healthy else "")
        models = f" models: {', '.join(st.models)}" if st.models else ""
        print(f"{st.name:<16} {health:<19} {st.url:<24} {owner}{models}")
    return 0 if all(s.healthy for s in states) else 1


def run_logs(args: argparse.Namespace) -> int:
    from reference_stack.stack import supervisor

    names = (
        [args.service] if args.service else sorted(p.stem for p in supervisor.LOG_DIR.glob("*.log"))
    )
    if not names:
        print("no logs yet: start the stack with `servelab up`", file=sys.stderr)
        return 1
    missing = [n for n in names if not supervisor.log_path(n).exists()]
    if missing:
        print(f"no log for {missing[0]} in {supervisor.LOG_DIR}", file=sys.stderr)
        return 1
    if args.follow:
        cmd = ["tail", "-n", str(args.lines), "-F", *map(str, map(supervisor.log_path, names))]
        try:
            return subprocess.call(cmd)
        except KeyboardInterrupt:
            return 0
    for name in names:
        print(f"==> {supervisor.log_path(name)} <==")
        print(supervisor.log_tail(name, args.lines))
    return 0
