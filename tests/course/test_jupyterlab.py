"""README's first command ends in JupyterLab on labs/: it starts, serves lab 00, runs a kernel."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from servelab_base.paths import ROOT

START_TIMEOUT_S = 90  # JupyterLab with the nbgrader extension starts in ~5-15 s on 2 cores
TOKEN = "servelab-test-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory):
    port = free_port()
    home = tmp_path_factory.mktemp("jupyter-home")
    env = {
        **os.environ,
        "JUPYTER_CONFIG_PATH": str(ROOT / "grading"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTER_DATA_DIR": str(home / "data"),
    }
    # data dir must still find the installed lab extensions (nbgrader, widgets)
    env["JUPYTER_PATH"] = str(Path(sys.prefix) / "share" / "jupyter")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            f"--ServerApp.port={port}",
            f"--ServerApp.root_dir={ROOT / 'labs'}",
            f"--IdentityProvider.token={TOKEN}",
        ]
        + (["--allow-root"] if os.geteuid() == 0 else []),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            if (
                httpx.get(f"{url}/api/status", params={"token": TOKEN}, timeout=2).status_code
                == 200
            ):
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail(f"JupyterLab did not start: {proc.stdout.read()[-3000:]}")
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def test_lab_page_and_lab00_are_served(jupyter):
    params = {"token": TOKEN}
    assert httpx.get(f"{jupyter}/lab", params=params, timeout=10).status_code == 200
    nb = httpx.get(
        f"{jupyter}/api/contents/00_inference_path/00_inference_path.ipynb",
        params=params,
        timeout=10,
    )
    assert nb.status_code == 200
    assert nb.json()["content"]["cells"], "lab 00 opened empty"


def test_lab_extensions_are_installed(jupyter):
    page = httpx.get(f"{jupyter}/lab", params={"token": TOKEN}, timeout=10).text
    assert "nbgrader" in page and "@jupyter-widgets/jupyterlab-manager" in page


def test_a_kernel_starts(jupyter):
    params = {"token": TOKEN}
    r = httpx.post(f"{jupyter}/api/kernels", params=params, json={"name": "python3"}, timeout=30)
    assert r.status_code == 201, r.text
    httpx.delete(f"{jupyter}/api/kernels/{r.json()['id']}", params=params, timeout=30)
