# Opens a connection to a loopback port the lab is not allowed to reach (opened by the test).
import socket

with socket.create_connection(("127.0.0.1", int("{FORBIDDEN_PORT}")), timeout=3) as conn:
    conn.sendall(b"exfiltrate")


def add(a, b):
    return a + b
