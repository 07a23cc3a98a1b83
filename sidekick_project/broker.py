"""Broker client tweaks shared by web processes and workers."""

from __future__ import annotations

from contextlib import contextmanager


def share_redis_client() -> None:
    """Let kombu's Redis channel reuse one client instead of building one per operation.

    kombu's `Channel.conn_or_acquire()` constructs a new `redis.Redis` around the channel's connection
    pool for every ack, publish and restore: with `acks_late` that is once per task, from whichever
    pool thread ran it (py-spy on bench/pipeline.py's workers: client construction and teardown were a
    large part of the ack). A `redis.Redis` over a connection pool is thread-safe (each command or
    pipeline checks a connection out), so one client per channel and pool does the same work. The
    client is rebuilt if kombu replaces the pool (reconnect); an explicitly passed client still wins.
    """
    from kombu.transport import redis as kombu_redis

    channel_class = kombu_redis.Channel
    if getattr(channel_class, "_sidekick_shared_client", False):
        return

    @contextmanager
    def conn_or_acquire(self, client=None):
        if client:
            yield client
            return
        pool = self.pool
        cached = self.__dict__.get("_sidekick_client")
        if cached is None or cached[0] is not pool:
            cached = (pool, self._create_client())
            self.__dict__["_sidekick_client"] = cached  # a race builds two; either is fine
        yield cached[1]

    channel_class.conn_or_acquire = conn_or_acquire
    channel_class._sidekick_shared_client = True
