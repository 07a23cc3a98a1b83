"""LLM settings for admins: providers (add, test, default) and token usage with quotas."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.tenancy import admin_required, scoped_or_404, workspace_required
from integrations.llm import selectors, services
from integrations.llm.forms import ProviderForm, QuotaLimitsForm
from integrations.llm.quotas import quota_policy_for

USAGE_DAYS = 30


def _providers_context(request, form=None, tested=None) -> dict:
    return {
        "providers": selectors.llm_providers_for_workspace(workspace=request.workspace).order_by(
            "-is_default", "user__email", "kind"),
        "form": form or ProviderForm(),
        "tested": tested or {},
    }


def _providers_response(request, form=None, tested=None):
    if not request.htmx:
        return redirect("integrations:llm_providers", workspace_slug=request.workspace.slug)
    return render(request, "integrations/llm_providers.html#provider-area", _providers_context(request, form, tested))


@admin_required
def llm_providers(request):
    return render(request, "integrations/llm_providers.html", _providers_context(request))


@admin_required
@require_POST
def llm_provider_add(request):
    """Add a workspace-wide provider, or update the one of that kind (an empty key keeps the stored one)."""
    form = ProviderForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            provider, created = services.llm_provider_save(
                workspace=request.workspace, kind=data["kind"], model=data["model"].strip(),
                api_key=data["api_key"] or None, base_url=data["base_url"] or "", api_version=data["api_version"],
                temperature=data["temperature"], max_tokens=data["max_tokens"], make_default=data["make_default"],
                actor=request.user)
            messages.success(request, f"{provider} {'added' if created else 'updated'}. Test the connection below.")
            form = None
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
            messages.error(request, "The provider was not saved: " + " ".join(exc.messages))
    else:
        messages.error(request, "The provider was not saved; check the fields.")
    return _providers_response(request, form)


@admin_required
@require_POST
def llm_provider_test(request, provider_id):
    provider = scoped_or_404(selectors.llm_provider_for_workspace, request, provider_id=provider_id, what="provider")
    result = services.llm_provider_test(provider=provider, timeout=10.0, user=request.user)
    if not request.htmx:
        (messages.success if result.ok else messages.error)(request, f"{provider}: {result.message}")
    return _providers_response(request, tested={provider.pk: result})


@admin_required
@require_POST
def llm_provider_default(request, provider_id):
    provider = scoped_or_404(selectors.llm_provider_for_workspace, request, provider_id=provider_id, what="provider")
    if provider.user_id:
        messages.error(request, "A personal override cannot be the workspace default.")
    else:
        services.llm_provider_save(workspace=request.workspace, kind=provider.kind, model=provider.model,
                                   make_default=True, actor=request.user)
        messages.success(request, f"{provider} is now the default.")
    return _providers_response(request)


@admin_required
def llm_limits(request):
    """Daily and monthly token limits per role and for the workspace (admins; setters get 403)."""
    workspace = request.workspace
    policy = quota_policy_for(workspace=workspace)
    if request.method == "POST":
        form = QuotaLimitsForm(request.POST)
        if form.is_valid():
            services.llm_quota_policy_save(workspace=workspace, actor=request.user, limits=dict(form.cleaned_data))
            messages.success(request, "Token limits saved; they apply from the next call.")
            return redirect("integrations:llm_limits", workspace_slug=workspace.slug)
        messages.error(request, "The limits were not saved; see the fields below.")
    else:
        form = QuotaLimitsForm(initial={field: getattr(policy, field) for field in services.QUOTA_LIMIT_FIELDS})
    return render(request, "integrations/llm_limits.html", {"form": form, "saved": policy.pk is not None})


@workspace_required
def llm_usage(request):
    """Token use per day and user, month totals against the limits, estimated cost. Admins see everyone
    and the top users; a setter sees their own row only."""
    workspace = request.workspace
    own = None if request.access.is_admin else request.user
    rows = selectors.llm_usage_daily(workspace=workspace, days=USAGE_DAYS, user=own)
    quota_rows = selectors.llm_quota_status(workspace=workspace, user=own)
    context = {
        "days": USAGE_DAYS,
        "rows": rows,
        "quota_rows": quota_rows,
        "top_users": selectors.llm_top_users(rows=quota_rows) if own is None else [],
        "chart": selectors.llm_usage_chart(rows=rows, days=USAGE_DAYS, workspace=workspace),
        "total_cost": sum((r["cost"] or 0) for r in rows),
        "total_tokens": sum((r["tokens"] or 0) for r in rows),
    }
    return render(request, "integrations/llm_usage.html", context)
