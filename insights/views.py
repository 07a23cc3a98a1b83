"""The workspace overview: members, invitations and the last 30 days of conversations."""

from django.shortcuts import render

from accounts import selectors as account_selectors
from accounts.tenancy import workspace_required
from insights.onboarding import onboarding_steps
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
