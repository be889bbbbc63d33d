"""The gateway: the FastAPI application in front of the engines and providers.

It adds what a managed provider would otherwise host: who may call (auth.py, quotas.py), where
a request may go (routing.py, residency.py), what happens when an upstream fails (failover.py,
breaker.py, cache.py), how tokens reach the client (relay/), and what it all cost in time
(timing.py, metrics.py, audit.py). A request's path, one module per stage:

    routes.py -> serving.py: auth -> policy -> route -> failover -> relay -> account

``python -m reference_stack.gateway`` runs it (settings.py says what can be changed);
README.md beside this file is the guided tour.
"""
