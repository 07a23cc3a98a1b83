"""Writes for insights: a report row from start to its one final state."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import DatabaseError, transaction
from django.utils import timezone

from accounts.services import audit_event_record
from accounts.tenancy import require_workspace_admin
from insights import facts
from insights.models import InsightsSettings, Report, ReportStatus
from insights.report import ReportParameters, report_compute
from insights.synthesis import report_synthesize
from sidekick_project.db import in_autocommit
from sidekick_project.enqueue import task_enqueue

logger = logging.getLogger(__name__)

# A running report older than this died with its worker (a report takes seconds).
STALE_AFTER = timedelta(hours=1)


class ReportInputError(ValueError):
    """Bad report input (a reason a person can read)."""


def report_inputs_check(*, start: datetime, end: datetime, as_of: datetime, now: datetime | None = None) -> None:
    """Refuse a report that cannot mean anything. Raises ReportInputError."""
    now = now or timezone.now()
    if start >= end:
        raise ReportInputError("The window's start must be before its end.")
    if as_of < start:
        raise ReportInputError("as_of must not be before the window's start.")
    if as_of > now:
        # Rows not yet written would change it: the same inputs would not give the same report.
        raise ReportInputError("as_of must not be in the future.")


def report_run(*, workspace, start: datetime, end: datetime, as_of: datetime | None = None,
               requested_by=None, parameters: ReportParameters | None = None, synthesize: bool = False,
               report: Report | None = None) -> Report:
    """Create the report row (running), compute, then store the metrics and mark it done in one update.
    With `synthesize`, then write the optional synthesis (insights.synthesis) in an update of its own:
    whatever becomes of it, the report stays done with its numbers.

    Call outside a transaction (the running row and its progress are committed as they happen, for a
    progress bar to see). Any error marks the row failed and is raised again; a worker that dies
    mid-run leaves a running row that `reports_fail_stale` marks failed. Metrics are only ever written
    together with `done` (and a check constraint refuses anything else). `report`: a running row
    created by `report_request` (the page's Run now) to fill instead of a new one.
    """
    now = timezone.now()
    as_of = as_of or now
    report_inputs_check(start=start, end=end, as_of=as_of, now=now)
    params = parameters or ReportParameters()
    if report is None:
        report = Report.objects.create(workspace=workspace, window_start=start, window_end=end, as_of=as_of,
                                       parameters=params.as_dict(), requested_by=requested_by, progress=5)
    began = timezone.now()
    try:
        Report.objects.filter(pk=report.pk, status=ReportStatus.RUNNING).update(progress=10)
        result = report_compute(workspace=workspace, start=start, end=end, as_of=as_of, parameters=params)
        finished = timezone.now()
        with transaction.atomic():
            updated = Report.objects.filter(pk=report.pk, status=ReportStatus.RUNNING).update(
                status=ReportStatus.DONE, progress=100, metrics=result.metrics, finished_at=finished,
                duration=finished - began, rows_considered=result.rows_considered, rows_dropped=result.rows_dropped)
            if not updated:
                raise RuntimeError("the report was marked failed while it ran (stale?)")
    except Exception as exc:
        _report_fail(report_id=report.pk, began=began, error=f"{type(exc).__name__}: {exc}")
        logger.exception("insights report %s failed", report.pk)
        raise
    report.refresh_from_db()
    if synthesize:
        try:
            report_synthesize(report=report)
        except Exception:  # report_synthesize records its own failures; this is the last net
            logger.exception("insights synthesis of report %s failed", report.pk)
        report.refresh_from_db()
    _facts_refresh_after(workspace)
    return report


def _facts_refresh_after(workspace) -> None:
    """Once the report is stored: the workspace's message facts brought up to date (built, the first time),
    so the next report labels less itself (insights.facts; the beat does the same every 5 minutes). Not
    before the report: the report is as right without it, and sooner. A refresh that fails, or one
    already running elsewhere (not waited for), costs only the next report's speed. Only when this
    connection may commit (the refresh commits its own transactions; a caller's would hold them)."""
    if not in_autocommit():
        return
    try:
        facts.facts_refresh(workspace_id=workspace.pk, wait_for_other=False)
    except DatabaseError:
        logger.exception("insights facts of workspace %s: refresh failed", workspace.pk)


def _report_fail(*, report_id: int, began: datetime, error: str) -> None:
    finished = timezone.now()
    Report.objects.filter(pk=report_id, status=ReportStatus.RUNNING).update(
        status=ReportStatus.FAILED, metrics=None, finished_at=finished, duration=finished - began, error=error[:500])


QUEUE_DOWN = "The run could not be queued: the task queue (Redis) is unreachable. Try again in a minute."


def report_request(*, workspace, start: datetime, end: datetime, requested_by,
                   as_of: datetime | None = None) -> Report:
    """Run now from the page: store the running row at once (the page polls it) and queue its computation.

    Call outside a transaction: the task must find the row committed. Raises ReportInputError on bad
    input (nothing stored). When the broker refuses the task (Redis down), the row is marked failed
    with a message saying so, and returned: there is no sweeper for reports, and a row that stays
    "running" would keep the page's progress bar waiting for an hour.
    """
    now = timezone.now()
    as_of = as_of or now
    report_inputs_check(start=start, end=end, as_of=as_of, now=now)
    report = Report.objects.create(workspace=workspace, window_start=start, window_end=end, as_of=as_of,
                                   parameters=ReportParameters().as_dict(), requested_by=requested_by, progress=0)
    # By name: a service does not import its app's task module (tasks import services).
    if not task_enqueue("insights.tasks.report_run", args=[report.pk]):
        Report.objects.filter(pk=report.pk, status=ReportStatus.RUNNING, progress=0).update(
            status=ReportStatus.FAILED, finished_at=timezone.now(), duration=timedelta(0), error=QUEUE_DOWN)
    report.refresh_from_db()
    return report


def report_run_requested(*, report_id: int) -> Report | None:
    """The worker's half of `report_request`: claim the queued row, compute it, store the result.

    Claimed by a conditional update (progress 0 -> 5): a duplicate delivery, or a row that was
    already failed or finished, returns None and touches nothing. A failure leaves the row failed (as
    `report_run` does) and returns it; it is logged, not raised, since nobody waits on the task.
    """
    if not Report.objects.filter(pk=report_id, status=ReportStatus.RUNNING, progress=0).update(progress=5):
        return None
    report = Report.objects.select_related("workspace", "requested_by").get(pk=report_id)
    began = timezone.now()
    try:
        return report_run(workspace=report.workspace, start=report.window_start, end=report.window_end,
                          as_of=report.as_of, requested_by=report.requested_by,
                          parameters=ReportParameters(**report.parameters), report=report, synthesize=True)
    except Exception as exc:  # noqa: BLE001 - already logged by report_run, or bad input stored earlier
        _report_fail(report_id=report_id, began=began, error=f"{type(exc).__name__}: {exc}")
        report.refresh_from_db()
        return report


# A page run writes its synthesis right after its numbers; the progress bar waits this long for it.
SYNTHESIS_WAIT = timedelta(minutes=2)


def synthesis_pending(*, report: Report, now: datetime | None = None) -> bool:
    """True while a done report run from the page (Run now: `requested_by` set) has no synthesis record
    yet and was finished less than SYNTHESIS_WAIT ago: the page keeps its progress bar ("writing the
    summary") instead of showing the numbers without it. Never longer: the numbers do not wait on a model."""
    now = now or timezone.now()
    return (report.status == ReportStatus.DONE and report.requested_by_id is not None and report.synthesis is None
            and report.finished_at is not None and now - report.finished_at < SYNTHESIS_WAIT)


def reports_fail_stale(*, now: datetime | None = None) -> int:
    """Mark failed the reports still running long after any run ends (their worker died). Returns the count."""
    now = now or timezone.now()
    return Report.objects.filter(status=ReportStatus.RUNNING, created_at__lt=now - STALE_AFTER).update(
        status=ReportStatus.FAILED, finished_at=now, error="The run stopped before it finished (worker lost).")


# --- Insights settings (the weekly opt-in) ---------------------------------------------------------

def insights_settings_for(*, workspace) -> InsightsSettings:
    """The workspace's insights settings, or an unsaved row with the defaults (a read never writes)."""
    return InsightsSettings.objects.filter(workspace=workspace).first() or InsightsSettings(workspace=workspace)


@transaction.atomic
def insights_settings_update(*, workspace, actor, weekly_report: bool) -> InsightsSettings:
    """Turn the weekly report on or off (admins only; audited like the Sidekick settings)."""
    require_workspace_admin(workspace_id=workspace.pk, actor=actor, message="Only workspace admins can change this.")
    cfg, _ = InsightsSettings.objects.select_for_update().get_or_create(workspace=workspace)
    before = cfg.weekly_report
    cfg.weekly_report, cfg.updated_by = bool(weekly_report), actor
    cfg.save()
    if before != cfg.weekly_report:
        audit_event_record(verb="insights.settings_updated", workspace=workspace, actor=actor, target=cfg,
                           data={"weekly_report": {"from": str(before), "to": str(cfg.weekly_report)}})
    return cfg
