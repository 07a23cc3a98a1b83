"""The Evals page: the runs, the judge's agreement with the outcomes (AUC with its interval) and with the
admins' labels (κ, beside its position consistency), the pairwise results, and, for admins only, the
weakest cases (redacted text). Setters see the aggregates. The weekly opt-in is the admins' switch."""

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.tenancy import admin_required, workspace_required
from evals import calibration, selectors, weekly


class WeeklyOptInForm(forms.Form):
    weekly_evals = forms.BooleanField(required=False, label="Weekly evals")


@workspace_required
def runs(request):
    workspace = request.workspace
    latest = selectors.eval_run_latest_finished(workspace=workspace)
    context = {
        "runs": selectors.eval_runs_history(workspace=workspace),
        "latest": latest,
        "agreement": calibration.calibration_agreement(workspace=workspace,
                                                       run=calibration.calibration_run(workspace=workspace)),
        "pairwise_runs": selectors.pairwise_runs_history(workspace=workspace),
        "evals_settings": weekly.evals_settings_for(workspace=workspace),
    }
    if request.access.is_admin and latest is not None:
        context["weakest"] = selectors.eval_cases_weakest(workspace=workspace, run=latest)
    return render(request, "evals/runs.html", context)


@admin_required
@require_POST
def weekly_optin(request):
    """Turn the weekly evals on or off. Setters get 403 (admin_required), non-members 404."""
    form = WeeklyOptInForm(request.POST)
    form.is_valid()  # an unchecked box or garbage reads as "off": the only choice is on or off
    cfg = weekly.evals_settings_update(workspace=request.workspace, actor=request.user,
                                       weekly_evals=form.cleaned_data.get("weekly_evals", False))
    messages.success(request, "Weekly evals on: every Tuesday." if cfg.weekly_evals else "Weekly evals off.")
    if request.htmx:
        return render(request, "evals/runs.html#weekly-optin", {"evals_settings": cfg})
    return redirect("evals:runs", workspace_slug=request.workspace.slug)
