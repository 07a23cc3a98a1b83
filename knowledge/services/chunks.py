"""Chunks: the on-commit task helper, full-text vectors and embeddings shared by documents and FAQs."""

from __future__ import annotations

from django.contrib.postgres.search import SearchVector
from django.db import transaction
from django.db.models import F, Q

from accounts.models import Workspace
from knowledge.embedding import pending_provider, texts_embed, workspace_provider
from knowledge.models import Chunk, Document, KnowledgeSettings
from knowledge.selectors import knowledge_settings_for
from sidekick_project.enqueue import task_enqueue_on_commit


def enqueue_on_commit(task_name: str, *args) -> None:
    """Send a knowledge task after the current transaction commits (a loss is caught by `knowledge_sweep`)."""
    from knowledge import tasks  # the task module imports these services

    task_enqueue_on_commit(getattr(tasks, task_name), args=args)


def search_vector(language: str):
    # The body outweighs the context (title › section): the title is on every chunk of a document, so
    # weighting it high made one word of a title match every chunk (hit@5 29 → 31/35 on the samples).
    return SearchVector("context", weight="D", config=language) + SearchVector("text", weight="A", config=language)


def chunks_fts_refresh(*, workspace_id: int) -> int:
    """Recompute every chunk's tsvector with the workspace's current language."""
    language = knowledge_settings_for(workspace=Workspace(pk=workspace_id)).fts_language
    return Chunk.objects.filter(workspace_id=workspace_id).update(search_vector=search_vector(language))


def embedding_input(context: str, text: str) -> str:
    return f"{context}\n{text}" if context else text


def chunks_embed_pending(*, workspace_id: int, max_chunks: int = 2000) -> int:
    """Embed up to ``max_chunks`` chunks that lack a vector for the workspace's current model.

    Used after an FAQ edit, a model change, or a failed embedding. Returns how many chunks remain
    (the task re-enqueues itself while some do). Raises EmbeddingError for the task to retry.
    """
    workspace = Workspace.objects.get(pk=workspace_id)
    ks = knowledge_settings_for(workspace=workspace)
    provider = workspace_provider(ks)
    if not provider.enabled:
        return 0
    current = Q(embedding_model=provider.model, embedding_dimension=provider.dimension, embedding__isnull=False)
    pending = Chunk.objects.filter(workspace_id=workspace_id).exclude(current)
    batch = list(pending.order_by("pk").values_list("pk", "context", "text")[:max_chunks])
    step = max(1, provider.max_batch)
    for start in range(0, len(batch), step):
        part = batch[start:start + step]
        embedded = texts_embed(workspace=workspace, provider=provider, purpose="ingest",
                               texts=[embedding_input(context, text) for _, context, text in part])
        with transaction.atomic():
            for (pk, _, _), vector in zip(part, embedded, strict=True):
                Chunk.objects.filter(pk=pk).update(embedding=vector, embedding_model=provider.model,
                                                   embedding_dimension=provider.dimension)
    # Documents whose note said "full-text only" are now fully embedded.
    Document.objects.filter(workspace_id=workspace_id, error__startswith="Indexed for full-text search only").exclude(
        chunks__in=Chunk.objects.filter(workspace_id=workspace_id).exclude(current)).update(error="")
    return pending.count()


def chunks_reembed(*, workspace_id: int, max_chunks: int = 2000) -> int:
    """Embed up to ``max_chunks`` chunks with the workspace's *pending* model (a switch in progress)
    into ``embedding_next``, leaving the vectors search uses untouched. Returns how many chunks remain
    (0 when no switch is in progress). Raises EmbeddingError for the task to retry.
    """
    ks = KnowledgeSettings.objects.filter(workspace_id=workspace_id).first()
    provider = pending_provider(ks) if ks is not None else None
    if provider is None or not provider.enabled:
        return 0
    pending = Chunk.objects.filter(workspace_id=workspace_id).exclude(
        embedding_next_model=provider.model, embedding_next__isnull=False)
    batch = list(pending.order_by("pk").values_list("pk", "context", "text")[:max_chunks])
    step = max(1, provider.max_batch)
    for start in range(0, len(batch), step):
        part = batch[start:start + step]
        embedded = texts_embed(workspace=workspace_id, provider=provider, purpose="ingest",
                               texts=[embedding_input(context, text) for _, context, text in part])
        with transaction.atomic():
            # A switch abandoned meanwhile must not get these vectors: re-check under the settings lock.
            locked = KnowledgeSettings.objects.select_for_update().filter(pk=ks.pk).first()
            if locked is None or (locked.pending_provider, locked.pending_model, locked.pending_dimension) != (
                    ks.pending_provider, ks.pending_model, ks.pending_dimension):
                return 0
            for (pk, _, _), vector in zip(part, embedded, strict=True):
                Chunk.objects.filter(pk=pk).update(embedding_next=vector, embedding_next_model=provider.model)
    return pending.count()


@transaction.atomic
def embeddings_switch_complete(*, workspace_id: int) -> bool:
    """Swap in the pending model if every chunk has its vector: the chunks' vectors and the settings
    change in one transaction, so a search sees the old model and vectors or the new ones, never a
    mix. Returns False (nothing changed) when no switch is pending or a chunk is still missing one.
    """
    ks = KnowledgeSettings.objects.select_for_update().filter(workspace_id=workspace_id).first()
    provider = pending_provider(ks) if ks is not None else None
    if provider is None:
        return False
    chunks = Chunk.objects.filter(workspace_id=workspace_id)
    if chunks.exclude(embedding_next_model=provider.model, embedding_next__isnull=False).exists():
        return False
    chunks.update(embedding=F("embedding_next"), embedding_model=provider.model,
                  embedding_dimension=provider.dimension, embedding_next=None, embedding_next_model="")
    ks.embedding_provider, ks.embedding_model, ks.embedding_dimension = (
        ks.pending_provider, ks.pending_model, ks.pending_dimension)
    ks.embedding_base_url, ks.embedding_api_key = ks.pending_base_url, ks.pending_api_key
    ks.pending_provider, ks.pending_model, ks.pending_dimension = "", "", 0
    ks.pending_base_url, ks.pending_api_key = "", ""
    ks.save()
    return True
