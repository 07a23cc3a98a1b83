"""Handing a thread to a human: the AI paused, the needs-human flag, one open escalation, its email.

Used by the reply pipeline, the send path (a permanent failure or a send in doubt), the sweepers and
the dashboard. Functions that write several rows expect to run inside the caller's transaction.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from conversations import action_log
from conversations.models import ActionKind, Escalation, EscalationStatus, ReplyDraft, Thread, ThreadStatus
from sidekick_project.enqueue import task_enqueue_on_commit

# What each reason code means, for the escalation, the draft's reasons and the inbox.
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
    "sensitive": "The message touches danger, violence or the law: a person reads it before anything is sent.",
    "markdown_link": "The draft hid a link behind Markdown or HTML.",
    "unverified_link": "The draft carried a link or e-mail address the knowledge base does not give.",
    "unverified_phone": "The draft carried a phone number the knowledge base does not give.",
    "ungrounded_offer": "The draft stated a price, discount or free offer no retrieved source gives.",
    "hidden_characters": "The draft held invisible characters.",
    "mixed_script": "The draft mixed alphabets inside a word (a look-alike trick).",
    "human_agent_step": "A follow-up past the 24-hour window: only a person may send it, in their own words (edit it, "
                        "then send; it goes out with Meta's Human Agent tag).",
    "auto_send_off": "Auto-send is off: a setter sends it.",
    "business_hours": "Outside the hours set for automatic messages: a setter sends it.",
    "review_requested": "Kept for review, as asked.",
}


def thread_pause(*, thread_id: int, reason: str, by=None) -> None:
    """Stop the AI on the thread until a setter resumes it (`services.thread_resume_ai`).

    With `by` (a member replying or taking over) that member has the thread, also one Sidekick had
    paused itself; a thread another member has stays theirs.
    """
    unowned = Q(ai_paused=False) if by is None else Q(ai_paused=False) | Q(ai_paused_by__isnull=True)
    Thread.objects.filter(unowned, pk=thread_id).update(
        ai_paused=True, ai_paused_at=timezone.now(), ai_paused_reason=reason[:200], ai_paused_by=by)


def escalation_open(*, thread: Thread, reason_code: str, reason_text: str = "", draft: ReplyDraft | None = None,
                    message_id: int | None = None, urgent: bool = False) -> Escalation:
    """Hand the thread to a human: one open escalation per thread (a newer reason joins the open one),
    the needs-human flag raised and the AI paused. `urgent` (a crisis or a threat) marks the escalation
    urgent, also an open one it joins, and emails the recipients again for it."""
    now = timezone.now()
    reason_text = (reason_text or REASONS.get(reason_code, reason_code))[:500]
    thread_pause(thread_id=thread.pk, reason=f"escalated: {reason_code}")
    # Open again too: a thread resolved or snoozed before (say, a send that failed later) needs a person now.
    Thread.objects.filter(pk=thread.pk).update(needs_human=True, needs_human_reason=reason_code[:200],
                                               needs_human_at=now, status=ThreadStatus.OPEN, snoozed_until=None)
    open_one = Escalation.objects.filter(thread=thread, status__in=[EscalationStatus.OPEN, EscalationStatus.CLAIMED])
    existing = open_one.first()
    # A lost enqueue loses only the email: the escalation itself is saved and listed in the queue.
    from conversations.tasks import notify_escalation  # the task module imports the pipeline, which imports this

    if existing is not None:
        if draft is not None:
            Escalation.objects.filter(pk=existing.pk).update(draft=draft)
        if urgent and not existing.urgent:
            Escalation.objects.filter(pk=existing.pk).update(urgent=True, reason_code=reason_code[:40],
                                                             reason_text=reason_text)
            existing.urgent = True
            task_enqueue_on_commit(notify_escalation, args=(existing.pk,))
        return existing
    try:
        with transaction.atomic():
            escalation = Escalation.objects.create(workspace_id=thread.workspace_id, thread=thread,
                                                   reason_code=reason_code[:40], reason_text=reason_text,
                                                   draft=draft, message_id=message_id, urgent=urgent)
    except IntegrityError:  # a concurrent run opened one first
        return open_one.get()
    task_enqueue_on_commit(notify_escalation, args=(escalation.pk,))
    return escalation


def escalation_open_after_send(*, thread_id: int, reason: str, message_id: int | None = None) -> None:
    """The channel layer could not act (permanent send error, window closed, send in doubt): open an
    escalation and pause the AI on the thread. Runs after the send's own transaction committed."""
    thread = Thread.objects.filter(pk=thread_id).first()
    if thread is None:
        return
    draft = ReplyDraft.objects.filter(outbound_message_id=message_id).first() if message_id else None
    with transaction.atomic():
        escalation_open(thread=thread, reason_code=reason, draft=draft, message_id=message_id)
        action_log.action_log_add(thread=thread, action=ActionKind.ESCALATED, draft=draft, result=reason)


def escalation_close_for_draft(*, draft: ReplyDraft, actor) -> bool:
    """A setter approved, edited-and-sent or discarded `draft`: the escalation that carried it is dealt
    with, so it is resolved, and the thread stops asking for a human unless another escalation is open.
    True if one was resolved. Run inside the caller's transaction (the draft's claim)."""
    resolved = Escalation.objects.filter(
        thread_id=draft.thread_id, draft=draft, status__in=[EscalationStatus.OPEN, EscalationStatus.CLAIMED],
    ).update(status=EscalationStatus.RESOLVED, resolved_by=actor, resolved_at=timezone.now())
    if resolved and not Escalation.objects.filter(
            thread_id=draft.thread_id, status__in=[EscalationStatus.OPEN, EscalationStatus.CLAIMED]).exists():
        Thread.objects.filter(pk=draft.thread_id, needs_human=True).update(
            needs_human=False, needs_human_reason="", needs_human_at=None)
    return bool(resolved)
