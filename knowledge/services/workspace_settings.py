"""The workspace's retrieval settings: embedding provider and full-text language."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import User, Workspace
from accounts.services import audit_event_record
from integrations.embeddings import Provider, provider_for
from knowledge.embedding import config_for, workspace_provider
from knowledge.models import Chunk, KnowledgeSettings
from knowledge.selectors import knowledge_settings_for
from knowledge.services.chunks import enqueue_on_commit


def _identity(provider) -> tuple[str, int]:
    return (provider.model, provider.dimension) if provider.enabled else ("", 0)


def _pending_clear(ks: KnowledgeSettings) -> None:
    ks.pending_provider, ks.pending_model, ks.pending_dimension = "", "", 0
    ks.pending_base_url, ks.pending_api_key = "", ""
    Chunk.objects.filter(workspace_id=ks.workspace_id).exclude(embedding_next_model="").update(
        embedding_next=None, embedding_next_model="")


@transaction.atomic
def knowledge_settings_update(*, workspace: Workspace, actor: User | None, embedding_provider: str,
                              embedding_model: str = "", embedding_dimension: int = 0,
                              embedding_base_url: str = "", embedding_api_key: str | None = None,
                              fts_language: str = "english") -> KnowledgeSettings:
    """Save the workspace's retrieval settings. ``embedding_api_key=None`` keeps the stored key.

    Changing the embedding identity (model or dimension) from one embedding model to another is a
    *switch*: the new configuration waits in ``pending_*`` while ``chunks_reembed`` re-embeds every
    chunk in the background into ``Chunk.embedding_next``; search keeps using the old model and
    vectors until the last chunk is done, then ``embeddings_switch_complete`` swaps both at once.
    Turning embeddings on (from ``none``) or off applies at once (there are no vectors to keep
    serving); turning them on embeds every chunk in the background. Changing the language
    recomputes the full-text vectors.
    """
    ks = KnowledgeSettings.objects.select_for_update().filter(workspace=workspace).first()
    if ks is None:
        ks = knowledge_settings_for(workspace=workspace)
        ks.save()
        ks = KnowledgeSettings.objects.select_for_update().get(pk=ks.pk)
    if embedding_provider == Provider.OPENAI_COMPATIBLE:
        if not (embedding_model and embedding_dimension and embedding_base_url):
            raise ValidationError("An OpenAI-compatible provider needs a base URL, a model and a dimension.")
    remote = embedding_provider == Provider.OPENAI_COMPATIBLE
    model = embedding_model if remote else ""
    dimension = embedding_dimension if remote else 0
    base_url = embedding_base_url if remote else ""
    current_key = ks.pending_api_key if ks.pending_provider else ks.embedding_api_key
    api_key = current_key if embedding_api_key is None else embedding_api_key

    serving = workspace_provider(ks)
    chosen = provider_for(config_for(provider=embedding_provider, model=model, dimension=dimension,
                                     base_url=base_url, api_key=api_key))
    was_pending = ks.pending_provider and (ks.pending_model, ks.pending_dimension, ks.pending_provider)
    switch = serving.enabled and chosen.enabled and _identity(serving) != _identity(chosen)
    if switch:
        same_target = was_pending and _identity(chosen) == _identity(provider_for(config_for(
            provider=ks.pending_provider, model=ks.pending_model, dimension=ks.pending_dimension)))
        if not same_target:
            _pending_clear(ks)  # vectors of an abandoned switch are not the chosen model's
        ks.pending_provider, ks.pending_model, ks.pending_dimension = embedding_provider, model, dimension
        ks.pending_base_url, ks.pending_api_key = base_url, api_key
    else:
        if was_pending:
            _pending_clear(ks)
        ks.embedding_provider, ks.embedding_model, ks.embedding_dimension = embedding_provider, model, dimension
        ks.embedding_base_url, ks.embedding_api_key = base_url, api_key
    before_language = ks.fts_language
    ks.fts_language = fts_language
    ks.full_clean(exclude=["workspace"])
    ks.save()
    audit_event_record(verb="knowledge.settings_changed", workspace=workspace, actor=actor, target=ks,
                       data={"provider": embedding_provider, "model": chosen.model,
                             "dimension": chosen.dimension, "fts_language": ks.fts_language,
                             "switch_in_background": bool(switch),
                             "api_key_changed": embedding_api_key is not None})
    if switch:
        enqueue_on_commit("chunks_reembed", workspace.pk)
    elif _identity(serving) != _identity(chosen):
        enqueue_on_commit("chunks_embed_pending", workspace.pk)
    if before_language != ks.fts_language:
        enqueue_on_commit("chunks_fts_refresh", workspace.pk)
    return ks
