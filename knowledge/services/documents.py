"""Documents: upload, restore and delete revisions, and ingest them (extract, chunk, embed, swap)."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from accounts.models import User, Workspace
from accounts.services import audit_event_record
from integrations.embeddings import EmbeddingError
from knowledge import chunking
from knowledge.embedding import texts_embed, workspace_provider
from knowledge.extraction import IngestionError, detect_kind, extract, human_size
from knowledge.models import Chunk, Document, DocumentRevision, DocumentStatus, RevisionStatus
from knowledge.selectors import knowledge_settings_for
from knowledge.services.chunks import embedding_input, enqueue_on_commit, search_vector

logger = logging.getLogger(__name__)


@dataclass
class UploadOutcome:
    document: Document
    revision: DocumentRevision | None
    created: bool = False
    unchanged: bool = False  # same bytes as the document's current revision: nothing to do
    rejected: bool = False

    @property
    def message(self) -> str:
        if self.rejected:
            return f"{self.document.filename} was not added: {self.revision.error}"
        if self.unchanged:
            return f"{self.document.title} is already up to date (same file); nothing changed."
        if self.created:
            return f"{self.document.title} was uploaded and is being indexed."
        return f"{self.document.title} was replaced by revision {self.revision.number}; indexing it now."


def read_upload(upload, limit: int) -> bytes:
    """At most ``limit + 1`` bytes, so an oversized upload is detected without reading all of it."""
    if hasattr(upload, "seek"):
        upload.seek(0)
    data = upload.read(limit + 1)
    return data if isinstance(data, bytes) else data.encode()


def _validate_upload(*, filename: str, size: int | None, content: bytes) -> str:
    limit = settings.KNOWLEDGE_MAX_UPLOAD_MB * 1024 * 1024
    real_size = max(size or 0, len(content))
    if real_size > limit:
        raise IngestionError(
            f"The file is {human_size(real_size)}; the limit is {settings.KNOWLEDGE_MAX_UPLOAD_MB} MB. "
            "Split it or remove images and upload it again."
        )
    kind = detect_kind(filename=filename, head=content[:1024])
    if not content.strip():
        raise IngestionError("The file is empty.")
    return kind


def _next_revision_number(document: Document) -> int:
    return (document.revisions.aggregate(n=Max("number"))["n"] or 0) + 1


@transaction.atomic
def document_upload(*, workspace: Workspace, upload, actor: User | None, title: str = "",
                    document: Document | None = None) -> UploadOutcome:
    """Add a file, or a new revision of an existing document.

    The target is ``document`` when given (an explicit "replace"), else the workspace's document with
    the same file name, else a new document. Identical bytes to the target's current revision are a
    no-op. A file that fails the cheap checks (size, type, empty) is recorded as a failed revision with
    the reason and no bytes; the document keeps serving its previous revision. Otherwise the revision
    is queued for ingestion on commit.
    """
    filename = PurePath(getattr(upload, "name", "") or "upload").name[:255]
    limit = settings.KNOWLEDGE_MAX_UPLOAD_MB * 1024 * 1024
    content = read_upload(upload, limit)
    digest = hashlib.sha256(content).hexdigest()

    if document is None:
        document = (Document.objects.select_for_update().filter(workspace=workspace, filename=filename)
                    .order_by("pk").first())
    else:
        if document.workspace_id != workspace.pk:
            raise ValidationError("That document belongs to another workspace.")
        document = Document.objects.select_for_update().get(pk=document.pk)
    created = document is None
    if created:
        document = Document.objects.create(workspace=workspace, filename=filename,
                                           title=(title or PurePath(filename).stem or filename)[:200])
    else:
        latest = document.revisions.order_by("-number").first()
        if (latest is not None and latest.sha256 == digest and latest.status in
                (RevisionStatus.QUEUED, RevisionStatus.PROCESSING, RevisionStatus.INDEXED)):
            return UploadOutcome(document=document, revision=latest, unchanged=True)

    revision = DocumentRevision(document=document, number=_next_revision_number(document), filename=filename,
                                size=max(getattr(upload, "size", 0) or 0, len(content)), created_by=actor)
    try:
        revision.kind = _validate_upload(filename=filename, size=getattr(upload, "size", None), content=content)
    except IngestionError as exc:
        revision.status = RevisionStatus.FAILED
        revision.error = str(exc)
        revision.finished_at = timezone.now()
        revision.save()
        _document_record_failure(document=document, revision=revision)
        audit_event_record(verb="knowledge.document_rejected", workspace=workspace, actor=actor, target=document,
                           data={"filename": filename, "reason": revision.error})
        return UploadOutcome(document=document, revision=revision, created=created, rejected=True)

    revision.sha256 = digest
    revision.content = content
    revision.save()
    Document.objects.filter(pk=document.pk).update(status=DocumentStatus.QUEUED, progress=0,
                                                   updated_at=timezone.now())
    document.refresh_from_db()
    audit_event_record(verb="knowledge.document_uploaded", workspace=workspace, actor=actor, target=document,
                       data={"filename": filename, "revision": revision.number, "sha256": digest,
                             "size": revision.size})
    enqueue_on_commit("document_revision_ingest", revision.pk)
    return UploadOutcome(document=document, revision=revision, created=created)


def _document_record_failure(*, document: Document, revision: DocumentRevision) -> None:
    """Show why ``revision`` failed; a document that still serves an older revision stays ready."""
    document.refresh_from_db()
    if document.indexed_revision_id:
        document.status = DocumentStatus.READY
        document.progress = 100
        document.error = (f"Revision {revision.number} ({revision.filename}) was not indexed: {revision.error} "
                          f"Revision {document.indexed_revision.number} is still in use.")
    else:
        document.status = DocumentStatus.FAILED
        document.progress = 0
        document.error = revision.error
        if not document.kind:
            document.kind = revision.kind
    document.save(update_fields=["status", "progress", "error", "kind", "updated_at"])


@transaction.atomic
def document_revision_restore(*, revision: DocumentRevision, actor: User | None) -> DocumentRevision:
    """Make an earlier revision current again by appending a copy of it (history is never rewritten)."""
    document = Document.objects.select_for_update().get(pk=revision.document_id)
    source = DocumentRevision.objects.get(pk=revision.pk)
    if source.content is None:
        raise ValidationError(f"Revision {source.number} was rejected and has no content to restore.")
    copy = DocumentRevision.objects.create(
        document=document, number=_next_revision_number(document), filename=source.filename, kind=source.kind,
        size=source.size, sha256=source.sha256, content=bytes(source.content), restored_from=source,
        created_by=actor,
    )
    Document.objects.filter(pk=document.pk).update(status=DocumentStatus.QUEUED, progress=0, error="",
                                                   updated_at=timezone.now())
    audit_event_record(verb="knowledge.document_restored", workspace=document.workspace, actor=actor,
                       target=document, data={"from_revision": source.number, "revision": copy.number})
    enqueue_on_commit("document_revision_ingest", copy.pk)
    return copy


@transaction.atomic
def document_delete(*, document: Document, actor: User | None) -> None:
    """Delete a document, its revisions and chunks (drafts keep their copied citations)."""
    audit_event_record(verb="knowledge.document_deleted", workspace=document.workspace, actor=actor,
                       target=document, data={"title": document.title, "filename": document.filename})
    document.delete()


# --- Documents: ingestion --------------------------------------------------------------------------

class _Progress:
    """Writes the document's progress figure, at most once per percent, outside any transaction."""

    def __init__(self, document_id: int):
        self.document_id = document_id
        self.value = -1

    def set(self, value: int) -> None:
        value = max(0, min(99, int(value)))
        if value != self.value:
            self.value = value
            Document.objects.filter(pk=self.document_id).update(progress=value)


def _claim_revision(revision_id: int) -> bool:
    return bool(DocumentRevision.objects.filter(pk=revision_id, status=RevisionStatus.QUEUED)
                .update(status=RevisionStatus.PROCESSING, claimed_at=timezone.now()))


def document_revision_ingest(*, revision_id: int) -> str:
    """Extract, chunk, embed and atomically swap in the chunks of a queued revision.

    Idempotent: the revision is claimed with a conditional update, so a duplicate task returns at
    once; a revision overtaken by a newer upload is marked superseded. Extraction and embedding run
    outside any transaction (progress is visible meanwhile); only the swap is one transaction, so
    retrieval sees either the old chunks or the new ones, never a mix. Chunks whose text did not
    change keep their ids and embeddings. Returns the final revision status.

    If embedding fails, the chunks are still swapped in (full-text search works) with a note on the
    document, and ``chunks_embed_pending`` fills in the vectors later.
    """
    if not _claim_revision(revision_id):
        return "not-claimed"
    revision = DocumentRevision.objects.select_related("document", "document__workspace").get(pk=revision_id)
    document = revision.document
    if document.revisions.filter(number__gt=revision.number).exclude(status=RevisionStatus.FAILED).exists():
        _revision_finish(revision, RevisionStatus.SUPERSEDED)
        return RevisionStatus.SUPERSEDED
    Document.objects.filter(pk=document.pk).update(status=DocumentStatus.PROCESSING, progress=1)
    progress = _Progress(document.pk)
    try:
        extracted = extract(kind=revision.kind, content=bytes(revision.content),
                            on_page=lambda done, total: progress.set(5 + 35 * done / total))
        drafts = chunking.chunk_blocks(extracted.blocks, title=document.title,
                                       target=settings.KNOWLEDGE_CHUNK_CHARS,
                                       overlap=settings.KNOWLEDGE_CHUNK_OVERLAP_CHARS)
        if not drafts:
            raise IngestionError("No text could be extracted from this file.")
    except IngestionError as exc:
        _revision_fail(revision, str(exc))
        return RevisionStatus.FAILED
    except Exception:
        logger.exception("ingestion of document revision %s failed", revision_id)
        _revision_fail(revision, "Indexing failed unexpectedly. Try again; if it keeps failing, contact support.")
        raise
    progress.set(42)

    workspace = document.workspace
    ks = knowledge_settings_for(workspace=workspace)
    provider = workspace_provider(ks)
    vectors: dict[str, list[float]] = {}
    embed_note = ""
    if provider.enabled:
        reusable = set(Chunk.objects.filter(document=document, embedding_model=provider.model,
                                            embedding_dimension=provider.dimension, embedding__isnull=False)
                       .values_list("key", flat=True))
        missing = [draft for draft in drafts if draft.key not in reusable]
        try:
            embedded = texts_embed(
                workspace=workspace, provider=provider, purpose="ingest",
                texts=[embedding_input(draft.context, draft.text) for draft in missing],
                on_batch=lambda done, total: progress.set(42 + 53 * done / max(total, 1)),
            )
            vectors = {draft.key: vector for draft, vector in zip(missing, embedded, strict=True)}
        except EmbeddingError as exc:
            logger.warning("embedding failed for document %s: %s", document.pk, exc)
            embed_note = (f"Indexed for full-text search only: embeddings failed ({exc}). "
                          "They will be retried automatically.")
    progress.set(96)

    with transaction.atomic():
        locked = Document.objects.select_for_update().get(pk=document.pk)
        newer = locked.revisions.filter(number__gt=revision.number).exclude(status=RevisionStatus.FAILED)
        if newer.exists():
            _revision_finish(revision, RevisionStatus.SUPERSEDED)
            return RevisionStatus.SUPERSEDED
        _chunks_swap(document=locked, revision=revision, drafts=drafts, vectors=vectors, provider=provider,
                     language=ks.fts_language)
        locked.indexed_revision = revision
        locked.status = DocumentStatus.READY
        locked.progress = 100
        locked.error = embed_note
        locked.kind = revision.kind
        locked.filename = revision.filename
        locked.page_count = extracted.page_count
        locked.chunk_count = len(drafts)
        locked.save()
        _revision_finish(revision, RevisionStatus.INDEXED)
        if provider.enabled:
            # Kept chunks may carry an older model's vectors; the embedder is a no-op when none do.
            enqueue_on_commit("chunks_embed_pending", workspace.pk)
        enqueue_on_commit("vector_index_ensure", workspace.pk)  # also the per-workspace full-text index
    return RevisionStatus.INDEXED


def _chunks_swap(*, document: Document, revision: DocumentRevision, drafts, vectors, provider, language) -> None:
    """Replace the document's chunks with ``drafts``; call inside a transaction holding the document."""
    existing = {key: pk for key, pk in Chunk.objects.filter(document=document).values_list("key", "pk")}
    wanted = {draft.key for draft in drafts}
    Chunk.objects.filter(document=document).exclude(key__in=wanted).delete()
    kept, new = [], []
    for draft in drafts:
        if draft.key in existing:
            kept.append(Chunk(pk=existing[draft.key], position=draft.position, context=draft.context,
                              revision=revision))
            continue
        vector = vectors.get(draft.key)
        new.append(Chunk(
            workspace_id=document.workspace_id, document=document, revision=revision, key=draft.key,
            position=draft.position, text=draft.text, context=draft.context, page=draft.page, section=draft.section,
            embedding=vector, embedding_model=provider.model if vector else "",
            embedding_dimension=provider.dimension if vector else 0,
        ))
    if kept:
        Chunk.objects.bulk_update(kept, ["position", "context", "revision"], batch_size=500)
    if new:
        Chunk.objects.bulk_create(new, batch_size=500)
    Chunk.objects.filter(document=document).update(search_vector=search_vector(language))


def _revision_finish(revision: DocumentRevision, status: str, error: str = "") -> None:
    DocumentRevision.objects.filter(pk=revision.pk).update(status=status, error=error, finished_at=timezone.now())
    revision.status, revision.error = status, error


def _revision_fail(revision: DocumentRevision, message: str) -> None:
    with transaction.atomic():
        Document.objects.select_for_update().get(pk=revision.document_id)
        _revision_finish(revision, RevisionStatus.FAILED, message)
        _document_record_failure(document=revision.document, revision=revision)


def revisions_requeue_stuck() -> list[int]:
    """Revisions queued or processing for longer than KNOWLEDGE_STUCK_AFTER_MINUTES (lost task, dead
    worker): put them back in the queue and return their ids for the caller to enqueue."""
    cutoff = timezone.now() - timedelta(minutes=settings.KNOWLEDGE_STUCK_AFTER_MINUTES)
    stuck = list(DocumentRevision.objects.filter(
        Q(status=RevisionStatus.QUEUED, created_at__lt=cutoff)
        | Q(status=RevisionStatus.PROCESSING, claimed_at__lt=cutoff)
    ).values_list("pk", flat=True)[:500])
    DocumentRevision.objects.filter(pk__in=stuck, status=RevisionStatus.PROCESSING).update(
        status=RevisionStatus.QUEUED, claimed_at=None)
    return stuck
