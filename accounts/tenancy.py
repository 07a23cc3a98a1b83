"""The one way a view reaches a workspace.

``workspace_required`` resolves ``/w/<workspace_slug>/...`` to the workspace and the caller's
membership, and answers 404 (not 403) to non-members so that slugs of other tenants do not leak.
``admin_required`` adds the role check and answers 403 to setters (``admin_required_or_404``: 404,
for evidence and exports a setter should not know exist). Super-admins see every
workspace with admin rights.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.http import Http404
from django.utils import timezone

from accounts.models import Membership, Role, Workspace

SESSION_KEY = "sidekick_workspace"


@dataclass(frozen=True)
class WorkspaceAccess:
    workspace: Workspace
    membership: Membership | None
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


def workspace_access(user, slug: str) -> WorkspaceAccess:
    """Resolve a workspace for a logged-in user or raise Http404."""
    membership = (
        Membership.objects.select_related("workspace").filter(workspace__slug=slug, user=user).first()
    )
    if membership is not None:
        # A super-admin acts as an admin everywhere, also where they hold a setter membership.
        return WorkspaceAccess(membership.workspace, membership, Role.ADMIN if user.is_superadmin else membership.role)
    if user.is_superadmin:
        workspace = Workspace.objects.filter(slug=slug).first()
        if workspace is not None:
            return WorkspaceAccess(workspace, None, Role.ADMIN)
    raise Http404("No such workspace")


def workspace_required(view):
    @login_required
    @wraps(view)
    def wrapper(request, workspace_slug, *args, **kwargs):
        access = workspace_access(request.user, workspace_slug)
        request.workspace = access.workspace
        request.access = access
        if request.session.get(SESSION_KEY) != access.workspace.slug:
            request.session[SESSION_KEY] = access.workspace.slug
        # Times on workspace pages (and datetime form input) are in the workspace's time zone.
        try:
            tz = zoneinfo.ZoneInfo(access.workspace.timezone or "UTC")
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            tz = zoneinfo.ZoneInfo("UTC")
        with timezone.override(tz):
            return view(request, *args, **kwargs)

    wrapper.workspace_role = "member"
    return wrapper


def admin_required(view):
    @wraps(view)
    def check_role(request, *args, **kwargs):
        if not request.access.is_admin:
            raise PermissionDenied("Only workspace admins can do this.")
        return view(request, *args, **kwargs)

    wrapped = workspace_required(check_role)
    wrapped.workspace_role = "admin"
    return wrapped


def admin_required_or_404(view):
    """Like `admin_required`, but a setter gets 404, not 403: for views whose very existence is not
    the setter's business (evidence with message excerpts, exports), so their URLs reveal nothing."""
    @wraps(view)
    def check_role(request, *args, **kwargs):
        if not request.access.is_admin:
            raise Http404("No such page")
        return view(request, *args, **kwargs)

    wrapped = workspace_required(check_role)
    wrapped.workspace_role = "admin_or_404"
    return wrapped


def require_workspace_admin(*, workspace_id: int, actor, message: str = "Only workspace admins can do this.") -> None:
    """For services that must not rely on the view's check: an admin membership, or a super-admin
    (who acts as admin in every workspace, as `workspace_access` grants). Raises PermissionDenied."""
    if actor is not None and getattr(actor, "is_superadmin", False):
        return
    if not Membership.objects.filter(workspace_id=workspace_id, user=actor, role=Role.ADMIN).exists():
        raise PermissionDenied(message)


def scoped_or_404(selector, /, request, *, what: str = "object", **lookup):
    """What a workspace-scoped selector finds for `request.workspace`, or a 404.

    `selector(workspace=..., **lookup)` raises DoesNotExist or returns None when nothing matches; a row
    of another workspace is simply not found, so its id does not leak.
    """
    try:
        found = selector(workspace=request.workspace, **lookup)
    except ObjectDoesNotExist:
        found = None
    if found is None:
        raise Http404(f"No such {what}")
    return found
