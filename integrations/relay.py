"""Hands committed webhook events to the broker off the request path, in batches.

The webhook answers as soon as the event row is committed: that is the durability point. Publishing
to Celery costs a broker round trip and about a millisecond of CPU per message, more than the rest
of the request; done inline it halves intake throughput. So each web process runs one daemon
thread that drains event ids from an in-memory queue and publishes one task per batch (a batch is
a single id when traffic is light; it waits LINGER_SECONDS for company).

Nothing is lost if the process dies with ids still queued, or the broker is down: the rows stay
`pending` and the sweeper re-enqueues them (`conversations.intake.webhook_events_sweep`).
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time

from sidekick_project.enqueue import task_enqueue

logger = logging.getLogger(__name__)

PROCESS_TASK = "conversations.tasks.process_webhook_events"
MAX_BATCH = 50
# After the first id arrives, wait this long for more: under load one publish carries several ids
# (at most MAX_BATCH per task; a longer backlog goes out as several tasks at once).
# A publish costs ~1 ms of CPU whatever its size: with 5 ms, a process taking 300 deliveries/s still
# published batches of one or two ids; with 25 ms they carry ~8. 25 ms is nothing next to the reply
# debounce (seconds) that follows.
LINGER_SECONDS = 0.025

_lock = threading.Lock()
_queue: queue.SimpleQueue[int] = queue.SimpleQueue()
_thread: threading.Thread | None = None
_pid: int | None = None


def submit(event_id: int) -> None:
    """Queue an event id for publishing (non-blocking). Safe after fork: each process gets its thread."""
    global _thread, _pid, _queue
    if _pid != os.getpid() or _thread is None or not _thread.is_alive():
        with _lock:
            if _pid != os.getpid():
                _queue = queue.SimpleQueue()  # ids queued by the parent are not ours to publish
            if _pid != os.getpid() or _thread is None or not _thread.is_alive():
                _pid = os.getpid()
                _thread = threading.Thread(target=_run, args=(_queue,), name="webhook-relay", daemon=True)
                _thread.start()
    _queue.put(event_id)


def _drain(q: queue.SimpleQueue[int], first: int) -> list[int]:
    # Sleep through the linger, then take whatever arrived: one wake-up of this thread per batch.
    # (Waiting on the queue with a timeout woke it, and made it compete for the GIL with the request
    # threads, once per id.)
    time.sleep(LINGER_SECONDS)
    batch = [first]
    while True:
        try:
            batch.append(q.get_nowait())
        except queue.Empty:
            return batch


def _run(q: queue.SimpleQueue[int]) -> None:
    while True:
        publish_in_batches(_drain(q, q.get()))


def publish_in_batches(ids: list[int]) -> None:
    for start in range(0, len(ids), MAX_BATCH):
        publish(ids[start:start + MAX_BATCH])


def publish(ids: list[int]) -> bool:
    # By name: processing belongs to the conversations app, which this layer does not import.
    return task_enqueue(PROCESS_TASK, args=[ids])


def flush(timeout: float = 2.0) -> None:
    """Publish whatever is queued now (at exit, so a clean shutdown leaves nothing for the sweeper)."""
    if _pid != os.getpid():
        return
    ids: list[int] = []
    while True:
        try:
            ids.append(_queue.get_nowait())
        except queue.Empty:
            break
    publish_in_batches(ids)


atexit.register(flush)
