"""The intake INSERT (services.webhook_event_store) and the relay's batching, below the view."""

import queue

import psycopg
import pytest
from django.db import OperationalError, connection

from integrations import relay, services
from integrations.models import WebhookEvent, WebhookEventStatus


@pytest.fixture
def submitted(monkeypatch):
    ids: list[int] = []
    monkeypatch.setattr(relay, "submit", ids.append)
    return ids


@pytest.mark.django_db
def test_store_writes_every_column_like_a_model_save(submitted, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        event_id = services.webhook_event_store(body=b'{"object": "instagram"}', signed_by="instagram")
    event = WebhookEvent.objects.get(pk=event_id)
    assert bytes(event.body) == b'{"object": "instagram"}'
    assert (event.signed_by, event.status, event.attempts, event.error) == ("instagram", "pending", 0, "")
    assert event.received_at is not None and event.claimed_at is None and event.processed_at is None
    assert submitted == [event_id]  # enqueued once committed


@pytest.mark.django_db
def test_store_prepares_its_insert_once_per_connection(submitted):
    for _n in range(3):
        services.webhook_event_store(body=b"{}", signed_by="instagram")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
                       [f"INSERT INTO {WebhookEvent._meta.db_table} %"])
        assert cursor.fetchone()[0] == 1
    assert WebhookEvent.objects.count() == 3


@pytest.mark.django_db
def test_store_keeps_a_failed_event_without_enqueueing_it(submitted, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        event_id = services.webhook_event_store(body=b"{", signed_by="meta", error="malformed JSON: x")
    event = WebhookEvent.objects.get(pk=event_id)
    assert event.status == WebhookEventStatus.FAILED and event.error == "malformed JSON: x"
    assert submitted == []


@pytest.mark.django_db(transaction=True)
def test_store_reconnects_once_when_the_reused_connection_is_dead(submitted, caplog):
    """No health-check query first: a connection the database dropped fails the INSERT, which is retried."""
    caplog.set_level("INFO", logger="integrations.services")
    connection.ensure_connection()
    connection.connection.close()  # what a database restart leaves behind; Django still holds the object
    event_id = services.webhook_event_store(body=b"{}", signed_by="instagram")
    assert WebhookEvent.objects.filter(pk=event_id, status=WebhookEventStatus.PENDING).exists()
    assert submitted == [event_id]  # autocommit: committed when the INSERT returned
    assert "reconnecting once" in caplog.text


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("reused", "attempts_made"), [
    (True, 2),  # a reused connection may be stale: one retry on a fresh one, then give up
    (False, 1),  # a fresh connection's error is real: no retry
])
def test_store_retries_at_most_once_and_only_on_a_reused_connection(monkeypatch, submitted, reused, attempts_made):
    attempts = []

    def failing_execute(self, *args, **kwargs):
        attempts.append(1)
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    if reused:
        connection.ensure_connection()
    else:
        connection.close()
    monkeypatch.setattr(psycopg.Cursor, "execute", failing_execute)
    with pytest.raises(OperationalError):
        services.webhook_event_store(body=b"{}", signed_by="instagram")
    assert len(attempts) == attempts_made
    assert submitted == []


def test_relay_takes_everything_that_arrived_during_the_linger(monkeypatch):
    monkeypatch.setattr(relay, "LINGER_SECONDS", 0)
    q: queue.SimpleQueue[int] = queue.SimpleQueue()
    for n in range(2, 131):
        q.put(n)
    assert relay._drain(q, 1) == list(range(1, 131))


def test_relay_publishes_a_backlog_as_several_tasks(monkeypatch):
    published: list[list[int]] = []
    monkeypatch.setattr(relay, "publish", published.append)
    relay.publish_in_batches(list(range(120)))
    assert [len(batch) for batch in published] == [relay.MAX_BATCH, relay.MAX_BATCH, 20]
    assert sum(published, []) == list(range(120))
