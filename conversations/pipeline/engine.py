"""The reply pipeline: one inbound message in, one recorded decision out.

    decide → draft → memory → overseer gate (hard rules, then reviewer) → confidence → finalize
    → act (send / escalate / save draft) → record

The computation (everything up to the decision) is `draft.reply_draft_compute`, side-effect free;
this module claims the message, runs it, then acts and records. `reply_pipeline_run(message_id=...)`
is what the Celery task calls, after the debounce; a reply it
decides to send goes out from the same call, right after the decision commits. It is safe to
run twice: the ReplyDraft row is unique per inbound message and is the claim, so a redelivered or
duplicated task finds it and returns. A burst is answered once: every message of it gets a task,
all but the newest find a newer inbound message and record `superseded` without calling a model.
Because the burst is identified by its newest message, the draft's uniqueness is also the per-thread
claim: two workers can never draft the same burst. If a message arrives while a draft is in flight,
the act step (under a row lock on the thread) sees it and records `superseded` instead of sending;
the newer message's own run answers everything.

No LLM call is made inside a database transaction. Outcomes are mapped to decisions like this:

    crisis, threat (inbound screen)          escalated    urgent escalation, no model call
    legal matter (inbound screen)            escalated    escalation, no model call
    opt-out (contact opted out), spam        blocked      no escalation (with a crisis/threat: urgent)
    blacklist, window closed                 blocked      escalation
    prompt injection (inbound screen)        escalated    escalation, no model call
    human asked for (rule or model)          escalated    escalation, no draft call for the rule
    outbound check (link, phone, offer, leak,
      markup, hidden or mixed letters)       blocked      escalation
    reviewer veto                            escalated    escalation
    screening model flags the message        escalated    escalation (urgent for crisis/threat)
    LLM error, quota, unusable output        escalated    escalation
    no provider: FAQ near-exact match        faq_answered sent without an LLM
    no provider, no FAQ match                escalated    escalation
    business hours policy                    draft_saved  (a setter answers during/after hours)
    auto-send off                            draft_saved
    confidence below the threshold           draft_saved  escalation
    otherwise                                sent         (at or above the threshold, gate approved)

Confidence is earned by evidence (confidence.py): a relevant retrieved source the reply draws on, or
a purely conversational message; the model's self-rating and the reviewer can only lower it. The
screening model (`_screen_call`) runs last, only for a reply about to be sent: its verdict can stop
a send, never allow one. Every escalation pauses the AI on the thread until a setter resumes it.
"""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from contacts.models import Contact
from contacts.services import contact_opt_out
from conversations import action_log, escalations
from conversations.models import (
    ActionKind,
    Decision,
    Direction,
    Message,
    ReplyDraft,
    SenderKind,
    SidekickSettings,
    Thread,
)
from conversations.pipeline import record
from conversations.pipeline.draft import Run, compute
from conversations.sending import SendRefused, message_send, outbound_message_create
from conversations.settings_rows import sidekick_settings_ensure
from sidekick_project.db import first_unordered, savepoint_if_in_transaction

logger = logging.getLogger(__name__)


# --- entry point -------------------------------------------------------------------------------------

def reply_pipeline_run(*, message_id: int) -> ReplyDraft | None:
    """Answer one inbound message (see the module docstring). Returns the draft, or None when skipped."""
    # One query for the message, its thread, contact, channel, workspace and the workspace's settings;
    # not the thread's search document (every word of the conversation, unused here).
    message = first_unordered(
        Message.objects.select_related("thread__contact", "thread__channel", "workspace__sidekick_settings")
        .defer("thread__search_vector").filter(pk=message_id, direction=Direction.IN, is_deleted=False))
    if message is None:
        return None
    thread, contact = message.thread, message.thread.contact
    thread.workspace = message.workspace  # the same row: spare a query
    try:
        cfg = message.workspace.sidekick_settings
    except SidekickSettings.DoesNotExist:
        cfg = sidekick_settings_ensure(workspace=message.workspace)  # first reply: created with the defaults
    skip = _skip_reason(thread, contact, cfg)
    if skip:
        logger.info("reply pipeline: message %s skipped (%s)", message_id, skip)
        return None
    try:
        with savepoint_if_in_transaction():
            draft = ReplyDraft.objects.create(workspace_id=thread.workspace_id, thread=thread, inbound_message=message)
    except IntegrityError:
        return None  # another worker claimed this message
    run = Run(message=message, thread=thread, contact=contact, cfg=cfg)
    if _newer_inbound(message):
        return _finish(run, draft, Decision.SUPERSEDED, "superseded")
    try:
        result = compute(run, draft)
    except Exception:
        # A bug must not leave the contact without an answer and nobody aware of it.
        logger.exception("reply pipeline failed on message %s", message_id)
        return _finish(run, draft, Decision.ESCALATED, "pipeline_error", "Sidekick hit an internal error.")
    _apply_contact_writes(run)
    return _finish(run, draft, result.decision, result.reason, result.reason_text)


def _apply_contact_writes(run: Run) -> None:
    """What the computation found the contact said: an opt-out, facts for the lead memory."""
    if run.opt_out_at is not None:
        contact_opt_out(contact_id=run.contact.pk, at=run.opt_out_at)
    if run.memory_writes:
        record.memory_writes_apply(contact=run.contact, writes=run.memory_writes, source_message=run.message)


def _skip_reason(thread: Thread, contact: Contact, cfg) -> str:
    if not cfg.enabled:
        return "automation_off"
    if thread.ai_paused:
        return "ai_paused"
    if contact.opted_out:
        return "opted_out"
    if not thread.app_has_control:
        return "other_app_in_control"
    if not thread.channel.can_send:
        # Reconnect needed (or disabled): nothing could be sent, so no model call is paid for; the
        # channel's admins were alerted when it was marked, and the thread waits for a human.
        return f"channel_{thread.channel.status}"
    return ""


def _newer_inbound(message: Message) -> bool:
    return Message.objects.filter(
        Q(sent_at__gt=message.sent_at) | Q(sent_at=message.sent_at, pk__gt=message.pk),
        thread_id=message.thread_id, direction=Direction.IN, is_deleted=False,
    ).exists()


# --- act and record -----------------------------------------------------------------------------------

def _finish(run: Run, draft: ReplyDraft, decision: str, reason: str, reason_text: str = "") -> ReplyDraft:
    """Act on the decision under a lock on the thread, then record everything on the draft."""
    thread = run.thread
    with transaction.atomic():
        # The thread and contact rows are locked; the channel is read with them (not locked: every thread
        # of the channel would wait on it) for the send below.
        locked = (Thread.objects.select_for_update(of=("self", "contact")).select_related("contact", "channel")
                  .defer("search_vector").get(pk=thread.pk))
        locked.workspace = thread.workspace  # the same row: spare a query
        sending = decision in (Decision.SENT, Decision.FAQ_ANSWERED)
        if sending or decision == Decision.DRAFT_SAVED:
            # The world may have moved while the model was thinking.
            if _newer_inbound(run.message):
                decision, reason, reason_text = Decision.SUPERSEDED, "superseded", ""
            elif sending and (locked.ai_paused or locked.contact.opted_out or not locked.app_has_control):
                decision, reason = Decision.DRAFT_SAVED, "ai_paused"
                reason_text = "The thread was taken over (or the contact opted out) while drafting."
        draft.decision, draft.reason_code, draft.decided_at = decision, reason, timezone.now()
        draft.reasons = {"rules": [h.as_dict() for h in run.hits], "overseer": run.overseer, "notes": run.notes,
                         "text": reason_text or escalations.REASONS.get(reason, "")}
        draft.input_tokens, draft.output_tokens = run.input_tokens, run.output_tokens
        if decision in (Decision.SENT, Decision.FAQ_ANSWERED) and not _send(run, draft, locked):
            decision, reason = Decision.BLOCKED, "empty"
            draft.decision, draft.reason_code = decision, reason
        elif decision == Decision.DRAFT_SAVED:
            action_log.action_log_add(thread=thread, action=ActionKind.DRAFT_SAVED, draft=draft, text=draft.final_text,
                                  confidence=draft.confidence, result=reason)
        if decision == Decision.ESCALATED or (decision == Decision.BLOCKED and record.BLOCKING_ESCALATES.get(reason))\
                or (decision == Decision.DRAFT_SAVED and reason in ("low_confidence", "sensitive")):
            escalations.escalation_open(thread=thread, reason_code=reason, reason_text=reason_text, draft=draft,
                                        message_id=run.message.pk, urgent=run.urgent)
            if decision != Decision.DRAFT_SAVED:
                action_log.action_log_add(thread=thread, action=ActionKind.ESCALATED, draft=draft,
                                      text=draft.final_text or draft.text, confidence=draft.confidence, result=reason)
        draft.save()
        if decision != Decision.SUPERSEDED:
            record.contact_state_apply(draft=draft, contact=locked.contact)
    logger.info("reply pipeline: message %s -> %s %s confidence=%s", run.message.pk, decision, reason,
                draft.confidence)
    return draft


def _send(run: Run, draft: ReplyDraft, locked: Thread) -> bool:
    """Write the outbound row in the decision's transaction; send it in this task once that commits.

    No second Celery task: the row is durable (`pending`) before any HTTP call, `message_send` claims
    it (`pending → sending`) so it goes out at most once, and if this worker dies between the commit
    and the send, `outbound_messages_sweep` finds the row still pending and enqueues it.
    """
    try:
        message = outbound_message_create(thread=run.thread, text=draft.final_text, sender_kind=SenderKind.AI,
                                          idempotency_key=f"reply:{run.message.pk}", enqueue=False)
    except SendRefused as exc:
        draft.reasons["text"] = str(exc)
        return False
    draft.outbound_message = message
    action_log.action_log_add(thread=run.thread, action=ActionKind.SENT_REPLY, draft=draft, message=message,
                          text=message.text, confidence=draft.confidence, result="queued")
    # The send checks the thread, contact and channel as read under the lock, not the run's copies from
    # before the model calls.
    message.thread, message.channel = locked, locked.channel
    transaction.on_commit(lambda: _send_committed(message))
    return True


def _send_committed(message: Message) -> None:
    try:
        message_send(message_id=message.pk, loaded=message)
    except Exception:  # noqa: BLE001 - the decision is committed; the row is pending or sending, never lost
        logger.exception("reply send of message %s failed; the send sweeper takes it from here", message.pk)
