"""Kinds owned by knowledge: FAQ entries (create or edit), each change a new FAQ revision."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from changes.kinds.base import OperationKind, register
from knowledge import services
from knowledge.models import FaqEntry, FaqRevision

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
