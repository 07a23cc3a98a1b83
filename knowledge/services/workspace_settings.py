"""The workspace's retrieval settings: embedding provider and full-text language."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import User, Workspace
from accounts.services import audit_event_record
from integrations.embeddings import Provider
from knowledge.embedding import workspace_provider
from knowledge.models import KnowledgeSettings
from knowledge.selectors import knowledge_settings_for
from knowledge.services.chunks import enqueue_on_commit


@transaction.atomic
def knowledge_settings_update(*, workspace: Workspace, actor: User | None, embedding_provider: str,
                              embedding_model: str = "", embedding_dimension: int = 0,
                              embedding_base_url: str = "", embedding_api_key: str | None = None,
                              fts_language: str = "english") -> KnowledgeSettings:
    """Save the workspace's retrieval settings. ``embedding_api_key=None`` keeps the stored key.

    Changing the embedding identity (provider, model or dimension) re-embeds every chunk in the
    background; until a chunk is re-embedded it is found by full-text search only. Changing the
    language recomputes the full-text vectors.
    """
    ks = KnowledgeSettings.objects.select_for_update().filter(workspace=workspace).first()
    if ks is None:
        ks = knowledge_settings_for(workspace=workspace)
        ks.save()
        ks = KnowledgeSettings.objects.select_for_update().get(pk=ks.pk)
    before = (workspace_provider(ks).model, workspace_provider(ks).dimension, ks.fts_language)
    if embedding_provider == Provider.OPENAI_COMPATIBLE:
        if not (embedding_model and embedding_dimension and embedding_base_url):
            raise ValidationError("An OpenAI-compatible provider needs a base URL, a model and a dimension.")
    ks.embedding_provider = embedding_provider
    ks.embedding_model = embedding_model if embedding_provider == Provider.OPENAI_COMPATIBLE else ""
    ks.embedding_dimension = embedding_dimension if embedding_provider == Provider.OPENAI_COMPATIBLE else 0
    ks.embedding_base_url = embedding_base_url if embedding_provider == Provider.OPENAI_COMPATIBLE else ""
    if embedding_api_key is not None:
        ks.embedding_api_key = embedding_api_key
    ks.fts_language = fts_language
    ks.full_clean(exclude=["workspace"])
    ks.save()
    provider = workspace_provider(ks)
    after = (provider.model, provider.dimension, ks.fts_language)
    audit_event_record(verb="knowledge.settings_changed", workspace=workspace, actor=actor, target=ks,
                       data={"provider": ks.embedding_provider, "model": provider.model,
                             "dimension": provider.dimension, "fts_language": ks.fts_language,
                             "api_key_changed": embedding_api_key is not None})
    if before[:2] != after[:2]:
        enqueue_on_commit("chunks_embed_pending", workspace.pk)
    if before[2] != after[2]:
        enqueue_on_commit("chunks_fts_refresh", workspace.pk)
    return ks
