"""Talking to upstreams: open an attempt (upstream.py), read SSE at byte level (sse.py), relay a
stream to the client (streaming.py)."""
