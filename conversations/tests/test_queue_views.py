"""Escalations (claim, resolve, resume AI) and follow-ups (listed with why, sent or drafted in place)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contacts.tests.factories import ContactFactory
from conversations.models import (
    Decision,
    Escalation,
    EscalationStatus,
    ReplyDraft,
    SidekickSettings,
    Thread,
)
from conversations.tests.factories import ThreadFactory
from conversations.tests.pipeline_fixtures import draft_reply, review
from testing.fake_llm import Reply

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def url(name, workspace, *args):
    return reverse(f"conversations:{name}", args=[workspace.slug, *args])


def escalate(scene, thread=None, reason="human_requested", **fields):
    thread = thread or scene.thread
    draft = ReplyDraft.objects.create(workspace=scene.workspace, thread=thread, text="Let me get a teammate.",
                                      confidence=0.4, decision=Decision.ESCALATED, reason_code=reason)
    Thread.objects.filter(pk=thread.pk).update(needs_human=True, needs_human_reason=reason)
    return Escalation.objects.create(workspace=scene.workspace, thread=thread, reason_code=reason, draft=draft,
                                     reason_text="The customer asked for a person.", **fields)


def test_escalations_list_reason_and_draft(client, scene):
    escalate(scene)
    client.force_login(scene.setter)
    html = client.get(url("escalations", scene.workspace)).content.decode()
    assert "Dana" in html and "Human requested" in html and "Let me get a teammate." in html
    assert "Claim" in html and url("thread", scene.workspace, scene.thread.pk) in html


def test_claim_then_resolve_with_resume(client, scene):
    escalation = escalate(scene)
    Thread.objects.filter(pk=scene.thread.pk).update(ai_paused=True)
    client.force_login(scene.setter)
    row = client.post(url("escalation_claim", scene.workspace, escalation.pk), **HTMX).content.decode()
    assert f'id="escalation-{escalation.pk}"' in row and "Claimed" in row and scene.setter.email in row
    again = client.post(url("escalation_claim", scene.workspace, escalation.pk), **HTMX).content.decode()
    assert "already claimed" in again
    gone = client.post(url("escalation_resolve", scene.workspace, escalation.pk), {"resume_ai": "1"}, **HTMX)
    assert gone.status_code == 200 and "<tr" not in gone.content.decode()
    assert 'hx-swap-oob="true"' in gone.content.decode() and "Escalation resolved." in gone.content.decode()
    escalation.refresh_from_db()
    scene.refresh()
    assert escalation.status == EscalationStatus.RESOLVED and escalation.resolved_by == scene.setter
    assert not scene.thread.ai_paused and not scene.thread.needs_human


def test_resolve_without_resume_keeps_the_ai_paused(client, scene):
    escalation = escalate(scene)
    Thread.objects.filter(pk=scene.thread.pk).update(ai_paused=True)
    client.force_login(scene.setter)
    client.post(url("escalation_resolve", scene.workspace, escalation.pk))
    scene.refresh()
    assert scene.thread.ai_paused and not scene.thread.needs_human


def test_escalations_of_another_workspace_are_404(client, scene):
    from accounts.tests.factories import MembershipFactory

    escalation = escalate(scene)
    other = MembershipFactory()
    client.force_login(other.user)
    assert client.post(url("escalation_claim", other.workspace, escalation.pk)).status_code == 404
    assert client.post(url("escalation_resolve", other.workspace, escalation.pk)).status_code == 404


def _count(client, path):
    client.get(path)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(path).status_code == 200
    return len(ctx.captured_queries)


def test_escalations_queries_do_not_grow_with_rows(client, scene):
    client.force_login(scene.setter)

    def add(n):
        for _ in range(n):
            escalate(scene, thread=ThreadFactory(contact__channel=scene.channel),
                     claimed_by=scene.setter, status=EscalationStatus.CLAIMED)

    add(5)
    few = _count(client, url("escalations", scene.workspace))
    add(45)
    assert _count(client, url("escalations", scene.workspace)) == few


# --- Follow-ups -------------------------------------------------------------------------------------

@pytest.fixture
def quiet(scene):
    """Follow up after 12 h: a thread quiet for 13 h is listed inside the 24 h window."""
    SidekickSettings.objects.update_or_create(workspace=scene.workspace, defaults={"follow_up_after_hours": 12})
    scene.inbound("let me think about it", ago=timedelta(hours=13))
    scene.outbound("Sure, take your time!", ago=timedelta(hours=13))
    return scene


def test_follow_ups_list_why(client, quiet):
    client.force_login(quiet.setter)
    html = client.get(url("follow_ups", quiet.workspace)).content.decode()
    assert "Dana" in html and "window is still open" in html and "Send follow-up" in html


def test_send_follow_up_removes_the_row(client, quiet, fake_llm):
    fake_llm.provider(quiet.workspace, kind="openai")
    fake_llm.queue(Reply.structured(draft_reply("Hi Dana! Still keen on a Friday slot?", intent="small_talk",
                                                confidence=0.97)), Reply.structured(review()))
    client.force_login(quiet.setter)
    response = client.post(url("follow_up_send", quiet.workspace, quiet.thread.pk), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and 'hx-swap-oob="true"' in html and "Follow-up sent to Dana" in html
    assert "<tr" not in html
    draft = ReplyDraft.objects.get(thread=quiet.thread, kind="follow_up")
    assert draft.decision == Decision.SENT
    # Handled: Sidekick acted in the last 24 h, so the thread is no longer listed.
    assert "Dana" not in client.get(url("follow_ups", quiet.workspace)).content.decode()


def test_draft_follow_up_for_review(client, quiet, fake_llm):
    fake_llm.provider(quiet.workspace)
    fake_llm.queue(Reply.structured(draft_reply("Still keen?", intent="small_talk")), Reply.structured(review()))
    client.force_login(quiet.setter)
    html = client.post(url("follow_up_send", quiet.workspace, quiet.thread.pk), {"review": "1"}, **HTMX
                       ).content.decode()
    assert "saved as a draft" in html
    draft = ReplyDraft.objects.get(thread=quiet.thread, kind="follow_up")
    assert (draft.decision, draft.reason_code) == (Decision.DRAFT_SAVED, "review_requested")
    assert "Still keen?" in client.get(url("thread", quiet.workspace, quiet.thread.pk)).content.decode()


def test_follow_up_for_another_workspaces_thread_is_404(client, quiet):
    from accounts.tests.factories import MembershipFactory

    other = MembershipFactory()
    client.force_login(other.user)
    assert client.post(url("follow_up_send", other.workspace, quiet.thread.pk)).status_code == 404


def test_follow_ups_queries_do_not_grow_with_rows(client, quiet):
    client.force_login(quiet.setter)
    at = timezone.now() - timedelta(hours=13)

    def add(n):
        for _ in range(n):
            ThreadFactory(contact=ContactFactory(channel=quiet.channel), last_message_at=at, last_inbound_at=at)

    add(5)
    few = _count(client, url("follow_ups", quiet.workspace))
    add(45)
    html = client.get(url("follow_ups", quiet.workspace)).content.decode()
    assert html.count('<tr id="follow-up-') == 51
    assert _count(client, url("follow_ups", quiet.workspace)) == few


def test_urgent_escalations_come_first_and_say_so(client, scene):
    from contacts.models import Contact

    older = escalate(scene)
    contact = Contact.objects.create(workspace=scene.workspace, channel=scene.channel, external_id="5002",
                                     display_name="Robin")
    thread = Thread.objects.create(workspace=scene.workspace, channel=scene.channel, contact=contact)
    urgent = Escalation.objects.create(workspace=scene.workspace, thread=thread, reason_code="crisis", urgent=True)
    client.force_login(scene.setter)
    html = client.get(url("escalations", scene.workspace)).content.decode()
    assert html.index(f'id="escalation-{urgent.pk}"') < html.index(f'id="escalation-{older.pk}"')
    row = html[html.index(f'id="escalation-{urgent.pk}"'):html.index(f'id="escalation-{older.pk}"')]
    assert "Urgent" in row and "Someone may be in danger" in row
