"""The calibration page (admins): label a sample of scored messages good / bad, one at a time, with the
keyboard (g / b label and move on, j / k next and previous; static/js/evals-calibrate.js). A label
answers with the next case's fragment (HTMX), or a redirect without JavaScript. Setters get 404: the
page shows case text (redacted, as setters see conversations, but still evidence)."""

from __future__ import annotations

from django import forms
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.tenancy import admin_required_or_404
from evals import calibration
from evals.models import EvalCase, HumanLabel


class LabelForm(forms.Form):
    case = forms.IntegerField()
    label = forms.ChoiceField(choices=HumanLabel.choices)
    i = forms.IntegerField(min_value=0, required=False)


def _position(raw, size: int) -> int:
    try:
        return min(max(int(raw), 0), max(size - 1, 0))
    except (TypeError, ValueError):
        return 0


def _context(request, *, i) -> dict:
    workspace = request.workspace
    run = calibration.calibration_run(workspace=workspace)
    sample = calibration.calibration_sample(run=run) if run else []
    labels = calibration.calibration_labels(workspace=workspace, message_ids=[c.message_id for c in sample])
    if i is None:  # the first unlabelled case, else the first
        i = next((n for n, c in enumerate(sample) if c.message_id not in labels), 0)
    i = _position(i, len(sample))
    case = sample[i] if sample else None
    base = reverse("evals:calibrate", args=[workspace.slug])
    return {"run": run, "sample_size": len(sample), "i": i, "case": case, "labelled": len(labels),
            "label": labels.get(case.message_id) if case else None,
            "prev_url": f"{base}?i={i - 1}" if i > 0 else None,
            "next_url": f"{base}?i={i + 1}" if i + 1 < len(sample) else None,
            "agreement": calibration.calibration_agreement(workspace=workspace, run=run)}


@admin_required_or_404
def calibrate(request):
    template = "evals/calibrate.html" + ("#calibrate-case" if request.htmx else "")
    return render(request, template, _context(request, i=request.GET.get("i")))


@admin_required_or_404
@require_POST
def calibrate_label(request):
    form = LabelForm(request.POST)
    if not form.is_valid():
        raise Http404("No such case")
    run = calibration.calibration_run(workspace=request.workspace)
    # Only a case of the sample the page shows (of this workspace's run) can be labelled.
    case = EvalCase.objects.filter(pk=form.cleaned_data["case"], run=run).first() if run else None
    if case is None:
        raise Http404("No such case")
    calibration.calibration_label_set(workspace=request.workspace, case=case, label=form.cleaned_data["label"],
                                      actor=request.user)
    following = (form.cleaned_data["i"] or 0) + 1
    if request.htmx:
        return render(request, "evals/calibrate.html#calibrate-case", _context(request, i=following))
    return redirect(f"{reverse('evals:calibrate', args=[request.workspace.slug])}?i={following}")
