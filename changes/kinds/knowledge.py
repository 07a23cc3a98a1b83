"""Kinds owned by knowledge: FAQ entries (create or edit), each change a new FAQ revision; text
documents (create or edit), each change a new document revision."""

from __future__ import annotations

import hashlib

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.utils.text import slugify

from changes.kinds.base import OperationKind, register
from knowledge import services
from knowledge.models import Document, DocumentKind, DocumentRevision, FaqEntry, FaqRevision

# As `knowledge.services.faqs`, which checks again on apply.
QUESTION_MAX_CHARS, ANSWER_MAX_CHARS = 500, 10000


@register
class FaqRevisionKind(OperationKind):
    """A new or edited FAQ entry (without a target id: a new entry). Undo restores the previous
    revision as a new revision (or deletes, softly, the entry the change created), refused once the
    entry has a revision this change did not make."""

    name = "knowledge.faq"
    label = "FAQ entry"
    model = FaqEntry
    target_optional = True

    def clean(self, *, workspace, op, after):
        after = self._only(after, {"question", "answer"})
        question, answer = str(after.get("question") or "").strip(), str(after.get("answer") or "").strip()
        if not question or not answer:
            raise ValidationError("An FAQ entry needs both a question and an answer.")
        if len(question) > QUESTION_MAX_CHARS or len(answer) > ANSWER_MAX_CHARS:
            raise ValidationError("Keep questions under 500 and answers under 10,000 characters.")
        return {"question": question, "answer": answer}

    def read(self, *, workspace, op):
        faq = self._target(workspace, op)
        if faq is None:
            return {}
        return {"revision_number": faq.revision_number, "question": faq.question, "answer": faq.answer,
                "is_active": faq.is_active}

    def unchanged(self, op):
        return super().unchanged(op) and op.before.get("is_active", False)

    def footprint(self, op):
        return {(self.name, op.target_id if op.target_id is not None else f"new:{op.position}")}

    def describe(self, *, workspace, op):
        question = op.after.get("question") or op.before.get("question") or ""
        prefix = "New FAQ entry" if op.target_key == "new" else "FAQ entry"
        return f"{prefix} “{question[:80]}”"

    def apply(self, *, workspace, op, actor):
        if op.target_id is None:
            faq = services.faq_create(workspace=workspace, question=op.after["question"], answer=op.after["answer"],
                                      actor=actor)
            op.target_id = faq.pk
        else:
            faq = services.faq_update(faq=self._target(workspace, op), question=op.after["question"],
                                      answer=op.after["answer"], actor=actor)
        return {"faq_id": faq.pk, "revision_number": faq.revision_number}

    def undo(self, *, workspace, op, actor):
        faq = self._target(workspace, op)
        if op.target_key == "new":
            services.faq_delete(faq=faq, actor=actor)
            return
        revision = FaqRevision.objects.get(faq=faq, number=op.before["revision_number"])
        services.faq_revision_restore(revision=revision, actor=actor)


DOCUMENT_TEXT_MAX_CHARS = 200_000  # a text document well under KNOWLEDGE_MAX_UPLOAD_MB


def document_text_revision(document: Document) -> DocumentRevision | None:
    """The document's newest revision that has content (a rejected upload keeps none)."""
    return document.revisions.exclude(content=None).order_by("-number").first()


@register
class DocumentTextKind(OperationKind):
    """A new or edited plain-text or Markdown document (without a target id: a new document), uploaded
    through `knowledge.services.document_upload` as a new revision and indexed like any upload. Undo
    restores the previous revision as a new revision (or deletes the document the change created),
    refused once the document has a revision this change did not make."""

    name = "knowledge.document"
    label = "Text document"
    model = Document
    target_optional = True

    def clean(self, *, workspace, op, after):
        after = self._only(after, {"title", "text"})
        title, text = str(after.get("title") or "").strip(), str(after.get("text") or "").strip()
        if not text:
            raise ValidationError("A document needs some text.")
        if len(text) > DOCUMENT_TEXT_MAX_CHARS or len(title) > 200:
            raise ValidationError("Keep the title under 200 and the text under 200,000 characters.")
        if op.target_id is None:
            if not slugify(title):
                raise ValidationError("A new document needs a title.")
            if Document.objects.filter(workspace=workspace, filename=self._filename(title)).exists():
                raise ValidationError("A document with this name exists already; edit that one instead.")
        else:
            revision = document_text_revision(self._target(workspace, op))
            if revision is None or revision.kind not in (DocumentKind.TEXT, DocumentKind.MARKDOWN):
                raise ValidationError("Only plain-text and Markdown documents can be edited as text.")
        return {"title": title, "text": text}

    @staticmethod
    def _filename(title: str) -> str:
        return f"{slugify(title)[:120]}.txt"

    def read(self, *, workspace, op):
        document = self._target(workspace, op)
        if document is None:
            return {}
        revision = document_text_revision(document)
        return {"revision_number": revision.number if revision else None,
                "sha256": revision.sha256 if revision else ""}

    def unchanged(self, op):
        return bool(op.before) and op.before.get("sha256") == hashlib.sha256(op.after["text"].encode()).hexdigest()

    def footprint(self, op):
        return {(self.name, op.target_id if op.target_id is not None else f"new:{op.position}")}

    def describe(self, *, workspace, op):
        document = self._target(workspace, op)
        return f"Document “{document.title[:80]}”" if document else f"New document “{op.after['title'][:80]}”"

    def apply(self, *, workspace, op, actor):
        document = self._target(workspace, op)
        filename = document.filename if document else self._filename(op.after["title"])
        outcome = services.document_upload(workspace=workspace, actor=actor, title=op.after["title"],
                                           document=document,
                                           upload=ContentFile(op.after["text"].encode(), name=filename))
        if outcome.rejected:
            raise ValidationError(outcome.revision.error)
        op.target_id = outcome.document.pk
        return {"document_id": outcome.document.pk, "revision_id": outcome.revision.pk,
                "revision_number": outcome.revision.number}

    def undo(self, *, workspace, op, actor):
        document = self._target(workspace, op)
        if op.target_key == "new":
            services.document_delete(document=document, actor=actor)
            return
        revision = DocumentRevision.objects.get(document=document, number=op.before["revision_number"])
        services.document_revision_restore(revision=revision, actor=actor)
