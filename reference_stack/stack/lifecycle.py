"""The stack's life cycle: up (in start order, waiting for health), status, down.

`up` is idempotent: a service already running and healthy is left alone. A service that cannot
start (its port taken, its build missing, its process crashing) does not stop the others; it is
reported with the reason and its log, services that depend on it are skipped, and the result
says the stack is not fully up (the CLI then exits non-zero).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from reference_stack.stack import supervisor
from reference_stack.stack.profile import Profile, Service, placeholders
from servelab_base.config import Settings


@dataclass
class ServiceState:
    name: str
    url: str
    running: bool  # a process `up` started is alive
    healthy: bool  # its health path answers 200
    pid: int | None = None
    models: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class UpResult:
    states: list[ServiceState]
    errors: dict[str, str]

    @property
    def ok(self) -> bool:
        return not self.errors


def service_url(service: Service, settings: Settings) -> str:
    return settings.url(service.resolved_port(settings))


def served_models(url: str) -> list[str]:
    """Model ids from an OpenAI-compatible ``/v1/models`` (empty if the service has none)."""
    try:
        r = httpx.get(f"{url}/v1/models", timeout=supervisor.HEALTH_TIMEOUT_S)
        if r.status_code == 200:
            return [m["id"] for m in r.json().get("data", [])]
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        pass
    return []


def state(service: Service, settings: Settings, with_models: bool = True) -> ServiceState:
    rec = supervisor.record(service.name)
    running = bool(rec and rec.alive())
    port = service.resolved_port(settings)
    ok = supervisor.healthy(settings.host, port, service.health)
    url = service_url(service, settings)
    return ServiceState(
        service.name,
        url,
        running,
        ok,
        rec.pid if running and rec else None,
        served_models(url) if ok and with_models else [],
    )


def dry_run(profile: Profile, settings: Settings, dummy_weights: bool = False) -> list[str]:
    """The command lines `up` would run, as shell-quoted strings (nothing is started)."""
    import shlex

    lines = []
    for wave in profile.waves():
        for service in wave:
            if dummy_weights:
                service = dummy_service(profile, service)
            values = placeholders(settings, service, profile)
            argv = [supervisor.render(p, values) for p in service.command]
            env = " ".join(
                f"{k}={shlex.quote(supervisor.render(v, values))}" for k, v in service.env.items()
            )
            unset = " ".join(f"-u {k}" for k in service.unset_env)
            prefix = " ".join(x for x in ("env" if (env or unset) else "", unset, env) if x)
            lines.append(
                f"# {service.name}: {service.description}\n"
                + (prefix + " " if prefix else "")
                + shlex.join(argv)
            )
    return lines


def dummy_service(profile: Profile, service: Service) -> Service:
    """``service`` serving random weights: the model id replaced by a local directory holding
    the real config.json, plus its ``dummy_weights_args`` (``--load-format dummy``)."""
    if profile.model is None or not service.dummy_weights_args:
        raise supervisor.StackError(
            f"profile {profile.name!r} has no --dummy-weights variant "
            "(only the GPU profiles have one)"
        )
    from reference_stack.engines import dummy_model

    local = str(dummy_model.checkpoint_dir(profile.model.dummy_config))
    command = [local if part == profile.model.hf_id else part for part in service.command]
    if local not in command:
        raise supervisor.StackError(
            f"{service.name}: its command does not name the model "
            f"{profile.model.hf_id!r}, so it cannot be swapped"
        )
    return service.model_copy(update={"command": command + service.dummy_weights_args})


def up(
    profile: Profile,
    settings: Settings,
    only: list[str] | None = None,
    dummy_weights: bool = False,
    say: Callable[[str], None] = print,
) -> UpResult:
    """Start the profile's services wave by wave, waiting for health; idempotent."""
    errors: dict[str, str] = {}
    wanted = set(only or [s.name for s in profile.services])
    unknown = wanted - {s.name for s in profile.services}
    if unknown:
        raise supervisor.StackError(f"profile {profile.name!r} has no service {sorted(unknown)}")
    with supervisor.locked():
        for wave in profile.waves():
            to_wait: list[Service] = []
            for service in wave:
                if service.name not in wanted:
                    continue
                blocked = [d for d in service.after if d in errors]
                if blocked:
                    errors[service.name] = (
                        f"not started: it needs {', '.join(blocked)}, which failed"
                    )
                    continue
                port = service.resolved_port(settings)
                rec = supervisor.record(service.name)
                if rec is not None and rec.alive():
                    if supervisor.healthy(settings.host, port, service.health):
                        say(f"  {service.name} already running (pid {rec.pid})")
                    else:
                        to_wait.append(service)  # started earlier and still starting
                    continue
                if rec is not None:  # it crashed since: forget it, start afresh
                    supervisor.stop(rec)
                try:
                    if dummy_weights:
                        service = dummy_service(profile, service)
                    say(
                        f"  starting {service.name} on port {port} "
                        f"(log: {supervisor.log_path(service.name)})"
                    )
                    supervisor.start(service, profile, settings)
                    to_wait.append(service)
                except supervisor.StackError as e:
                    errors[service.name] = str(e)
            if to_wait:
                results = supervisor.wait_healthy(to_wait, settings, profile, say)
                errors.update({k: v for k, v in results.items() if v})
    states = [state(s, settings) for s in profile.services if s.name in wanted]
    return UpResult(states, errors)


def status(profile: Profile, settings: Settings) -> list[ServiceState]:
    """Every service of the profile, plus any other service `up` started and left running."""
    states = [state(s, settings) for s in profile.services]
    known = {s.name for s in profile.services}
    for rec in supervisor.records():
        if rec.name not in known:
            alive = rec.alive()
            states.append(
                ServiceState(
                    rec.name,
                    settings.url(rec.port),
                    alive,
                    supervisor.healthy(settings.host, rec.port),
                    rec.pid if alive else None,
                )
            )
    return states


def is_up(profile: Profile, settings: Settings) -> bool:
    """True when every service of the profile answers its health check."""
    return all(
        supervisor.healthy(settings.host, s.resolved_port(settings), s.health)
        for s in profile.services
    )


def down(profile: Profile | None = None, say: Callable[[str], None] = print) -> int:
    """Stop every service `up` started (in reverse start order); returns how many were running."""
    order: list[str] = []
    if profile is not None:
        order = [s.name for wave in reversed(profile.waves()) for s in wave]
    recs = sorted(
        supervisor.records(), key=lambda r: order.index(r.name) if r.name in order else -1
    )
    stopped = 0
    with supervisor.locked():
        for rec in recs:
            if supervisor.stop(rec):
                stopped += 1
                say(f"  stopped {rec.name} (pid {rec.pid})")
            else:
                say(f"  {rec.name} was not running (stale pid file removed)")
    return stopped
