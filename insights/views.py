"""The workspace overview and the Insights page (message-performance reports).

Aggregates are for every member; evidence (message excerpts) and exports are for admins, and a
setter gets 404 on them (`admin_required_or_404`). Every report is fetched through a selector scoped
to the request's workspace, so another workspace's report id is a 404.
"""

from datetime import datetime, time, timedelta

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_htmx.http import reswap, retarget

from accounts import selectors as account_selectors
from accounts.tenancy import admin_required_or_404, scoped_or_404, workspace_required
from insights import page, selectors, services
from insights.forms import CellForm, CompareForm, RunForm, default_window
from insights.models import ReportStatus
from insights.onboarding import onboarding_steps
from insights.optin_views import weekly_optin_context
from insights.report import metrics_json
from insights.stats import workspace_overview


@workspace_required
def overview(request):
    workspace = request.workspace
    context = {
        "member_count": account_selectors.workspace_members(workspace=workspace).count(),
        "pending_invitations": account_selectors.workspace_invitations_pending(workspace=workspace).count(),
        "stats": workspace_overview(workspace=workspace, days=30),
    }
    # The setup checklist, for admins (the steps are theirs to do), until every step is done.
    steps = onboarding_steps(workspace=workspace) if request.access.is_admin else []
    if steps and not all(step.done for step in steps):
        context["onboarding"] = {"steps": steps, "done": sum(step.done for step in steps)}
    return render(request, "insights/overview.html", context)


def _current_context(request, *, history: list, shown=None) -> dict:
    """The report area: the latest run's state (running, failed) and the numbers of the shown report,
    which is the chosen one, else the latest done one (a failed or running latest keeps them visible)."""
    latest = history[0] if history else None
    if shown is None:
        done = next((r for r in history if r.status == ReportStatus.DONE), None)
        if done is None and history:
            done = selectors.report_latest_done(workspace=request.workspace)  # older than the history list
        shown = done and selectors.report_for_workspace(workspace=request.workspace, report_id=done.pk)
    context = {"latest": latest, "report": shown, "can_see_evidence": request.access.is_admin,
               "synthesis": page.synthesis_view(shown) if shown else None}
    if shown is not None and shown.status == ReportStatus.DONE:
        context |= page.report_context(shown.metrics)
    return context


def _page(request, *, shown=None, form=None):
    history = selectors.reports_history(workspace=request.workspace)
    context = _current_context(request, history=history, shown=shown) | {
        "history": history, "form": form or RunForm(initial=default_window()),
        "chosen": shown is not None,
    } | weekly_optin_context(request)
    return render(request, "insights/insights.html", context)


@workspace_required
def insights(request):
    return _page(request)


@workspace_required
def report_detail(request, report_id):
    report = scoped_or_404(selectors.report_for_workspace, request, report_id=report_id, what="report")
    return _page(request, shown=report)


@workspace_required
@require_POST
def report_run(request):
    """Run now: queue a report of the chosen window, as of now, and go back to the page (which polls it)."""
    form = RunForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form)
    tz = timezone.get_current_timezone()
    start = datetime.combine(form.cleaned_data["first_day"], time.min, tzinfo=tz)
    end = datetime.combine(form.cleaned_data["last_day"] + timedelta(days=1), time.min, tzinfo=tz)
    try:
        report = services.report_request(workspace=request.workspace, start=start, end=end,
                                         requested_by=request.user)
    except services.ReportInputError as exc:
        form.add_error(None, str(exc))
        return _page(request, form=form)
    if report.status == ReportStatus.FAILED:
        messages.error(request, report.error)
    return redirect("insights:insights", workspace_slug=request.workspace.slug)


@workspace_required
def report_progress(request, report_id):
    """Polled every second by the progress bar. While the run goes on, only the bar; once it ends, the
    whole report area (retargeted) and the history (out of band), so the result appears without a reload."""
    report = scoped_or_404(selectors.report_for_workspace, request, report_id=report_id, what="report")
    if not request.htmx:
        return redirect("insights:insights", workspace_slug=request.workspace.slug)
    if report.status == ReportStatus.RUNNING or services.synthesis_pending(report=report):
        return render(request, "insights/_progress.html", {"latest": report})
    history = selectors.reports_history(workspace=request.workspace)
    context = _current_context(request, history=history) | {"history": history, "oob": True}
    return reswap(retarget(render(request, "insights/_finished.html", context), "#insights-current"), "outerHTML")


@workspace_required
def report_compare(request):
    form = CompareForm(request.GET)
    if not form.is_valid():
        messages.error(request, "Choose two reports to compare.")
        return redirect("insights:insights", workspace_slug=request.workspace.slug)
    first = scoped_or_404(selectors.report_for_workspace, request, report_id=form.cleaned_data["a"], what="report")
    second = scoped_or_404(selectors.report_for_workspace, request, report_id=form.cleaned_data["b"], what="report")
    if first.status != ReportStatus.DONE or second.status != ReportStatus.DONE:
        messages.error(request, "Only finished reports can be compared.")
        return redirect("insights:insights", workspace_slug=request.workspace.slug)
    context = {
        "first": first, "second": second,
        "pairs": [("AI", first.metrics["comparison"]["overall"].get("ai"),
                   second.metrics["comparison"]["overall"].get("ai")),
                  ("Setter", first.metrics["comparison"]["overall"].get("setter"),
                   second.metrics["comparison"]["overall"].get("setter"))],
        "rows": page.compare_rows(first.metrics, second.metrics),
        "can_see_evidence": request.access.is_admin,
    }
    return render(request, "insights/compare.html", context)


def _done_report_or_404(request, report_id):
    report = scoped_or_404(selectors.report_for_workspace, request, report_id=report_id, what="report")
    if report.status != ReportStatus.DONE:
        raise Http404("The report has no results")  # running or failed: nothing to show or export
    return report


@admin_required_or_404
def report_evidence(request, report_id):
    report = _done_report_or_404(request, report_id)
    form = CellForm(request.GET)
    if not form.is_valid():
        raise Http404("No such cell")
    cell = form.cleaned_data
    total, rows = selectors.cell_evidence(workspace=request.workspace, report=report, **cell)
    return render(request, "insights/evidence.html", {
        "report": report, "total": total, "rows": rows, "limit": selectors.EVIDENCE_LIMIT,
        "cell_label": page.cell_label(**cell),
    })


def _download(content: str, *, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@admin_required_or_404
def report_export_csv(request, report_id):
    report = _done_report_or_404(request, report_id)
    return _download(page.cells_csv(report.metrics), content_type="text/csv; charset=utf-8",
                     filename=f"insights-{request.workspace.slug}-{report.pk}-cells.csv")


@admin_required_or_404
def report_export_json(request, report_id):
    report = _done_report_or_404(request, report_id)
    return _download(metrics_json(report.metrics), content_type="application/json",
                     filename=f"insights-{request.workspace.slug}-{report.pk}.json")
