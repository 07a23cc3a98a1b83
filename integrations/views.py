from django.conf import settings
from django.shortcuts import render

from accounts.tenancy import admin_required
from integrations import selectors


@admin_required
def channel_list(request):
    workspace = request.workspace
    context = {
        "channels": selectors.workspace_channels(workspace=workspace),
        "sandbox": settings.META_SANDBOX,
        "sandbox_sends": selectors.workspace_sandbox_sends(workspace=workspace) if settings.META_SANDBOX else [],
        "webhook_url": settings.SITE_URL + "/webhooks/meta/",
    }
    return render(request, "integrations/channels.html", context)
