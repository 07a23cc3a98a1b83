"""Glue between a workspace's KnowledgeSettings and the providers in integrations.embeddings."""

from __future__ import annotations

from django.conf import settings

from accounts.models import Workspace
from integrations.embeddings import EmbeddingConfig, EmbeddingProvider, Provider, provider_for
from integrations.embeddings.local import DIMENSION as LOCAL_DIMENSION
from integrations.embeddings.local import MODEL_NAME as LOCAL_MODEL
from integrations.embeddings.usage import embedding_usage_record
from knowledge.models import KnowledgeSettings


def knowledge_settings_defaults() -> dict:
    provider = settings.KNOWLEDGE_DEFAULT_EMBEDDING_PROVIDER
    defaults = {"embedding_provider": provider, "fts_language": "english"}
    if provider == Provider.LOCAL:
        defaults.update(embedding_model=LOCAL_MODEL, embedding_dimension=LOCAL_DIMENSION)
    elif provider == Provider.OPENAI_COMPATIBLE:
        defaults.update(embedding_model=settings.KNOWLEDGE_DEFAULT_EMBEDDING_MODEL,
                        embedding_dimension=settings.KNOWLEDGE_DEFAULT_EMBEDDING_DIMENSION,
                        embedding_base_url=settings.KNOWLEDGE_DEFAULT_EMBEDDING_BASE_URL)
    return defaults


def config_for(*, provider: str, model: str = "", dimension: int = 0, base_url: str = "",
               api_key: str = "") -> EmbeddingConfig:
    if provider == Provider.LOCAL:
        return EmbeddingConfig(provider=Provider.LOCAL, model=LOCAL_MODEL, dimension=LOCAL_DIMENSION)
    return EmbeddingConfig(provider=provider, model=model, dimension=dimension, base_url=base_url,
                           api_key=api_key or "", timeout=float(settings.KNOWLEDGE_EMBEDDING_TIMEOUT_SECONDS))


def embedding_config(knowledge_settings: KnowledgeSettings) -> EmbeddingConfig:
    """The configuration search and ingestion use now (during a switch: the old one)."""
    ks = knowledge_settings
    return config_for(provider=ks.embedding_provider, model=ks.embedding_model, dimension=ks.embedding_dimension,
                      base_url=ks.embedding_base_url, api_key=ks.embedding_api_key)


def workspace_provider(knowledge_settings: KnowledgeSettings) -> EmbeddingProvider:
    return provider_for(embedding_config(knowledge_settings), max_batch=settings.KNOWLEDGE_EMBEDDING_BATCH_SIZE)


def pending_provider(knowledge_settings: KnowledgeSettings) -> EmbeddingProvider | None:
    """The provider a switch in progress re-embeds with, or None when no switch is in progress."""
    ks = knowledge_settings
    if not ks.pending_provider:
        return None
    config = config_for(provider=ks.pending_provider, model=ks.pending_model, dimension=ks.pending_dimension,
                        base_url=ks.pending_base_url, api_key=ks.pending_api_key)
    return provider_for(config, max_batch=settings.KNOWLEDGE_EMBEDDING_BATCH_SIZE)


def texts_embed(*, workspace: Workspace | int, provider: EmbeddingProvider, texts: list[str], purpose: str,
                on_batch=None) -> list[list[float]]:
    """Embed ``texts`` in provider-sized batches, recording usage for each call. Raises EmbeddingError."""
    workspace_id = workspace if isinstance(workspace, int) else workspace.pk
    vectors: list[list[float]] = []
    step = max(1, provider.max_batch)
    for start in range(0, len(texts), step):
        batch = texts[start:start + step]
        result = provider.embed(batch)
        embedding_usage_record(workspace_id=workspace_id, provider=provider.name, model=result.model,
                               texts=len(batch), input_tokens=result.input_tokens, purpose=purpose)
        vectors.extend(result.vectors)
        if on_batch is not None:
            on_batch(len(vectors), len(texts))
    return vectors
