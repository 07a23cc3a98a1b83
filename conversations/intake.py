"""Webhook events, from the stored delivery to contacts, threads and messages.

`integrations` keeps the intake itself (verify, store the raw event, hand its id to the relay); this
module claims a stored event, parses it and applies each item (`conversations.ingest.item_apply`),
and re-enqueues what the broker or a worker dropped. The relay names its task by string
(`conversations.tasks.process_webhook_events`), so the outside-world layer never imports this one.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F, Q
from django.utils import timezone

from conversations import ingest
from integrations.meta import parser
from integrations.meta.sandbox import dm_payload
from integrations.models import Channel, ChannelStatus, WebhookEvent, WebhookEventStatus
from sidekick_project.enqueue import task_enqueue

logger = logging.getLogger(__name__)

# A pending event younger than this is presumably still in the broker; the sweeper leaves it alone.
EVENT_ENQUEUE_GRACE = timedelta(seconds=30)
# A claim older than this outlived the task time limit: the worker died.
EVENT_PROCESSING_STALE = timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT * 2)


def webhook_event_enqueue(*, event_id: int) -> bool:
    """Hand an event to the intake queue. Never raises: a broker outage only delays the event."""
    from conversations.tasks import process_webhook_event  # the task module imports this one

    return task_enqueue(process_webhook_event, args=[event_id])


def webhook_event_process(*, event_id: int) -> WebhookEvent | None:
    """Claim a pending event and turn it into contacts, threads and messages.

    Claimed with a conditional update, so a duplicate task is a no-op. Items are applied one by one,
    each in its own transaction; applying is idempotent (mids are unique per channel), so a retry
    after a crash half-way repeats nothing. A database outage puts the event back to pending (the
    sweeper retries, bounded by META_EVENT_MAX_ATTEMPTS); a bug in one item is recorded on the event
    without blocking the other items. Never raises.
    """
    now = timezone.now()
    claimed = WebhookEvent.objects.filter(pk=event_id, status=WebhookEventStatus.PENDING).update(
        status=WebhookEventStatus.PROCESSING, attempts=F("attempts") + 1, claimed_at=now,
    )
    if not claimed:
        return None
    event = WebhookEvent.objects.get(pk=event_id)
    try:
        errors, total, ignored = _event_apply(event)
    except (OperationalError, InterfaceError) as exc:
        return _event_release(event, f"database unavailable: {exc}")
    except Exception as exc:  # noqa: BLE001 - a worker must record failures, not crash on them
        logger.exception("webhook event %s failed", event_id)
        return _event_release(event, f"{type(exc).__name__}: {exc}")
    event.status = WebhookEventStatus.DONE
    event.processed_at = timezone.now()
    event.items_total, event.items_ignored = total, ignored
    event.error = "\n".join(errors)[:5000]
    event.save(update_fields=["status", "processed_at", "items_total", "items_ignored", "error"])
    return event


def _event_release(event: WebhookEvent, error: str) -> WebhookEvent:
    final = event.attempts >= settings.META_EVENT_MAX_ATTEMPTS
    event.status = WebhookEventStatus.FAILED if final else WebhookEventStatus.PENDING
    event.error = error[:5000]
    try:
        event.save(update_fields=["status", "error"])
    except (OperationalError, InterfaceError):
        logger.warning("webhook event %s: could not release the claim; the sweeper will", event.pk)
    return event


def _event_apply(event: WebhookEvent) -> tuple[list[str], int, int]:
    try:
        data = json.loads(bytes(event.body))
    except (ValueError, UnicodeDecodeError):
        data = None
    items = parser.parse_payload(data)
    keys = {(i.platform, i.account_id) for i in items if i.platform and i.account_id}
    channels = {}
    if keys:
        query = Q()
        for platform, account_id in keys:
            query |= Q(platform=platform, account_id=account_id)
        channels = {(c.platform, c.account_id): c for c in Channel.objects.filter(query).exclude(
            status=ChannelStatus.DISABLED)}
    errors: list[str] = []
    ignored = 0
    for index, item in enumerate(items):
        channel = channels.get((item.platform, item.account_id))
        if item.kind == parser.UNKNOWN or channel is None or not item.contact_id:
            ignored += 1
            continue
        try:
            with transaction.atomic():
                outcome = ingest.item_apply(channel=channel, item=item, received_at=event.received_at)
        except (OperationalError, InterfaceError):
            raise
        except Exception as exc:  # noqa: BLE001 - recorded on the event; the other items still apply
            logger.exception("webhook event %s item %s (%s) failed", event.pk, index, item.kind)
            errors.append(f"item {index} ({item.kind}): {type(exc).__name__}: {exc}"[:500])
            continue
        if outcome == "ignored":
            ignored += 1
    return errors, len(items), ignored


# --- sweeper ---------------------------------------------------------------------------------------

def webhook_events_sweep(*, limit: int = 500) -> dict:
    """Re-enqueue events left pending (broker down, enqueue lost) and free claims of dead workers."""
    now = timezone.now()
    stale = WebhookEvent.objects.filter(status=WebhookEventStatus.PROCESSING,
                                        claimed_at__lt=now - EVENT_PROCESSING_STALE)
    failed = stale.filter(attempts__gte=settings.META_EVENT_MAX_ATTEMPTS).update(
        status=WebhookEventStatus.FAILED, error="worker died while processing, too many attempts")
    released = stale.filter(attempts__lt=settings.META_EVENT_MAX_ATTEMPTS).update(status=WebhookEventStatus.PENDING)
    ids = list(WebhookEvent.objects.filter(status=WebhookEventStatus.PENDING, received_at__lt=now - EVENT_ENQUEUE_GRACE)
               .order_by("received_at").values_list("pk", flat=True)[:limit])
    enqueued = sum(1 for event_id in ids if webhook_event_enqueue(event_id=event_id))
    return {"enqueued": enqueued, "released": released, "failed": failed}


# --- sandbox ---------------------------------------------------------------------------------------

def sandbox_dm_deliver(*, channel: Channel, sender_id: str, text: str) -> WebhookEvent:
    """META_SANDBOX only: a DM "from" `sender_id`, through the normal intake (stored event, then processed).

    The event is processed in this request rather than by a worker, so the sandbox panel shows the
    thread at once; everything after intake (the `inbound_message_received` signal, the reply
    engine) runs as it would for a real delivery.
    """
    if not settings.META_SANDBOX:
        raise PermissionError("the sandbox is off (META_SANDBOX=0)")
    body = json.dumps(dm_payload(channel=channel, sender_id=sender_id, text=text), ensure_ascii=False).encode()
    event = WebhookEvent.objects.create(body=body, signed_by="sandbox")
    return webhook_event_process(event_id=event.pk) or event
