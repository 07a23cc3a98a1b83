"""The Sidekick action log: what the AI (or a setter through it) did on a thread, and how a send ended."""

from __future__ import annotations

from conversations.models import ActionKind, Message, ReplyDraft, SendStatus, SidekickActionLog, Thread


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
