"""Broker client tweaks shared by web processes and workers."""

from __future__ import annotations

from contextlib import contextmanager


def share_redis_client() -> None:
    """Let kombu's Redis channel reuse one client instead of building one per operation.

    kombu's `Channel.conn_or_acquire()` constructs a new `redis.Redis` around the channel's connection
    pool for every ack, publish and restore: with `acks_late` that is once per task, from whichever
    pool thread ran it. With redis-py 8 a construction costs ~180 µs of CPU under the GIL (it builds
    a case-insensitive table of ~170 response callbacks); py-spy on bench/pipeline.py's workers had
    13.5% of a worker's GIL samples there. A `redis.Redis` over a connection pool is thread-safe (each
    command or pipeline checks a connection out), so one client per channel and pool does the same work.

    The shortcut is taken only on an open channel whose pool exists. Anything else (the channel is
    closing after a lost connection and restores its unacked messages, or kombu dropped the pool to
    reconnect) goes through kombu's own method, unchanged: an earlier version built the pool itself
    there, on a channel whose connection was already gone, and killed the worker on every broker
    outage (`AttributeError: 'NoneType' object has no attribute 'hostname'`, issue 12). A cached client
    is dropped as soon as kombu replaces the pool. An explicitly passed client still wins.
    """
    from kombu.transport import redis as kombu_redis

    channel_class = kombu_redis.Channel
    if getattr(channel_class, "_sidekick_shared_client", False):
        return
    kombu_conn_or_acquire = channel_class.conn_or_acquire

    def conn_or_acquire(self, client=None):
        pool = self.__dict__.get("_pool")  # never build a pool here: that is kombu's decision
        if client or pool is None or self.closed:
            return kombu_conn_or_acquire(self, client)
        return _shared(self, pool)

    channel_class.conn_or_acquire = conn_or_acquire

    # kombu's own defect, kept out of the worker: once the broker connection is gone, closing a channel
    # still restores its unacked messages through a client it builds from `connection.client`, which
    # is None by then, and the AttributeError that follows is not a connection error, so the worker's
    # consumer stops for good ("Unrecoverable error: ... 'NoneType' object has no attribute
    # 'hostname'"; celery/kombu#582 and #970). Saying what happened, a lost connection, lets kombu's
    # `ignore_errors` pass it and Celery reconnect; the messages stay unacked in Redis and come back
    # after the visibility timeout, and the reply sweeper re-runs any reply that was in flight.
    import redis

    kombu_connparams = channel_class._connparams

    def _connparams(self, asynchronous=False):
        if getattr(self.connection, "client", None) is None:
            raise redis.exceptions.ConnectionError("the broker connection is closed")
        return kombu_connparams(self, asynchronous)

    channel_class._connparams = _connparams
    channel_class._sidekick_shared_client = True


@contextmanager
def _shared(channel, pool):
    cached = channel.__dict__.get("_sidekick_client")
    if cached is None or cached[0] is not pool:
        cached = (pool, channel._create_client())
        channel.__dict__["_sidekick_client"] = cached  # a race builds two; either is fine
    yield cached[1]
