"""kombu's Redis channel reuses one client (sidekick_project.broker.share_redis_client)."""

import threading

import pytest
from kombu import Connection

from conftest import run_concurrently
from sidekick_project.broker import share_redis_client
from sidekick_project.celery import app


def test_channel_reuses_one_client_and_rebuilds_it_with_a_new_pool():
    share_redis_client()  # idempotent; the Celery app installed it already
    with Connection(app.conf.broker_url) as connection:
        channel = connection.default_channel
        assert channel.pool is not None  # kombu builds the pool on the channel's first operation
        with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
            assert first is second
        seen = []

        def use():
            with channel.conn_or_acquire() as client:
                seen.append(client)
                client.ping()

        run_concurrently(*[use] * 4)
        assert all(client is first for client in seen)

        channel._pool = None  # kombu dropped the pool (reconnect): its own method builds the next one
        with channel.conn_or_acquire() as third:
            assert third is not first and third.connection_pool is channel.pool
        with channel.conn_or_acquire() as fourth, channel.conn_or_acquire() as fifth:
            assert fourth is fifth and fourth is not first  # shared again, on the new pool
        channel.closed = True  # closing (after a lost connection): always kombu's own method
        with channel.conn_or_acquire() as closing:
            assert closing is not fourth
        channel.closed = False
        explicit = object()
        with channel.conn_or_acquire(explicit) as given:
            assert given is explicit


def test_a_queue_round_trip_still_works():
    with Connection(app.conf.broker_url) as connection:
        queue = connection.SimpleQueue(f"sidekick-broker-test-{threading.get_ident()}")
        try:
            queue.put({"hello": "world"})
            message = queue.get(timeout=5)
            assert message.payload == {"hello": "world"}
            message.ack()
        finally:
            queue.queue.delete()
            queue.close()



def test_a_channel_whose_connection_is_gone_fails_as_a_connection_error():
    """kombu builds a client from `connection.client` while closing a channel after the broker went
    away; that must surface as a connection error (which kombu ignores and Celery recovers from), not
    the AttributeError that stopped the worker for good."""
    share_redis_client()
    with Connection(app.conf.broker_url) as connection:
        channel = connection.default_channel
        channel._pool = None
        client = connection.client if hasattr(connection, "client") else None
        channel.connection.client = None  # what kombu's transport holds once the connection is closed
        try:
            with pytest.raises(channel.connection_errors) as raised:
                with channel.conn_or_acquire():
                    pass
            assert "closed" in str(raised.value)
        finally:
            channel.connection.client = client or connection
