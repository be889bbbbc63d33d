"""The only way out of a sandbox's network namespace: allowed loopback ports, relayed.

A sandboxed kernel has its own network namespace whose only interface is its own loopback, so it
reaches nothing: not the host's services, not the internet. When a lab needs the embedded stack,
the jail listens on 127.0.0.1:PORT *inside* the namespace for each allowed port and passes those
listening sockets to this bridge over a Unix socket (file descriptors cross namespaces). The
bridge, running in the grader's namespace, accepts on them and connects each connection to
127.0.0.1:PORT on the host, then copies bytes both ways. Nothing else is relayed.
"""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

HOST = "127.0.0.1"
CHUNK = 65536


class Bridge:
    """Relay connections from a sandbox's allowed ports to the same ports on the host loopback."""

    def __init__(self, control_path: Path) -> None:
        self.control_path = control_path
        self._control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._control.bind(str(control_path))
        self._control.listen(1)
        self._listeners: list[socket.socket] = []
        self._closed = threading.Event()
        threading.Thread(target=self._receive_listeners, daemon=True).start()

    def _receive_listeners(self) -> None:
        try:
            conn, _ = self._control.accept()
        except OSError:  # closed before the jail connected
            return
        with conn:
            msg, fds, _, _ = socket.recv_fds(conn, 4096, 64)
        ports = json.loads(msg)
        for port, fd in zip(ports, fds, strict=True):
            listener = socket.socket(fileno=fd)
            self._listeners.append(listener)
            threading.Thread(target=self._accept, args=(listener, port), daemon=True).start()

    def _accept(self, listener: socket.socket, port: int) -> None:
        while not self._closed.is_set():
            try:
                inside, _ = listener.accept()
            except OSError:
                return
            try:
                outside = socket.create_connection((HOST, port), timeout=10)
                outside.settimeout(None)
            except OSError:
                inside.close()  # the host service is down: the learner sees a reset
                continue
            for src, dst in ((inside, outside), (outside, inside)):
                threading.Thread(target=_pump, args=(src, dst), daemon=True).start()

    def close(self) -> None:
        """Stop accepting; open connections end when the sandbox (their other end) goes."""
        self._closed.set()
        for sock in [self._control, *self._listeners]:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(CHUNK):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
