"""The navigation's counts, polled with HTMX: the poller is swapped, the badges come out of band."""

from django.shortcuts import render
from django.views.decorators.cache import never_cache

from accounts.tenancy import workspace_required
from conversations.counts import nav_counts


@never_cache
@workspace_required
def nav_counts_view(request):
    counts = nav_counts(workspace=request.workspace, user=request.user)
    return render(request, "conversations/nav_counts.html", {"counts": counts})
