"""AutoCRM's operations end to end through the views: each kind previewed, confirmed and undone; roles
(setters update, only admins edit or remove memory and link people); validation with reasons;
atomicity; per-step undo, overwrite and redo; feedback; the rate limit; bulk changes."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from assistant.models import AssistantMessage
from changes.models import ChangeSet
from changes.models import Status as ChangeStatus
from contacts import services as contact_services
from contacts.models import BookingEvent, Contact, FollowUpStrategy, LeadMemory
from contacts.tests.factories import ContactFactory
from conversations.models import Thread
from conversations.tests.factories import InboundMessageFactory, ThreadFactory
from integrations.tests.factories import ChannelFactory

pytestmark = pytest.mark.django_db


def _url(workspace, name, *args):
    return reverse(f"assistant:{name}", args=[workspace.slug, *args])


def _contact(workspace, name, username="", **extra):
    return ContactFactory(channel=ChannelFactory(workspace=workspace), display_name=name,
                          username=username or name.lower().replace(" ", "_"), **extra)


def _send(client, workspace, text, **data):
    return client.post(_url(workspace, "send"), {"text": text, **data}, HTTP_HX_REQUEST="true")


def _answer(user):
    return AssistantMessage.objects.filter(conversation__user=user, role="assistant").order_by("-id").first()


def _plan(client, workspace, user, text, **data):
    _send(client, workspace, text, **data)
    plan = _answer(user)
    assert plan.metadata["state"] == "previewed", plan.metadata
    return plan


def _confirm(client, workspace, plan, **data):
    body = client.post(_url(workspace, "plan_confirm", plan.pk), data, HTTP_HX_REQUEST="true").content.decode()
    plan.refresh_from_db()
    return body


def _undo(client, workspace, plan, **data):
    body = client.post(_url(workspace, "plan_undo", plan.pk), data, HTTP_HX_REQUEST="true").content.decode()
    plan.refresh_from_db()
    return body


def test_the_headline_command_is_one_plan_of_three_steps_confirmed_and_undone_together(client, team):
    sarah = _contact(team, "Sarah Connor", stage="engaged", lead_score=20)
    client.force_login(team.setter_user)
    plan = _plan(client, team, team.setter_user, "Sarah booked for Tuesday 3pm, she prefers mornings, score 80")
    body = _confirm(client, team, plan)
    assert plan.metadata["state"] == "executed" and "data-plan-undo" in body
    sarah.refresh_from_db()
    assert sarah.stage == "booked" and sarah.lead_score == 80
    assert sarah.booked_at.weekday() == 1 and sarah.booked_at.hour == 15 and sarah.booked_at > timezone.now()
    assert LeadMemory.objects.filter(contact=sarah, kind="preference", text="prefers mornings").exists()
    _undo(client, team, plan)
    sarah.refresh_from_db()
    assert (sarah.stage, sarah.lead_score, sarah.booked_at) == ("engaged", 20, None)
    assert not LeadMemory.objects.filter(contact=sarah).exists() and not BookingEvent.objects.filter(contact=sarah)


@pytest.mark.parametrize(("text", "kind"), [("Sarah was a no-show", "no_show"), ("mark Sarah as attended", "attended"),
                                            ("Sarah canceled", "canceled")])
def test_booking_outcomes_are_recorded_as_events_and_undone(client, team, text, kind):
    sarah = _contact(team, "Sarah Connor", stage="booked", booked_at=timezone.now() + timedelta(days=1))
    client.force_login(team.setter_user)
    plan = _plan(client, team, team.setter_user, text)
    _confirm(client, team, plan)
    assert BookingEvent.objects.filter(contact=sarah, kind=kind).count() == 1
    _undo(client, team, plan)
    assert not BookingEvent.objects.filter(contact=sarah).exists()
    sarah.refresh_from_db()
    assert sarah.stage == "booked" and sarah.booking_canceled_at is None


def test_a_booking_in_the_past_or_without_a_time_is_refused_with_the_reason(client, team):
    _contact(team, "Sarah Connor")
    client.force_login(team.setter_user)
    body = _send(client, team, "Sarah booked for 2020-01-01 10:00").content.decode()
    assert "is in the past" in body and _answer(team.setter_user).metadata["state"] == "refused"
    body = _send(client, team, "Sarah booked for someday soon").content.decode()
    assert "not a time I understand" in body
    assert not ChangeSet.objects.exists()


def test_lead_memory_edit_and_remove_are_for_admins_and_undo_brings_the_entry_back(client, team):
    sarah = _contact(team, "Sarah Connor")
    memory = contact_services.lead_memory_add(contact=sarah, kind="fact", text="has two kids", actor=team.admin_user)
    client.force_login(team.setter_user)
    body = _send(client, team, "change Sarah's fact about kids to has three kids").content.decode()
    assert "Only workspace admins can change: Edit lead memory." in body
    client.force_login(team.admin_user)
    plan = _plan(client, team, team.admin_user, "change Sarah's fact about kids to has three kids")
    _confirm(client, team, plan)
    memory.refresh_from_db()
    assert memory.text == "has three kids"
    _undo(client, team, plan)
    memory.refresh_from_db()
    assert memory.text == "has two kids"
    plan = _plan(client, team, team.admin_user, "forget Sarah's fact about kids")
    _confirm(client, team, plan)
    assert not LeadMemory.objects.filter(contact=sarah).exists()
    _undo(client, team, plan)
    assert LeadMemory.objects.get(contact=sarah).text == "has two kids"
    body = _send(client, team, "forget Sarah's fact about dogs").content.decode()
    assert "has no lead memory about “dogs”" in body


def test_a_follow_up_due_date_with_a_note_becomes_the_contacts_strategy(client, team):
    sarah = _contact(team, "Sarah Connor")
    client.force_login(team.setter_user)
    plan = _plan(client, team, team.setter_user, "follow up with Sarah in 3 days about the pricing PDF")
    _confirm(client, team, plan)
    strategy = FollowUpStrategy.objects.get(contact=sarah)
    assert strategy.steps == [{"after_hours": 72, "action": "the pricing PDF"}]
    assert strategy.title.startswith("Follow up by")
    _undo(client, team, plan)
    assert not FollowUpStrategy.objects.filter(contact=sarah).exists()
    body = _send(client, team, "follow up with Sarah in 90 days").content.decode()
    assert "within 60 days" in body


def test_pause_and_resume_automation_on_the_contacts_thread(client, team):
    sarah = _contact(team, "Sarah Connor")
    thread = ThreadFactory(contact=sarah)
    client.force_login(team.setter_user)
    plan = _plan(client, team, team.setter_user, "pause automation for Sarah")
    _confirm(client, team, plan)
    thread.refresh_from_db()
    assert thread.ai_paused and thread.ai_paused_by == team.setter_user
    _undo(client, team, plan)
    thread.refresh_from_db()
    assert not thread.ai_paused
    nobody = _contact(team, "Nora Nothread")
    body = _send(client, team, "pause automation for Nora").content.decode()
    assert f"{nobody} has no conversation yet." in body


def test_assign_to_me_or_to_a_member_by_name_never_to_an_outsider(client, team):
    sarah = _contact(team, "Sarah Connor")
    thread = ThreadFactory(contact=sarah)
    team.other_setter.full_name = "Tom Baker"
    team.other_setter.save()
    client.force_login(team.setter_user)
    plan = _plan(client, team, team.setter_user, "assign Sarah to me")
    _confirm(client, team, plan)
    thread.refresh_from_db()
    assert thread.assigned_to == team.setter_user
    plan = _plan(client, team, team.setter_user, "assign Sarah to Tom")
    _confirm(client, team, plan)
    thread.refresh_from_db()
    assert thread.assigned_to == team.other_setter
    _undo(client, team, plan)
    thread.refresh_from_db()
    assert thread.assigned_to == team.setter_user
    body = _send(client, team, f"assign Sarah to {team.stranger.email}").content.decode()
    assert "No single member of this workspace is" in body


def test_linking_two_contacts_is_for_admins_and_undo_unlinks_them(client, team):
    sarah = _contact(team, "Sarah Connor", "sconnor")
    other = _contact(team, "Sarah Insta", "sarah_ig")
    client.force_login(team.setter_user)
    body = _send(client, team, "link @sconnor with @sarah_ig").content.decode()
    assert "Only workspace admins can change: Link as one person." in body
    client.force_login(team.admin_user)
    plan = _plan(client, team, team.admin_user, "link @sconnor with @sarah_ig")
    _confirm(client, team, plan)
    sarah.refresh_from_db()
    other.refresh_from_db()
    assert sarah.person_id and sarah.person_id == other.person_id
    _undo(client, team, plan)
    sarah.refresh_from_db()
    other.refresh_from_db()
    assert sarah.person_id is None and other.person_id is None
    # Another workspace's contact is never the other one.
    _contact(ChannelFactory().workspace, "Far Away", "faraway")
    body = _send(client, team, "link @sconnor with @faraway").content.decode()
    assert "I found no contacts “@faraway” to link." in body


def test_a_failing_step_leaves_every_record_as_it_was(client, team):
    sarah = _contact(team, "Sarah Connor", lead_score=20)
    thread = ThreadFactory(contact=sarah)
    client.force_login(team.setter_user)
    team.other_setter.full_name = "Tom Baker"
    team.other_setter.save()
    plan = _plan(client, team, team.setter_user, "score 80 for Sarah and assign her to Tom")
    # Tom leaves between the preview and the confirm: the assignment step is refused by its service.
    from accounts.models import Membership
    Membership.objects.filter(workspace=team, user=team.other_setter).delete()
    body = _confirm(client, team, plan)
    assert "Nothing was applied" in body and plan.metadata["state"] == "failed"
    sarah.refresh_from_db()
    thread.refresh_from_db()
    assert sarah.lead_score == 20 and thread.assigned_to is None
    assert ChangeSet.objects.get(pk=plan.metadata["plan"]).status == ChangeStatus.FAILED


def test_one_step_is_undone_alone_and_a_conflict_offers_an_overwrite(client, team):
    sarah = _contact(team, "Sarah Connor", stage="new", lead_score=20)
    client.force_login(team.setter_user)
    plan = _plan(client, team, team.setter_user, "Sarah's score is 80 and note: likes golf")
    _confirm(client, team, plan)
    body = _undo(client, team, plan, step=2)
    assert plan.metadata["state"] == "executed" and 'data-step-state="undone"' in body
    sarah.refresh_from_db()
    assert sarah.lead_score == 80 and not LeadMemory.objects.filter(contact=sarah).exists()
    # A later change to the score: the undo is refused with the reason, then forced.
    contact_services.contact_state_set(contact=sarah, actor=team.admin_user, lead_score=55)
    body = _undo(client, team, plan)
    assert "nothing was undone" in body and "data-plan-undo-overwrite" in body
    sarah.refresh_from_db()
    assert sarah.lead_score == 55
    _undo(client, team, plan, overwrite="1")
    sarah.refresh_from_db()
    assert sarah.lead_score == 20 and plan.metadata["state"] == "undone"
    assert AuditEvent.objects.filter(verb="changes.undone", data__overwrite=True).count() == 1


def test_undo_and_redo_from_the_chat_and_the_redo_is_undoable(client, team):
    sarah = _contact(team, "Sarah Connor", stage="new")
    client.force_login(team.setter_user)
    plan = _plan(client, team, team.setter_user, "move Sarah to qualified")
    _confirm(client, team, plan)
    assert "Undone:" in _send(client, team, "undo").content.decode()
    sarah.refresh_from_db()
    assert sarah.stage == "new"
    body = _send(client, team, "redo").content.decode()
    assert "Redone:" in body
    sarah.refresh_from_db()
    plan.refresh_from_db()
    assert sarah.stage == "qualified" and plan.metadata["state"] == "executed" and len(plan.metadata["history"]) == 2
    _undo(client, team, plan)
    sarah.refresh_from_db()
    assert sarah.stage == "new"
    assert "There is no change of yours to undo." in _send(client, team, "undo").content.decode()


def test_feedback_is_kept_on_executed_plans_only(client, team):
    _contact(team, "Sarah Connor", stage="new")
    client.force_login(team.setter_user)
    plan = _plan(client, team, team.setter_user, "move Sarah to qualified")
    body = client.post(_url(team, "plan_feedback", plan.pk), {"rating": "down"}, HTTP_HX_REQUEST="true")
    assert "Feedback is for a plan that was executed." in body.content.decode()
    _confirm(client, team, plan)
    client.post(_url(team, "plan_feedback", plan.pk), {"rating": "down", "reason": "wrong Sarah"},
                HTTP_HX_REQUEST="true")
    plan.refresh_from_db()
    assert plan.metadata["feedback"]["rating"] == "down" and plan.metadata["feedback"]["reason"] == "wrong Sarah"
    assert plan.metadata["feedback"]["by"] == team.setter_user.pk
    event = AuditEvent.objects.get(verb="autocrm.feedback", workspace=team)
    assert event.data["rating"] == "down" and event.data["reason"] == "wrong Sarah" and event.actor == team.setter_user
    client.force_login(team.other_setter)  # not the plan's owner
    assert client.post(_url(team, "plan_feedback", plan.pk), {"rating": "up"}).status_code == 404


def test_the_rate_limit_answers_without_a_plan(client, team, settings):
    settings.AUTOCRM_RATE_LIMIT = (2, 60)
    cache.delete(f"autocrm:rate:{team.setter_user.pk}")
    _contact(team, "Sarah Connor", stage="new")
    client.force_login(team.setter_user)
    _send(client, team, "move Sarah to qualified")
    _send(client, team, "move Sarah to booked")
    body = _send(client, team, "move Sarah to lost").content.decode()
    assert "wait a minute" in body and _answer(team.setter_user).metadata["state"] == "limited"
    assert ChangeSet.objects.count() == 2


def test_a_bulk_change_shows_the_count_and_list_and_needs_the_count_typed_back(client, team):
    yesterday = timezone.now() - timedelta(days=1)
    asked, other_topic = _contact(team, "Ana Price"), _contact(team, "Bea Other")
    for contact, text in ((asked, "what is the price?"), (other_topic, "hello there")):
        contact.last_inbound_at = yesterday
        contact.save()
        message = InboundMessageFactory(thread=ThreadFactory(contact=contact), text=text)
        type(message).objects.filter(pk=message.pk).update(created_at=yesterday)
    far = _contact(ChannelFactory().workspace, "Far Price", last_inbound_at=yesterday)
    InboundMessageFactory(thread=ThreadFactory(contact=far), text="price please")
    client.force_login(team.setter_user)
    body = _send(client, team, "move all leads from yesterday who asked about price to qualified").content.decode()
    plan = _answer(team.setter_user)
    assert plan.metadata["state"] == "previewed" and plan.metadata["bulk_count"] == 1
    assert 'data-plan-count="1"' in body and "Ana Price" in body and "Bea Other" not in body
    body = _confirm(client, team, plan)
    assert "confirm with that number" in body and plan.metadata["state"] == "previewed"
    _confirm(client, team, plan, count=1)
    assert Contact.objects.get(pk=asked.pk).stage == "qualified"
    assert Contact.objects.get(pk=other_topic.pk).stage == "new" and Contact.objects.get(pk=far.pk).stage == "new"


def test_a_misspelt_name_finds_the_close_contact_of_this_workspace_only(client, team):
    sarah = _contact(team, "Sarah Connor")
    _contact(ChannelFactory().workspace, "Sarha Far")
    client.force_login(team.setter_user)
    _send(client, team, "mvoe Sarha to bookd")
    plan = _answer(team.setter_user)
    assert plan.metadata["entities"]["contact_id"] == sarah.pk and plan.metadata["state"] == "previewed"
    assert Thread.objects.count() == 0


def test_the_contact_page_lists_ones_own_plans_and_undoes_and_redoes_them_there(client, team):
    sarah = _contact(team, "Sarah Connor", stage="new")
    client.force_login(team.setter_user)
    plan = _plan(client, team, team.setter_user, "move Sarah to qualified")
    _confirm(client, team, plan)
    page = client.get(reverse("contacts:detail", args=[team.slug, sarah.pk])).content.decode()
    assert reverse("assistant:contact_plans", args=[team.slug, sarah.pk]) in page
    history = client.get(_url(team, "contact_plans", sarah.pk), HTTP_HX_REQUEST="true").content.decode()
    assert f'data-history-undo="{plan.pk}"' in history and "qualified" in history
    response = client.post(_url(team, "plan_undo", plan.pk), {"from": "history"}, HTTP_HX_REQUEST="true")
    assert response["HX-Trigger"] == "assistant-applied" and f'data-history-redo="{plan.pk}"' in response.content.decode()
    sarah.refresh_from_db()
    assert sarah.stage == "new"
    client.post(_url(team, "plan_redo", plan.pk), {"from": "history"}, HTTP_HX_REQUEST="true")
    sarah.refresh_from_db()
    assert sarah.stage == "qualified"
    # Assistant conversations are private: another member sees none of these plans, an outsider no contact.
    client.force_login(team.other_setter)
    assert "No AutoCRM changes of yours" in client.get(_url(team, "contact_plans", sarah.pk)).content.decode()
    elsewhere = _contact(ChannelFactory().workspace, "Far Away")
    assert client.get(_url(team, "contact_plans", elsewhere.pk)).status_code == 404


def test_undo_one_step_and_undo_anyway_typed_in_the_chat(client, team):
    sarah = _contact(team, "Sarah Connor", stage="new", lead_score=20)
    client.force_login(team.setter_user)
    plan = _plan(client, team, team.setter_user, "Sarah's score is 80 and note: likes golf")
    _confirm(client, team, plan)
    assert "Undone step 2 of" in _send(client, team, "undo step 2").content.decode()
    sarah.refresh_from_db()
    assert sarah.lead_score == 80 and not LeadMemory.objects.filter(contact=sarah).exists()
    contact_services.contact_state_set(contact=sarah, actor=team.admin_user, lead_score=55)
    body = _send(client, team, "undo").content.decode()
    assert "I could not undo it" in body and "Undo anyway" in body
    sarah.refresh_from_db()
    assert sarah.lead_score == 55
    _send(client, team, "undo anyway")
    sarah.refresh_from_db()
    plan.refresh_from_db()
    assert sarah.lead_score == 20 and plan.metadata["state"] == "undone"


def test_every_member_sees_every_change_to_the_contact_but_only_their_own_plans(client, team):
    sarah = _contact(team, "Sarah Connor", stage="new")
    _contact(team, "Olga Other", stage="new")
    client.force_login(team.setter_user)
    plan = _plan(client, team, team.setter_user, "move Sarah to qualified")
    _confirm(client, team, plan)
    _confirm(client, team, _plan(client, team, team.setter_user, "move Olga to lost"))
    client.force_login(team.other_setter)
    history = client.get(_url(team, "contact_plans", sarah.pk)).content.decode()
    assert "No AutoCRM changes of yours" in history  # the plan stays in its author's chat
    changes = history.split('id="contact-changes"')[1]
    assert team.setter_user.email in changes and "AutoCRM" in changes
    assert "<del>new</del> → <strong>qualified</strong>" in changes
    assert "lost" not in changes  # another contact's change is not this contact's history
    client.force_login(team.setter_user)
    client.post(_url(team, "plan_undo", plan.pk), {"from": "history"}, HTTP_HX_REQUEST="true")
    client.force_login(team.other_setter)
    changes = client.get(_url(team, "contact_plans", sarah.pk)).content.decode().split('id="contact-changes"')[1]
    assert "undone" in changes
