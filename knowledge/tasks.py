"""Thin Celery tasks for the knowledge base: take ids, re-read, call a service. All idempotent.

Routed to the ``default`` queue. Local embeddings are CPU-heavy: a deployment that turns them on for
many workspaces can route ``knowledge.tasks.*`` to its own queue in ``sidekick_project/celery.py``.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db.models import Q

from accounts.models import Workspace
from integrations.embeddings import EmbeddingError
from knowledge import services, vector_index
from knowledge.embedding import workspace_provider
from knowledge.models import Chunk, KnowledgeSettings
from knowledge.selectors import knowledge_settings_for

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True, acks_late=True, reject_on_worker_lost=True, time_limit=900, soft_time_limit=840)
def document_revision_ingest(revision_id: int) -> None:
    services.document_revision_ingest(revision_id=revision_id)


@shared_task(bind=True, ignore_result=True, acks_late=True, reject_on_worker_lost=True, max_retries=8,
             time_limit=900, soft_time_limit=840)
def chunks_embed_pending(self, workspace_id: int) -> None:
    try:
        remaining = services.chunks_embed_pending(workspace_id=workspace_id)
    except EmbeddingError as exc:
        if exc.permanent:
            logger.warning("embedding workspace %s stopped: %s", workspace_id, exc)
            return
        raise self.retry(exc=exc, countdown=min(600, 15 * 2 ** self.request.retries)) from None
    if remaining:
        chunks_embed_pending.delay(workspace_id)
    else:
        vector_index_ensure.delay(workspace_id)
        if KnowledgeSettings.objects.filter(workspace_id=workspace_id).exclude(pending_provider="").exists():
            chunks_reembed.delay(workspace_id)  # chunks added during a switch need the new model's vector too


@shared_task(bind=True, ignore_result=True, acks_late=True, reject_on_worker_lost=True, max_retries=8,
             time_limit=900, soft_time_limit=840)
def chunks_reembed(self, workspace_id: int) -> None:
    """A model switch: re-embed a slice of chunks with the pending model, re-enqueue until none is
    left, then swap the new vectors and settings in (search uses the old ones until then)."""
    try:
        remaining = services.chunks_reembed(workspace_id=workspace_id)
    except EmbeddingError as exc:
        if exc.permanent:
            logger.warning("re-embedding workspace %s stopped: %s", workspace_id, exc)
            return
        raise self.retry(exc=exc, countdown=min(600, 15 * 2 ** self.request.retries)) from None
    if remaining:
        chunks_reembed.delay(workspace_id)
    elif services.embeddings_switch_complete(workspace_id=workspace_id):
        vector_index_ensure.delay(workspace_id)


@shared_task(ignore_result=True, time_limit=3600, soft_time_limit=3500)
def vector_index_ensure(workspace_id: int) -> None:
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None:
        return
    vector_index.fts_index_ensure(workspace_id=workspace_id)
    provider = workspace_provider(knowledge_settings_for(workspace=workspace))
    vector_index.vector_indexes_drop_stale(workspace_id=workspace_id, keep_model=provider.model, keep_dimension=provider.dimension)
    if provider.enabled:
        vector_index.vector_index_ensure(workspace_id=workspace_id, model=provider.model, dimension=provider.dimension)


@shared_task(ignore_result=True, time_limit=900, soft_time_limit=840)
def chunks_fts_refresh(workspace_id: int) -> None:
    services.chunks_fts_refresh(workspace_id=workspace_id)


@shared_task(ignore_result=True, time_limit=120, soft_time_limit=100)
def knowledge_sweep() -> None:
    """Periodic: re-enqueue lost ingestions and embeddings left pending by a provider outage; drop
    partial indexes of deleted workspaces whose clean-up task was lost."""
    owners = list(vector_index.workspace_partial_indexes())
    for workspace_id in set(owners) - set(Workspace.objects.filter(pk__in=owners).values_list("pk", flat=True)):
        workspace_indexes_drop.delay(workspace_id)
    for revision_id in services.revisions_requeue_stuck():
        document_revision_ingest.delay(revision_id)
    embedding_workspaces = Q(workspace_id__in=KnowledgeSettings.objects.exclude(embedding_provider="none")
                             .values("workspace_id"))
    if settings.KNOWLEDGE_DEFAULT_EMBEDDING_PROVIDER != "none":  # workspaces that never chose: the default
        embedding_workspaces |= ~Q(workspace_id__in=KnowledgeSettings.objects.values("workspace_id"))
    pending = (Chunk.objects.filter(embedding_workspaces)
               .filter(Q(embedding__isnull=True) | Q(embedding_model=""))
               .values_list("workspace_id", flat=True).distinct()[:200])
    for workspace_id in pending:
        chunks_embed_pending.delay(workspace_id)
    for workspace_id in KnowledgeSettings.objects.exclude(pending_provider="").values_list("workspace_id", flat=True)[:200]:
        chunks_reembed.delay(workspace_id)


@shared_task(ignore_result=True, time_limit=600, soft_time_limit=540)
def workspace_indexes_drop(workspace_id: int) -> None:
    """After a workspace is deleted: drop its partial HNSW and GIN indexes (no-op if it exists)."""
    vector_index.indexes_drop_for_deleted_workspaces(workspace_id=workspace_id)
