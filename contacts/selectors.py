"""Reads for contacts. Every function takes the workspace (or a contact, which belongs to one)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Role
from contacts.models import Contact, ContactStateChange, LeadMemory
from contacts.redaction import redact


@dataclass(frozen=True)
class MemoryView:
    id: int
    kind: str
    text: str
    redacted: bool
    created_at: datetime
    expires_at: datetime
    source_message_id: int | None


def contact_for_workspace(*, workspace, contact_id: int) -> Contact:
    return Contact.objects.get(workspace=workspace, pk=contact_id)


def lead_memory_for(*, contact: Contact, viewer_role: str) -> list[MemoryView]:
    """The contact's unexpired memory, newest first. Admins see the text as stated; everyone else
    (setters) sees it with emails, phone numbers, addresses and card/bank numbers redacted."""
    full = viewer_role == Role.ADMIN
    rows = LeadMemory.objects.filter(contact=contact, workspace_id=contact.workspace_id,
                                     expires_at__gt=timezone.now()).order_by("-created_at", "-pk")
    views = []
    for row in rows:
        text = row.text if full else redact(row.text)
        views.append(MemoryView(id=row.pk, kind=row.kind, text=text, redacted=text != row.text,
                                created_at=row.created_at, expires_at=row.expires_at,
                                source_message_id=row.source_message_id))
    return views


def contact_state_history(*, contact: Contact) -> QuerySet[ContactStateChange]:
    """Stage / sentiment / score over time, oldest first (the dashboard's score chart)."""
    return ContactStateChange.objects.filter(contact=contact, workspace_id=contact.workspace_id).order_by(
        "created_at", "pk")
