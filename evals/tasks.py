"""Eval tasks, on the `llm` queue (sidekick_project.celery routes `evals.tasks.*` there): a run is
mostly judge calls, slow LLM work like drafting."""

from celery import shared_task

from evals import pairwise, services, weekly
from evals.models import EvalRun, EvalStatus, PairwiseRun


# Not acks_late: a redelivered copy would judge the same cases again and spend the budget twice.
@shared_task(ignore_result=True, time_limit=3600, soft_time_limit=3540)
def eval_run_score(run_id: int) -> None:
    """Score a run prepared by `services.eval_run_prepare` (the page shows its estimate first)."""
    run = EvalRun.objects.select_related("workspace").filter(pk=run_id, status=EvalStatus.RUNNING).first()
    if run is not None:
        services.eval_run_score(run=run)


@shared_task(ignore_result=True, time_limit=60, soft_time_limit=50)
def eval_runs_fail_stale() -> None:
    services.eval_runs_fail_stale()


# Not acks_late either: a redelivered copy would pay for a second model call (the proposal itself is
# unique per run, so it would not be created twice).
@shared_task(ignore_result=True, time_limit=300, soft_time_limit=280)
def proposal_draft_from_run(run_id: int) -> None:
    """Draft the prompt proposal of a finished run (`proposal_sources.proposal_draft_request`)."""
    from evals import proposal_sources  # the request enqueues this task

    run = EvalRun.objects.select_related("workspace", "report").filter(
        pk=run_id, status__in=[EvalStatus.DONE, EvalStatus.STOPPED]).first()
    if run is not None:
        proposal_sources.proposal_draft_run(run=run)
@shared_task(ignore_result=True, time_limit=120, soft_time_limit=90)
def weekly_evals() -> None:
    """Tuesday 07:00 UTC (beat): enqueue the weekly eval of every workspace that opted in."""
    weekly.weekly_evals_enqueue(task=weekly_eval)


# Not acks_late (as eval_run_score): a redelivered copy would spend the budget twice.
@shared_task(ignore_result=True, time_limit=3600, soft_time_limit=3540)
def weekly_eval(workspace_id: int) -> None:
    weekly.weekly_eval_run(workspace_id=workspace_id)


# Not acks_late, as eval_run_score: a redelivered copy would spend the budget twice.
@shared_task(ignore_result=True, time_limit=3600, soft_time_limit=3540)
def pairwise_run_execute(run_id: int) -> None:
    """Compare a candidate prepared by `pairwise.pairwise_run_prepare` (dry-run drafts, judged both ways)."""
    run = PairwiseRun.objects.select_related("workspace").filter(pk=run_id, status=EvalStatus.RUNNING).first()
    if run is not None:
        pairwise.pairwise_run_execute(run=run)
