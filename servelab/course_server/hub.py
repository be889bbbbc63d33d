"""The course server's JupyterHub configuration, as code (deploy/jupyterhub/jupyterhub_config.py
calls ``configure``).

One machine, local Linux accounts, one single-user Jupyter server per person started by
JupyterHub's LocalProcessSpawner as that person's uid. Two kinds of people:

- **instructors** (``SERVELAB_HUB_INSTRUCTORS``): their server opens the course (solutions/,
  grading/) with the course's nbgrader configuration, so the formgrader works;
- **learners** (everyone else): their server opens their home with the learners' nbgrader
  configuration (deploy/jupyterhub/learner/): the assignment list (fetch, validate, submit,
  feedback) and no formgrader.

Every setting comes from ``SERVELAB_HUB_*`` variables (``HubSettings``), so the same file serves
a test on loopback and a class's server.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict

from servelab.course_server.roster import read_roster
from servelab.course_server.runtime import learner_python
from servelab_base.paths import CACHE, GRADING, ROOT

#: The proxy installed by scripts/setup.sh (deploy/jupyterhub/proxy/, pinned with npm's lock).
BUNDLED_PROXY = CACHE / "jupyterhub-proxy" / "node_modules" / ".bin" / "configurable-http-proxy"
LEARNER_CONFIG = ROOT / "deploy" / "jupyterhub" / "learner"
#: Created with their home private (0700, not Debian's 0755), so learners cannot read each
#: other's work, their nbgrader cache (which holds the secret naming their feedback) or keys.
ADD_USER_CMD = ["useradd", "--create-home", "--key", "HOME_MODE=0700", "--shell", "/bin/bash"]
#: nbgrader's server extensions a learner's server leaves out (instructor tools).
INSTRUCTOR_EXTENSIONS = (
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.course_list",
)


class HubSettings(BaseSettings):
    """Where the hub listens, keeps its state, finds the course. Override with SERVELAB_HUB_*."""

    model_config = SettingsConfigDict(env_prefix="SERVELAB_HUB_", extra="ignore")

    #: public address of the proxy; a class's server puts TLS (a reverse proxy) in front
    ip: str = "127.0.0.1"
    port: int = 8895
    #: the hub's own API, and the proxy's, on loopback only
    hub_port: int = 8896
    proxy_api_port: int = 8897
    #: the hub's database and cookie secret
    state_dir: Path = Path("/var/lib/servelab-hub")
    #: comma-separated user names
    instructors: str = ""
    admins: str = ""
    #: roster.csv (servelab/course_server/roster.py): its learners may log in; the hub creates
    #: their accounts when it starts
    roster: Path | None = None
    #: a file holding the token of the ``course-admin`` service (role admin), for scripts
    admin_token_file: Path | None = None
    course_root: Path = ROOT
    grading_dir: Path | None = None
    exchange_dir: Path = Path("/srv/nbgrader/exchange")
    course_id: str = "servelab"
    #: who may log in: "pam" (local passwords) or any JupyterHub authenticator class; it must
    #: be a LocalAuthenticator (e.g. a Local...OAuthenticator) for the hub to create accounts
    authenticator: str = "pam"
    #: seconds a single-user server may take to start (a busy 2-core machine needs ~10)
    start_timeout: int = 120
    #: where a runtime every account can run is built when the course's Python is private
    #: (servelab/course_server/runtime.py)
    runtime_dir: Path = CACHE / "hub-runtime"

    @staticmethod
    def names(value: str) -> set[str]:
        return {n.strip() for n in value.split(",") if n.strip()}

    @property
    def instructor_names(self) -> set[str]:
        return self.names(self.instructors)

    @property
    def grading(self) -> Path:
        return self.grading_dir or self.course_root / "grading"

    def proxy_command(self) -> list[str]:
        """The configurable-http-proxy to run: the one set-up installed, else one on PATH."""
        if BUNDLED_PROXY.exists():
            return [str(BUNDLED_PROXY)]
        found = shutil.which("configurable-http-proxy")
        if not found:
            raise FileNotFoundError(
                "configurable-http-proxy is not installed: run `make setup` (it installs it "
                f"into {BUNDLED_PROXY.parent.parent.parent} with npm) or `npm install -g "
                "configurable-http-proxy`"
            )
        return [found]


def server_environment(settings: HubSettings, instructor: bool, python: Path) -> dict[str, str]:
    """The environment of one person's single-user server (``python`` runs it)."""
    env = {
        # kernels and nbgrader's tools run from PATH: the servers' Python first
        "PATH": f"{python.parent}:/usr/local/bin:/usr/bin:/bin",
        "SERVELAB_EXCHANGE_DIR": str(settings.exchange_dir),
        "SERVELAB_COURSE_ID": settings.course_id,
        "HF_HUB_OFFLINE": "1",
    }
    if instructor:
        env["JUPYTER_CONFIG_PATH"] = str(GRADING)
        env["SERVELAB_COURSE_ROOT"] = str(settings.course_root)
        env["SERVELAB_GRADING_DIR"] = str(settings.grading)
    else:
        env["JUPYTER_CONFIG_PATH"] = str(LEARNER_CONFIG)
    return env


def learner_args() -> list[str]:
    """Command-line options of a learner's server: the instructor tools switched off."""
    return [f"--ServerApp.jpserver_extensions={name}=False" for name in INSTRUCTOR_EXTENSIONS]


def configure(c: Any, settings: HubSettings | None = None) -> HubSettings:
    """Fill JupyterHub's config object ``c`` for the course server; returns the settings used."""
    settings = settings or HubSettings()
    instructors = settings.instructor_names
    settings.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)

    c.JupyterHub.ip = settings.ip
    c.JupyterHub.port = settings.port
    c.JupyterHub.hub_ip = "127.0.0.1"
    c.JupyterHub.hub_port = settings.hub_port
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings.proxy_api_port}"
    c.ConfigurableHTTPProxy.command = settings.proxy_command()
    c.JupyterHub.db_url = f"sqlite:///{settings.state_dir / 'jupyterhub.sqlite'}"
    c.JupyterHub.cookie_secret_file = str(settings.state_dir / "jupyterhub_cookie_secret")
    c.JupyterHub.pid_file = str(settings.state_dir / "jupyterhub.pid")
    c.JupyterHub.cleanup_servers = True

    # Accounts: PAM logins of local users; users the hub adds get a private home.
    c.JupyterHub.authenticator_class = settings.authenticator
    c.LocalAuthenticator.create_system_users = True
    c.LocalAuthenticator.add_user_cmd = ADD_USER_CMD
    c.Authenticator.admin_users = settings.names(settings.admins)
    learners = {x.username for x in read_roster(settings.roster)} if settings.roster else set()
    c.Authenticator.allowed_users = instructors | learners
    c.Authenticator.allow_existing_users = True  # those added through the admin page or API

    if settings.admin_token_file:
        token = settings.admin_token_file.read_text().strip()
        c.JupyterHub.services = [{"name": "course-admin", "api_token": token}]
        c.JupyterHub.load_roles = [{"name": "admin", "services": ["course-admin"]}]

    # Servers: one process per person, as that person, with a Python every account can run.
    python = learner_python(settings.runtime_dir)
    c.JupyterHub.spawner_class = "localprocess"
    c.Spawner.cmd = [str(python), "-m", "jupyterhub.singleuser"]
    c.Spawner.default_url = "/lab"
    c.Spawner.start_timeout = settings.start_timeout
    c.Spawner.http_timeout = settings.start_timeout

    def pre_spawn_hook(spawner: Any) -> None:
        instructor = spawner.user.name in instructors
        spawner.environment = {
            **spawner.environment,
            **server_environment(settings, instructor, python),
        }
        if instructor:
            spawner.notebook_dir = str(settings.course_root)
        else:
            spawner.notebook_dir = "~"
            spawner.args = [*spawner.args, *learner_args()]

    c.Spawner.pre_spawn_hook = pre_spawn_hook
    return settings
