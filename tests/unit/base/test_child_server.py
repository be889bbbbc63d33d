"""servelab_base.child_server: start, wait, log to a file, stop then kill."""

from __future__ import annotations

import re
import sys

import pytest

from servelab_base.child_server import ChildServer, ChildServerError

SERVE = (
    "import http.server, sys\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        self.send_response(200); self.end_headers()\n"
    "    def log_message(self, *a): print('served', file=sys.stderr, flush=True)\n"
    "s = http.server.HTTPServer(('127.0.0.1', 0), H)\n"
    "print(f'listening on http://127.0.0.1:{s.server_port}', flush=True)\n"
    "s.serve_forever()\n"
)
LISTENING = re.compile(r"listening on (http://\S+)")


def test_start_wait_and_stop_with_its_log(tmp_path):
    log = tmp_path / "child.log"
    with ChildServer([sys.executable, "-c", SERVE], log=log) as child:
        url = child.wait_for_line(LISTENING, 30).group(1)
        child.wait_for_health(url + "/health", 30)
        assert child.running
    assert child.poll() is not None  # stopped on leaving the block
    assert "listening on" in log.read_text() and "served" in child.read_log()


def test_an_exit_during_start_up_raises_with_its_output():
    child = ChildServer([sys.executable, "-c", "import sys; sys.exit('bad option --x')"])
    child.start()
    with pytest.raises(ChildServerError, match="bad option --x") as err:
        child.wait_for_line(LISTENING, 30)
    assert "exited with code 1" in str(err.value)


def test_not_ready_in_time_is_stopped():
    child = ChildServer([sys.executable, "-c", "import time; time.sleep(60)"]).start()
    with pytest.raises(ChildServerError, match="did not print"):
        child.wait_for_line(LISTENING, 0.2)
    assert not child.running


def test_a_child_ignoring_sigterm_is_killed():
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    code += "print('ready', flush=True); time.sleep(60)"
    child = ChildServer([sys.executable, "-c", code]).start()
    child.wait_for_line(re.compile("ready"), 30)
    child.stop(timeout_s=0.2)
    assert child.poll() == -9


def test_a_partial_line_is_not_matched(tmp_path):
    code = "import sys, time; sys.stdout.write('listening on http://1'); sys.stdout.flush()\n"
    code += "time.sleep(0.3); print('27.0.0.1:5', flush=True); time.sleep(60)"
    with ChildServer([sys.executable, "-c", code]) as child:
        assert child.wait_for_line(LISTENING, 30).group(1) == "http://127.0.0.1:5"
