# Talks to a loopback port the lab IS allowed to reach (the stack's, here the test's echo server):
# the answer is only right if the reply arrives, so this scores full marks through the bridge.
import socket

with socket.create_connection(("127.0.0.1", int("{ALLOWED_PORT}")), timeout=5) as conn:
    conn.sendall(b"ping\n")
    assert conn.recv(100) == b"ping\n"


def add(a, b):
    return a + b
