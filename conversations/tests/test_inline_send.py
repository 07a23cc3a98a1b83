"""The reply task sends its own reply right after the decision commits (one Celery task per reply);
a worker lost between that commit and the send leaves a pending row that the send sweeper picks up."""

from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import queued_tasks
from conversations.models import ActionKind, Decision, Message, SendStatus, SidekickActionLog
from conversations.pipeline.engine import reply_pipeline_run
from conversations.sending import message_send, outbound_messages_sweep
from conversations.tests.pipeline_fixtures import draft_reply, review, screen
from integrations.models import SandboxSend
from knowledge.services import faq_create
from testing.fake_llm import Reply

pytestmark = pytest.mark.django_db


def _send_job(message_id: int) -> tuple[str, str]:
    return ("conversations.tasks.send_message", f"[{message_id}]")


def _confident_reply(scene, fake_llm, text="Yes, Fridays 9am to 6pm."):
    """A reply that earns auto-send: grounded in a retrieved FAQ it cites, reviewed, screened."""
    fake_llm.provider(scene.workspace)
    faq = faq_create(workspace=scene.workspace, question="Are you open on Fridays?", answer="Yes, Fridays 9am to 6pm.",
                     actor=None)
    fake_llm.queue(Reply.structured(draft_reply(text, cited_source_ids=[f"K{faq.chunks.get().pk}"])),
                   Reply.structured(review()), Reply.structured(screen()))
    return reply_pipeline_run(message_id=scene.inbound("Are you open on Friday?").pk)


def test_reply_is_sent_inline_after_the_commit_without_a_send_task(scene, fake_llm,
                                                                   django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        draft = _confident_reply(scene, fake_llm)
        assert draft.decision == Decision.SENT
        # Inside the transaction nothing has gone out yet: the row is written first.
        assert not SandboxSend.objects.filter(channel=scene.channel, kind="message").exists()
        # The shared test Redis is kept between runs: count this run's jobs against what waits there.
        queued_before = queued_tasks("default").count(_send_job(draft.outbound_message_id))
    outbound = Message.objects.get(pk=draft.outbound_message_id)
    assert outbound.send_status == SendStatus.SENT and outbound.mid.startswith("sandbox")
    assert [s.payload["message"]["text"] for s in SandboxSend.objects.filter(channel=scene.channel, kind="message")
            ] == [draft.final_text]
    log = SidekickActionLog.objects.get(action=ActionKind.SENT_REPLY)
    assert (log.result, log.graph_message_id) == ("sent", outbound.mid)
    assert queued_tasks("default").count(_send_job(outbound.pk)) == queued_before  # one task per reply
    assert message_send(message_id=outbound.pk) is None  # a redelivered send finds it settled
    assert SandboxSend.objects.filter(channel=scene.channel, kind="message").count() == 1


def test_crash_between_commit_and_send_is_picked_up_by_the_send_sweeper(scene, fake_llm,
                                                                       django_capture_on_commit_callbacks):
    # The decision commits, then the worker dies before its on-commit send runs.
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        draft = _confident_reply(scene, fake_llm)
    assert draft.decision == Decision.SENT and callbacks  # the inline send was registered, not run
    outbound = Message.objects.get(pk=draft.outbound_message_id)
    assert outbound.send_status == SendStatus.PENDING
    assert not SandboxSend.objects.filter(channel=scene.channel, kind="message").exists()
    job = _send_job(outbound.pk)
    # The test Redis is shared and kept between runs: a job with the same id may wait there from an
    # earlier run, so count this run's jobs against what was queued before.
    queued_before = queued_tasks("default").count(job)
    assert queued_tasks("default").count(job) == queued_before  # the decision enqueued no send job

    # A row that young may still be on its way out: the sweeper leaves it alone.
    outbound_messages_sweep()
    assert queued_tasks("default").count(job) == queued_before

    Message.objects.filter(pk=outbound.pk).update(created_at=timezone.now() - timedelta(seconds=45))
    before = queued_tasks("default").count(job)
    assert outbound_messages_sweep()["enqueued"] >= 1
    assert queued_tasks("default").count(job) == before + 1  # the send job really reached the broker

    # The swept job sends it once; a late inline send (or a duplicate job) is a no-op.
    assert message_send(message_id=outbound.pk).send_status == SendStatus.SENT
    assert message_send(message_id=outbound.pk) is None
    assert SandboxSend.objects.filter(channel=scene.channel, kind="message").count() == 1
    assert SidekickActionLog.objects.get(action=ActionKind.SENT_REPLY).result == "sent"


def test_a_failing_inline_send_leaves_the_decision_committed(scene, fake_llm, django_capture_on_commit_callbacks,
                                                             monkeypatch, caplog):
    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr("conversations.pipeline.engine.message_send", broken)
    with django_capture_on_commit_callbacks(execute=True):
        draft = _confident_reply(scene, fake_llm)
    draft.refresh_from_db()
    assert draft.decision == Decision.SENT
    assert Message.objects.get(pk=draft.outbound_message_id).send_status == SendStatus.PENDING
    assert "send sweeper" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_inline_send_uses_what_the_decision_read_under_the_lock(scene, fake_llm):
    """Autocommit, as a worker runs it: the send claims the row and sends without reading it back."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        draft = _confident_reply(scene, fake_llm)
    assert draft.decision == Decision.SENT
    outbound = Message.objects.get(pk=draft.outbound_message_id)
    assert (outbound.send_status, outbound.attempts) == (SendStatus.SENT, 1)
    after_claim = [q["sql"] for q in queries.captured_queries]
    after_claim = after_claim[next(i for i, sql in enumerate(after_claim) if "'sending'" in sql) + 1:]
    # The claim's UPDATE is the only statement on the message before the Graph call: no read-back.
    assert not any(sql.startswith("SELECT") and 'FROM "conversations_message"' in sql for sql in after_claim)


def test_a_loaded_copy_never_overrides_the_claim(scene, fake_llm):
    """A row someone else claimed (or sent) is left alone even when the caller hands its own copy."""
    from conversations.sending import outbound_message_create

    outbound = outbound_message_create(thread=scene.thread, text="Hello", sender_kind="ai", enqueue=False)
    Message.objects.filter(pk=outbound.pk).update(send_status=SendStatus.SENDING)
    assert message_send(message_id=outbound.pk, loaded=outbound) is None
    assert not SandboxSend.objects.filter(channel=scene.channel, kind="message").exists()
    assert Message.objects.get(pk=outbound.pk).attempts == 0


def test_a_channel_disabled_while_drafting_stops_the_inline_send(scene, fake_llm, monkeypatch,
                                                                 django_capture_on_commit_callbacks):
    """The channel is read with the thread lock, after the model calls, not at the start of the run."""
    from conversations.pipeline import draft as drafting
    from integrations.models import Channel, ChannelStatus

    real = drafting.overseer_gate

    def gate_then_disconnect(run, draft, text):
        result = real(run, draft, text)
        Channel.objects.filter(pk=scene.channel.pk).update(status=ChannelStatus.DISABLED)
        return result

    monkeypatch.setattr(drafting, "overseer_gate", gate_then_disconnect)
    with django_capture_on_commit_callbacks(execute=True):
        draft = _confident_reply(scene, fake_llm)
    outbound = Message.objects.get(pk=draft.outbound_message_id)
    assert (outbound.send_status, outbound.error_code) == (SendStatus.FAILED, "channel_inactive")
    assert not SandboxSend.objects.filter(channel=scene.channel, kind="message").exists()


def test_a_loaded_copy_of_another_row_is_ignored(scene, fake_llm):
    """`loaded` must be the row being sent; anything else is read again from the database."""
    from conversations.sending import outbound_message_create

    scene.inbound("hello?")
    wanted = outbound_message_create(thread=scene.thread, text="The right one", sender_kind="ai", enqueue=False)
    other = outbound_message_create(thread=scene.thread, text="The wrong one", sender_kind="ai", enqueue=False)
    assert message_send(message_id=wanted.pk, loaded=other).send_status == SendStatus.SENT
    assert [s.payload["message"]["text"] for s in SandboxSend.objects.filter(channel=scene.channel, kind="message")
            ] == ["The right one"]
    assert Message.objects.get(pk=other.pk).send_status == SendStatus.PENDING
