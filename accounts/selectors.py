"""Reads for accounts. Every read of tenant data takes the workspace."""

from django.db.models import QuerySet

from accounts.models import AuditEvent, Invitation, Membership, User, Workspace


def workspaces_for_user(*, user: User) -> QuerySet[Workspace]:
    if user.is_superadmin:
        return Workspace.objects.all()
    return Workspace.objects.filter(memberships__user=user)


def workspace_members(*, workspace: Workspace) -> QuerySet[Membership]:
    return Membership.objects.filter(workspace=workspace).select_related("user").order_by("user__email")


def workspace_membership(*, workspace: Workspace, membership_id: int) -> Membership:
    return Membership.objects.select_related("user", "workspace").get(workspace=workspace, pk=membership_id)


def workspace_invitations_pending(*, workspace: Workspace) -> QuerySet[Invitation]:
    from django.utils import timezone

    return Invitation.objects.filter(
        workspace=workspace, accepted_at=None, revoked_at=None, expires_at__gt=timezone.now()
    ).select_related("invited_by")


def workspace_invitation(*, workspace: Workspace, invitation_id: int) -> Invitation:
    return Invitation.objects.select_related("workspace").get(workspace=workspace, pk=invitation_id)


def workspace_audit_events(*, workspace: Workspace) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(workspace=workspace).select_related("actor")
