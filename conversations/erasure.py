"""Erasing a contact's conversations (GDPR): threads and everything hanging off them, this app's rows.

Deleted child tables first, each counted, so the audit entry can say how many rows went (counts only).
"""

from __future__ import annotations

from django.db import transaction

from conversations.models import Escalation, FollowUpStepRun, Message, ReplyDraft, SidekickActionLog, Thread


def contact_conversations_erase(*, workspace, contact_id: int) -> dict[str, int]:
    """Delete every thread of the contact with its messages, drafts, escalations, action-log rows and
    follow-up runs (the inbox search document lives on the thread and goes with it).
    Precondition: inside the erasure's transaction."""
    assert transaction.get_connection().in_atomic_block, "runs inside the erasure's transaction"
    threads = Thread.objects.filter(workspace=workspace, contact_id=contact_id)
    return {
        "action_log": SidekickActionLog.objects.filter(workspace=workspace, contact_id=contact_id).delete()[0]
        + SidekickActionLog.objects.filter(thread__in=threads).delete()[0],
        "follow_up_runs": FollowUpStepRun.objects.filter(thread__in=threads).delete()[0],
        "escalations": Escalation.objects.filter(thread__in=threads).delete()[0],
        "reply_drafts": ReplyDraft.objects.filter(thread__in=threads).delete()[0],
        "messages": Message.objects.filter(thread__in=threads).delete()[0],
        "threads": threads.delete()[0],
    }
