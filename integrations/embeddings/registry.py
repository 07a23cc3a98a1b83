"""Choose the provider for a configuration."""

from __future__ import annotations

from integrations.embeddings import local
from integrations.embeddings.base import EmbeddingConfig, EmbeddingError, EmbeddingProvider, Provider
from integrations.embeddings.none import NoEmbeddings
from integrations.embeddings.openai_compatible import OpenAICompatibleEmbeddings


def local_provider_available() -> bool:
    return local.available()


def provider_for(config: EmbeddingConfig, *, max_batch: int = 64) -> EmbeddingProvider:
    if config.provider == Provider.NONE:
        return NoEmbeddings()
    if config.provider == Provider.LOCAL:
        return local.LocalEmbeddings(max_batch=max_batch)
    if config.provider == Provider.OPENAI_COMPATIBLE:
        return OpenAICompatibleEmbeddings(
            base_url=config.base_url, api_key=config.api_key, model=config.model,
            dimension=config.dimension, timeout=config.timeout, max_batch=max_batch,
        )
    raise EmbeddingError(f"unknown embedding provider {config.provider!r}", permanent=True)
