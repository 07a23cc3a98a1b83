"""FAQ entries: create, edit, delete, restore, CSV import; each entry is kept as one chunk."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F

from accounts.models import User, Workspace
from accounts.services import audit_event_record
from knowledge import chunking
from knowledge.embedding import workspace_provider
from knowledge.models import Chunk, FaqEntry, FaqRevision
from knowledge.selectors import knowledge_settings_for, normalize_question
from knowledge.services.chunks import enqueue_on_commit, search_vector
from knowledge.services.documents import read_upload


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
        Chunk.objects.filter(pk=chunk.pk).update(search_vector=search_vector(language))


def _faq_revision_add(*, faq: FaqEntry, action: str, actor: User | None,
                      restored_from: FaqRevision | None = None) -> FaqRevision:
    return FaqRevision.objects.create(faq=faq, number=faq.revision_number, question=faq.question, answer=faq.answer,
                                      is_active=faq.is_active, action=action, restored_from=restored_from,
                                      created_by=actor)


def _after_faq_change(faq: FaqEntry) -> None:
    ks = knowledge_settings_for(workspace=faq.workspace)
    _faq_chunk_sync(faq=faq, language=ks.fts_language)
    if workspace_provider(ks).enabled and faq.is_active:
        enqueue_on_commit("chunks_embed_pending", faq.workspace_id)


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
    raw = read_upload(upload, 2 * 1024 * 1024)
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
