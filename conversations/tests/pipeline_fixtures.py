"""Fixtures for the reply engine: a workspace with a channel, a thread, an LLM provider pointing at
the fake LLM server, and the sandbox Graph stand-in recording what would reach Meta."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from itertools import count

import pytest
from django.utils import timezone

from contacts.models import Contact
from conversations.models import Direction, Message, SenderKind, SendStatus, Thread
from integrations.meta import client as graph
from integrations.models import SandboxSend

_mids = count(1)


@pytest.fixture
def sandbox_graph(settings):
    """Graph API calls answered by the in-process stand-in (`SandboxSend` rows record them)."""
    settings.META_SANDBOX = True
    graph._session = None
    yield
    graph._session = None


@dataclass
class Scene:
    workspace: object
    channel: object
    contact: Contact
    thread: Thread
    admin: object
    setter: object

    def inbound(self, text: str, *, ago: timedelta = timedelta(seconds=0), attachments: list[dict] | None = None
                ) -> Message:
        """Store an inbound DM the way ingestion does (without the webhook round trip).

        `attachments` as the webhook parser stores them: {"type", "url", "title", "payload"}."""
        at = timezone.now() - ago
        message = Message.objects.create(workspace=self.workspace, thread=self.thread, channel=self.channel,
                                         mid=f"m_in_{next(_mids)}", direction=Direction.IN,
                                         sender_kind=SenderKind.CONTACT, text=text, sent_at=at,
                                         attachments=attachments or [])
        Thread.objects.filter(pk=self.thread.pk).update(last_inbound_at=at, last_message_at=at)
        Contact.objects.filter(pk=self.contact.pk).update(last_inbound_at=at)
        self.refresh()
        return message

    def outbound(self, text: str, *, ago: timedelta = timedelta(seconds=0), sender_kind=SenderKind.AI) -> Message:
        at = timezone.now() - ago
        message = Message.objects.create(workspace=self.workspace, thread=self.thread, channel=self.channel,
                                         mid=f"m_out_{next(_mids)}", direction=Direction.OUT, sender_kind=sender_kind,
                                         text=text, sent_at=at, send_status=SendStatus.SENT)
        Thread.objects.filter(pk=self.thread.pk).update(last_message_at=at, last_outbound_at=at)
        self.refresh()
        return message

    def refresh(self) -> None:
        self.thread.refresh_from_db()
        self.contact.refresh_from_db()

    def deliver_sends(self) -> list[dict]:
        """Run the send worker for every pending outbound message; return what reached the Graph stand-in."""
        from conversations.sending import message_send

        for message_id in Message.objects.filter(thread=self.thread, send_status=SendStatus.PENDING).values_list(
                "pk", flat=True):
            message_send(message_id=message_id)
        return [s.payload for s in SandboxSend.objects.filter(channel=self.channel, kind="message").order_by("pk")]


@pytest.fixture
def scene(db, sandbox_graph, llm_workspace):
    return scene_create(workspace=llm_workspace)


def scene_create(*, workspace) -> Scene:
    """A channel, a contact and their thread in `workspace` (a test running many cases makes one each)."""
    from integrations.tests.factories import ChannelFactory

    channel = ChannelFactory(workspace=workspace)
    contact = Contact.objects.create(workspace=workspace, channel=channel, external_id="5001", display_name="Dana")
    thread = Thread.objects.create(workspace=workspace, channel=channel, contact=contact)
    return Scene(workspace=workspace, channel=channel, contact=contact, thread=thread,
                 admin=workspace.admin_user, setter=workspace.setter_user)


def draft_reply(reply="Hi Dana! Yes, we have slots on Friday afternoon. Would 3pm suit you?", **overrides) -> dict:
    """A drafting model's structured answer."""
    return {"reply": reply, "confidence": 0.95, "intent": "booking", "stage": "engaged", "sentiment": "positive",
            "lead_score": 60, "human_requested": False, "cited_source_ids": [], "memory_writes": [], **overrides}


def review(verdict="approve", reasons=("Accurate and friendly.",), rewritten=None) -> dict:
    out = {"verdict": verdict, "reasons": list(reasons)}
    if rewritten is not None:
        out["rewritten_reply"] = rewritten
    return out


def screen(*flags) -> dict:
    """The screening model's structured answer (no flags: nothing found)."""
    return {"flags": list(flags) or ["none"]}
