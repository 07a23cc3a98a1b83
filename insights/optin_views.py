"""The weekly report opt-in (admins): a small form the Insights page includes (`_weekly_optin.html`)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.tenancy import admin_required
from insights import services


class WeeklyOptInForm(forms.Form):
    weekly_report = forms.BooleanField(required=False, label="Weekly report")


def weekly_optin_context(request) -> dict:
    """What `insights/_weekly_optin.html` needs (merge it into the Insights page's context)."""
    return {"insights_settings": services.insights_settings_for(workspace=request.workspace)}


@admin_required
@require_POST
def weekly_optin(request):
    """Turn the weekly report on or off. Setters get 403 (admin_required), non-members 404."""
    form = WeeklyOptInForm(request.POST)
    form.is_valid()  # an unchecked box or garbage reads as "off": the only choice is on or off
    cfg = services.insights_settings_update(workspace=request.workspace, actor=request.user,
                                            weekly_report=form.cleaned_data.get("weekly_report", False))
    messages.success(request, "Weekly report on: every Monday." if cfg.weekly_report else "Weekly report off.")
    if request.htmx:
        return render(request, "insights/_weekly_optin.html", {"insights_settings": cfg})
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        return redirect("insights:overview", workspace_slug=request.workspace.slug)
    return redirect(target)
