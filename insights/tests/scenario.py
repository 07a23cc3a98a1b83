"""A small builder for report scenarios: people on channels, messages and booking events at fixed times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from contacts.models import BookingEvent, ContactStateChange, Person
from contacts.tests.factories import ContactFactory
from conversations.models import Direction, DraftKind, ReplyDraft, SenderKind, SendStatus, Thread
from conversations.tests.factories import InboundMessageFactory, OutboundMessageFactory, ThreadFactory
from insights.report import ReportParameters, message_labels, report_compute
from integrations.tests.factories import ChannelFactory, MessengerChannelFactory

# Monday 2 March 2026, 09:00 UTC: the reference time of the scenarios.
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


class Scene:
    def __init__(self, workspace):
        self.workspace = workspace
        self.instagram = ChannelFactory(workspace=workspace)
        self.messenger = MessengerChannelFactory(workspace=workspace)

    def contact(self, channel: str = "instagram", person: Person | None = None):
        return ContactFactory(channel=getattr(self, channel), person=person)

    def person(self, *channels: str):
        """One person reached on each of `channels` (one contact each), linked."""
        person = Person.objects.create(workspace=self.workspace)
        return [self.contact(channel, person=person) for channel in channels]

    def thread(self, contact) -> Thread:
        return Thread.objects.filter(contact=contact).first() or ThreadFactory(contact=contact)

    def out(self, contact, at: datetime, *, sender: str = "ai_auto", draft: str | None = None,
            status: str = SendStatus.SENT, deleted: bool = False):
        """An outbound message as each sender kind is recorded (see conversations.models)."""
        kinds = {"ai_auto": (SenderKind.AI, None), "ai_approved": (SenderKind.SETTER, "approved"),
                 "ai_edited": (SenderKind.SETTER, "edited"), "setter": (SenderKind.SETTER, None),
                 "business_outside": (SenderKind.META_INBOX, None)}
        sender_kind, disposition = kinds[sender]
        extra = {"send_status": None, "idempotency_key": None} if sender_kind == SenderKind.META_INBOX else {
            "send_status": status}
        message = OutboundMessageFactory(thread=self.thread(contact), sent_at=at, sender_kind=sender_kind,
                                         disposition=disposition, is_deleted=deleted, **extra)
        if draft is None and sender in ("ai_auto", "ai_approved", "ai_edited"):
            draft = DraftKind.REPLY
        if draft is not None:
            ReplyDraft.objects.create(workspace=self.workspace, thread=message.thread, kind=draft,
                                      outbound_message=message, decision="sent")
        return message

    def inbound(self, contact, at: datetime):
        return InboundMessageFactory(thread=self.thread(contact), sent_at=at, direction=Direction.IN)

    def booking(self, contact, at: datetime, kind: str = BookingEvent.Kind.BOOKED):
        return BookingEvent.objects.create(workspace=self.workspace, contact=contact, kind=kind, occurred_at=at)

    def stage(self, contact, at: datetime, stage: str):
        row = ContactStateChange.objects.create(workspace=self.workspace, contact=contact, stage=stage,
                                                sentiment="neutral", lead_score=50)
        ContactStateChange.objects.filter(pk=row.pk).update(created_at=at)  # auto_now_add: set it after

    def report(self, start=T0, end=T0 + 7 * DAY, as_of=T0 + 30 * DAY, **params):
        return report_compute(workspace=self.workspace, start=start, end=end, as_of=as_of,
                              parameters=ReportParameters(**params)).metrics

    def labels(self, start=T0, end=T0 + 7 * DAY, as_of=T0 + 30 * DAY, **params):
        return message_labels(workspace=self.workspace, start=start, end=end, as_of=as_of,
                              parameters=ReportParameters(**params))


def world(scene: Scene, start: datetime, end: datetime) -> None:
    """Every kind of row the statements read, over enough people for cells and patterns to have data:
    linked people on both channels, cancel then rebook, a booking with no outbound, stage changes,
    replies and follow-ups, every sender, a message after the booking, pending and decided outcomes."""
    senders = ["ai_auto", "ai_approved", "ai_edited", "setter", "business_outside"]
    for i in range(36):
        if i % 6 == 0:
            contacts = scene.person("instagram", "messenger")
        else:
            contacts = [scene.contact("instagram" if i % 2 else "messenger")]
        first = contacts[0]
        at = start + (i % 19) * DAY + timedelta(minutes=37 * i)
        scene.inbound(first, at)
        scene.out(first, at + timedelta(minutes=10 * (i % 5 + 1)), sender=senders[i % 5])
        if i % 3 == 0:
            scene.out(contacts[-1], at + DAY, sender=senders[(i + 2) % 5])  # a follow-up, maybe on another channel
        if i % 4 == 0:
            scene.stage(first, at - DAY, "engaged")
        if i % 4 in (0, 1):
            scene.booking(first, at + 2 * DAY)
        if i % 8 == 0:
            scene.booking(first, at + 3 * DAY, BookingEvent.Kind.CANCELED)
            scene.booking(contacts[-1], at + 4 * DAY)  # rebooked, on the person's other contact
            scene.out(first, at + 5 * DAY)  # after the booking
        if i % 9 == 0:
            scene.booking(first, at + DAY, BookingEvent.Kind.ATTENDED)
    scene.booking(scene.contact(), start + 3 * DAY)  # nobody wrote to this one
    scene.out(scene.contact(), end - timedelta(hours=2))


def cell(metrics: dict, sender: str = "all", purpose: str = "all", channel: str = "all") -> dict:
    found = [c for c in metrics["cells"] if (c["sender"], c["purpose"], c["channel"]) == (sender, purpose, channel)]
    assert len(found) == 1, f"no single cell {sender}/{purpose}/{channel}"
    return found[0]
