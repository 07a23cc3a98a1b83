"""Publishing a Celery task from a service: after the commit, quietly, with a sweeper behind it.

Every durable job in Sidekick is a row first (a pending event, send, draft, escalation...), and a
periodic sweeper re-enqueues rows whose task never arrived. So a broker outage at publish time is
not an error for the caller: the task is logged as not enqueued and the sweeper catches the loss.
"""

from __future__ import annotations

import logging

from celery import current_app
from django.db import transaction

logger = logging.getLogger(__name__)


def task_enqueue(task, *, args: list | tuple, **options) -> bool:
    """Publish `task(*args)` now, without kombu's publish retries (a dead broker answers at once).

    Never raises; returns False when the broker refused, so a sweeper can count what it re-enqueued.
    `options` go to `apply_async` (countdown, queue...). `task` is a task object or its registered
    name (a lower layer naming a task of a higher one without importing it).
    """
    if isinstance(task, str):
        task = current_app.signature(task)  # runs as the registered task when known (eager mode honoured)
    try:
        task.apply_async(args=args, retry=False, **options)
    except Exception as exc:  # noqa: BLE001 - any broker failure; the row stays for the sweeper
        name = task["task"] if isinstance(task, dict) else task.name
        logger.warning("%s%r not enqueued (%s: %s); the sweeper will retry", name, tuple(args),
                       type(exc).__name__, exc)
        return False
    return True


def task_enqueue_on_commit(task, *, args: list | tuple, **options) -> None:
    """`task_enqueue` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: task_enqueue(task, args=args, **options))
