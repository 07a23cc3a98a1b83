"""Knowledge → "Test a question": the real drafting pipeline on a question, as if a contact had written
it, writing nothing (see knowledge.question_trials for the cache record and the page's side).

The question becomes an unsaved inbound message on an unsaved thread with an unsaved contact, on
the workspace's first channel (read only; an unsaved Instagram one when it has none, which only sets
the length limit). `reply_draft_compute` gets the conversation as given instead of reading it from
the thread, so nothing here needs a stored row. The result is stored as plain, display-ready values
(labels, bars, sources): the knowledge page renders it without importing this layer.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils import timezone

from accounts.models import Membership, Workspace
from contacts.models import Contact
from conversations.models import Decision, Direction, Message, SenderKind, Thread
from conversations.pipeline.draft import DraftResult, reply_draft_compute
from conversations.templatetags.inbox import reason_label
from conversations.templatetags.plain import confidence_bars, confidence_penalty, evidence_label
from integrations.models import Channel, Platform
from knowledge.question_trials import question_trial_claim, question_trial_finish
from knowledge.selectors import faqs_for_workspace

SNIPPET = 300
# Reasons that are the model failing, not Sidekick deciding: the page says the model could not answer.
MODEL_FAILURES = {
    "llm_error": "the provider returned an error or could not be reached",
    "invalid_output": "its answer was unusable, twice",
    "quota_exceeded": "the usage limit for the model is reached",
}


def question_trial_run(*, trial_id: str) -> None:
    """The job: draft the pending trial's answer and store it. A trial already answered, expired or
    unknown, or whose person left the workspace, is left alone."""
    record = question_trial_claim(trial_id=trial_id)
    if record is None:
        return
    workspace = Workspace.objects.filter(pk=record["workspace_id"]).first()
    user = get_user_model().objects.filter(pk=record["user_id"]).first()
    if workspace is None or user is None or not Membership.objects.filter(workspace=workspace, user=user).exists():
        return
    result = question_answer_compute(workspace=workspace, user=user, question=record["question"])
    question_trial_finish(trial_id=trial_id, record=record, result=question_answer_display(result))


def question_answer_compute(*, workspace, user, question: str) -> DraftResult:
    """What Sidekick would do if a contact wrote `question` now; writes no row (the usage ledger aside)."""
    now = timezone.now()
    channel = (Channel.objects.filter(workspace=workspace).order_by("pk").first()
               or Channel(workspace=workspace, platform=Platform.INSTAGRAM))
    contact = Contact(workspace=workspace, channel=channel, display_name="Test question")
    thread = Thread(workspace=workspace, channel=channel, contact=contact, last_inbound_at=now, last_message_at=now)
    message = Message(workspace=workspace, thread=thread, channel=channel, direction=Direction.IN,
                      sender_kind=SenderKind.CONTACT, text=question, sent_at=now)
    return reply_draft_compute(message=message, history=[message], user=user)


def _sources(result: DraftResult) -> list[dict]:
    draft = result.draft
    cited = {c.get("chunk_id") for c in draft.cited_chunks or [] if isinstance(c, dict)}
    # An FAQ passage is titled by its question (retrieval calls them all "FAQ").
    questions = dict(faqs_for_workspace(workspace=result.run.thread.workspace)
                     .filter(pk__in=[c.faq_id for c in result.run.sources if c.faq_id])
                     .values_list("pk", "question"))
    sources = [{"title": questions.get(c.faq_id) or c.document_title or "Document", "document_id": c.document_id,
                "faq_id": c.faq_id, "page": c.page, "section": "" if c.faq_id else c.section, "text": c.text[:SNIPPET],
                "cited": c.chunk_id in cited} for c in result.run.sources]
    # FAQ-only mode answers from an FAQ entry without retrieval: that entry is the source.
    sources += [{"title": c.get("question") or "FAQ", "document_id": None, "faq_id": c.get("faq_id"), "page": None,
                 "section": "", "text": "", "cited": True}
                for c in draft.cited_chunks or [] if isinstance(c, dict) and c.get("source") == "faq"
                and not result.run.sources]
    return sorted(sources, key=lambda s: not s["cited"])  # cited first, retrieval order kept


def question_answer_display(result: DraftResult) -> dict:
    """The result as plain values for the page: the answer, the decision in the thread page's words,
    the sources, the confidence as labelled bars, and the raw scores for the details toggle."""
    draft, run = result.draft, result.run
    parts = draft.confidence_parts or {}
    return {
        "model_failed": MODEL_FAILURES.get(result.reason, ""),
        "answer": draft.final_text or draft.text or "",
        "would_send": result.would_send,
        "decision": result.decision,
        "decision_label": Decision(result.decision).label,
        "reason": result.reason,
        "reason_label": reason_label(result.reason),
        "reason_text": result.reason_text,
        "sources": _sources(result),
        "confidence": draft.confidence,
        "bars": confidence_bars(parts),
        "evidence": evidence_label(parts),
        "penalty": confidence_penalty(parts),
        "raw": {
            "scores": {k: v for k, v in parts.items() if isinstance(v, int | float) and not isinstance(v, bool)},
            "evidence_kind": parts.get("evidence_kind", ""),
            "reviewer": run.overseer.get("verdict", ""),
            "reviewer_reasons": list(run.overseer.get("reasons") or []),
            "rules": [h.as_dict() for h in run.hits],
            "notes": list(run.notes),
            "model": draft.model or "",
            "intent": draft.intent or "", "stage": draft.stage or "", "lead_score": draft.lead_score,
            "input_tokens": run.input_tokens, "output_tokens": run.output_tokens,
        },
    }
