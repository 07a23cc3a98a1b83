"""Insights tasks. On the `default` queue (no route names them): a report is a few seconds of SQL in
Postgres, not an LLM call, so it belongs with the sends and sweeps rather than on the `llm` pool."""

from celery import shared_task

from insights import facts, services


# Not acks_late: a worker lost mid-run leaves the row running with progress > 0, so a redelivered
# copy could not claim it anyway; `reports_fail_stale` marks such rows failed.
@shared_task(ignore_result=True, time_limit=300, soft_time_limit=270)
def report_run(report_id: int) -> None:
    """Compute a report queued by the page's Run now (`services.report_request`)."""
    services.report_run_requested(report_id=report_id)


@shared_task(ignore_result=True)
def facts_refresh_due() -> None:
    """Beat: a refresh for each workspace whose message facts have logged changes (insights.facts)."""
    facts.facts_refresh_enqueue(task=facts_refresh)


# A refresh that dies leaves the previous facts and the log as they were (one transaction): the next
# one redoes the work, and until then reports label the changed people themselves.
@shared_task(ignore_result=True, time_limit=600, soft_time_limit=570)
def facts_refresh(workspace_id: int) -> None:
    facts.facts_refresh(workspace_id=workspace_id)
