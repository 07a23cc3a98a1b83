from celery import shared_task

from privacy.services import privacy_request_run, privacy_sweep


# Default queue. acks_late: a worker that dies mid-run leaves the row running (an erasure rolled back),
# and a redelivery finds nothing to claim; the sweeper puts such rows back after STALE_RUNNING.
@shared_task(ignore_result=True, acks_late=True, reject_on_worker_lost=True, time_limit=20 * 60,
             soft_time_limit=19 * 60)
def privacy_request_process(request_id: int) -> str:
    return privacy_request_run(request_id=request_id)


@shared_task(ignore_result=True, time_limit=120, soft_time_limit=110)
def privacy_requests_sweep() -> dict:
    return privacy_sweep()
