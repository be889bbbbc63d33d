"""Offline stand-ins for a managed LLM API and a cloud AI platform, in the spirit of LocalStack.

Learners have no provider keys and no internet, and graders need the same behaviour every time,
yet two of the five serving patterns are about providers. The stand-ins speak the providers'
real wire formats over real HTTP, so ``openai.OpenAI`` and ``openai.AzureOpenAI`` work unchanged,
and they say what they are (header ``x-servelab-standin``, ``owned_by`` in the model list).

Layout (one concept per file, the routes / protocol / serving split of vLLM's entrypoints):

- ``managed/``   OpenAI-style managed API: /v1/chat/completions, /v1/models (port 8410)
- ``cloud/``     Azure-OpenAI-style cloud platform: one endpoint per region (ports 8420+),
                 /openai/deployments/{deployment}/chat/completions?api-version=...
- ``tokens.py``  where tokens come from: the local vLLM engine, or a seeded script
- ``latency.py`` shapes the timing to the provider / region / deployment-type profile
- ``faults.py``  seeded fault injection: outages, error rates, 429 storms, slow first token,
                 stalls and disconnects mid-stream
- ``ratelimit.py`` requests- and tokens-per-minute buckets behind the 429s
- ``admin.py``   /health and the /admin/* endpoints a lab drives at run time
- ``server.py``  runs the apps with uvicorn (several ports in one process; threads for tests)

The catalog they serve (regions, models, prices, limits, latency profiles) is
``servelab_base.catalog`` over ``datasets/providers/``. See README.md beside this file.
"""
