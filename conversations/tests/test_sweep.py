from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import queued_tasks
from contacts.models import Contact
from conversations.models import Decision, Escalation, ReplyDraft, SidekickActionLog, SidekickSettings, Thread
from conversations.pipeline import sweep

pytestmark = pytest.mark.django_db

OLD_ENOUGH = timedelta(minutes=3)


def test_unanswered_inbound_message_is_found_and_enqueued_again(scene):
    message = scene.inbound("Do you have classes on Sunday?", ago=OLD_ENOUGH)
    assert sweep.unanswered_messages(now=timezone.now(), limit=10) == [message.pk]
    job = ("conversations.tasks.reply_to_message", f"[{message.pk}]")
    before = queued_tasks("llm").count(job)
    result = sweep.replies_sweep()
    assert result == {"enqueued": 1, "interrupted": 0}
    assert queued_tasks("llm").count(job) == before + 1  # the job really reached the broker


def test_only_the_newest_message_of_a_burst_is_swept(scene):
    scene.inbound("hi", ago=OLD_ENOUGH + timedelta(seconds=30))
    newest = scene.inbound("prices?", ago=OLD_ENOUGH)
    assert sweep.unanswered_messages(now=timezone.now(), limit=10) == [newest.pk]


@pytest.mark.parametrize("situation", [
    "answered", "setter_replied", "ai_paused", "opted_out", "outside_window", "too_recent", "automation_off",
    "other_app_in_control",
])
def test_messages_that_need_no_reply_are_left_alone(scene, situation):
    ago = {"outside_window": timedelta(hours=25), "too_recent": timedelta(seconds=10)}.get(situation, OLD_ENOUGH)
    message = scene.inbound("hello?", ago=ago)
    if situation == "answered":
        ReplyDraft.objects.create(workspace=scene.workspace, thread=scene.thread, inbound_message=message,
                                  decision=Decision.SENT)
    elif situation == "setter_replied":
        scene.outbound("Hi! It's Sam from the studio.", ago=timedelta(minutes=1), sender_kind="setter")
    elif situation == "ai_paused":
        Thread.objects.filter(pk=scene.thread.pk).update(ai_paused=True)
    elif situation == "opted_out":
        Contact.objects.filter(pk=scene.contact.pk).update(opted_out=True)
    elif situation == "automation_off":
        SidekickSettings.objects.update_or_create(workspace=scene.workspace, defaults={"enabled": False})
    elif situation == "other_app_in_control":
        Thread.objects.filter(pk=scene.thread.pk).update(app_has_control=False)
    assert sweep.unanswered_messages(now=timezone.now(), limit=10) == []


def test_interrupted_draft_goes_to_a_human_once(scene):
    message = scene.inbound("Can I book for Friday?", ago=timedelta(minutes=20))
    stuck = ReplyDraft.objects.create(workspace=scene.workspace, thread=scene.thread, inbound_message=message)
    ReplyDraft.objects.filter(pk=stuck.pk).update(created_at=timezone.now() - timedelta(minutes=11))
    recent = scene.inbound("Also Saturday?", ago=timedelta(seconds=5))
    running = ReplyDraft.objects.create(workspace=scene.workspace, thread=scene.thread, inbound_message=recent)

    assert sweep.replies_sweep()["interrupted"] == 1
    stuck.refresh_from_db()
    running.refresh_from_db()
    assert (stuck.decision, stuck.reason_code) == (Decision.ESCALATED, "pipeline_interrupted")
    assert running.decision == Decision.PENDING  # still within a run's time limit
    escalation = Escalation.objects.get(thread=scene.thread)
    assert escalation.reason_code == "pipeline_interrupted"
    scene.refresh()
    assert scene.thread.ai_paused and scene.thread.needs_human
    assert SidekickActionLog.objects.filter(thread=scene.thread, result="pipeline_interrupted").count() == 1

    assert sweep.replies_sweep()["interrupted"] == 0  # settled once
