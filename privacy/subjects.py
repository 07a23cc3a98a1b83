"""Who a request is about, and which rows of the other apps are theirs (read-only lookups).

Export and erasure read the same definitions, so what an export shows is what an erasure removes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from contacts.models import BookingEvent, Contact, LeadMemory
from conversations.models import Message, Thread

# Identifiers searched for in free text (audit data, change-set titles) must be long enough not to match
# someone else's words: "Ann" would hit "Annual". The PSID / IGSID always qualifies.
NEEDLE_MIN_LENGTH = 5


@dataclass
class ContactSubject:
    workspace: object
    contact: Contact
    thread_ids: list[int] = field(default_factory=list)
    message_ids: list[int] = field(default_factory=list)
    memory_ids: list[int] = field(default_factory=list)
    booking_ids: list[int] = field(default_factory=list)

    @classmethod
    def load(cls, *, workspace, contact: Contact) -> ContactSubject:
        threads = list(Thread.objects.filter(workspace=workspace, contact=contact).values_list("pk", flat=True))
        return cls(
            workspace=workspace, contact=contact, thread_ids=threads,
            message_ids=list(Message.objects.filter(thread_id__in=threads).values_list("pk", flat=True)),
            memory_ids=list(LeadMemory.objects.filter(contact=contact).values_list("pk", flat=True)),
            booking_ids=list(BookingEvent.objects.filter(contact=contact).values_list("pk", flat=True)),
        )

    @property
    def row_targets(self) -> dict[type, list[int]]:
        return {LeadMemory: self.memory_ids, BookingEvent: self.booking_ids}

    @property
    def needles(self) -> list[str]:
        """The contact's identifiers as they may appear in free text and snapshots."""
        found = {self.contact.username, self.contact.display_name}
        return sorted({self.contact.external_id} | {n for n in found if n and len(n) >= NEEDLE_MIN_LENGTH})

    @property
    def audit_targets(self) -> list[str]:
        return ([f"contacts.contact:{self.contact.pk}"] + [f"conversations.thread:{i}" for i in self.thread_ids]
                + [f"contacts.leadmemory:{i}" for i in self.memory_ids]
                + [f"contacts.bookingevent:{i}" for i in self.booking_ids])


@dataclass
class UserSubject:
    workspace: object
    user: object
