"""Issue 12, section 6: what a failed send leaves behind. The draft's decision does not read `sent` when
Meta refused the send, error 551 flags a human, and a channel that needs reconnecting costs no LLM call."""

import pytest
import responses

from conversations import sending
from conversations.models import Decision, Escalation, ReplyDraft, SendStatus
from conversations.pipeline.engine import reply_pipeline_run
from conversations.tests.test_sending import create, error, make_thread, ok, url_for
from integrations.models import ChannelStatus

pytestmark = pytest.mark.django_db


def _draft_sent(thread, message) -> ReplyDraft:
    """What the pipeline commits before its inline send: decision sent, the outbound row attached."""
    return ReplyDraft.objects.create(workspace_id=thread.workspace_id, thread=thread, decision=Decision.SENT,
                                     outbound_message=message, final_text=message.text)


@pytest.mark.parametrize("code, subcode, decision, reason", [
    (10, 2018278, Decision.ESCALATED, "window_closed"),     # outside the messaging window
    (190, None, Decision.ESCALATED, "channel_inactive"),   # token expired
    (551, None, Decision.ESCALATED, "recipient_unavailable"),
    (10, 2018108, Decision.BLOCKED, "10/2018108"),          # cannot receive: nobody to flag, still not "sent"
])
@responses.activate
def test_a_refused_send_rewrites_the_drafts_decision(channel, code, subcode, decision, reason,
                                                     django_capture_on_commit_callbacks):
    thread = make_thread(channel)
    message = create(thread)
    draft = _draft_sent(thread, message)
    responses.post(url_for(channel), **error(code, subcode))
    with django_capture_on_commit_callbacks(execute=True):
        assert sending.message_send(message_id=message.pk).send_status == SendStatus.FAILED
    draft.refresh_from_db()
    assert (draft.decision, draft.reason_code) == (decision, reason)
    if decision == Decision.ESCALATED:
        assert Escalation.objects.get(thread=thread).reason_code == reason


def test_error_551_flags_a_human(channel, django_capture_on_commit_callbacks):
    thread = make_thread(channel)
    message = create(thread)
    with responses.RequestsMock() as mocked, django_capture_on_commit_callbacks(execute=True):
        mocked.post(url_for(channel), **error(551))
        sending.message_send(message_id=message.pk)
    thread.refresh_from_db()
    assert thread.needs_human and thread.needs_human_reason == "recipient_unavailable"
    assert "isn't available" in Escalation.objects.get(thread=thread).reason_text


@responses.activate
def test_a_successful_send_keeps_sent(channel):
    thread = make_thread(channel)
    message = create(thread)
    draft = _draft_sent(thread, message)
    responses.post(url_for(channel), **ok())
    sending.message_send(message_id=message.pk)
    draft.refresh_from_db()
    assert draft.decision == Decision.SENT


def test_no_llm_call_for_a_channel_that_needs_reconnecting(scene, fake_llm):
    fake_llm.provider(scene.workspace)
    scene.channel.status = ChannelStatus.RECONNECT_NEEDED
    scene.channel.save(update_fields=["status"])
    assert reply_pipeline_run(message_id=scene.inbound("Are you open on Friday?").pk) is None
    assert fake_llm.requests == [] and not ReplyDraft.objects.exists()


def test_a_message_that_is_only_a_lone_surrogate_is_not_answered(scene, fake_llm):
    from integrations.meta.parser import clean_str

    fake_llm.provider(scene.workspace)
    text = clean_str("\ud83d")
    assert text == ""
    draft = reply_pipeline_run(message_id=scene.inbound(text).pk)
    assert fake_llm.requests == []
    assert draft is None or draft.decision != Decision.SENT
    assert not sending.Message.objects.filter(thread=scene.thread, direction="out").exists()


def test_nul_becomes_a_space():
    from integrations.meta.parser import clean_str

    assert clean_str("nul\x00inside") == "nul inside"
    assert clean_str("a\ud800b") == "ab"
