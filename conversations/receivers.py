"""Signal receivers connecting the channel layer to the reply engine (connected in apps.ready)."""

from __future__ import annotations

import logging

from django.db import transaction
from django.dispatch import receiver

from conversations import signals
from conversations.models import ActionKind, ReplyDraft, SidekickSettings, Thread

logger = logging.getLogger(__name__)

DEFAULT_DEBOUNCE = 4


def reply_enqueue(*, message_id: int, countdown: float | None = None) -> bool:
    """Schedule the reply pipeline for a new inbound message after the workspace's debounce.

    Every message of a burst is scheduled; the pipeline answers only the newest. A lost enqueue
    (broker down) is logged and picked up by the reply sweeper (`conversations.pipeline.sweep`).
    """
    from conversations.tasks import reply_to_message

    if countdown is None:
        found = SidekickSettings.objects.filter(workspace__messages__pk=message_id).values_list(
            "debounce_seconds", flat=True).first()
        countdown = DEFAULT_DEBOUNCE if found is None else found
    try:
        reply_to_message.apply_async(args=[message_id], countdown=countdown or None, retry=False)
    except Exception as exc:  # noqa: BLE001 - never fail ingestion over the reply
        logger.warning("reply for message %s not enqueued: %s", message_id, exc)
        return False
    return True


@receiver(signals.inbound_message_received, dispatch_uid="conversations.reply_on_inbound")
def _on_inbound(sender, message_id: int, **kwargs) -> None:
    reply_enqueue(message_id=message_id)


@receiver(signals.escalation_needed, dispatch_uid="conversations.escalation_on_flag")
def _on_escalation_needed(sender, thread_id: int, reason: str, message_id: int | None = None, **kwargs) -> None:
    """The channel layer could not act (permanent send error, window closed, send in doubt): open
    an escalation and pause the AI on the thread."""
    from conversations.pipeline.record import action_log_add, escalation_open

    thread = Thread.objects.filter(pk=thread_id).first()
    if thread is None:
        return
    draft = ReplyDraft.objects.filter(outbound_message_id=message_id).first() if message_id else None
    with transaction.atomic():
        escalation_open(thread=thread, reason_code=reason, draft=draft, message_id=message_id)
        action_log_add(thread=thread, action=ActionKind.ESCALATED, draft=draft, result=reason)
