"""The Celery app of `test_broker_outage`: Sidekick's app (same broker patch, same settings) plus one
slow acks_late task, so messages are in flight (delivered, unacked) when the broker goes away."""

import time

from sidekick_project.celery import app


@app.task(name="outage_test.slow", acks_late=True, reject_on_worker_lost=True, time_limit=60, soft_time_limit=50)
def slow(tag: str, seconds: float, publish: bool = False) -> None:
    time.sleep(seconds)
    if publish:  # as the reply pipeline's tasks do; fails while Redis is away, and that is fine
        try:
            slow.apply_async(args=[f"child-of-{tag}", 0], retry=False)
        except Exception as exc:  # noqa: BLE001
            print(f"not published: {exc!r}", flush=True)
    print(f"DONE {tag}", flush=True)
