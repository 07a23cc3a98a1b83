"""The reply sweeper: Redis or a worker may lose a reply job; this finds the contacts left waiting.

Runs every minute from beat. Two kinds of stranded work:

- an inbound message that is the newest message of its thread, arrived within the messaging
  window, is older than the debounce plus a grace period, and has no draft: its job never ran
  (broker down at enqueue, worker lost before the claim). It is enqueued again; the pipeline's own
  checks and its one-draft-per-message claim make a duplicate harmless.
- a draft still `pending` long after any run could take (the task's hard time limit is 240 s): the
  worker died mid-run. Re-running could repeat model calls whose effects are unknown, so the
  thread goes to a human instead, with reason `pipeline_interrupted`.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Subquery
from django.utils import timezone

from conversations import action_log, escalations, replies
from conversations.models import ActionKind, Decision, Direction, Message, ReplyDraft, Thread
from conversations.pipeline.rules import MESSAGING_WINDOW

GRACE = timedelta(seconds=90)
STUCK_AFTER = timedelta(minutes=10)


def unanswered_messages(*, now, limit: int) -> list[int]:
    newest = Message.objects.filter(thread=OuterRef("pk")).order_by("-sent_at", "-pk")
    threads = (
        Thread.objects.filter(
            last_inbound_at__gte=now - MESSAGING_WINDOW, last_inbound_at__lt=now - GRACE,
            ai_paused=False, app_has_control=True, contact__opted_out=False,
        )
        .exclude(workspace__sidekick_settings__enabled=False)
        .annotate(newest_id=Subquery(newest.values("pk")[:1]),
                  newest_direction=Subquery(newest.values("direction")[:1]),
                  newest_deleted=Subquery(newest.values("is_deleted")[:1]))
        .filter(newest_direction=Direction.IN, newest_deleted=False)
        .filter(~Exists(ReplyDraft.objects.filter(inbound_message_id=OuterRef("newest_id"))))
    )
    return list(threads.order_by("last_inbound_at").values_list("newest_id", flat=True)[:limit])


def interrupted_drafts_settle(*, now, limit: int) -> int:
    settled = 0
    stuck = ReplyDraft.objects.filter(decision=Decision.PENDING, created_at__lt=now - STUCK_AFTER)
    for draft_id in stuck.values_list("pk", flat=True)[:limit]:
        with transaction.atomic():
            # The conditional update is the claim: a concurrent sweep settles each draft once.
            if not ReplyDraft.objects.filter(pk=draft_id, decision=Decision.PENDING).update(
                    decision=Decision.ESCALATED, reason_code="pipeline_interrupted", decided_at=now):
                continue
            draft = ReplyDraft.objects.select_related("thread").get(pk=draft_id)
            draft.reasons = {**draft.reasons, "text": escalations.REASONS["pipeline_interrupted"]}
            draft.save(update_fields=["reasons"])
            escalations.escalation_open(thread=draft.thread, reason_code="pipeline_interrupted", draft=draft,
                                   message_id=draft.inbound_message_id)
            action_log.action_log_add(thread=draft.thread, action=ActionKind.ESCALATED, draft=draft,
                                  result="pipeline_interrupted")
            settled += 1
    return settled


def replies_sweep(*, now=None, limit: int = 200) -> dict:
    now = now or timezone.now()
    missing = unanswered_messages(now=now, limit=limit)
    enqueued = sum(1 for message_id in missing if replies.reply_enqueue(message_id=message_id, countdown=0))
    return {"enqueued": enqueued, "interrupted": interrupted_drafts_settle(now=now, limit=limit)}
