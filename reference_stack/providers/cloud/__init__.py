"""Cloud-platform stand-in: Azure OpenAI's deployment-based surface, one endpoint per region.

Run: ``python -m reference_stack.providers.cloud`` (Sweden Central on 8420, France Central 8421,
UK South 8422, East US 2 8423: the ports come from the catalog). Point
``openai.AzureOpenAI(azure_endpoint="http://127.0.0.1:8420", api_key="servelab-standin",
api_version="2024-10-21")`` at a region, or use ``servelab.clients.client("cloud", region=...)``.

Deployment types are profiles of the same model: ``serverless`` (pay per token on shared
capacity; deployment named like the model), ``provisioned`` (reserved capacity, steadier
latency; ``<model>-ptu``) and ``managed-compute`` (dedicated compute running open weights:
``smollm2-135m-instruct``, which is what the local engine really is).
"""
