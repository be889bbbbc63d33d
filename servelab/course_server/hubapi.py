"""A small client of JupyterHub's REST API, for scripts that run a class (and its tests).

    hub = Hub("http://127.0.0.1:8895", admin_token)     # the course-admin service's token
    hub.add_users(["ada", "alan"])                       # accounts created by the hub (useradd)
    alan = hub.as_user("alan")                           # a token of alan's, from the admin
    alan.start_server()                                  # alan's own server, as alan's uid
    alan.get("api/contents")                             # alan's Jupyter server, through the proxy

Every call goes through the hub's public address (the proxy), as a browser's would.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

#: A single-user server on a busy 2-core machine starts in about 5-15 s.
START_TIMEOUT_S = 120.0
POLL_S = 0.25


class HubError(RuntimeError):
    """The hub answered with an error."""


@dataclass
class Hub:
    """The hub at ``url``, called with ``token``."""

    url: str
    token: str
    timeout: float = 60.0

    def _client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url.rstrip("/") + "/",
            headers={"Authorization": f"token {self.token}"},
            timeout=self.timeout,
            follow_redirects=False,
        )

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A call to ``/hub/api/<path>``; HubError on a 4xx/5xx answer."""
        with self._client() as client:
            response = client.request(method, f"hub/api/{path}", **kwargs)
        if response.status_code >= 400:
            raise HubError(f"{method} /hub/api/{path}: {response.status_code} {response.text}")
        return response

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until the hub answers through its proxy."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with self._client() as client:
                    if client.get("hub/api/").status_code == 200:
                        return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise HubError(f"the hub at {self.url} did not answer within {timeout} s")
            time.sleep(POLL_S)

    def add_users(self, names: list[str]) -> None:
        """Add hub users (the hub creates their Linux accounts when configured to)."""
        self.api("POST", "users", json={"usernames": names})

    def delete_user(self, name: str) -> None:
        self.api("DELETE", f"users/{name}")

    def as_user(self, name: str, note: str = "servelab course script") -> UserSession:
        """A session of user ``name``, with a token the admin makes for them."""
        token = self.api("POST", f"users/{name}/tokens", json={"note": note}).json()["token"]
        return UserSession(self.url, token, self.timeout, name=name)


@dataclass
class UserSession(Hub):
    """One person's token: the hub API as them, and their own server through the proxy."""

    name: str = ""

    def start_server(self, timeout: float = START_TIMEOUT_S) -> None:
        """Start this user's server and wait until the proxy routes to it."""
        response = self.api("POST", f"users/{self.name}/server")
        deadline = time.monotonic() + timeout
        while response.status_code == 202 or not self._ready():
            if time.monotonic() > deadline:
                raise HubError(f"{self.name}'s server did not start within {timeout} s")
            time.sleep(POLL_S)
            response = httpx.Response(200)

    def _ready(self) -> bool:
        model = self.api("GET", f"users/{self.name}").json()
        return bool(model.get("server")) and not model.get("pending")

    def stop_server(self) -> None:
        self.api("DELETE", f"users/{self.name}/server")

    def server(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A request to ``/user/<name>/<path>`` (this user's server), as this user."""
        return self.server_of(self.name, method, path, **kwargs)

    def server_of(self, owner: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A request to another user's server with this user's token (to test it is refused)."""
        with self._client() as client:
            return client.request(method, f"user/{owner}/{path}", **kwargs)
