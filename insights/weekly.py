"""The weekly report: every Monday 06:00 UTC (beat), one report task per workspace that opted in.

The window is one full week, Monday 00:00 to Monday 00:00 in the workspace's time zone, that ended
at least one maturity buffer (7 days) before the run: [M - 14 d, M - 7 d) where M is the latest
local Monday 00:00 at or before the run. Every message of it is decided (booked or not booked) when
the report runs, so a weekly report is never a column of "pending"; consecutive weekly reports
cover consecutive weeks without overlap (see docs/insights.md, "Running it").

Idempotent: a week already reported for a workspace by the system (a running or done report with
no requester and the same window) is not reported again, whether the fan-out runs twice or two
copies of the per-workspace task arrive; a failed one is retried by the next fan-out.
"""

from __future__ import annotations

import logging
import zoneinfo
from datetime import date, datetime, time, timedelta

from celery import shared_task
from django.db import connection
from django.utils import timezone

from insights.models import InsightsSettings, Report, ReportStatus
from insights.services import report_run, reports_fail_stale
from sidekick_project.enqueue import task_enqueue

logger = logging.getLogger(__name__)

# A weekly report not started within this time is dropped (the next Monday's run reports the next
# week; a fan-out re-run the same week enqueues it again).
REPORT_EXPIRES = 6 * 60 * 60
_WEEK = timedelta(days=7)
_LOCK_CLASS = 0x1D51  # advisory lock namespace for "weekly report of workspace N"


def _zone(workspace) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(workspace.timezone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def weekly_window(*, workspace, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the week a run at `now` reports: Monday to Monday (local midnights), ending one
    week before the latest local Monday 00:00 at or before `now`."""
    zone = _zone(workspace)
    today = now.astimezone(zone).date()
    latest_monday = today - timedelta(days=today.weekday())
    end_day: date = latest_monday - _WEEK
    # Local midnights (a DST change inside the week makes it 167 or 169 hours long: still a week).
    start = datetime.combine(end_day - _WEEK, time(), tzinfo=zone)
    end = datetime.combine(end_day, time(), tzinfo=zone)
    return start, end


def _system_report_exists(*, workspace_id: int, start: datetime, end: datetime) -> bool:
    return Report.objects.filter(workspace_id=workspace_id, window_start=start, window_end=end,
                                 requested_by__isnull=True,
                                 status__in=[ReportStatus.RUNNING, ReportStatus.DONE]).exists()


def weekly_reports_enqueue(*, now: datetime | None = None) -> int:
    """The fan-out: one `weekly_report` task per opted-in workspace whose week is not reported yet.
    Returns how many were enqueued. Marks dead runs failed first, so a crashed week is retried."""
    now = now or timezone.now()
    reports_fail_stale(now=now)
    enqueued = 0
    for cfg in InsightsSettings.objects.filter(weekly_report=True).select_related("workspace").order_by("workspace_id"):
        start, end = weekly_window(workspace=cfg.workspace, now=now)
        if _system_report_exists(workspace_id=cfg.workspace_id, start=start, end=end):
            continue
        if task_enqueue(weekly_report, args=[cfg.workspace_id, start.isoformat(), end.isoformat()],
                        expires=REPORT_EXPIRES):
            enqueued += 1
    logger.info("insights: %s weekly reports enqueued", enqueued)
    return enqueued


def weekly_report_run(*, workspace_id: int, start: datetime, end: datetime) -> Report | None:
    """Run one workspace's weekly report unless it was turned off or the week is already reported.

    A session advisory lock per workspace keeps two copies of the task from both passing the check
    (it is released with the connection if the worker dies). Returns the report, or None if skipped.
    """
    cfg = InsightsSettings.objects.filter(workspace_id=workspace_id).select_related("workspace").first()
    if cfg is None or not cfg.weekly_report:
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_LOCK_CLASS, workspace_id])
        if not cursor.fetchone()[0]:
            return None  # another copy is running it right now
    try:
        if _system_report_exists(workspace_id=workspace_id, start=start, end=end):
            return None
        # A crash inside report_run leaves a failed report (or a running one `reports_fail_stale` fails).
        return report_run(workspace=cfg.workspace, start=start, end=end)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_LOCK_CLASS, workspace_id])


@shared_task(ignore_result=True, time_limit=120, soft_time_limit=90)
def weekly_reports() -> None:
    """Monday 06:00 UTC (beat): enqueue the week's report of every workspace that opted in."""
    weekly_reports_enqueue()


@shared_task(ignore_result=True, time_limit=900, soft_time_limit=840)
def weekly_report(workspace_id: int, start: str, end: str) -> None:
    """One workspace's weekly report (a report takes seconds; the limits are for a huge workspace)."""
    weekly_report_run(workspace_id=workspace_id, start=datetime.fromisoformat(start), end=datetime.fromisoformat(end))


@shared_task(ignore_result=True, time_limit=60, soft_time_limit=45)
def fail_stale_reports() -> None:
    """Hourly (beat): reports whose worker died (still running after an hour) are marked failed."""
    reports_fail_stale()
