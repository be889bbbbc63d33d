"""One settings object for the whole course: environment -> Settings -> everything else.

Every address a lab or the stack uses comes from here, so a learner points the same notebook at
a GPU host or a real provider by setting environment variables (prefix ``SERVELAB_``), never by
editing code.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict

# Loopback ports of the embedded stack. Chosen away from 8000/8080/8888, the defaults other
# tools on a learner's laptop like to take.
GATEWAY_PORT = 8400
VLLM_PORT = 8401
LLAMACPP_PORT = 8402
MANAGED_STANDIN_PORT = 8410  # OpenAI-style managed API stand-in
CLOUD_STANDIN_PORT = (
    8420  # Azure-OpenAI-style cloud platform stand-in (one port per region from here)
)
JUPYTER_PORT = 8890


class Settings(BaseSettings):
    """Addresses and names of the stack a lab talks to (override with SERVELAB_* variables)."""

    model_config = SettingsConfigDict(env_prefix="SERVELAB_", extra="ignore")

    host: str = "127.0.0.1"
    gateway_port: int = GATEWAY_PORT
    vllm_port: int = VLLM_PORT
    llamacpp_port: int = LLAMACPP_PORT
    managed_port: int = MANAGED_STANDIN_PORT
    cloud_port: int = CLOUD_STANDIN_PORT
    jupyter_port: int = JUPYTER_PORT
    #: the served model name of the embedded engines (SmolLM2-135M-Instruct, Llama architecture)
    model: str = "smollm2-135m-instruct"
    #: profile the stack is started with (reference_stack/profiles/NAME.yaml)
    profile: str = "cpu"

    def url(self, port: int) -> str:
        """Base URL of a loopback service on ``port``."""
        return f"http://{self.host}:{port}"

    @property
    def gateway_url(self) -> str:
        return self.url(self.gateway_port)

    @property
    def vllm_url(self) -> str:
        return self.url(self.vllm_port)

    @property
    def llamacpp_url(self) -> str:
        return self.url(self.llamacpp_port)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
