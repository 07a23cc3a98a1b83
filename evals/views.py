"""The Evals page, minimal for now: the latest runs with their status and the judge's agreement with
the outcomes. Every member sees it (aggregates only; no case text is shown here)."""

from django.shortcuts import render

from accounts.tenancy import workspace_required
from evals import selectors


@workspace_required
def runs(request):
    return render(request, "evals/runs.html", {"runs": selectors.eval_runs_history(workspace=request.workspace)})
