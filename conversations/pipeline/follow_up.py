"""Follow-ups, on demand or as a sequence step: draft a nudge for a quiet thread, gate it like a reply, send or
hand it over."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from contacts.models import LeadMemory
from conversations import action_log, escalations
from conversations.models import (
    ActionKind,
    Decision,
    Direction,
    DraftDisposition,
    DraftKind,
    ReplyDraft,
    SenderKind,
    Thread,
)
from conversations.pipeline import prompt as P
from conversations.pipeline import rules
from conversations.pipeline.calls import Escalate, structured_call
from conversations.pipeline.confidence import combine, should_auto_send
from conversations.pipeline.draft import Run, overseer_gate
from conversations.pipeline.finalize import plain_text
from conversations.selectors import (
    FOLLOW_UP_REPEAT_AFTER,
    business_hours_of,
    prompt_text_current,
    sidekick_settings_for,
    thread_history,
)
from conversations.sending import outbound_message_create
from integrations.llm.errors import NoProviderConfigured
from integrations.meta.limits import fit_text, send_window

logger = logging.getLogger(__name__)

NUDGE = "(The customer has not answered since. Write the follow-up message now.)"


def follow_up_run(*, thread: Thread, actor, review: bool = False) -> ReplyDraft:
    """Raises ValueError (a reason a setter can read) when the thread cannot take a follow-up now."""
    with transaction.atomic():
        # Under the thread's lock, so two setters (or a double click) make one follow-up, not two.
        thread = (Thread.objects.select_for_update(of=("self",)).select_related("contact", "channel", "workspace")
                  .get(pk=thread.pk))
        _ensure_follow_up_allowed(thread)
        draft = ReplyDraft.objects.create(workspace_id=thread.workspace_id, thread=thread, kind=DraftKind.FOLLOW_UP)
    return follow_up_draft_decide(thread=thread, draft=draft, actor=actor, review=review)


def follow_up_draft_decide(*, thread: Thread, draft: ReplyDraft, actor=None, review: bool = False,
                           step: int | None = None, human_agent: bool = False) -> ReplyDraft:
    """Draft the follow-up into `draft` (a claimed, pending FOLLOW_UP row), gate it, then send it or
    leave it for a setter. Makes LLM calls: call it outside a transaction.

    `step`: a sequence step (`pipeline.sequence`) rather than a setter's request: its evidence is
    `scheduled`, and the workspace's auto-send switch and business hours apply as to a reply.
    `human_agent`: the step may only go out past the 24-hour window with the Human Agent tag, so a
    setter must send it in their own words: it is always left for review.
    """
    cfg = sidekick_settings_for(workspace=thread.workspace)
    run = Run(message=None, thread=thread, contact=thread.contact, cfg=cfg, user=actor)
    try:
        return _follow_up(run, draft, actor=actor, review=review, step=step, human_agent=human_agent)
    except Escalate as stop:
        return _done(run, draft, stop.decision, stop.reason, stop.text, actor=actor, step=step)
    except NoProviderConfigured:
        return _done(run, draft, Decision.ESCALATED, "no_provider", "Follow-ups need an LLM provider.", actor=actor,
                     step=step)


def _ensure_follow_up_allowed(thread: Thread) -> None:
    """One follow-up (sent, or saved for a setter) per FOLLOW_UP_REPEAT_AFTER; a failed or discarded one
    does not count. None while Sidekick is paused on the thread."""
    if thread.ai_paused:
        raise ValueError("Sidekick is paused on this conversation: resume it, or write the follow-up yourself.")
    since = timezone.now() - FOLLOW_UP_REPEAT_AFTER
    earlier = (ReplyDraft.objects.filter(thread=thread, kind=DraftKind.FOLLOW_UP, created_at__gt=since)
               .exclude(decision__in=[Decision.ESCALATED, Decision.BLOCKED])  # failed: may be tried again
               .exclude(disposition=DraftDisposition.DISCARDED))
    if earlier.exists():
        raise ValueError("A follow-up was already made for this conversation in the last 24 hours; "
                         "see it in the conversation.")


def _follow_up(run: Run, draft: ReplyDraft, *, actor, review: bool, step: int | None, human_agent: bool) -> ReplyDraft:
    thread, now = run.thread, timezone.now()
    if thread.contact.opted_out:
        raise Escalate("opt_out", decision=Decision.BLOCKED)
    history = thread_history(thread=thread)
    run.history = P.conversation([("user" if m.direction == Direction.IN else "assistant", m.text) for m in history])
    if not run.history:
        raise Escalate("empty", "Nothing to follow up on.", decision=Decision.BLOCKED)
    if run.history[-1]["role"] == "user":
        run.history[-1]["content"] += "\n" + NUDGE
    else:
        run.history.append({"role": "user", "content": NUDGE})
    run.prompt, draft.prompt_revision = prompt_text_current(workspace=thread.workspace)
    memory = list(LeadMemory.objects.filter(contact=thread.contact, expires_at__gt=now)
                  .order_by("-created_at").values("kind", "text")[:20])
    system = P.system_prompt(prompt=run.prompt, business=thread.workspace.name, tz=thread.workspace.timezone,
                             now=now, hours_text="see settings", sources=[], memory=memory,
                             extra=P.FOLLOW_UP_INSTRUCTION)
    result = structured_call(run, purpose="follow_up_draft", system=system, messages=run.history,
                         schema=P.DRAFT_SCHEMA, schema_name="respond")
    parsed = result.parsed
    draft.text, draft.model, draft.provider_kind = parsed["reply"], result.model, result.provider_kind
    draft.intent = parsed["intent"]
    run.raw_reply = parsed["reply"]
    text = overseer_gate(run, draft, plain_text(parsed["reply"]))
    # A setter asked for this follow-up, or an admin's sequence scheduled it: that is its evidence; the
    # outbound checks and the reviewer still apply.
    confidence = combine(self_rating=parsed["confidence"], evidence_kind="requested" if step is None else "scheduled",
                         reviewer_verdict=run.overseer.get("verdict"))
    draft.confidence, draft.confidence_parts = confidence.value, confidence.parts
    draft.final_text = fit_text(text, thread.channel.platform)
    window = send_window(platform=thread.channel.platform, last_inbound_at=thread.last_inbound_at, now=now,
                         human=False, human_agent_enabled=thread.channel.human_agent_enabled)
    if review:
        return _done(run, draft, Decision.DRAFT_SAVED, "review_requested", actor=actor, step=step)
    if not window.allowed and human_agent:
        return _done(run, draft, Decision.DRAFT_SAVED, "human_agent_step", actor=actor, step=step)
    if not window.allowed:
        return _done(run, draft, Decision.DRAFT_SAVED, "window",
                     "Outside the 24-hour window only a setter may send this (HUMAN_AGENT tag).", actor=actor, step=step)
    if step is not None:
        # A scheduled nudge follows the workspace's rules for automatic messages, as a reply does.
        hits = rules.check_context(now=now, last_inbound_at=thread.last_inbound_at, hours=business_hours_of(run.cfg),
                                   tz=thread.workspace.timezone)
        if any(h.rule == "business_hours" for h in hits):
            return _done(run, draft, Decision.DRAFT_SAVED, "business_hours", actor=actor, step=step)
        if not run.cfg.auto_send:
            return _done(run, draft, Decision.DRAFT_SAVED, "auto_send_off", actor=actor, step=step)
    if not should_auto_send(confidence=confidence.value, threshold=run.cfg.threshold, blocking_hits=0):
        return _done(run, draft, Decision.DRAFT_SAVED, "low_confidence", actor=actor, step=step)
    return _done(run, draft, Decision.SENT, "", actor=actor, step=step)


def _done(run: Run, draft: ReplyDraft, decision: str, reason: str, reason_text: str = "", *, actor,
          step: int | None = None) -> ReplyDraft:
    with transaction.atomic():
        if decision == Decision.SENT:
            # The world may have moved while the model was thinking (as in the reply engine's act step).
            locked = (Thread.objects.select_for_update(of=("self",)).select_related("contact").defer("search_vector")
                      .get(pk=run.thread.pk))
            if locked.last_inbound_at != run.thread.last_inbound_at:
                decision, reason, reason_text = Decision.SUPERSEDED, "superseded", "The contact wrote while drafting."
            elif locked.ai_paused or locked.contact.opted_out or not locked.app_has_control:
                decision, reason = Decision.DRAFT_SAVED, "ai_paused"
                reason_text = "The thread was taken over (or the contact opted out) while drafting."
        draft.decision, draft.reason_code, draft.decided_at = decision, reason, timezone.now()
        draft.reasons = {"rules": [h.as_dict() for h in run.hits], "overseer": run.overseer, "notes": run.notes,
                         "text": reason_text or escalations.REASONS.get(reason, "")}
        if actor is not None:
            draft.reasons["requested_by"] = actor.email
        if step is not None:
            draft.reasons["follow_up_step"] = step
        draft.input_tokens, draft.output_tokens = run.input_tokens, run.output_tokens
        if decision == Decision.SENT:
            message = outbound_message_create(thread=run.thread, text=draft.final_text, sender_kind=SenderKind.AI,
                                              idempotency_key=f"follow_up:{draft.pk}")
            draft.outbound_message = message
            action_log.action_log_add(thread=run.thread, action=ActionKind.FOLLOW_UP_SENT, draft=draft, message=message,
                                  text=message.text, confidence=draft.confidence, result="queued", actor=actor)
        elif decision == Decision.DRAFT_SAVED:
            action_log.action_log_add(thread=run.thread, action=ActionKind.DRAFT_SAVED, draft=draft, text=draft.final_text,
                                  confidence=draft.confidence, result=f"follow-up: {reason}", actor=actor)
        draft.save()
    logger.info("follow-up on thread %s -> %s %s", run.thread.pk, decision, reason)
    return draft
