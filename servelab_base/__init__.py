"""servelab's base layer: where things live, the ports and settings, the provider catalog.

Everything else builds on it and it imports nothing of the project, so the reference stack
(``reference_stack``) and the course tools (``servelab``) both stand on it without standing on
each other. ``tests/unit/project/test_layers.py`` keeps it that way.
"""
