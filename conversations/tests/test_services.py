"""Dashboard services and selectors: takeover, drafts, escalations, prompt, settings, follow-ups."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.models import AuditEvent
from accounts.tests.factories import WorkspaceFactory
from contacts.models import Contact
from conversations import action_log, escalations, services
from conversations.models import (
    ActionKind,
    Decision,
    Disposition,
    DraftDisposition,
    Escalation,
    EscalationStatus,
    Message,
    ReplyDraft,
    SenderKind,
    SendStatus,
    SidekickActionLog,
    Thread,
)
from conversations.pipeline.engine import reply_pipeline_run
from conversations.selectors import (
    contacts_needing_follow_up,
    open_escalations,
    prompt_text_current,
    sidekick_settings_for,
    thread_drafts,
    workspace_recent_actions,
)
from conversations.tests.pipeline_fixtures import draft_reply, review, screen
from testing.fake_llm import Reply

pytestmark = pytest.mark.django_db


def saved_draft(scene, fake_llm, text="We might manage a group booking, let me check.", confidence=0.4):
    fake_llm.provider(scene.workspace)
    message = scene.inbound("can you fit 8 of us on saturday?")
    fake_llm.queue(Reply.structured(draft_reply(text, confidence=confidence)), Reply.structured(review()))
    draft = reply_pipeline_run(message_id=message.pk)
    assert draft.decision == Decision.DRAFT_SAVED
    return draft


# --- takeover and resume ---------------------------------------------------------------------------

def test_takeover_pauses_and_resume_hands_back(scene, fake_llm):
    services.thread_takeover(thread=scene.thread, actor=scene.setter)
    message = scene.inbound("hello")
    assert reply_pipeline_run(message_id=message.pk) is None
    services.thread_resume_ai(thread=scene.thread, actor=scene.setter)
    scene.refresh()
    assert not scene.thread.ai_paused and not scene.thread.needs_human
    fake_llm.provider(scene.workspace)
    fake_llm.queue(Reply.structured(draft_reply("Hi!", intent="small_talk")), Reply.structured(review()),
                   Reply.structured(screen()))
    later = scene.inbound("hello again")
    assert reply_pipeline_run(message_id=later.pk).decision == Decision.SENT
    assert list(AuditEvent.objects.values_list("verb", flat=True).order_by("pk")) == [
        "thread.takeover", "thread.ai_resumed"]


def test_resume_resolves_open_escalations(scene, fake_llm):
    draft = saved_draft(scene, fake_llm)
    escalation = Escalation.objects.get(draft=draft)
    services.thread_resume_ai(thread=scene.thread, actor=scene.admin)
    escalation.refresh_from_db()
    assert escalation.status == EscalationStatus.RESOLVED and escalation.resolved_by == scene.admin


def test_setter_reply_pauses_the_ai(scene):
    scene.inbound("hi")
    message = services.setter_reply_send(thread=scene.thread, text="Hi, Maria here!", actor=scene.setter)
    assert (message.sender_kind, message.sent_by, message.disposition) == (SenderKind.SETTER, scene.setter, None)
    scene.refresh()
    assert scene.thread.ai_paused
    with pytest.raises(ValidationError):
        services.setter_reply_send(thread=scene.thread, text="  ", actor=scene.setter)


def test_meta_inbox_echo_pauses_the_ai_but_our_own_app_does_not(scene, settings):
    from conversations.ingest import _apply_echo
    from integrations.meta.parser import Item

    scene.inbound("hi")
    base = dict(kind="echo", contact_id=scene.contact.external_id, text="answered from the Page inbox")
    _apply_echo(scene.channel, Item(mid="m_echo_ours", app_id=settings.INSTAGRAM_APP_ID, **base), timezone.now())
    scene.refresh()
    assert not scene.thread.ai_paused
    _apply_echo(scene.channel, Item(mid="m_echo_inbox", app_id="", **base), timezone.now())
    scene.refresh()
    assert scene.thread.ai_paused and "outside Sidekick" in scene.thread.ai_paused_reason


# --- drafts --------------------------------------------------------------------------------------

def test_draft_approve_sends_as_setter_with_approved_disposition(scene, fake_llm):
    draft = saved_draft(scene, fake_llm)
    message = services.draft_approve(draft=draft, actor=scene.setter)
    assert (message.sender_kind, message.disposition, message.sent_by) == (
        SenderKind.SETTER, Disposition.APPROVED, scene.setter)
    assert message.text == draft.final_text
    draft.refresh_from_db()
    assert (draft.disposition, draft.disposition_by, draft.outbound_message) == (
        DraftDisposition.APPROVED, scene.setter, message)
    sent = scene.deliver_sends()
    assert [s["message"]["text"] for s in sent] == [draft.final_text]
    with pytest.raises(services.DraftNotActionable):
        services.draft_approve(draft=draft, actor=scene.setter)  # never sent twice
    log = SidekickActionLog.objects.get(message=message)
    assert log.actor == scene.setter and log.result == "sent"


@pytest.mark.parametrize("handle", [
    lambda draft, actor: services.draft_approve(draft=draft, actor=actor),
    lambda draft, actor: services.draft_edit_and_send(draft=draft, text="Yes, 8 of you fit on Saturday.", actor=actor),
    lambda draft, actor: services.draft_discard(draft=draft, actor=actor),
], ids=["approve", "edit_and_send", "discard"])
def test_handling_the_draft_closes_its_escalation_and_the_needs_human_flag(scene, fake_llm, handle):
    draft = saved_draft(scene, fake_llm)
    escalation = Escalation.objects.get(draft=draft)
    scene.refresh()
    assert escalation.status == EscalationStatus.OPEN and scene.thread.needs_human
    handle(draft, scene.setter)
    escalation.refresh_from_db()
    assert (escalation.status, escalation.resolved_by) == (EscalationStatus.RESOLVED, scene.setter)
    assert escalation not in open_escalations(workspace=scene.workspace)
    scene.refresh()
    assert not scene.thread.needs_human and scene.thread.needs_human_reason == ""


def test_handling_an_older_draft_leaves_an_escalation_about_something_else_open(scene, fake_llm):
    draft = saved_draft(scene, fake_llm)
    Escalation.objects.filter(draft=draft).update(draft=None, reason_code="crisis")  # a newer, other reason
    services.draft_discard(draft=draft, actor=scene.setter)
    assert Escalation.objects.get(thread=scene.thread).status == EscalationStatus.OPEN
    scene.refresh()
    assert scene.thread.needs_human


def test_a_refused_send_leaves_the_escalation_open(scene, fake_llm):
    from conversations.sending import SendRefused

    draft = saved_draft(scene, fake_llm)
    Contact.objects.filter(pk=scene.thread.contact_id).update(opted_out=True, opted_out_at=timezone.now())
    with pytest.raises(SendRefused):
        services.draft_approve(draft=draft, actor=scene.setter)
    assert Escalation.objects.get(draft=draft).status == EscalationStatus.OPEN


def test_draft_edit_and_send_records_edited_and_pauses(scene, fake_llm):
    draft = saved_draft(scene, fake_llm)
    message = services.draft_edit_and_send(draft=draft, text="Yes! 8 people on Saturday at 2pm works.",
                                           actor=scene.setter)
    assert message.disposition == Disposition.EDITED and message.text.startswith("Yes! 8 people")
    draft.refresh_from_db()
    assert draft.disposition == DraftDisposition.EDITED and draft.text != message.text  # the AI's text is kept
    scene.refresh()
    assert scene.thread.ai_paused


def test_a_pending_draft_cannot_reach_a_contact_who_opted_out_since(scene, fake_llm):
    """Approve and edit-and-send refuse as the composer does; the draft stays pending, nothing is written."""
    from conversations.sending import SendRefused

    draft = saved_draft(scene, fake_llm)
    Contact.objects.filter(pk=scene.thread.contact_id).update(opted_out=True, opted_out_at=timezone.now())
    scene.refresh()
    draft.thread.contact.refresh_from_db()
    with pytest.raises(SendRefused, match="opted out"):
        services.draft_approve(draft=draft, actor=scene.setter)
    with pytest.raises(SendRefused, match="opted out"):
        services.draft_edit_and_send(draft=draft, text="Still there?", actor=scene.setter)
    draft.refresh_from_db()
    assert draft.disposition == "" and draft.outbound_message is None
    assert not Message.objects.filter(thread=scene.thread, direction="out").exists()
    assert scene.deliver_sends() == []


def test_no_send_reaches_a_contact_who_opted_out_after_it_was_written(scene):
    """At send time too, whoever wrote the message (here a setter's, written before the STOP arrived)."""
    scene.inbound("what time on friday?")
    message = services.setter_reply_send(thread=scene.thread, text="Here is the schedule.", actor=scene.setter)
    Contact.objects.filter(pk=scene.thread.contact_id).update(opted_out=True, opted_out_at=timezone.now())
    assert scene.deliver_sends() == []
    message.refresh_from_db()
    assert (message.send_status, message.error_code) == ("failed", "opted_out")


def test_draft_discard_and_superseded_drafts_are_not_actionable(scene, fake_llm):
    draft = saved_draft(scene, fake_llm)
    services.draft_discard(draft=draft, actor=scene.setter)
    draft.refresh_from_db()
    assert draft.disposition == DraftDisposition.DISCARDED
    with pytest.raises(services.DraftNotActionable):
        services.draft_edit_and_send(draft=draft, text="late", actor=scene.setter)
    superseded = ReplyDraft.objects.create(workspace=scene.workspace, thread=scene.thread,
                                           decision=Decision.SUPERSEDED, text="old")
    with pytest.raises(services.DraftNotActionable):
        services.draft_approve(draft=superseded, actor=scene.setter)
    assert Message.objects.filter(direction="out").count() == 0


# --- escalations ---------------------------------------------------------------------------------

def test_escalation_lifecycle(scene, fake_llm):
    draft = saved_draft(scene, fake_llm)
    escalation = open_escalations(workspace=scene.workspace).get()
    assert escalation.draft == draft and escalation.reason_code == "low_confidence"
    assert not open_escalations(workspace=WorkspaceFactory()).exists()
    services.escalation_claim(escalation=escalation, actor=scene.setter)
    assert escalation.status == EscalationStatus.CLAIMED and escalation.claimed_by == scene.setter
    with pytest.raises(services.EscalationStateError):
        services.escalation_claim(escalation=escalation, actor=scene.admin)
    services.escalation_resolve(escalation=escalation, actor=scene.setter)
    assert escalation.status == EscalationStatus.RESOLVED
    scene.refresh()
    assert not scene.thread.needs_human and scene.thread.ai_paused  # resolving alone keeps the human in charge
    with pytest.raises(services.EscalationStateError):
        services.escalation_resolve(escalation=escalation, actor=scene.setter)
    # A new problem opens a new escalation.
    escalations.escalation_open(thread=scene.thread, reason_code="send_failed")
    assert open_escalations(workspace=scene.workspace).get().reason_code == "send_failed"


def test_permanent_send_error_opens_escalation_and_pauses(scene, fake_llm, django_capture_on_commit_callbacks):
    fake_llm.provider(scene.workspace)
    message = scene.inbound("thanks!")
    fake_llm.queue(Reply.structured(draft_reply("Anytime! [sandbox:error=10/2018278]", intent="small_talk")),
                   Reply.structured(review()), Reply.structured(screen()))
    draft = reply_pipeline_run(message_id=message.pk)
    assert draft.decision == Decision.SENT
    with django_capture_on_commit_callbacks(execute=True):
        scene.deliver_sends()
    draft.outbound_message.refresh_from_db()
    assert draft.outbound_message.send_status == SendStatus.FAILED
    escalation = Escalation.objects.get(thread=scene.thread)
    assert escalation.reason_code == "window_closed" and escalation.draft == draft
    scene.refresh()
    assert scene.thread.ai_paused
    assert SidekickActionLog.objects.get(action=ActionKind.SENT_REPLY).result.startswith("failed")


# --- prompt and settings -------------------------------------------------------------------------

def test_prompt_revisions_are_versioned_and_admin_only(scene, fake_llm):
    text, revision = prompt_text_current(workspace=scene.workspace)
    assert revision is None and "friendly" in text
    with pytest.raises(PermissionDenied):
        services.prompt_revision_create(workspace=scene.workspace, text="Be curt.", actor=scene.setter)
    first = services.prompt_revision_create(workspace=scene.workspace, text="You are Sofia from Glow.", note="v1",
                                            actor=scene.admin)
    second = services.prompt_revision_create(workspace=scene.workspace, text="You are Max from Glow.", actor=scene.admin)
    restored = services.prompt_revision_restore(revision=first, actor=scene.admin)
    assert (first.number, second.number, restored.number) == (1, 2, 3) and restored.restored_from == first
    assert prompt_text_current(workspace=scene.workspace) == ("You are Sofia from Glow.", restored)
    fake_llm.provider(scene.workspace)
    fake_llm.queue(Reply.structured(draft_reply("Hi!", intent="small_talk")), Reply.structured(review()))
    draft = reply_pipeline_run(message_id=scene.inbound("hi").pk)
    assert draft.prompt_revision == restored and "Sofia" in fake_llm.requests[0].system
    assert AuditEvent.objects.filter(verb="sidekick.prompt_revised").count() == 3


def test_settings_update_validates_and_audits(scene):
    cfg = services.sidekick_settings_update(workspace=scene.workspace, actor=scene.admin, threshold=0.9,
                                            blacklist=[" refunds ", ""], auto_send=False)
    assert (cfg.threshold, cfg.blacklist, cfg.auto_send) == (0.9, ["refunds"], False)
    assert AuditEvent.objects.get(verb="sidekick.settings_updated").data["threshold"] == {"from": "0.8", "to": "0.9"}
    for bad in ({"threshold": 1.5}, {"business_days": [9]}, {"nonsense": 1}, {"business_hours_policy": "never"}):
        with pytest.raises(ValidationError):
            services.sidekick_settings_update(workspace=scene.workspace, actor=scene.admin, **bad)
    with pytest.raises(PermissionDenied):
        services.sidekick_settings_update(workspace=scene.workspace, actor=scene.setter, threshold=0.1)
    assert sidekick_settings_for(workspace=scene.workspace).threshold == 0.9


# --- selectors -----------------------------------------------------------------------------------

def test_recent_actions_and_drafts_are_scoped_to_the_workspace(scene, fake_llm):
    saved_draft(scene, fake_llm)
    other = WorkspaceFactory()
    assert [a.action for a in workspace_recent_actions(workspace=scene.workspace)] == [ActionKind.DRAFT_SAVED]
    assert workspace_recent_actions(workspace=other) == []
    assert thread_drafts(workspace=scene.workspace, thread=scene.thread).count() == 1
    assert not thread_drafts(workspace=other).exists()
    for n in range(12):
        action_log.action_log_add(thread=scene.thread, action=ActionKind.ESCALATED, result=str(n))
    recent = workspace_recent_actions(workspace=scene.workspace)
    assert len(recent) == 10 and recent[0].result == "11"


# --- follow-ups ----------------------------------------------------------------------------------

@pytest.fixture
def quiet(scene):
    """A Messenger thread with the Human Agent permission, quiet since `set_quiet(hours)`."""
    scene.channel.platform = "messenger"
    scene.channel.human_agent_enabled = True
    scene.channel.save()
    cfg = sidekick_settings_for(workspace=scene.workspace)
    cfg.use_human_agent_tag = True
    cfg.save()
    now = timezone.now().replace(microsecond=0)

    def set_quiet(delta, *, inbound_delta=None):
        at = now - delta
        Thread.objects.filter(pk=scene.thread.pk).update(last_message_at=at, last_inbound_at=now - (inbound_delta or delta))
        return now

    return set_quiet


def ids(workspace, now):
    return [(c.thread.pk, c.why) for c in contacts_needing_follow_up(workspace=workspace, now=now)]


def test_follow_up_boundary_exactly_24_hours(scene, quiet):
    now = quiet(timedelta(hours=24))
    assert ids(scene.workspace, now) == []  # exactly 24 h: not yet
    now = quiet(timedelta(hours=24, seconds=1))
    assert ids(scene.workspace, now) == [(scene.thread.pk, "human_agent_tag")]


def test_follow_up_recent_action_boundary(scene, quiet):
    now = quiet(timedelta(hours=30))
    action = action_log.action_log_add(thread=scene.thread, action=ActionKind.SENT_REPLY)
    SidekickActionLog.objects.filter(pk=action.pk).update(created_at=now - timedelta(hours=24) + timedelta(seconds=1))
    assert ids(scene.workspace, now) == []  # acted within the last 24 h
    SidekickActionLog.objects.filter(pk=action.pk).update(created_at=now - timedelta(hours=24))
    assert ids(scene.workspace, now) == [(scene.thread.pk, "human_agent_tag")]


def test_follow_up_ignores_a_members_triage_of_the_thread(scene, quiet):
    now = quiet(timedelta(hours=30))
    services.thread_assign(thread=scene.thread, assignee=scene.setter, actor=scene.setter)
    assert ids(scene.workspace, now) == [(scene.thread.pk, "human_agent_tag")]


def test_follow_up_excludes_closed_opted_out_paused_and_unreachable(scene, quiet):
    from contacts.models import Contact

    now = quiet(timedelta(hours=30))
    for stage in ("lost", "ghosted", "customer"):
        Contact.objects.filter(pk=scene.contact.pk).update(stage=stage)
        assert ids(scene.workspace, now) == []
    Contact.objects.filter(pk=scene.contact.pk).update(stage="booked", opted_out=True)
    assert ids(scene.workspace, now) == []
    Contact.objects.filter(pk=scene.contact.pk).update(opted_out=False)
    assert ids(scene.workspace, now) != []
    Thread.objects.filter(pk=scene.thread.pk).update(ai_paused=True)
    assert ids(scene.workspace, now) == []
    Thread.objects.filter(pk=scene.thread.pk).update(ai_paused=False)
    now = quiet(timedelta(days=7, seconds=1))  # beyond the Human Agent tag's 7 days
    assert ids(scene.workspace, now) == []
    assert ids(WorkspaceFactory(), now) == []


def test_follow_up_inside_window_when_threshold_is_shorter(scene, quiet):
    cfg = sidekick_settings_for(workspace=scene.workspace)
    cfg.follow_up_after_hours, cfg.use_human_agent_tag = 12, False
    cfg.save()
    now = quiet(timedelta(hours=13))
    assert ids(scene.workspace, now) == [(scene.thread.pk, "inside_window")]
    now = quiet(timedelta(hours=25))
    assert ids(scene.workspace, now) == []  # window closed and no tag


def test_follow_up_send_inside_window_is_sent_and_logged(scene, fake_llm):
    fake_llm.provider(scene.workspace, kind="openai")
    scene.inbound("let me think about it", ago=timedelta(hours=13))
    scene.outbound("Sure, take your time!", ago=timedelta(hours=13))
    fake_llm.queue(Reply.structured(draft_reply("Hi Dana! Just checking in: still keen on a Friday slot?",
                                                intent="small_talk", confidence=0.97)),
                   Reply.structured(review()))
    draft = services.follow_up_send(thread=scene.thread, actor=scene.setter)
    assert draft.decision == Decision.SENT, draft.reasons
    assert fake_llm.requests[0].last_user_text.endswith("Write the follow-up message now.)")
    assert [s["message"]["text"] for s in scene.deliver_sends()] == [draft.final_text]
    log = SidekickActionLog.objects.get(action=ActionKind.FOLLOW_UP_SENT)
    assert log.actor == scene.setter and log.result == "sent"


def test_follow_up_outside_window_goes_to_the_setter(scene, fake_llm):
    fake_llm.provider(scene.workspace)
    scene.inbound("let me think about it", ago=timedelta(hours=30))
    fake_llm.queue(Reply.structured(draft_reply("Hi Dana! Still thinking about Friday?", intent="small_talk")),
                   Reply.structured(review()))
    draft = services.follow_up_send(thread=scene.thread, actor=scene.setter)
    assert (draft.decision, draft.reason_code) == (Decision.DRAFT_SAVED, "window")
    assert scene.deliver_sends() == []
    # A setter may send it with the HUMAN_AGENT tag on Messenger once they edit it (their own words).
    scene.channel.platform, scene.channel.human_agent_enabled = "messenger", True
    scene.channel.save()
    services.draft_edit_and_send(draft=draft, text="Hi Dana, Maria here: still thinking about Friday?",
                                 actor=scene.setter)
    (sent,) = scene.deliver_sends()
    assert sent["tag"] == "HUMAN_AGENT" and sent["messaging_type"] == "MESSAGE_TAG"


def test_follow_up_review_requested_is_saved(scene, fake_llm):
    fake_llm.provider(scene.workspace)
    scene.inbound("let me think about it", ago=timedelta(hours=13))
    fake_llm.queue(Reply.structured(draft_reply("Still keen?", intent="small_talk")), Reply.structured(review()))
    draft = services.follow_up_send(thread=scene.thread, actor=scene.setter, review=True)
    assert (draft.decision, draft.reason_code) == (Decision.DRAFT_SAVED, "review_requested")
    assert scene.deliver_sends() == []


def test_a_thread_gets_one_follow_up_however_often_it_is_asked_for(scene, fake_llm):
    """A double click, or a second setter on a stale list: refused with a reason, nothing drafted or sent.
    A discarded or failed follow-up does not count; a paused thread takes none."""
    fake_llm.provider(scene.workspace, kind="openai")
    scene.inbound("let me think about it", ago=timedelta(hours=13))

    def ask(text="Still keen on Friday?"):
        fake_llm.queue(Reply.structured(draft_reply(text, intent="small_talk", confidence=0.97)),
                       Reply.structured(review()))
        return services.follow_up_send(thread=scene.thread, actor=scene.setter)

    assert ask().decision == Decision.SENT
    calls = len(fake_llm.requests)
    with pytest.raises(ValueError, match="already made"):
        ask()
    assert len(fake_llm.requests) == calls  # refused before any model call
    assert len(scene.deliver_sends()) == 1
    assert ReplyDraft.objects.filter(thread=scene.thread, kind="follow_up").count() == 1

    ReplyDraft.objects.filter(thread=scene.thread, kind="follow_up").update(decision=Decision.DRAFT_SAVED)
    services.draft_discard(draft=ReplyDraft.objects.get(thread=scene.thread, kind="follow_up"), actor=scene.setter)
    failed = ask()  # allowed again after the discard; then say this one failed (escalated)
    ReplyDraft.objects.filter(pk=failed.pk).update(decision=Decision.ESCALATED)
    assert ask("Hi again!").decision == Decision.SENT

    Thread.objects.filter(pk=scene.thread.pk).update(ai_paused=True)
    ReplyDraft.objects.filter(thread=scene.thread, kind="follow_up").update(disposition="discarded")
    with pytest.raises(ValueError, match="paused"):
        ask()
