"""Embedding providers behind one interface.

``provider_for(config)`` returns an :class:`EmbeddingProvider` for a workspace's configuration:

- ``openai_compatible``: any ``POST {base_url}/embeddings`` endpoint (OpenAI, Azure OpenAI, Ollama,
  vLLM, LiteLLM...), see :mod:`integrations.embeddings.openai_compatible`;
- ``local``: all-MiniLM-L6-v2 on this machine's CPU (ONNX Runtime, the model inside a wheel), offline,
  part of the default install and the default for new workspaces, see :mod:`integrations.embeddings.local`;
- ``none``: no vectors; retrieval is full-text only.

No Django models live here (the configuration is stored by ``knowledge.KnowledgeSettings``), and
callers never see HTTP: every failure is an :class:`EmbeddingError` with a ``permanent`` flag.
"""

from integrations.embeddings.base import (
    EmbeddingConfig,
    EmbeddingError,
    EmbeddingProvider,
    EmbeddingResult,
    Provider,
)
from integrations.embeddings.registry import local_provider_available, provider_for

__all__ = [
    "EmbeddingConfig",
    "EmbeddingError",
    "EmbeddingProvider",
    "EmbeddingResult",
    "Provider",
    "local_provider_available",
    "provider_for",
]
