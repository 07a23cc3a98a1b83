"""Reads for the evals page. Every function takes the workspace: another workspace's run is not found."""

from __future__ import annotations

from evals.models import EvalRun

HISTORY_LENGTH = 20


def eval_runs_history(*, workspace, limit: int = HISTORY_LENGTH) -> list[EvalRun]:
    """The latest runs, newest first (their metrics are aggregates: counts, AUC, means)."""
    return list(EvalRun.objects.filter(workspace=workspace).select_related("requested_by")[:limit])
