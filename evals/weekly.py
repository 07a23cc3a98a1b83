"""Weekly evals, opt-in per workspace (separate from the weekly report's opt-in: a judge spends tokens).

Every Tuesday 07:00 UTC (beat, `evals.tasks.weekly_evals`), one day after the Monday report: one
`weekly_eval` task per opted-in workspace, each expiring after WEEKLY_EXPIRES, scoring the latest done
report with the default token budget. Idempotent: a workspace whose system run (no requester) on that
report already exists, or that ran one in the last WEEKLY_GAP, is not run again, whether the fan-out
runs twice or two copies of its task arrive (a session advisory lock per workspace around the check).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from accounts.services import audit_event_record
from accounts.tenancy import require_workspace_admin
from evals.models import EvalRun, EvalsSettings
from evals.services import EvalInputError, eval_run_prepare, eval_run_score
from insights.models import Report, ReportStatus
from integrations.llm.selectors import llm_provider_for
from sidekick_project.enqueue import task_enqueue

logger = logging.getLogger(__name__)

WEEKLY_EXPIRES = 6 * 60 * 60  # a weekly eval not started within 6 h waits for next week
WEEKLY_GAP = timedelta(days=6)
_LOCK_CLASS = 0x1E15  # advisory lock namespace for "weekly eval of workspace N"


def evals_settings_for(*, workspace) -> EvalsSettings:
    """The workspace's eval settings, or an unsaved row with the defaults (a read never writes)."""
    return EvalsSettings.objects.filter(workspace=workspace).first() or EvalsSettings(workspace=workspace)


@transaction.atomic
def evals_settings_update(*, workspace, actor, weekly_evals: bool) -> EvalsSettings:
    """Turn the weekly evals on or off (admins only; audited like the report's opt-in)."""
    require_workspace_admin(workspace_id=workspace.pk, actor=actor, message="Only workspace admins can change this.")
    cfg, _ = EvalsSettings.objects.select_for_update().get_or_create(workspace=workspace)
    before = cfg.weekly_evals
    cfg.weekly_evals, cfg.updated_by = bool(weekly_evals), actor
    cfg.save()
    if before != cfg.weekly_evals:
        audit_event_record(verb="evals.settings_updated", workspace=workspace, actor=actor, target=cfg,
                           data={"weekly_evals": {"from": str(before), "to": str(cfg.weekly_evals)}})
    return cfg


def weekly_evals_enqueue(*, task, now: datetime | None = None) -> int:
    """The fan-out: `task(workspace_id)` for each opted-in workspace with an LLM provider. Returns how
    many were enqueued."""
    enqueued = 0
    for cfg in EvalsSettings.objects.filter(weekly_evals=True).select_related("workspace").order_by("workspace_id"):
        if llm_provider_for(workspace=cfg.workspace) is None:
            continue
        if task_enqueue(task, args=[cfg.workspace_id], expires=WEEKLY_EXPIRES):
            enqueued += 1
    logger.info("evals: %s weekly runs enqueued", enqueued)
    return enqueued


def _ran_recently(*, workspace_id: int, report: Report, now: datetime) -> bool:
    system = EvalRun.objects.filter(workspace_id=workspace_id, requested_by__isnull=True)
    return (system.filter(report=report).exists()
            or system.filter(created_at__gte=now - WEEKLY_GAP).exists())


def weekly_eval_run(*, workspace_id: int, now: datetime | None = None) -> EvalRun | None:
    """One workspace's weekly eval, unless it was turned off, has no done report, or already ran."""
    now = now or timezone.now()
    cfg = EvalsSettings.objects.filter(workspace_id=workspace_id, weekly_evals=True).select_related("workspace").first()
    if cfg is None:
        return None
    report = Report.objects.filter(workspace_id=workspace_id, status=ReportStatus.DONE).first()
    if report is None:
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_LOCK_CLASS, workspace_id])
        if not cursor.fetchone()[0]:
            return None  # another copy is running it right now
    try:
        if _ran_recently(workspace_id=workspace_id, report=report, now=now):
            return None
        try:
            run = eval_run_prepare(workspace=cfg.workspace, report=report)
        except EvalInputError:
            logger.warning("evals: weekly run of workspace %s skipped", workspace_id, exc_info=True)
            return None
        return eval_run_score(run=run)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_LOCK_CLASS, workspace_id])
