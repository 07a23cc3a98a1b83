"""Erasing a contact (GDPR): the contacts app's own rows, written here and nowhere else.

Called by `privacy.erasure.contact_erase_everywhere` inside its transaction, after the apps above have
removed what points at the contact (threads, change sets). Returns row counts, never contents.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from contacts.models import BookingEvent, Contact, ContactStateChange, FollowUpStrategy, LeadMemory, Person


def contact_erase(*, contact: Contact) -> dict[str, int]:
    """Delete the contact with its memory, state history, booking events and follow-up strategy; dissolve its person when
    only one other contact would remain in it. Precondition: inside a transaction (the caller's)."""
    assert transaction.get_connection().in_atomic_block, "contact_erase runs inside the erasure's transaction"
    locked = Contact.objects.select_for_update().get(pk=contact.pk)
    counts = {
        "lead_memory": LeadMemory.objects.filter(contact=locked).delete()[0],
        "state_changes": ContactStateChange.objects.filter(contact=locked).delete()[0],
        "booking_events": BookingEvent.objects.filter(contact=locked).delete()[0],
        "follow_up_strategies": FollowUpStrategy.objects.filter(contact=locked).delete()[0],
    }
    if locked.person_id is not None:
        remaining = list(Contact.objects.select_for_update().filter(person_id=locked.person_id)
                         .exclude(pk=locked.pk).values_list("pk", flat=True))
        if len(remaining) < 2:
            Contact.objects.filter(pk__in=remaining).update(person=None, updated_at=timezone.now())
            counts["people"] = Person.objects.filter(pk=locked.person_id).delete()[0]
    counts["contacts"] = Contact.objects.filter(pk=locked.pk).delete()[0]
    return counts
