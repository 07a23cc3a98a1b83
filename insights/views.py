"""The workspace overview: members, invitations and the last 30 days of conversations."""

from django.shortcuts import render

from accounts import selectors as account_selectors
from accounts.tenancy import workspace_required
from insights.stats import workspace_overview


@workspace_required
def overview(request):
    workspace = request.workspace
    context = {
        "member_count": account_selectors.workspace_members(workspace=workspace).count(),
        "pending_invitations": account_selectors.workspace_invitations_pending(workspace=workspace).count(),
        "stats": workspace_overview(workspace=workspace, days=30),
    }
    return render(request, "insights/overview.html", context)
