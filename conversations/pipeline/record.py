"""Act and record: escalations, pauses, the action log, contact state and lead memory writes.

Shared by the pipeline (`engine`), the dashboard services and the signal receivers. Functions that
write several rows expect to run inside the caller's transaction.
"""

from __future__ import annotations

import logging

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from contacts.models import ContactStateChange, LeadMemory, MemoryKind, Sentiment, Stage
from conversations.models import (
    ActionKind,
    Escalation,
    EscalationStatus,
    Message,
    ReplyDraft,
    SendStatus,
    SidekickActionLog,
    Thread,
)

logger = logging.getLogger(__name__)

REASONS = {
    "human_requested": "The contact asked for a human.",
    "low_confidence": "Sidekick was not confident enough to send its draft.",
    "reviewer_veto": "The overseer's reviewer vetoed the draft.",
    "blacklist": "The conversation touches a blacklisted topic.",
    "prompt_leak": "The draft would have revealed internal instructions.",
    "window": "The 24-hour messaging window is closed; only a human may answer (if at all).",
    "window_closed": "Meta refused the send: the messaging window is closed.",
    "quota_exceeded": "The workspace's LLM token limit is reached.",
    "llm_error": "The language model failed after retries.",
    "invalid_output": "The language model's answer was unusable, even after one repair attempt.",
    "no_provider": "No LLM is configured and no FAQ entry matches.",
    "send_failed": "Sending failed permanently.",
    "recipient_unavailable": "Meta says this person isn't available right now (error 551); try again later.",
    "send_unknown": "A send may or may not have reached the contact; check before resending.",
    "channel_inactive": "The channel needs reconnecting.",
    "empty": "The draft was empty.",
    "length": "The draft was far too long.",
    "control_requested": "Another app asked for control of the thread.",
    "pipeline_interrupted": "Sidekick stopped while drafting (a worker was lost); a human should answer.",
    "crisis": "The contact may be in danger (self-harm, a medical emergency or abuse): a person must answer now.",
    "threat": "The message threatens violence: a person must look at it now.",
    "legal": "The message raises a legal matter (a lawyer, a claim, a chargeback or a data request).",
    "prompt_injection": "The message tries to change or reveal the assistant's instructions.",
    "model_screen": "The screening model flagged the message; a human decides.",
    "markdown_link": "The draft hid a link behind Markdown or HTML.",
    "unverified_link": "The draft carried a link or e-mail address the knowledge base does not give.",
    "unverified_phone": "The draft carried a phone number the knowledge base does not give.",
    "ungrounded_offer": "The draft stated a price, discount or free offer no retrieved source gives.",
    "hidden_characters": "The draft held invisible characters.",
    "mixed_script": "The draft mixed alphabets inside a word (a look-alike trick).",
}

# Hard-rule hits that end the run without a reply, and whether a human should still look.
BLOCKING_ESCALATES = {"opt_out": False, "spam": False, "blacklist": True, "prompt_leak": True, "window": True,
                      "empty": True, "length": True, "markdown_link": True, "unverified_link": True,
                      "unverified_phone": True, "ungrounded_offer": True, "hidden_characters": True,
                      "mixed_script": True}


def thread_pause(*, thread_id: int, reason: str) -> None:
    """Stop the AI on the thread until a setter resumes it (`services.thread_resume_ai`)."""
    Thread.objects.filter(pk=thread_id, ai_paused=False).update(
        ai_paused=True, ai_paused_at=timezone.now(), ai_paused_reason=reason[:200])


def escalation_open(*, thread: Thread, reason_code: str, reason_text: str = "", draft: ReplyDraft | None = None,
                    message_id: int | None = None, urgent: bool = False) -> Escalation:
    """Hand the thread to a human: one open escalation per thread (a newer reason joins the open one),
    the needs-human flag raised and the AI paused. `urgent` (a crisis or a threat) marks the escalation
    urgent, also an open one it joins, and notifies the recipients again for it."""
    now = timezone.now()
    reason_text = (reason_text or REASONS.get(reason_code, reason_code))[:500]
    thread_pause(thread_id=thread.pk, reason=f"escalated: {reason_code}")
    Thread.objects.filter(pk=thread.pk).update(needs_human=True, needs_human_reason=reason_code[:200],
                                               needs_human_at=now)
    open_one = Escalation.objects.filter(thread=thread, status__in=[EscalationStatus.OPEN, EscalationStatus.CLAIMED])
    existing = open_one.first()
    if existing is not None:
        if draft is not None:
            Escalation.objects.filter(pk=existing.pk).update(draft=draft)
        if urgent and not existing.urgent:
            Escalation.objects.filter(pk=existing.pk).update(urgent=True, reason_code=reason_code[:40],
                                                             reason_text=reason_text)
            existing.urgent = True
            transaction.on_commit(lambda: _escalation_notify_enqueue(existing.pk))
        return existing
    try:
        with transaction.atomic():
            escalation = Escalation.objects.create(workspace_id=thread.workspace_id, thread=thread,
                                                   reason_code=reason_code[:40], reason_text=reason_text,
                                                   draft=draft, message_id=message_id, urgent=urgent)
    except IntegrityError:  # a concurrent run opened one first
        return open_one.get()
    transaction.on_commit(lambda: _escalation_notify_enqueue(escalation.pk))
    return escalation


def _escalation_notify_enqueue(escalation_id: int) -> None:
    from conversations.tasks import notify_escalation

    try:
        notify_escalation.delay(escalation_id)
    except Exception as exc:  # noqa: BLE001 - the escalation itself is saved and listed; only the email is lost
        logger.warning("escalation %s: notification not enqueued (%s)", escalation_id, exc)


def action_log_add(*, thread: Thread, action: str, draft: ReplyDraft | None = None, message: Message | None = None,
                   text: str = "", confidence: float | None = None, result: str = "", actor=None) -> SidekickActionLog:
    return SidekickActionLog.objects.create(
        workspace_id=thread.workspace_id, thread=thread, contact_id=thread.contact_id, action=action,
        text=text, confidence=confidence, result=result[:200], draft=draft, message=message, actor=actor,
    )


SETTLED_ACTIONS = (ActionKind.SENT_REPLY, ActionKind.FOLLOW_UP_SENT)  # the log rows that carry a send's outcome


def action_log_settle(message: Message) -> None:
    """After a send attempt: copy its outcome (and Meta's message id) onto the action log rows."""
    if message.send_status == SendStatus.SENT:
        result = "sent"
    elif message.send_status == SendStatus.FAILED:
        result = f"failed: {message.error_code or message.last_error[:80]}"
    elif message.send_status == SendStatus.UNKNOWN:
        result = "unknown: check the thread"
    else:
        return
    SidekickActionLog.objects.filter(message=message, action__in=SETTLED_ACTIONS).update(
        result=result, graph_message_id=message.mid or "")


_STAGE_ORDER = [Stage.NEW, Stage.ENGAGED, Stage.QUALIFIED, Stage.BOOKED, Stage.CUSTOMER]


def _next_stage(current: str, proposed: str) -> str:
    """The model may move a lead forward or mark it lost; it never moves a booked lead or a customer
    back, and never calls a contact who just wrote 'ghosted'."""
    if proposed not in Stage.values or proposed == Stage.GHOSTED:
        return current
    if current in _STAGE_ORDER and proposed in _STAGE_ORDER:
        if _STAGE_ORDER.index(current) >= _STAGE_ORDER.index(Stage.BOOKED) > _STAGE_ORDER.index(proposed):
            return current
    return proposed


def contact_state_apply(*, draft: ReplyDraft, contact) -> bool:
    """Apply the draft's assessment (stage, sentiment, score) and keep the history. True if changed."""
    if draft.lead_score is None and not draft.stage and not draft.sentiment:
        return False
    stage = _next_stage(contact.stage, draft.stage) if draft.stage else contact.stage
    sentiment = draft.sentiment if draft.sentiment in Sentiment.values else contact.sentiment
    score = contact.lead_score if draft.lead_score is None else max(0, min(100, draft.lead_score))
    if (stage, sentiment, score) == (contact.stage, contact.sentiment, contact.lead_score):
        return False
    # One statement for the new state and its history row (on the reply's hot path: one round trip
    # and one ORM compilation fewer than an UPDATE and an INSERT).
    qn = connection.ops.quote_name
    contact_table, history_table = qn(type(contact)._meta.db_table), qn(ContactStateChange._meta.db_table)
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(f"""
            WITH changed AS (
                UPDATE {contact_table} SET stage = %(stage)s, sentiment = %(sentiment)s, lead_score = %(score)s,
                       updated_at = %(now)s
                WHERE id = %(contact)s RETURNING id, workspace_id
            )
            INSERT INTO {history_table} (workspace_id, contact_id, stage, sentiment, lead_score, source_draft_id,
                                         changed_by_id, created_at)
            SELECT workspace_id, id, %(stage)s, %(sentiment)s, %(score)s, %(draft)s, NULL, %(now)s FROM changed
        """, {"stage": stage, "sentiment": sentiment, "score": score, "now": now, "contact": contact.pk,  # noqa: S608
              "draft": draft.pk})
    contact.stage, contact.sentiment, contact.lead_score = stage, sentiment, score
    return True


def memory_writes_apply(*, contact, writes: list[dict], source_message: Message | None) -> list[LeadMemory]:
    """Store what the contact stated (the drafting model's `memory_writes`); exact repeats are skipped."""
    current = set(LeadMemory.objects.filter(contact=contact, expires_at__gt=timezone.now())
                  .values_list("kind", "text"))
    rows = []
    for write in writes[:10]:
        kind, text = write.get("kind"), " ".join(str(write.get("text", "")).split())[:500]
        if kind not in MemoryKind.values or not text or (kind, text) in current:
            continue
        current.add((kind, text))
        rows.append(LeadMemory(workspace_id=contact.workspace_id, contact=contact, kind=kind, text=text,
                               source_message=source_message))
    return LeadMemory.objects.bulk_create(rows)
