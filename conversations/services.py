"""Writes a setter makes on a thread: take over / resume the AI, clear the needs-human flag, reply.

State changes are conditional updates (a double click or two setters at once change it once) and
each real change writes an audit event.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.services import audit_event_record
from conversations.models import Message, SenderKind, Thread
from conversations.selectors import thread_reply_state
from conversations.sending import SendRefused, outbound_message_create


@transaction.atomic
def thread_ai_pause(*, thread: Thread, actor, reason: str = "taken over by a setter") -> bool:
    """Human takeover: the AI neither drafts nor sends on this thread until resumed. True if it changed."""
    now = timezone.now()
    changed = Thread.objects.filter(pk=thread.pk, ai_paused=False).update(
        ai_paused=True, ai_paused_at=now, ai_paused_reason=reason[:200])
    if changed:
        thread.ai_paused, thread.ai_paused_at, thread.ai_paused_reason = True, now, reason[:200]
        audit_event_record(verb="thread.ai_paused", workspace=thread.workspace, actor=actor, target=thread,
                           data={"reason": reason[:200]})
    return bool(changed)


@transaction.atomic
def thread_ai_resume(*, thread: Thread, actor) -> bool:
    changed = Thread.objects.filter(pk=thread.pk, ai_paused=True).update(
        ai_paused=False, ai_paused_at=None, ai_paused_reason="")
    if changed:
        thread.ai_paused, thread.ai_paused_at, thread.ai_paused_reason = False, None, ""
        audit_event_record(verb="thread.ai_resumed", workspace=thread.workspace, actor=actor, target=thread)
    return bool(changed)


@transaction.atomic
def thread_needs_human_clear(*, thread: Thread, actor) -> bool:
    """A setter dealt with whatever made Sidekick flag the thread."""
    reason = thread.needs_human_reason
    changed = Thread.objects.filter(pk=thread.pk, needs_human=True).update(
        needs_human=False, needs_human_reason="", needs_human_at=None)
    if changed:
        thread.needs_human, thread.needs_human_reason, thread.needs_human_at = False, "", None
        audit_event_record(verb="thread.needs_human_cleared", workspace=thread.workspace, actor=actor,
                           target=thread, data={"reason": reason})
    return bool(changed)


def thread_mark_read(*, thread: Thread) -> None:
    """A setter opened the thread: nothing in it is unread any more (no write when already read)."""
    Thread.objects.filter(pk=thread.pk, unread_count__gt=0).update(unread_count=0)
    thread.unread_count = 0


def thread_reply_send(*, thread: Thread, text: str, actor) -> Message:
    """A setter's own reply. Raises SendRefused with a reason a setter can read.

    Checked here so the setter learns at once; `conversations.sending.message_send` checks the
    window again at send time and tags the message HUMAN_AGENT when that is what allows it.
    """
    if not text.strip():
        raise SendRefused("Write a message first.")
    state = thread_reply_state(thread=thread)
    if not state.allowed:
        raise SendRefused(state.reason)
    return outbound_message_create(thread=thread, text=text, sender_kind=SenderKind.SETTER, sent_by=actor)
