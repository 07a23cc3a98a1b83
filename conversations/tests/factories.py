from datetime import timedelta

import factory
from django.utils import timezone

from contacts.tests.factories import ContactFactory
from conversations.models import Direction, Message, SenderKind, SendStatus, Thread


class ThreadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Thread

    contact = factory.SubFactory(ContactFactory)
    channel = factory.SelfAttribute("contact.channel")
    workspace = factory.SelfAttribute("contact.workspace")
    last_message_at = factory.LazyFunction(timezone.now)
    last_inbound_at = factory.LazyFunction(lambda: timezone.now() - timedelta(minutes=5))


class InboundMessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    thread = factory.SubFactory(ThreadFactory)
    workspace = factory.SelfAttribute("thread.workspace")
    channel = factory.SelfAttribute("thread.channel")
    mid = factory.Sequence(lambda n: f"mid.{n}")
    direction = Direction.IN
    sender_kind = SenderKind.CONTACT
    text = factory.Sequence(lambda n: f"Hello, message number {n}")


class OutboundMessageFactory(InboundMessageFactory):
    direction = Direction.OUT
    sender_kind = SenderKind.AI
    send_status = SendStatus.SENT
    idempotency_key = factory.Sequence(lambda n: f"test:{n}")
