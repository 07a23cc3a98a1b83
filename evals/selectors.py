"""Reads for the evals page. Every function takes the workspace: another workspace's run is not found."""

from __future__ import annotations

from evals.models import EvalCase, EvalRun, PairwiseRun

HISTORY_LENGTH = 20


def eval_runs_history(*, workspace, limit: int = HISTORY_LENGTH) -> list[EvalRun]:
    """The latest runs, newest first (their metrics are aggregates: counts, AUC, means)."""
    return list(EvalRun.objects.filter(workspace=workspace).select_related("requested_by")[:limit])


WEAKEST_CASES = 10


def eval_run_latest_finished(*, workspace) -> EvalRun | None:
    """The latest run with metrics (done, or stopped with partial results)."""
    return EvalRun.objects.filter(workspace=workspace, metrics__isnull=False).first()


def eval_cases_weakest(*, workspace, run: EvalRun, limit: int = WEAKEST_CASES) -> list[EvalCase]:
    """The run's lowest-scored cases (admins only: redacted case text), the lowest first."""
    return list(EvalCase.objects.filter(run__workspace=workspace, run=run, overall__isnull=False)
                .order_by("overall", "id")[:limit])


def pairwise_runs_history(*, workspace, limit: int = HISTORY_LENGTH) -> list[PairwiseRun]:
    return list(PairwiseRun.objects.filter(workspace=workspace).select_related("requested_by")[:limit])
