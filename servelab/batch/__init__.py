"""servelab.batch: one corpus job, written once, run three ways.

A batch job sends every document of a corpus through a model with the same prompt and sampling,
and keeps one row per document. The job is described once (``spec.ChatJob``) and run:

- as a plain loop in one process, one request at a time (``loop``): the baseline;
- as a Ray Data pipeline with Ray's LLM batch API (``ray_pipeline``): on a laptop it sends HTTP
  requests to an engine that already runs (the embedded stack), with a fixed number of workers,
  retries and a time limit per request;
- on a GPU cluster, as the *same* pipeline with vLLM's engine inside each Ray replica
  (``gpu``: the engine configuration read from a GPU profile of reference_stack/profiles/).

With temperature 0 on an engine whose answers do not depend on what else is in its batch
(llama.cpp's CPU kernels), the loop and the pipeline give the same answers, row for row.
"""
