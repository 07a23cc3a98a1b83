"""Writes for accounts: workspaces, members, invitations, audit events.

Every security-relevant change writes an AuditEvent in the same transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts import signals
from accounts.models import AuditEvent, Invitation, Membership, Role, User, Workspace


def audit_event_record(*, verb: str, workspace: Workspace | None = None, actor: User | None = None,
                       target: object = "", data: dict | None = None) -> AuditEvent:
    if hasattr(target, "pk") and target.pk is not None:
        target = f"{target._meta.label_lower}:{target.pk}"
    return AuditEvent.objects.create(
        workspace=workspace, actor=actor if actor and actor.pk else None,
        verb=verb, target=str(target)[:200], data=data or {},
    )


def audit_events_record(*, events: list[dict]) -> int:
    """Several audit events in one INSERT (a 100-step change set): each dict takes audit_event_record's
    keyword arguments."""
    rows = []
    for event in events:
        target, actor = event.get("target", ""), event.get("actor")
        if hasattr(target, "pk") and target.pk is not None:
            target = f"{target._meta.label_lower}:{target.pk}"
        rows.append(AuditEvent(workspace=event.get("workspace"), actor=actor if actor and actor.pk else None,
                               verb=event["verb"], target=str(target)[:200], data=event.get("data") or {}))
    return len(AuditEvent.objects.bulk_create(rows))


def user_get_or_create(*, email: str, password: str | None = None, full_name: str = "") -> tuple[User, bool]:
    user = User.objects.filter(email__iexact=email.strip()).first()
    if user is not None:
        return user, False
    user = User.objects.create_user(email=email, password=password, full_name=full_name)
    return user, True


@transaction.atomic
def workspace_create(*, slug: str, name: str, admin_email: str, timezone_name: str = "UTC",
                     password: str | None = None, actor: User | None = None) -> tuple[Workspace, User]:
    workspace = Workspace(slug=slug, name=name, timezone=timezone_name)
    workspace.full_clean()
    workspace.save()
    admin, _ = user_get_or_create(email=admin_email, password=password)
    if password:
        admin.set_password(password)
        admin.save(update_fields=["password"])
    Membership.objects.create(user=admin, workspace=workspace, role=Role.ADMIN)
    audit_event_record(verb="workspace.created", workspace=workspace, actor=actor, target=workspace,
                       data={"slug": slug, "admin": admin.email})
    return workspace, admin


@transaction.atomic
def member_add(*, workspace: Workspace, email: str, role: str, actor: User | None = None,
               password: str | None = None) -> Membership:
    """Add (or change the role of) a member, creating the user when needed."""
    if role not in Role.values:
        raise ValidationError(f"Unknown role {role!r}; use admin or setter.")
    user, _ = user_get_or_create(email=email, password=password)
    membership, created = Membership.objects.get_or_create(user=user, workspace=workspace, defaults={"role": role})
    if not created and membership.role != role:
        return member_role_change(membership=membership, role=role, actor=actor)
    if created:
        audit_event_record(verb="member.added", workspace=workspace, actor=actor, target=membership,
                           data={"email": user.email, "role": role})
    return membership


def _membership_locked(membership: Membership) -> Membership:
    """The membership's row, locked, after the workspace's row: changes that may take away an admin run one
    at a time per workspace, so two admins demoting or removing each other cannot both pass the
    "another admin remains" check."""
    list(Workspace.objects.select_for_update().filter(pk=membership.workspace_id).values_list("pk", flat=True))
    return Membership.objects.select_for_update().get(pk=membership.pk)


def _ensure_another_admin(membership: Membership) -> None:
    others = Membership.objects.filter(workspace_id=membership.workspace_id, role=Role.ADMIN).exclude(pk=membership.pk)
    if not others.exists():
        raise ValidationError("A workspace needs at least one admin; promote someone else first.")


@transaction.atomic
def member_role_change(*, membership: Membership, role: str, actor: User | None) -> Membership:
    if role not in Role.values:
        raise ValidationError(f"Unknown role {role!r}; use admin or setter.")
    membership = _membership_locked(membership)
    if membership.role == role:
        return membership
    if membership.role == Role.ADMIN:
        _ensure_another_admin(membership)
    previous = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    audit_event_record(verb="member.role_changed", workspace=membership.workspace, actor=actor, target=membership,
                       data={"email": membership.user.email, "from": previous, "to": role})
    return membership


@transaction.atomic
def member_remove(*, membership: Membership, actor: User | None) -> None:
    membership = _membership_locked(membership)
    if membership.role == Role.ADMIN:
        _ensure_another_admin(membership)
    audit_event_record(verb="member.removed", workspace=membership.workspace, actor=actor, target=membership,
                       data={"email": membership.user.email, "role": membership.role})
    membership.delete()
    signals.member_removed.send(sender=Membership, workspace=membership.workspace, user=membership.user, actor=actor)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_find(*, token: str) -> Invitation | None:
    return Invitation.objects.select_related("workspace").filter(token_hash=_token_hash(token)).first()


@transaction.atomic
def invitation_create(*, workspace: Workspace, email: str, role: str, invited_by: User) -> tuple[Invitation, str]:
    """Create an invitation and email its link after commit. Returns the invitation and the raw token."""
    if role not in Role.values:
        raise ValidationError(f"Unknown role {role!r}; use admin or setter.")
    email = email.strip()
    if Membership.objects.filter(workspace=workspace, user__email__iexact=email).exists():
        raise ValidationError(f"{email} is already a member of {workspace.name}.")
    # A new invitation replaces any pending one for the same address.
    Invitation.objects.filter(workspace=workspace, email__iexact=email, accepted_at=None, revoked_at=None).update(
        revoked_at=timezone.now()
    )
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        workspace=workspace, email=email, role=role, token_hash=_token_hash(token), invited_by=invited_by,
        expires_at=timezone.now() + timedelta(days=settings.INVITATION_TTL_DAYS),
    )
    audit_event_record(verb="invitation.created", workspace=workspace, actor=invited_by, target=invitation,
                       data={"email": email, "role": role})
    link = settings.SITE_URL + reverse("accounts:invitation_accept", args=[token])
    context = {"workspace": workspace, "inviter": invited_by, "link": link, "role": invitation.get_role_display(),
               "days": settings.INVITATION_TTL_DAYS}
    transaction.on_commit(lambda: send_mail(
        subject=f"Join {workspace.name} on Sidekick",
        message=render_to_string("accounts/email/invitation.txt", context),
        from_email=None, recipient_list=[email],
    ))
    return invitation, token


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if not invitation.is_usable:
        raise ValidationError("This invitation has expired or was already used. Ask an admin for a new one.")
    if user.email.lower() != invitation.email.lower():
        raise ValidationError(f"This invitation is for {invitation.email}; log out and open the link again.")
    membership, created = Membership.objects.get_or_create(
        user=user, workspace=invitation.workspace, defaults={"role": invitation.role}
    )
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    audit_event_record(verb="invitation.accepted", workspace=invitation.workspace, actor=user, target=invitation,
                       data={"email": user.email, "role": membership.role, "new_member": created})
    return membership


@transaction.atomic
def invitation_accept_as_new_user(*, invitation: Invitation, full_name: str, password: str) -> User:
    """Accept for someone with no password yet: their account (created if needed) gets this name and
    password and joins, all or nothing. The invitation is locked first, so a double-submitted form
    accepts once; the second raises ValidationError and changes nothing."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if not invitation.is_usable:
        raise ValidationError("This invitation has expired or was already used. Ask an admin for a new one.")
    user, _ = user_get_or_create(email=invitation.email)
    if user.has_usable_password():
        raise ValidationError(f"{invitation.email} has a password now: log in, then open the link again.")
    user.full_name = full_name
    user.set_password(password)
    user.save(update_fields=["full_name", "password"])
    invitation_accept(invitation=invitation, user=user)
    return user


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor: User) -> None:
    updated = Invitation.objects.filter(pk=invitation.pk, accepted_at=None, revoked_at=None).update(
        revoked_at=timezone.now()
    )
    if updated:
        audit_event_record(verb="invitation.revoked", workspace=invitation.workspace, actor=actor, target=invitation,
                           data={"email": invitation.email})


def invitations_purge_expired(*, older_than_days: int = 30) -> int:
    cutoff = timezone.now() - timedelta(days=older_than_days)
    deleted, _ = Invitation.objects.filter(accepted_at=None, expires_at__lt=cutoff).delete()
    return deleted
