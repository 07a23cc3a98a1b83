"""Timed follow-up sequences: due steps drafted once, gated like replies, stopped by what should stop them,
never outside Meta's window; the step editor; the data migration's defaults."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.apps import apps as django_apps
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from accounts.tests.factories import MembershipFactory, WorkspaceFactory
from contacts.models import Contact
from conversations import services
from conversations.models import (
    Decision,
    DraftKind,
    FollowUpOutcome,
    FollowUpStep,
    FollowUpStepRun,
    Message,
    ReplyDraft,
    SidekickSettings,
    Thread,
)
from conversations.pipeline import sequence
from conversations.selectors import thread_follow_up_plan
from conversations.sending import SendRefused
from conversations.settings_rows import sidekick_settings_ensure
from conversations.tests.pipeline_fixtures import draft_reply, review
from testing.fake_llm import Reply

NUDGE = "Hi Dana! Just checking in: does Friday or Saturday suit you better?"


def quiet(scene, *, inbound_ago, outbound_ago, **cfg_fields):
    """The contact wrote `inbound_ago`, the business answered `outbound_ago`; the default sequence."""
    cfg = sidekick_settings_ensure(workspace=scene.workspace)
    for name, value in cfg_fields.items():
        setattr(cfg, name, value)
    cfg.save()
    scene.inbound("let me think about it", ago=inbound_ago)
    return scene.outbound("Sure! Friday 3pm or Saturday 10am?", ago=outbound_ago)


def model_says(fake_llm, text=NUDGE, *, confidence=0.97, verdict="approve"):
    fake_llm.queue(Reply.structured(draft_reply(text, intent="small_talk", confidence=confidence)),
                   Reply.structured(review(verdict)))


def run(scene):
    return sequence.follow_up_step_run(thread_id=scene.thread.pk)


# --- due → drafted → sent or left for review ---------------------------------------------------------

def test_a_due_step_is_drafted_gated_and_sent_then_the_next_waits(scene, fake_llm):
    fake_llm.provider(scene.workspace, kind="openai")
    anchor = quiet(scene, inbound_ago=timedelta(hours=5), outbound_ago=timedelta(hours=4, minutes=1))
    assert thread_follow_up_plan(thread=scene.thread).status == "due"
    model_says(fake_llm)
    step_run = run(scene)
    assert (step_run.position, step_run.outcome) == (1, FollowUpOutcome.SENT), step_run.reason_text
    draft = step_run.draft
    assert draft.kind == DraftKind.FOLLOW_UP and draft.decision == Decision.SENT
    assert draft.confidence_parts["evidence_kind"] == "scheduled"
    assert fake_llm.requests[0].last_user_text.endswith("Write the follow-up message now.)")
    assert [s["message"]["text"] for s in scene.deliver_sends()] == [NUDGE]
    # The nudge does not move the anchor: step 2 is 20 h after the business's own message.
    scene.refresh()
    plan = thread_follow_up_plan(thread=scene.thread)
    assert (plan.status, plan.step.position, plan.anchor.pk) == ("waiting", 2, anchor.pk)
    assert plan.due_at == anchor.sent_at + timedelta(hours=20)
    assert run(scene) is None and len(fake_llm.requests) == 2


@pytest.mark.parametrize(("text", "confidence", "cfg", "outcome", "reason"), [
    # The worst-case model: sure of itself, approved by its reviewer, and making things up.
    ("Hi Dana! Book today and get 50% off, call us on +44 20 7946 0958.", 1.0, {}, FollowUpOutcome.BLOCKED, None),
    (NUDGE, 0.4, {}, FollowUpOutcome.REVIEW, "low_confidence"),
    (NUDGE, 0.97, {"auto_send": False}, FollowUpOutcome.REVIEW, "auto_send_off"),
])
def test_a_step_the_gate_stops_is_left_for_review_with_its_draft(scene, fake_llm, text, confidence, cfg, outcome,
                                                                  reason):
    fake_llm.provider(scene.workspace)
    quiet(scene, inbound_ago=timedelta(hours=5), outbound_ago=timedelta(hours=4, minutes=1), **cfg)
    model_says(fake_llm, text, confidence=confidence)
    step_run = run(scene)
    assert step_run.outcome == outcome
    if reason:
        assert step_run.reason_code == reason
    assert step_run.draft.final_text or step_run.draft.text
    assert scene.deliver_sends() == []
    if outcome == FollowUpOutcome.REVIEW:
        from conversations.selectors import follow_up_drafts_waiting

        assert [d.pk for d in follow_up_drafts_waiting(workspace=scene.workspace)] == [step_run.draft_id]


def test_no_provider_leaves_the_step_recorded_not_sent(scene):
    quiet(scene, inbound_ago=timedelta(hours=5), outbound_ago=timedelta(hours=4, minutes=1))
    step_run = run(scene)
    assert (step_run.outcome, step_run.reason_code) == (FollowUpOutcome.BLOCKED, "no_provider")
    assert scene.deliver_sends() == []


# --- idempotency ---------------------------------------------------------------------------------------

def test_a_step_is_drafted_once_when_two_workers_race(scene, fake_llm, monkeypatch):
    """The second worker arrives while the first is still drafting (its claim committed, the model
    thinking), and once more after it finished: neither drafts again."""
    from conversations.pipeline import follow_up

    fake_llm.provider(scene.workspace)
    quiet(scene, inbound_ago=timedelta(hours=5), outbound_ago=timedelta(hours=4, minutes=1))
    model_says(fake_llm)
    seen = []
    real = follow_up.follow_up_draft_decide

    def drafting(**kwargs):
        seen.append(run(scene))  # the other worker, mid-draft
        return real(**kwargs)

    monkeypatch.setattr(follow_up, "follow_up_draft_decide", drafting)
    first = run(scene)
    assert seen == [None] and first.outcome == FollowUpOutcome.SENT
    assert run(scene) is None
    assert ReplyDraft.objects.filter(thread=scene.thread, kind=DraftKind.FOLLOW_UP).count() == 1
    assert len(fake_llm.requests) == 2 and len(scene.deliver_sends()) == 1


def test_the_sweeper_lists_due_threads_and_a_double_sweep_drafts_once(scene, fake_llm):
    fake_llm.provider(scene.workspace)
    quiet(scene, inbound_ago=timedelta(hours=5), outbound_ago=timedelta(hours=4, minutes=1))
    assert sequence.follow_up_candidates(now=timezone.now()) == [scene.thread.pk]
    model_says(fake_llm)
    for _ in range(2):
        for thread_id in sequence.follow_up_candidates(now=timezone.now()):
            sequence.follow_up_step_run(thread_id=thread_id)
    assert FollowUpStepRun.objects.filter(thread=scene.thread).count() == 1
    scene.inbound("Saturday works!")  # the contact wrote last: not a candidate
    assert sequence.follow_up_candidates(now=timezone.now()) == []


def test_a_finished_sequence_is_not_swept_again_until_the_business_writes(scene, fake_llm):
    """The default sequence's enabled steps are 4 h and 20 h. Once the last one has run for the
    business's message (here sent, so the nudge is the thread's last outbound), the thread produces
    no task; a new message of the business makes it a candidate again."""
    fake_llm.provider(scene.workspace)
    quiet(scene, inbound_ago=timedelta(hours=21), outbound_ago=timedelta(hours=20, minutes=1))
    model_says(fake_llm)
    assert run(scene).position == 2 and len(scene.deliver_sends()) == 1
    scene.refresh()
    assert thread_follow_up_plan(thread=scene.thread).status == "finished"
    assert sequence.follow_up_candidates(now=timezone.now()) == []
    assert sequence.follow_ups_sweep() == {"candidates": 0, "enqueued": 0}
    # An admin adds a later step: the sequence is no longer finished, so the thread is listed again.
    FollowUpStep.objects.filter(workspace=scene.workspace, position=3).update(enabled=True, use_human_agent_tag=False)
    assert sequence.follow_up_candidates(now=timezone.now()) == [scene.thread.pk]
    FollowUpStep.objects.filter(workspace=scene.workspace, position=3).update(enabled=False)
    # The business writes again: a new sequence, step 1 due 4 h later.
    scene.outbound("Also: we open early on Saturdays now.")
    assert sequence.follow_up_candidates(now=timezone.now() + timedelta(hours=4, minutes=1)) == [scene.thread.pk]


def test_a_sequence_finished_without_a_send_is_not_swept_again(scene):
    """Both steps came due after the 24-hour window closed: recorded as skipped, nothing sent (the
    business's message stays the thread's last outbound)."""
    quiet(scene, inbound_ago=timedelta(hours=30), outbound_ago=timedelta(hours=29))
    run(scene)
    assert list(FollowUpStepRun.objects.filter(thread=scene.thread).order_by("position").values_list(
        "position", "outcome")) == [(1, FollowUpOutcome.SKIPPED), (2, FollowUpOutcome.SKIPPED)]
    assert sequence.follow_up_candidates(now=timezone.now()) == []


# --- stopping ------------------------------------------------------------------------------------------

def _booked(scene):
    Contact.objects.filter(pk=scene.contact.pk).update(booked_at=timezone.now())


@pytest.mark.parametrize(("stop", "reason"), [
    (lambda s: Contact.objects.filter(pk=s.contact.pk).update(opted_out=True), "opted_out"),
    (_booked, "booked"),
    (lambda s: services.thread_takeover(thread=s.thread, actor=s.setter), "taken_over"),
    (lambda s: SidekickSettings.objects.filter(workspace=s.workspace).update(blacklist=["think about it"]), "blacklist"),
])
def test_each_stop_ends_the_sequence_for_that_message(scene, fake_llm, stop, reason):
    fake_llm.provider(scene.workspace)
    quiet(scene, inbound_ago=timedelta(hours=5), outbound_ago=timedelta(hours=4, minutes=1))
    stop(scene)
    scene.refresh()
    step_run = run(scene)
    assert (step_run.outcome, step_run.reason_code) == (FollowUpOutcome.STOPPED, reason)
    assert fake_llm.requests == [] and scene.deliver_sends() == []
    # Undoing the cause does not revive it: the stop is recorded for this message of the business.
    Contact.objects.filter(pk=scene.contact.pk).update(opted_out=False, booked_at=None)
    Thread.objects.filter(pk=scene.thread.pk).update(ai_paused=False)
    SidekickSettings.objects.filter(workspace=scene.workspace).update(blacklist=[])
    scene.refresh()
    assert thread_follow_up_plan(thread=scene.thread).status == "stopped"
    assert run(scene) is None


def test_a_reply_stops_it_and_the_next_business_message_restarts_from_step_1(scene, fake_llm):
    fake_llm.provider(scene.workspace)
    quiet(scene, inbound_ago=timedelta(hours=30), outbound_ago=timedelta(hours=19))
    model_says(fake_llm)
    # Step 1 (due 15 h ago, not run then) is outside the window now: skipped, no model call.
    step_run = run(scene)
    assert (step_run.position, step_run.outcome, step_run.reason_code) == (1, FollowUpOutcome.SKIPPED, "window_closed")
    scene.inbound("sorry, busy week", ago=timedelta(hours=10))
    plan = thread_follow_up_plan(thread=scene.thread)
    assert (plan.status, plan.reason) == ("stopped", "replied")
    assert run(scene) is None
    new_anchor = scene.outbound("No problem! Shall I hold Saturday 10am?", ago=timedelta(hours=9))
    plan = thread_follow_up_plan(thread=scene.thread)
    assert (plan.status, plan.step.position, plan.anchor.pk) == ("due", 1, new_anchor.pk)
    assert run(scene).outcome == FollowUpOutcome.SENT


# --- Meta's window and the Human Agent tag -----------------------------------------------------------

def _messenger(scene, *, permission=True):
    scene.channel.platform, scene.channel.human_agent_enabled = "messenger", permission
    scene.channel.save()


def _human_agent_sequence(scene):
    FollowUpStep.objects.filter(workspace=scene.workspace, position=3).update(enabled=True)


def test_a_human_agent_step_is_drafted_for_a_setter_only_on_messenger_with_the_setting(scene, fake_llm):
    fake_llm.provider(scene.workspace)
    _messenger(scene)
    quiet(scene, inbound_ago=timedelta(hours=73), outbound_ago=timedelta(hours=72, minutes=1), use_human_agent_tag=True)
    _human_agent_sequence(scene)
    model_says(fake_llm, confidence=1.0)
    step_run = run(scene)
    assert (step_run.position, step_run.human_agent, step_run.outcome) == (3, True, FollowUpOutcome.REVIEW)
    assert step_run.reason_code == "human_agent_step" and scene.deliver_sends() == []
    # Steps 1 and 2 were due too: overtaken, never sent in a burst.
    assert list(FollowUpStepRun.objects.filter(thread=scene.thread, outcome=FollowUpOutcome.SKIPPED)
                .values_list("position", "reason_code").order_by("position")) == [(1, "overtaken"), (2, "overtaken")]
    # A setter sends it in their own words, with the tag.
    services.draft_edit_and_send(draft=step_run.draft, text="Hi Dana, Maria here: shall I keep Saturday for you?",
                                 actor=scene.setter)
    (sent,) = scene.deliver_sends()
    assert sent["tag"] == "HUMAN_AGENT"


def test_approving_a_human_agent_draft_unchanged_is_refused_up_front_not_at_send_time(scene, fake_llm, client):
    """Automated content may never carry the Human Agent tag, and the AI's text sent as is stays the AI's
    text: the setter is told before anything is claimed or queued, and sends it in their own words."""
    fake_llm.provider(scene.workspace)
    _messenger(scene)
    quiet(scene, inbound_ago=timedelta(hours=73), outbound_ago=timedelta(hours=72, minutes=1), use_human_agent_tag=True)
    _human_agent_sequence(scene)
    model_says(fake_llm, confidence=1.0)
    draft = run(scene).draft
    outbound_before = Message.objects.filter(thread=scene.thread, direction="out").count()
    # The panel offers no "Approve and send"; it says why and points to the edit.
    client.force_login(scene.setter)
    page = client.get(reverse("conversations:thread", args=[scene.workspace.slug, scene.thread.pk])).content.decode()
    assert "Approve and send" not in page and "in your own words" in page
    # The service (and a stale page's form) refuse before claiming: nothing queued, no late failure.
    with pytest.raises(SendRefused, match="in your own words"):
        services.draft_approve(draft=draft, actor=scene.setter)
    response = client.post(reverse("conversations:draft_approve", args=[scene.workspace.slug, draft.pk]),
                           headers={"HX-Request": "true"})
    assert "in your own words" in response.content.decode()
    # "Edit and send" with the AI's text untouched is the same approval.
    with pytest.raises(SendRefused, match="in your own words"):
        services.draft_edit_and_send(draft=draft, text=f"  {draft.final_text} ", actor=scene.setter)
    draft.refresh_from_db()
    assert (draft.disposition, draft.outbound_message_id) == ("", None)
    assert Message.objects.filter(thread=scene.thread, direction="out").count() == outbound_before
    assert scene.deliver_sends() == []
    scene.refresh()
    assert not scene.thread.needs_human  # no "window closed" escalation from a failed send
    # Inside the 24-hour window the same draft may be approved as is (no tag needed).
    scene.inbound("still there?", ago=timedelta(hours=1))
    services.draft_approve(draft=draft, actor=scene.setter)
    (sent,) = scene.deliver_sends()
    assert sent["messaging_type"] == "RESPONSE" and "tag" not in sent


@pytest.mark.parametrize(("platform", "permission", "setting", "inbound_ago", "reason"), [
    ("instagram", False, True, timedelta(hours=73), "window_closed"),
    ("messenger", False, True, timedelta(hours=73), "window_closed"),
    ("messenger", True, False, timedelta(hours=73), "human_agent_off"),
    ("messenger", True, True, timedelta(days=7, hours=1), "window_closed"),
])
def test_a_human_agent_step_is_skipped_where_meta_does_not_allow_it(scene, fake_llm, platform, permission, setting,
                                                                    inbound_ago, reason):
    fake_llm.provider(scene.workspace)
    scene.channel.platform, scene.channel.human_agent_enabled = platform, permission
    scene.channel.save()
    quiet(scene, inbound_ago=inbound_ago, outbound_ago=inbound_ago - timedelta(hours=1), use_human_agent_tag=setting)
    FollowUpStep.objects.filter(workspace=scene.workspace).delete()
    FollowUpStep.objects.create(workspace=scene.workspace, position=1, delay_hours=60, use_human_agent_tag=True)
    step_run = run(scene)
    assert (step_run.outcome, step_run.reason_code) == (FollowUpOutcome.SKIPPED, reason)
    assert fake_llm.requests == [] and scene.deliver_sends() == []


def test_a_plain_step_past_the_24_hour_window_is_skipped_without_a_model_call(scene, fake_llm):
    fake_llm.provider(scene.workspace)
    quiet(scene, inbound_ago=timedelta(hours=24, minutes=30), outbound_ago=timedelta(hours=20, minutes=1))
    step_run = run(scene)
    assert (step_run.position, step_run.outcome, step_run.reason_code) == (2, FollowUpOutcome.SKIPPED, "window_closed")
    assert [r.reason_code for r in FollowUpStepRun.objects.filter(position=1)] == ["overtaken"]
    assert fake_llm.requests == []


# --- the step editor: roles, tenants, validation -----------------------------------------------------

def _post(client, workspace, rows, *, initial_forms=0):
    data = {"steps-TOTAL_FORMS": str(len(rows)), "steps-INITIAL_FORMS": str(initial_forms), "steps-MIN_NUM_FORMS": "0",
            "steps-MAX_NUM_FORMS": "6"}
    for i, row in enumerate(rows):
        for key, value in row.items():
            data[f"steps-{i}-{key}"] = value
    return client.post(reverse("conversations:follow_up_steps", args=[workspace.slug]), data)


def test_admins_edit_reorder_and_remove_steps(scene, client):
    sidekick_settings_ensure(workspace=scene.workspace)
    client.force_login(scene.admin)
    page = client.get(reverse("conversations:follow_up_steps", args=[scene.workspace.slug]))
    assert page.status_code == 200 and b"Follow-up sequence" in page.content
    response = _post(client, scene.workspace, [
        {"delay_hours": "20", "enabled": "on", "ORDER": "2"},
        {"delay_hours": "2", "enabled": "on", "ORDER": "1"},
        {"delay_hours": "8", "enabled": "on", "ORDER": "3", "DELETE": "on"},
    ])
    assert response.status_code == 302
    assert list(FollowUpStep.objects.filter(workspace=scene.workspace).values_list("position", "delay_hours")
                ) == [(1, 2), (2, 20)]
    bad = _post(client, scene.workspace, [{"delay_hours": "20", "ORDER": "1", "enabled": "on"},
                                          {"delay_hours": "4", "ORDER": "2", "enabled": "on"}])
    assert bad.status_code == 200 and b"must come later" in bad.content
    assert FollowUpStep.objects.filter(workspace=scene.workspace).count() == 2


def test_setters_and_other_workspaces_cannot_edit_steps(scene, client):
    sidekick_settings_ensure(workspace=scene.workspace)
    client.force_login(scene.setter)
    assert client.get(reverse("conversations:follow_up_steps", args=[scene.workspace.slug])).status_code == 403
    assert _post(client, scene.workspace, [{"delay_hours": "1", "ORDER": "1"}]).status_code == 403
    with pytest.raises(PermissionDenied):
        services.follow_up_steps_replace(workspace=scene.workspace, actor=scene.setter, steps=[])
    other = WorkspaceFactory()
    stranger = MembershipFactory(workspace=other, role=Role.ADMIN).user
    client.force_login(stranger)
    assert _post(client, scene.workspace, [{"delay_hours": "1", "ORDER": "1"}]).status_code in (403, 404)
    with pytest.raises(PermissionDenied):
        services.follow_up_steps_replace(workspace=scene.workspace, actor=stranger, steps=[])
    assert list(FollowUpStep.objects.filter(workspace=scene.workspace).values_list("delay_hours", flat=True)) == [4, 20, 72]


@pytest.mark.parametrize(("steps", "message"), [
    ([{"delay_hours": 30}], "24-hour window"),
    ([{"delay_hours": 72, "use_human_agent_tag": True}], "HUMAN_AGENT"),
    ([{"delay_hours": 4}, {"delay_hours": 4}], "must come later"),
    ([{"delay_hours": 200, "use_human_agent_tag": True}], "7 days"),
])
def test_the_service_refuses_steps_meta_would_refuse(scene, steps, message):
    with pytest.raises(ValidationError, match=message):
        services.follow_up_steps_replace(workspace=scene.workspace, actor=scene.admin, steps=steps)


def test_the_default_sequence_saves_unchanged_where_the_tag_is_not_allowed(scene, client):
    """Its Human Agent step is off: it may stay in the sequence (switching it on needs the setting)."""
    sidekick_settings_ensure(workspace=scene.workspace)
    client.force_login(scene.admin)
    response = _post(client, scene.workspace, [
        {"delay_hours": "4", "enabled": "on", "ORDER": "1"}, {"delay_hours": "20", "enabled": "on", "ORDER": "2"},
        {"delay_hours": "72", "use_human_agent_tag": "on", "ORDER": "3"}], initial_forms=3)  # as the page posts it
    assert response.status_code == 302, response.content.decode()[:2000]
    assert list(FollowUpStep.objects.filter(workspace=scene.workspace).values_list(
        "delay_hours", "use_human_agent_tag", "enabled")) == [(4, False, True), (20, False, True), (72, True, False)]
    turned_on = _post(client, scene.workspace, [{"delay_hours": "72", "use_human_agent_tag": "on", "enabled": "on",
                                                 "ORDER": "1"}])
    assert turned_on.status_code == 200 and b"HUMAN_AGENT" in turned_on.content


# --- defaults and the data migration -----------------------------------------------------------------

def test_a_new_workspace_gets_the_default_sequence_with_the_human_agent_step_off(db):
    workspace = WorkspaceFactory()
    sidekick_settings_ensure(workspace=workspace)
    assert list(FollowUpStep.objects.filter(workspace=workspace).values_list(
        "position", "delay_hours", "use_human_agent_tag", "enabled")) == [(1, 4, False, True), (2, 20, False, True),
                                                                          (3, 72, True, False)]


def test_the_data_migration_gives_existing_workspaces_todays_behaviour(db):
    migration = importlib.import_module("conversations.migrations.0010_followup_sequences")
    old = WorkspaceFactory()
    SidekickSettings.objects.create(workspace=old, follow_up_after_hours=30, use_human_agent_tag=True)
    untouched = WorkspaceFactory()
    SidekickSettings.objects.create(workspace=untouched)
    FollowUpStep.objects.create(workspace=untouched, position=1, delay_hours=2)
    migration.existing_workspaces_keep_their_behaviour(django_apps, None)
    # One step at the old delay, switched off: nothing is sent by itself until an admin turns it on.
    assert list(FollowUpStep.objects.filter(workspace=old).values_list(
        "position", "delay_hours", "use_human_agent_tag", "enabled")) == [(1, 30, True, False)]
    assert list(FollowUpStep.objects.filter(workspace=untouched).values_list("delay_hours", flat=True)) == [2]


# --- the thread page -----------------------------------------------------------------------------------

def test_the_thread_page_shows_the_next_step_or_why_it_stopped(scene, client):
    quiet(scene, inbound_ago=timedelta(hours=2), outbound_ago=timedelta(hours=1))
    client.force_login(scene.setter)
    url = reverse("conversations:thread", args=[scene.workspace.slug, scene.thread.pk])
    page = client.get(url).content.decode()
    assert 'id="follow-up-state"' in page and "Step 1 at" in page
    Contact.objects.filter(pk=scene.contact.pk).update(opted_out=True)
    assert "Stopped: The contact opted out of messages." in client.get(url).content.decode()


# --- demo data -----------------------------------------------------------------------------------------

def test_the_demo_has_conversations_due_for_a_follow_up(db, sandbox, settings, tmp_path):
    from io import StringIO

    from django.core.management import call_command

    settings.VAR_DIR = tmp_path
    call_command("seed_demo", stdout=StringIO())
    call_command("seed_demo", stdout=StringIO())  # idempotent
    threads = Thread.objects.filter(workspace__slug="demo")
    assert threads.count() == 3
    due = {t.contact.display_name: thread_follow_up_plan(thread=t) for t in threads}
    assert {name: (p.status, p.step.position) for name, p in due.items()} == {
        "Maya (demo)": ("due", 1), "Tom (demo)": ("due", 2), "Priya (demo)": ("waiting", 1)}
    assert sorted(sequence.follow_up_candidates(now=timezone.now())) == sorted(
        t.pk for t in threads if t.contact.display_name != "Priya (demo)")
