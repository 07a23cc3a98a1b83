"""The reply pipeline end to end: fake LLM server on loopback (real SDKs), sandbox Graph stand-in."""

from datetime import timedelta

import pytest

from contacts.models import ContactStateChange, LeadMemory
from conversations.models import ActionKind, Decision, Escalation, ReplyDraft, SidekickActionLog
from conversations.pipeline.engine import reply_pipeline_run
from conversations.tests.pipeline_fixtures import draft_reply, review, screen
from knowledge.services import faq_create
from testing.fake_llm import Reply

pytestmark = pytest.mark.django_db


def test_confident_reply_is_sent_and_recorded(scene, fake_llm):
    fake_llm.provider(scene.workspace, kind="anthropic")
    faq = faq_create(workspace=scene.workspace, question="Are you open on Fridays?",
                     answer="Yes, Fridays 9am to 6pm.", actor=None)
    message = scene.inbound("Hi! Are you open on Friday? I'd like to book a session")
    chunk_id = faq.chunks.get().pk if hasattr(faq, "chunks") else None
    cited = [f"K{chunk_id}"] if chunk_id else []
    fake_llm.queue(
        Reply.structured(draft_reply("Yes, we're open on Fridays from 9am to 6pm! Would you like to book a session?",
                                     cited_source_ids=cited,
                                     memory_writes=[{"kind": "availability", "text": "Free on Friday afternoons"}])),
        Reply.structured(review()),
        Reply.structured(screen()),
    )
    draft = reply_pipeline_run(message_id=message.pk)
    assert draft.decision == Decision.SENT, draft.reasons
    assert draft.confidence >= 0.8 and draft.confidence_parts["reviewer"] == 1.0
    assert draft.model and draft.provider_kind == "anthropic" and draft.input_tokens > 0
    sent = scene.deliver_sends()
    assert [s["message"]["text"] for s in sent] == [draft.final_text]
    log = SidekickActionLog.objects.get()
    assert log.action == ActionKind.SENT_REPLY and log.result == "sent" and log.graph_message_id.startswith("sandbox")
    scene.refresh()
    assert (scene.contact.stage, scene.contact.lead_score) == ("engaged", 60)
    assert ContactStateChange.objects.get().source_draft == draft
    assert LeadMemory.objects.get().source_message == message
    draft_request, review_request, screen_request = fake_llm.requests
    assert draft_request.schema_name == "respond" and review_request.schema_name == "review"
    # The screening model reads the contact's words alone: no business prompt, no knowledge.
    assert screen_request.schema_name == "screen" and "Fridays 9am" not in screen_request.system
    assert "Are you open on Friday" in screen_request.last_user_text
    assert "Are you open on Friday" in draft_request.last_user_text
    assert "Fridays 9am to 6pm" in draft_request.system  # retrieved knowledge is in the prompt


def test_burst_is_answered_once_to_the_latest(scene, fake_llm):
    fake_llm.provider(scene.workspace, kind="openai")
    faq = faq_create(workspace=scene.workspace, question="Do you sell gift cards?",
                     answer="Yes, gift cards come in any amount and never expire.", actor=None)
    first = scene.inbound("hey", ago=timedelta(seconds=3))
    second = scene.inbound("do you do gift cards?", ago=timedelta(seconds=2))
    third = scene.inbound("for my sister's birthday", ago=timedelta(seconds=1))
    fake_llm.queue(Reply.structured(draft_reply("Yes! Gift cards come in any amount.", intent="question",
                                                confidence=0.99, cited_source_ids=[f"K{faq.chunks.get().pk}"])),
                   Reply.structured(review()), Reply.structured(screen()))
    assert reply_pipeline_run(message_id=first.pk).decision == Decision.SUPERSEDED
    assert reply_pipeline_run(message_id=second.pk).decision == Decision.SUPERSEDED
    draft = reply_pipeline_run(message_id=third.pk)
    assert draft.decision == Decision.SENT
    assert reply_pipeline_run(message_id=third.pk) is None  # a duplicate task finds the claim
    assert len(fake_llm.requests) == 3  # one draft, one review, one screen: the burst cost one answer
    assert "gift cards" in fake_llm.requests[0].last_user_text and "sister" in fake_llm.requests[0].last_user_text
    assert len(scene.deliver_sends()) == 1


def test_message_arriving_while_drafting_supersedes_the_draft(scene, fake_llm, monkeypatch):
    from conversations.pipeline import draft as drafting

    fake_llm.provider(scene.workspace)
    message = scene.inbound("what are your prices?")
    fake_llm.queue(Reply.structured(draft_reply("It's 50 per session.")), Reply.structured(review()))
    original = drafting.evidence_for

    def contact_writes_again(*args):  # runs after the model calls, before the act step
        scene.inbound("actually, for two people")
        return original(*args)

    monkeypatch.setattr(drafting, "evidence_for", contact_writes_again)
    draft = reply_pipeline_run(message_id=message.pk)
    assert draft.decision == Decision.SUPERSEDED
    assert scene.deliver_sends() == []


def test_human_request_escalates_without_a_model_call_and_pauses(scene, fake_llm):
    fake_llm.provider(scene.workspace)
    message = scene.inbound("can I talk to a real person please")
    draft = reply_pipeline_run(message_id=message.pk)
    assert (draft.decision, draft.reason_code) == (Decision.ESCALATED, "human_requested")
    assert fake_llm.requests == []
    scene.refresh()
    assert scene.thread.ai_paused and scene.thread.needs_human
    escalation = Escalation.objects.get()
    assert escalation.reason_code == "human_requested" and escalation.draft == draft
    later = scene.inbound("hello?")
    assert reply_pipeline_run(message_id=later.pk) is None  # paused until a setter resumes
    assert not ReplyDraft.objects.filter(inbound_message=later).exists()


def test_low_confidence_saves_a_draft_and_escalates(scene, fake_llm):
    fake_llm.provider(scene.workspace)
    message = scene.inbound("can you do a custom package for a wedding of 200 people?")
    fake_llm.queue(Reply.structured(draft_reply("Possibly! Let me check.", confidence=0.4)), Reply.structured(review()))
    draft = reply_pipeline_run(message_id=message.pk)
    assert (draft.decision, draft.reason_code) == (Decision.DRAFT_SAVED, "low_confidence")
    assert draft.confidence < 0.8 and scene.deliver_sends() == []
    assert Escalation.objects.get().reason_code == "low_confidence"
    assert SidekickActionLog.objects.get().action == ActionKind.DRAFT_SAVED
