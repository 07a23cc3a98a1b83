"""Reads for data-subject requests, always within one workspace."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from contacts.models import Contact
from privacy.models import PrivacyRequest


def privacy_requests_for(*, workspace, user, is_admin: bool) -> QuerySet[PrivacyRequest]:
    """Admins see every request of the workspace; a member sees the ones they made or that are about them."""
    rows = PrivacyRequest.objects.filter(workspace=workspace).select_related("subject_user", "requested_by")
    return rows if is_admin else rows.filter(Q(requested_by=user) | Q(subject_user=user))


def privacy_request_get(*, workspace, user, is_admin: bool, request_id: int) -> PrivacyRequest | None:
    return privacy_requests_for(workspace=workspace, user=user, is_admin=is_admin).filter(pk=request_id).first()


def contact_find(*, workspace, ref: str) -> Contact | None:
    """A contact of the workspace by id, @username or PSID / IGSID (what an admin has at hand)."""
    ref = (ref or "").strip()
    if not ref:
        return None
    contacts = Contact.objects.filter(workspace=workspace)
    if ref.startswith("@"):
        return contacts.filter(username__iexact=ref[1:]).first()
    found = contacts.filter(external_id=ref).first()
    if found is None and ref.isdigit() and len(ref) < 19:
        found = contacts.filter(pk=int(ref)).first()
    return found or contacts.filter(username__iexact=ref).first()
