"""Reads for contacts. Every function takes the workspace (or a contact, which belongs to one)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import Role
from contacts.models import BookingEvent, Contact, ContactStateChange, FollowUpStrategy, LeadMemory
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
    """Raises Contact.DoesNotExist for a contact of another workspace."""
    contact = Contact.objects.select_related("channel").get(workspace=workspace, pk=contact_id)
    contact.workspace = workspace
    return contact


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


def contact_state_history(*, contact: Contact, limit: int = 500) -> list[ContactStateChange]:
    """The newest ``limit`` stage / sentiment / score changes, oldest first (the dashboard's score chart)."""
    newest = ContactStateChange.objects.filter(contact=contact, workspace_id=contact.workspace_id).order_by(
        "-created_at", "-pk")[:limit]
    return list(reversed(newest))


CONTACTS_PAGE_SIZE = 50
# Each order is served by an index on (workspace, ...), so a page is an index range scan.
SORTS = {"recent": ("-last_inbound_at", "-id"), "score": ("-lead_score", "-id"), "name": ("display_name", "id")}


@dataclass
class ContactPage:
    contacts: list[Contact]
    page: int
    has_next: bool


def contacts_for_workspace(*, workspace, q: str = "", stage: str = "", sort: str = "recent", page: int = 1,
                           limit: int = CONTACTS_PAGE_SIZE) -> ContactPage:
    """A page of contacts. Offset paging (with the next page detected by one extra row, no COUNT)."""
    contacts = Contact.objects.filter(workspace=workspace).select_related("channel").only(
        "pk", "display_name", "username", "external_id", "stage", "sentiment", "lead_score", "opted_out",
        "last_inbound_at", "booked_at", "booking_canceled_at", "channel__platform", "channel__name")
    q = q.strip()
    if q:
        contacts = contacts.filter(Q(display_name__icontains=q) | Q(username__icontains=q) | Q(external_id=q))
    if stage:
        contacts = contacts.filter(stage=stage)
    page = max(1, page)
    order = SORTS.get(sort, SORTS["recent"])
    rows = list(contacts.order_by(*order)[(page - 1) * limit: page * limit + 1])
    return ContactPage(rows[:limit], page, len(rows) > limit)


def contact_booking_events(*, contact: Contact, limit: int = 50) -> QuerySet[BookingEvent]:
    return BookingEvent.objects.filter(contact=contact, workspace_id=contact.workspace_id)[:limit]


def contact_threads(*, contact: Contact):
    # Through the reverse relation: conversations sits above contacts, so this app does not import it.
    return contact.threads.filter(workspace_id=contact.workspace_id).select_related("channel")


def lead_memory_for_contact(*, workspace, contact: Contact, memory_id: int) -> LeadMemory:
    return LeadMemory.objects.get(workspace=workspace, contact=contact, pk=memory_id)


@dataclass(frozen=True)
class StrategyStep:
    after_hours: int
    action: str
    due_at: datetime

    @property
    def due(self) -> bool:
        return self.due_at <= timezone.now()


def follow_up_strategy_for(*, contact: Contact) -> tuple[FollowUpStrategy | None, list[StrategyStep]]:
    """The contact's follow-up strategy and its steps with their due times (from when it was saved)."""
    strategy = FollowUpStrategy.objects.filter(contact=contact, workspace_id=contact.workspace_id).first()
    if strategy is None:
        return None, []
    start = strategy.updated_at
    return strategy, [StrategyStep(int(s["after_hours"]), str(s["action"]), start + timedelta(hours=int(s["after_hours"])))
                      for s in strategy.steps]
