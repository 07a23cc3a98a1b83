"""Every periodic job and every task can actually be sent: a schedule Celery refuses fails here.

Issue 12: three periodic tasks set a hard time limit below the global soft limit, and Celery refused
to send them (`soft_time_limit must be less than or equal to time_limit`) every time beat fired.
Each entry is applied the way beat applies it (`Scheduler.apply_async`) through the real Redis
broker; the published message is then taken off its queue, so no worker of another test runs it.
"""

import inspect
import json

import pytest
import redis
from celery.beat import Scheduler
from django.conf import settings

from sidekick_project.celery import app

# The queues the workers of `make run` (sidekick_project.runner) and the README's production commands consume.
CONSUMED_QUEUES = {"intake", "default", "llm"}


def _our_tasks() -> dict:
    app.loader.import_default_modules()
    return {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}


def _take_off_queue(task_id: str) -> tuple[str, dict]:
    """Remove the published message with this id from whichever queue holds it; (queue, headers)."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    for queue in CONSUMED_QUEUES:
        for raw in client.lrange(queue, 0, -1):
            headers = json.loads(raw).get("headers", {})
            if headers.get("id") == task_id:
                client.lrem(queue, 1, raw)
                return queue, headers
    raise AssertionError(f"task {task_id} was not published to any consumed queue")


def _scheduler() -> Scheduler:
    scheduler = Scheduler(app, lazy=True)
    scheduler.setup_schedule()
    return scheduler


@pytest.mark.parametrize("entry_name", sorted(app.conf.beat_schedule))
def test_every_beat_entry_is_published_through_the_broker(entry_name):
    scheduler = _scheduler()
    entry = scheduler.schedule[entry_name]
    assert entry.task in _our_tasks(), f"{entry_name} names a task that is not registered: {entry.task}"
    with app.producer_or_acquire() as producer:
        result = scheduler.apply_async(entry, producer=producer, advance=False)
    queue, headers = _take_off_queue(result.id)
    assert queue in CONSUMED_QUEUES
    task = app.tasks[entry.task]
    soft, hard = headers["timelimit"][1] or task.soft_time_limit, headers["timelimit"][0] or task.time_limit
    assert soft and hard and soft < hard, f"{entry.task}: soft {soft}s must end before hard {hard}s"
    expires = entry.options.get("expires")
    assert expires is None or headers.get("expires"), "beat's expires must reach the message"


@pytest.mark.parametrize("name", sorted(_our_tasks()))
def test_every_task_is_accepted_with_its_own_options(name):
    task = app.tasks[name]
    # What Celery checks when sending (apply_async) and what the worker gives the pool: both limits,
    # the soft one first, so the task gets its SoftTimeLimitExceeded and a chance to clean up.
    assert task.time_limit and task.soft_time_limit, f"{name} needs a hard and a soft time limit"
    assert task.soft_time_limit < task.time_limit, f"{name}: soft {task.soft_time_limit}s >= hard {task.time_limit}s"
    params = [p for p in inspect.signature(task.run).parameters.values()
              if p.default is inspect.Parameter.empty and p.kind is p.POSITIONAL_OR_KEYWORD]
    result = task.apply_async(args=[0] * len(params), retry=False)
    queue, _headers = _take_off_queue(result.id)
    assert queue in CONSUMED_QUEUES
