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


# --- people: the contacts linked as one human, and the links to suggest ---------------------------

def person_contacts(*, contact: Contact) -> list[Contact]:
    """The other contacts linked with this one as the same person (empty when it is its own person)."""
    if contact.person_id is None:
        return []
    return list(Contact.objects.filter(workspace_id=contact.workspace_id, person_id=contact.person_id)
                .exclude(pk=contact.pk).select_related("channel").order_by("pk"))


def person_link_candidates(*, contact: Contact, q: str, limit: int = 10) -> list[Contact]:
    """Contacts of the same workspace an admin may link with `contact`, by name or handle (not itself,
    nor those already its person)."""
    q = q.strip()
    if not q:
        return []
    found = Contact.objects.filter(workspace_id=contact.workspace_id).filter(
        Q(display_name__icontains=q) | Q(username__icontains=q.lstrip("@")) | Q(external_id=q)).exclude(pk=contact.pk)
    if contact.person_id is not None:
        found = found.exclude(person_id=contact.person_id)
    return list(found.select_related("channel").order_by("display_name", "pk")[:limit])


# Emails and phone numbers in lead memory, in Postgres's regex dialect (like contacts.redaction's).
_EMAIL_SQL = r"[[:alnum:]._%+-]+@[[:alnum:]-]+(\.[[:alnum:]-]+)+"
_PHONE_SQL = r"(\+|00)?\(?\d([[:space:]().-]{0,2}\d){6,14}"
# A date written with digits is not a phone number.
_DATE_SQL = r"^\d{4}-\d{1,2}-\d{1,2}$|^\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}$"

_SUGGESTIONS_SQL = """
WITH mem AS (
    SELECT m.contact_id, m.text FROM contacts_leadmemory m
    WHERE m.workspace_id = %(ws)s AND m.expires_at > %(now)s
), raw AS (
    SELECT mem.contact_id, 'email' AS kind, lower(e[1]) AS value
    FROM mem, regexp_matches(mem.text, '(' || %(email)s || ')', 'g') AS e
    UNION
    SELECT mem.contact_id, 'phone', regexp_replace(p[1], '\\D', '', 'g')
    FROM mem, regexp_matches(mem.text, '(' || %(phone)s || ')', 'g') AS p
    WHERE btrim(p[1]) !~ %(date)s
), mine AS (
    SELECT DISTINCT kind, value FROM raw WHERE contact_id = %(contact)s AND (kind = 'email' OR length(value) >= 7)
)
SELECT c.id, array_agg(DISTINCT mine.kind ORDER BY mine.kind) AS kinds
FROM raw JOIN mine ON mine.kind = raw.kind AND mine.value = raw.value
JOIN contacts_contact c ON c.id = raw.contact_id AND c.workspace_id = %(ws)s
WHERE raw.contact_id <> %(contact)s AND (%(person)s::bigint IS NULL OR c.person_id IS DISTINCT FROM %(person)s)
GROUP BY c.id ORDER BY c.id LIMIT %(limit)s
"""


@dataclass(frozen=True)
class LinkSuggestion:
    contact: Contact
    kinds: tuple[str, ...]  # what matched: "email", "phone"


def person_link_suggestions(*, contact: Contact, limit: int = 10) -> list[LinkSuggestion]:
    """Other contacts of the workspace whose lead memory holds an email or phone number this contact's
    memory holds too (emails compared in lower case, phone numbers by their digits), not already the
    same person. One query over the workspace's unexpired memory; never another workspace's. Admins
    only: it shows that two memories share contact details."""
    from django.db import connection

    params = {"ws": contact.workspace_id, "now": timezone.now(), "contact": contact.pk, "person": contact.person_id,
              "email": _EMAIL_SQL, "phone": _PHONE_SQL, "date": _DATE_SQL, "limit": limit}
    with connection.cursor() as cursor:
        cursor.execute(_SUGGESTIONS_SQL, params)
        kinds = {row[0]: tuple(row[1]) for row in cursor.fetchall()}
    if not kinds:
        return []
    contacts = Contact.objects.filter(workspace_id=contact.workspace_id, pk__in=kinds).select_related("channel")
    return [LinkSuggestion(c, kinds[c.pk]) for c in sorted(contacts, key=lambda c: c.pk)]
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
