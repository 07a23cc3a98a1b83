"""Writes for the knowledge base: settings, documents and their revisions, FAQ entries, chunks.

Side effects (ingestion, embedding, index builds) are enqueued on commit; the ingestion itself is
``document_revision_ingest``, run by ``knowledge.tasks``. Audit events are written for admin actions.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import PurePath

from django.conf import settings
from django.contrib.postgres.search import SearchVector
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from accounts.models import User, Workspace
from accounts.services import audit_event_record
from integrations.embeddings import EmbeddingError, Provider
from knowledge import chunking
from knowledge.embedding import texts_embed, workspace_provider
from knowledge.extraction import IngestionError, detect_kind, extract, human_size
from knowledge.models import (
    Chunk,
    Document,
    DocumentRevision,
    DocumentStatus,
    FaqEntry,
    FaqRevision,
    KnowledgeSettings,
    RevisionStatus,
)
from knowledge.selectors import knowledge_settings_for, normalize_question

logger = logging.getLogger(__name__)


def _enqueue(task_name: str, *args) -> None:
    """Send a knowledge task after the current transaction commits."""
    from knowledge import tasks

    task = getattr(tasks, task_name)
    transaction.on_commit(lambda: task.delay(*args))


# --- Settings --------------------------------------------------------------------------------------

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
        _enqueue("chunks_embed_pending", workspace.pk)
    if before[2] != after[2]:
        _enqueue("chunks_fts_refresh", workspace.pk)
    return ks


def _search_vector(language: str):
    # The body outweighs the context (title › section): the title is on every chunk of a document, so
    # weighting it high made one word of a title match every chunk (hit@5 29 → 31/35 on the samples).
    return SearchVector("context", weight="D", config=language) + SearchVector("text", weight="A", config=language)


def chunks_fts_refresh(*, workspace_id: int) -> int:
    """Recompute every chunk's tsvector with the workspace's current language."""
    language = knowledge_settings_for(workspace=Workspace(pk=workspace_id)).fts_language
    return Chunk.objects.filter(workspace_id=workspace_id).update(search_vector=_search_vector(language))


# --- Documents: upload, restore, delete ------------------------------------------------------------

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


def _read_upload(upload, limit: int) -> bytes:
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
    content = _read_upload(upload, limit)
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
    _enqueue("document_revision_ingest", revision.pk)
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
    _enqueue("document_revision_ingest", copy.pk)
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
                texts=[_embedding_input(draft.context, draft.text) for draft in missing],
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
            _enqueue("chunks_embed_pending", workspace.pk)
        _enqueue("vector_index_ensure", workspace.pk)  # also the per-workspace full-text index
    return RevisionStatus.INDEXED


def _embedding_input(context: str, text: str) -> str:
    return f"{context}\n{text}" if context else text


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
    Chunk.objects.filter(document=document).update(search_vector=_search_vector(language))


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


# --- Embeddings ------------------------------------------------------------------------------------

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
                               texts=[_embedding_input(context, text) for _, context, text in part])
        with transaction.atomic():
            for (pk, _, _), vector in zip(part, embedded, strict=True):
                Chunk.objects.filter(pk=pk).update(embedding=vector, embedding_model=provider.model,
                                                   embedding_dimension=provider.dimension)
    # Documents whose note said "full-text only" are now fully embedded.
    Document.objects.filter(workspace_id=workspace_id, error__startswith="Indexed for full-text search only").exclude(
        chunks__in=Chunk.objects.filter(workspace_id=workspace_id).exclude(current)).update(error="")
    return pending.count()


# --- FAQ -------------------------------------------------------------------------------------------

def _faq_clean(question: str, answer: str) -> tuple[str, str]:
    question, answer = (question or "").strip(), (answer or "").strip()
    if not question or not answer:
        raise ValidationError("An FAQ entry needs both a question and an answer.")
    if len(question) > 500 or len(answer) > 10000:
        raise ValidationError("Keep questions under 500 and answers under 10,000 characters.")
    return question, answer


def _faq_chunk_sync(*, faq: FaqEntry, language: str) -> None:
    """One chunk per active FAQ entry; kept as is when the text did not change."""
    if not faq.is_active:
        Chunk.objects.filter(faq=faq).delete()
        return
    draft = chunking.faq_chunk(question=faq.question, answer=faq.answer)
    Chunk.objects.filter(faq=faq).exclude(key=draft.key).delete()
    chunk, created = Chunk.objects.get_or_create(
        faq=faq, key=draft.key,
        defaults={"workspace_id": faq.workspace_id, "text": draft.text, "context": draft.context,
                  "section": draft.section},
    )
    if created:
        Chunk.objects.filter(pk=chunk.pk).update(search_vector=_search_vector(language))


def _faq_revision_add(*, faq: FaqEntry, action: str, actor: User | None,
                      restored_from: FaqRevision | None = None) -> FaqRevision:
    return FaqRevision.objects.create(faq=faq, number=faq.revision_number, question=faq.question, answer=faq.answer,
                                      is_active=faq.is_active, action=action, restored_from=restored_from,
                                      created_by=actor)


def _after_faq_change(faq: FaqEntry) -> None:
    ks = knowledge_settings_for(workspace=faq.workspace)
    _faq_chunk_sync(faq=faq, language=ks.fts_language)
    if workspace_provider(ks).enabled and faq.is_active:
        _enqueue("chunks_embed_pending", faq.workspace_id)


@transaction.atomic
def faq_create(*, workspace: Workspace, question: str, answer: str, actor: User | None,
               action: str = FaqRevision.Action.CREATED, audit: bool = True) -> FaqEntry:
    question, answer = _faq_clean(question, answer)
    faq = FaqEntry.objects.create(workspace=workspace, question=question, answer=answer,
                                  question_normalized=normalize_question(question))
    _faq_revision_add(faq=faq, action=action, actor=actor)
    _after_faq_change(faq)
    if audit:
        audit_event_record(verb="knowledge.faq_created", workspace=workspace, actor=actor, target=faq,
                           data={"question": question[:200]})
    return faq


@transaction.atomic
def faq_update(*, faq: FaqEntry, question: str, answer: str, actor: User | None,
               action: str = FaqRevision.Action.EDITED, audit: bool = True) -> FaqEntry:
    """Edit an entry: a new revision when the text changed, nothing otherwise."""
    question, answer = _faq_clean(question, answer)
    faq = FaqEntry.objects.select_for_update().get(pk=faq.pk)
    if faq.question == question and faq.answer == answer and faq.is_active:
        return faq
    faq.question, faq.answer, faq.is_active = question, answer, True
    faq.question_normalized = normalize_question(question)
    faq.revision_number = F("revision_number") + 1
    faq.save()
    faq.refresh_from_db()
    _faq_revision_add(faq=faq, action=action, actor=actor)
    _after_faq_change(faq)
    if audit:
        audit_event_record(verb="knowledge.faq_edited", workspace=faq.workspace, actor=actor, target=faq,
                           data={"revision": faq.revision_number})
    return faq


@transaction.atomic
def faq_delete(*, faq: FaqEntry, actor: User | None) -> FaqEntry:
    """Soft-delete: the entry leaves retrieval, its history stays and can be restored."""
    faq = FaqEntry.objects.select_for_update().get(pk=faq.pk)
    if not faq.is_active:
        return faq
    faq.is_active = False
    faq.revision_number = F("revision_number") + 1
    faq.save()
    faq.refresh_from_db()
    _faq_revision_add(faq=faq, action=FaqRevision.Action.DELETED, actor=actor)
    _after_faq_change(faq)
    audit_event_record(verb="knowledge.faq_deleted", workspace=faq.workspace, actor=actor, target=faq)
    return faq


@transaction.atomic
def faq_revision_restore(*, revision: FaqRevision, actor: User | None) -> FaqEntry:
    """Bring an entry back to an earlier revision's text and state, as a new revision."""
    faq = FaqEntry.objects.select_for_update().get(pk=revision.faq_id)
    faq.question, faq.answer, faq.is_active = revision.question, revision.answer, revision.is_active
    faq.question_normalized = normalize_question(revision.question)
    faq.revision_number = F("revision_number") + 1
    faq.save()
    faq.refresh_from_db()
    _faq_revision_add(faq=faq, action=FaqRevision.Action.RESTORED, actor=actor, restored_from=revision)
    _after_faq_change(faq)
    audit_event_record(verb="knowledge.faq_restored", workspace=faq.workspace, actor=actor, target=faq,
                       data={"from_revision": revision.number, "revision": faq.revision_number})
    return faq


@dataclass
class FaqImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)


FAQ_IMPORT_MAX_ROWS = 2000


@transaction.atomic
def faq_import_csv(*, workspace: Workspace, upload, actor: User | None) -> FaqImportResult:
    """Import ``question,answer`` rows (header required). A row whose normalised question matches an
    active entry updates it; others are created. All or nothing: any bad row aborts the import."""
    raw = _read_upload(upload, 2 * 1024 * 1024)
    if len(raw) > 2 * 1024 * 1024:
        raise ValidationError("The CSV file is larger than 2 MB; split it.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError("The CSV file must be UTF-8 encoded.") from None
    reader = csv.DictReader(io.StringIO(text))
    headers = {(name or "").strip().lower() for name in (reader.fieldnames or [])}
    if not {"question", "answer"} <= headers:
        raise ValidationError("The CSV needs a header row with 'question' and 'answer' columns.")
    result = FaqImportResult()
    rows = []
    for line, row in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items() if isinstance(v, str)}
        if not row.get("question") and not row.get("answer"):
            continue
        if not row.get("question") or not row.get("answer"):
            result.errors.append(f"line {line}: both question and answer are required")
            continue
        rows.append(row)
    if len(rows) > FAQ_IMPORT_MAX_ROWS:
        raise ValidationError(f"At most {FAQ_IMPORT_MAX_ROWS} rows per import.")
    if result.errors:
        raise ValidationError(["Nothing was imported:"] + result.errors[:20])
    if not rows:
        raise ValidationError("The CSV has no rows.")
    existing = {faq.question_normalized: faq for faq in FaqEntry.objects.filter(workspace=workspace, is_active=True)}
    for row in rows:
        faq = existing.get(normalize_question(row["question"]))
        if faq is None:
            faq = faq_create(workspace=workspace, question=row["question"], answer=row["answer"], actor=actor,
                             action=FaqRevision.Action.IMPORTED, audit=False)
            existing[faq.question_normalized] = faq
            result.created += 1
        elif faq.question == row["question"] and faq.answer == row["answer"]:
            result.unchanged += 1
        else:
            faq_update(faq=faq, question=row["question"], answer=row["answer"], actor=actor,
                       action=FaqRevision.Action.IMPORTED, audit=False)
            result.updated += 1
    audit_event_record(verb="knowledge.faq_imported", workspace=workspace, actor=actor,
                       data={"created": result.created, "updated": result.updated, "unchanged": result.unchanged})
    return result
