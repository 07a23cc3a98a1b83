"""A contact with a row in every table that can hold something about them, and one who must survive."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone

from assistant.models import AssistantConversation, AssistantMessage, AssistantSuggestion
from changes import services as change_services
from changes.services import OperationSpec
from contacts import services as contact_services
from contacts.models import Contact
from contacts.tests.factories import ContactFactory
from conversations.models import Decision, Escalation, FollowUpStepRun, ReplyDraft, SidekickActionLog
from conversations.tests.factories import InboundMessageFactory, OutboundMessageFactory, ThreadFactory
from evals.models import EvalCase, EvalRun
from insights.models import Report, ReportStatus
from integrations.models import SandboxSend, WebhookEvent
from integrations.tests.factories import ChannelFactory

PSID = "7345987612093456"
OTHER_PSID = "7345987612090001"


@dataclass
class Scene:
    workspace: object
    admin: object
    setter: object
    contact: Contact
    other: Contact
    texts: list[str] = field(default_factory=list)
    message_ids: list[int] = field(default_factory=list)
    other_message_id: int = 0
    webhook_event_id: int = 0
    other_eval_case_id: int = 0

    @property
    def needles(self) -> list[str]:
        """What must not be found anywhere after the erasure."""
        return [PSID, "maria.quintero.yoga", "Maria Fernanda Quintero", "maria.q@example.com", *self.texts]


def _dm(account_id: str, sender: str, text: str, mid: str) -> dict:
    return {"sender": {"id": sender}, "recipient": {"id": account_id}, "timestamp": 1,
            "message": {"mid": mid, "text": text}}


def build(*, workspace, admin, setter) -> Scene:
    channel = ChannelFactory(workspace=workspace)
    contact = ContactFactory(channel=channel, external_id=PSID, username="maria.quintero.yoga",
                             display_name="Maria Fernanda Quintero")
    other = ContactFactory(channel=channel, external_id=OTHER_PSID, username="someone.else",
                           display_name="Another Person")
    third = ContactFactory(channel=channel)
    contact_services.contact_link_as_person(contact=contact, other=other, actor=admin)
    contact_services.contact_link_as_person(contact=third, other=other, actor=admin)
    scene = Scene(workspace=workspace, admin=admin, setter=setter, contact=Contact.objects.get(pk=contact.pk),
                  other=other)

    thread = ThreadFactory(contact=contact)
    inbound = InboundMessageFactory(thread=thread, text="UNIQUE-INBOUND my phone is +44 7700 900123")
    outbound = OutboundMessageFactory(thread=thread, text="UNIQUE-OUTBOUND Hi Maria, see you Tuesday")
    other_message = InboundMessageFactory(thread=ThreadFactory(contact=other), text="The other contact's words")
    scene.texts += [inbound.text, outbound.text]
    scene.message_ids = [inbound.pk, outbound.pk]
    scene.other_message_id = other_message.pk

    contact_services.lead_memory_add(contact=contact, kind="fact", text="Email is maria.q@example.com", actor=admin)
    contact_services.contact_state_set(contact=contact, actor=admin, stage="engaged")
    contact_services.contact_booking_record(contact=contact, kind="booked", occurred_at=timezone.now(), actor=admin,
                                            note="UNIQUE-BOOKING-NOTE prefers mornings")
    scene.texts.append("UNIQUE-BOOKING-NOTE prefers mornings")

    draft = ReplyDraft.objects.create(workspace=workspace, thread=thread, inbound_message=inbound,
                                      text="UNIQUE-DRAFT Hi Maria!", final_text="UNIQUE-DRAFT Hi Maria!",
                                      decision=Decision.DRAFT_SAVED)
    Escalation.objects.create(workspace=workspace, thread=thread, reason_code="human_requested",
                              reason_text="UNIQUE-ESCALATION Maria asked for a person", draft=draft, message=inbound)
    SidekickActionLog.objects.create(workspace=workspace, thread=thread, contact=contact, action="sent_reply",
                                     text="UNIQUE-ACTION Hi Maria", draft=draft, message=outbound)
    FollowUpStepRun.objects.create(workspace=workspace, thread=thread, anchor_message=outbound, position=1,
                                   delay_hours=24, reason_text="UNIQUE-FOLLOWUP")
    scene.texts += ["UNIQUE-DRAFT", "UNIQUE-ESCALATION", "UNIQUE-ACTION", "UNIQUE-FOLLOWUP"]

    change_set = change_services.change_set_preview(
        workspace=workspace, actor=admin, title="Maria Fernanda Quintero: mark qualified",
        operations=[OperationSpec("contact.state", {"stage": "qualified"}, target_id=contact.pk),
                    OperationSpec("contact.memory_add", {"kind": "preference", "text": "UNIQUE-CRM likes yoga"},
                                  target_id=contact.pk)])
    change_services.change_set_apply(change_set=change_set, actor=admin)
    scene.texts.append("UNIQUE-CRM likes yoga")

    # One delivery with both contacts' messages: only Maria's item may go.
    body = {"object": "instagram", "entry": [{"id": channel.account_id, "time": 1, "messaging": [
        _dm(channel.account_id, PSID, "UNIQUE-WEBHOOK hello from Maria", "m1"),
        _dm(channel.account_id, OTHER_PSID, "The other contact's webhook words", "m2")]}]}
    scene.webhook_event_id = WebhookEvent.objects.create(body=json.dumps(body).encode(), status="done").pk
    scene.texts.append("UNIQUE-WEBHOOK hello from Maria")
    SandboxSend.objects.create(channel=channel, account_id=channel.account_id, recipient_id=PSID, kind="message",
                               payload={"recipient": {"id": PSID}, "message": {"text": "UNIQUE-SANDBOX hi Maria"}})
    scene.texts.append("UNIQUE-SANDBOX hi Maria")

    conversation = AssistantConversation.objects.create(
        workspace=workspace, user=setter, context_type="thread", title="About Maria Fernanda Quintero",
        context={"thread_id": thread.pk, "contact_id": contact.pk, "label": "Maria Fernanda Quintero on Instagram"})
    asked = AssistantMessage.objects.create(conversation=conversation, role="user",
                                            content="UNIQUE-ASSISTANT how should I answer Maria?")
    scene.texts.append("UNIQUE-ASSISTANT how should I answer Maria?")
    AssistantSuggestion.objects.create(message=asked, workspace=workspace, user=setter, type="reply",
                                       title="Reply to Maria", content="UNIQUE-SUGGESTION Hi Maria, Tuesday works",
                                       target_type="thread", target_id=thread.pk)
    scene.texts.append("UNIQUE-SUGGESTION Hi Maria, Tuesday works")
    contact_services.follow_up_strategy_set(contact=contact, title="Win Maria back",
                                            steps=[{"after_hours": 24, "action": "UNIQUE-STRATEGY ask Maria which day"}],
                                            actor=setter)
    scene.texts.append("UNIQUE-STRATEGY ask Maria which day")

    now = timezone.now()
    Report.objects.create(workspace=workspace, window_start=now - timedelta(days=7), window_end=now,
                          as_of=now, status=ReportStatus.DONE, metrics={"sent": 2}, progress=100, finished_at=now,
                          synthesis={"status": "done", "excerpt_message_ids": [inbound.pk, other_message.pk]})
    # An eval case of each contact's message (the text stored is redacted, but still the contact's words).
    run = EvalRun.objects.create(workspace=workspace, report=Report.objects.get(workspace=workspace),
                                 budget_tokens=1000, judge_prompt_version="test")
    EvalCase.objects.create(run=run, message_id=inbound.pk, person_key=f"c{contact.pk}", split="train",
                            outcome="booked", context=[{"role": "customer", "text": "UNIQUE-EVAL context"}],
                            sent_text="UNIQUE-EVAL sent")
    scene.texts.append("UNIQUE-EVAL context")
    scene.other_eval_case_id = EvalCase.objects.create(
        run=run, message_id=other_message.pk, person_key=f"c{other.pk}", split="train", outcome="not_booked",
        sent_text="The other contact's case").pk
    return scene
