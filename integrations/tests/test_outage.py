"""Redis down during intake: Meta still gets its 200, the event waits in Postgres, the sweeper recovers it."""

import json
import time
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from conversations import tasks
from conversations.intake import EVENT_PROCESSING_STALE, webhook_event_process, webhook_events_sweep
from conversations.models import Message
from integrations.models import WebhookEvent, WebhookEventStatus
from integrations.tests import payloads as p
from sidekick_project.celery import app as celery_app

pytestmark = pytest.mark.django_db(transaction=True)


def _reset_broker_pools():
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def dead_broker(tmp_path):
    original = celery_app.conf.broker_url
    celery_app.conf.broker_url = f"redis+socket://{tmp_path}/nobody-listens.sock"
    _reset_broker_pools()
    yield
    celery_app.conf.broker_url = original
    _reset_broker_pools()


def _queued_event_ids(queue="intake") -> list[tuple[bytes, int]]:
    client = redis.Redis.from_url(settings.REDIS_URL)
    found = []
    for raw in client.lrange(queue, 0, -1):
        message = json.loads(raw)
        headers = message.get("headers", {})
        if headers.get("task") == "conversations.tasks.process_webhook_event":
            found.append((raw, json.loads(headers["argsrepr"].replace("(", "[").replace(",)", "]").replace(")", "]"))[0]))
    return found


def test_intake_answers_200_with_redis_down_and_sweeper_recovers(post_webhook, channel, dead_broker):
    payload = p.envelope(channel, p.text(channel, "42", "are you open today?", mid="outage.1"))
    started = time.monotonic()
    response = post_webhook(payload)
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert elapsed < 1.0, f"a dead broker held the webhook for {elapsed:.2f}s"
    event = WebhookEvent.objects.get()
    assert event.status == WebhookEventStatus.PENDING

    # Redis is back.
    celery_app.conf.broker_url = settings.CELERY_BROKER_URL
    _reset_broker_pools()
    assert webhook_events_sweep()["enqueued"] == 0  # too recent: presumably still in flight
    WebhookEvent.objects.filter(pk=event.pk).update(received_at=timezone.now() - timedelta(minutes=1))
    assert webhook_events_sweep()["enqueued"] == 1

    queued = [(raw, event_id) for raw, event_id in _queued_event_ids() if event_id == event.pk]
    assert queued, "the sweeper did not put the event on the intake queue"
    redis.Redis.from_url(settings.REDIS_URL).lrem("intake", 0, queued[0][0])
    tasks.process_webhook_event.run(event.pk)  # what the worker does with it
    assert Message.objects.get().mid == "outage.1"
    event.refresh_from_db()
    assert event.status == WebhookEventStatus.DONE


def test_sweeper_releases_claims_of_dead_workers(channel, settings):
    event = WebhookEvent.objects.create(
        body=json.dumps(p.envelope(channel, p.text(channel, "1", "x", mid="dead.1"))).encode(),
        status=WebhookEventStatus.PROCESSING, attempts=1,
        claimed_at=timezone.now() - EVENT_PROCESSING_STALE - timedelta(seconds=1),
        received_at=timezone.now() - timedelta(hours=1),
    )
    result = webhook_events_sweep()
    assert result["released"] == 1 and result["enqueued"] == 1
    webhook_event_process(event_id=event.pk)
    assert Message.objects.filter(mid="dead.1").exists()
    for raw, event_id in _queued_event_ids():
        if event_id == event.pk:
            redis.Redis.from_url(settings.REDIS_URL).lrem("intake", 0, raw)


def test_event_gives_up_after_max_attempts(channel, settings):
    settings.META_EVENT_MAX_ATTEMPTS = 2
    event = WebhookEvent.objects.create(body=b"{}", status=WebhookEventStatus.PROCESSING, attempts=2,
                                        claimed_at=timezone.now() - EVENT_PROCESSING_STALE - timedelta(seconds=1))
    assert webhook_events_sweep()["failed"] == 1
    event.refresh_from_db()
    assert event.status == WebhookEventStatus.FAILED


def test_database_error_puts_event_back_to_pending(channel, monkeypatch):
    from django.db import OperationalError

    event = WebhookEvent.objects.create(body=json.dumps(p.envelope(channel, p.text(channel, "1", "x"))).encode())

    def broken(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("conversations.ingest.item_apply", broken)
    webhook_event_process(event_id=event.pk)
    event.refresh_from_db()
    assert event.status == WebhookEventStatus.PENDING and "database unavailable" in event.error
    monkeypatch.undo()
    webhook_event_process(event_id=event.pk)
    event.refresh_from_db()
    assert event.status == WebhookEventStatus.DONE and event.attempts == 2


def test_relay_publishes_committed_events_in_batches(post_webhook, channel):
    """The request path only commits; the relay thread publishes one task per batch of ids."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    for n in range(3):
        assert post_webhook(p.envelope(channel, p.text(channel, "1", f"relay {n}", mid=f"relay.{n}"))).status_code == 200
    ids = set(WebhookEvent.objects.values_list("pk", flat=True))
    published: set[int] = set()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not ids <= published:
        for raw in client.lrange("intake", 0, -1):
            message = json.loads(raw)
            if message.get("headers", {}).get("task") == "conversations.tasks.process_webhook_events":
                batch = set(json.loads(__import__("base64").b64decode(message["body"]))[0][0])
                if batch & ids:
                    published |= batch & ids
                    client.lrem("intake", 0, raw)
        time.sleep(0.05)
    assert ids <= published
    tasks.process_webhook_events.run(sorted(ids))
    assert Message.objects.count() == 3
