"""The Evals page: the runs, the judge's agreement with the outcomes (AUC with its interval) and with the
admins' labels (κ, beside its position consistency), the pairwise results, and, for admins only, the
weakest cases (redacted text). Setters see the aggregates. Admins start a run after seeing its
estimated cost (estimate, then start: a judge spends tokens) and switch the weekly evals."""

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.tenancy import admin_required, workspace_required
from evals import calibration, selectors, services, weekly
from insights.models import Report


class WeeklyOptInForm(forms.Form):
    weekly_evals = forms.BooleanField(required=False, label="Weekly evals")


class StartForm(forms.Form):
    report = forms.IntegerField(min_value=1)
    budget_tokens = forms.IntegerField(min_value=1_000, max_value=50_000_000, label="Token budget")


def _run_form_context(request) -> dict:
    """The estimate of a run on the latest done report (nothing stored), or why there is none."""
    try:
        estimate = services.eval_run_estimate(workspace=request.workspace)
    except services.EvalInputError as exc:
        return {"estimate_error": str(exc).capitalize() + "."}
    return {"estimate": estimate, "default_budget": services.DEFAULT_BUDGET_TOKENS}


@workspace_required
def runs(request):
    return render(request, "evals/runs.html", _page_context(request))


def _page_context(request) -> dict:
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
    return context


@admin_required
def run_estimate(request):
    """The estimated tokens and cost of a run, before it starts (reads only)."""
    if request.htmx:
        return render(request, "evals/runs.html#run-form", _run_form_context(request))
    return render(request, "evals/runs.html", _page_context(request) | _run_form_context(request))


@admin_required
@require_POST
def run_start(request):
    """Prepare a run on the estimated report within the admin's budget and queue its scoring."""
    form = StartForm(request.POST)
    report = (Report.objects.filter(workspace=request.workspace, pk=form.cleaned_data["report"]).first()
              if form.is_valid() else None)
    if report is None:
        messages.error(request, "Choose a token budget of at least 1,000 tokens for a done report.")
        return redirect("evals:runs", workspace_slug=request.workspace.slug)
    try:
        run = services.eval_run_request(workspace=request.workspace, report=report,
                                        budget_tokens=form.cleaned_data["budget_tokens"], requested_by=request.user)
    except services.EvalInputError as exc:
        messages.error(request, str(exc).capitalize() + ".")
    else:
        messages.success(request, f"Eval run {run.pk} started: {run.cases.count()} cases, at most "
                                  f"{run.budget_tokens} tokens.")
    return redirect("evals:runs", workspace_slug=request.workspace.slug)


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
