"""Insights tasks. On the `default` queue (no route names them): a report is a few seconds of SQL in
Postgres, not an LLM call, so it belongs with the sends and sweeps rather than on the `llm` pool."""

from celery import shared_task

from insights import services


# Not acks_late: a worker lost mid-run leaves the row running with progress > 0, so a redelivered
# copy could not claim it anyway; `reports_fail_stale` marks such rows failed.
@shared_task(ignore_result=True, time_limit=300, soft_time_limit=270)
def report_run(report_id: int) -> None:
    """Compute a report queued by the page's Run now (`services.report_request`)."""
    services.report_run_requested(report_id=report_id)
