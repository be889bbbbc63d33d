"""Managed-API stand-in: OpenAI's chat completions surface, with its limits, errors and ids.

Run: ``python -m reference_stack.providers.managed`` (port 8410; ``--source scripted`` for the
seeded token source). Point ``openai.OpenAI(base_url="http://127.0.0.1:8410/v1",
api_key="sk-servelab-standin")`` at it, or use ``servelab.clients.client("managed")``.
"""
