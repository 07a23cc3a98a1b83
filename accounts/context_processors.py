from django.conf import settings

from accounts.selectors import workspaces_for_user


def workspace_nav(request):
    """The workspace switcher's list, for logged-in users (one query, on pages that render the nav)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "nav_workspaces": workspaces_for_user(user=user).only("slug", "name")[:50],
        "current_workspace": getattr(request, "workspace", None),
        "current_access": getattr(request, "access", None),
        "meta_sandbox": settings.META_SANDBOX,
    }
