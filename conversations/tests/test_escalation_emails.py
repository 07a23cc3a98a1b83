import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from accounts.tests.factories import MembershipFactory
from conftest import queued_tasks
from conversations import escalations, services
from conversations.notifications import escalation_notify
from conversations.selectors import sidekick_settings_for

pytestmark = pytest.mark.django_db


def test_chosen_members_are_emailed_when_an_escalation_opens(scene, django_capture_on_commit_callbacks):
    services.sidekick_settings_update(workspace=scene.workspace, actor=scene.admin,
                                      escalation_emails=[scene.setter.email.upper()])
    assert sidekick_settings_for(workspace=scene.workspace).escalation_emails == [scene.setter.email]

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        escalation = escalations.escalation_open(thread=scene.thread, reason_code="human_requested")
    job = ("conversations.tasks.notify_escalation", f"({escalation.pk},)")
    before = queued_tasks("default").count(job)
    for callback in callbacks:
        callback()
    assert queued_tasks("default").count(job) == before + 1  # the notification job reached the broker

    assert escalation_notify(escalation_id=escalation.pk) == 1
    assert mail.outbox[-1].to == [scene.setter.email]
    assert "The contact asked for a human." in mail.outbox[-1].body
    assert f"/inbox/{scene.thread.pk}/" in mail.outbox[-1].body


def test_a_joined_escalation_does_not_email_again(scene, django_capture_on_commit_callbacks):
    services.sidekick_settings_update(workspace=scene.workspace, actor=scene.admin,
                                      escalation_emails=[scene.admin.email])
    with django_capture_on_commit_callbacks(execute=False) as first:
        escalations.escalation_open(thread=scene.thread, reason_code="low_confidence")
    with django_capture_on_commit_callbacks(execute=False) as second:
        escalations.escalation_open(thread=scene.thread, reason_code="human_requested")
    assert len(first) == 1 and len(second) == 0


def test_admins_are_emailed_by_default(scene):
    """Until an admin chooses, every admin hears about an escalation (issue #18); setters do not."""
    assert sidekick_settings_for(workspace=scene.workspace).escalation_emails is None
    escalation = escalations.escalation_open(thread=scene.thread, reason_code="llm_error")
    assert escalation_notify(escalation_id=escalation.pk) == 1
    assert [m.to for m in mail.outbox] == [[scene.admin.email]]


def test_nobody_is_emailed_when_the_admins_choose_nobody_or_after_leaving_the_workspace(scene):
    escalation = escalations.escalation_open(thread=scene.thread, reason_code="llm_error")
    services.sidekick_settings_update(workspace=scene.workspace, actor=scene.admin, escalation_emails=[])
    assert escalation_notify(escalation_id=escalation.pk) == 0
    services.sidekick_settings_update(workspace=scene.workspace, actor=scene.admin,
                                      escalation_emails=[scene.setter.email])
    scene.setter.memberships.all().delete()
    assert escalation_notify(escalation_id=escalation.pk) == 0
    assert mail.outbox == []


def test_only_members_can_be_recipients(scene):
    stranger = MembershipFactory().user  # a member of another workspace
    with pytest.raises(ValidationError, match="Not members of this workspace"):
        services.sidekick_settings_update(workspace=scene.workspace, actor=scene.admin,
                                          escalation_emails=[stranger.email])
    assert sidekick_settings_for(workspace=scene.workspace).escalation_emails is None  # unchanged: the default


def test_settings_page_offers_only_this_workspaces_members(client, scene):
    MembershipFactory(user__email="outsider@example.com")
    client.force_login(scene.admin)
    url = f"/w/{scene.workspace.slug}/settings/sidekick/"
    page = client.get(url).content.decode()
    assert scene.setter.email in page and "outsider@example.com" not in page


def test_settings_page_ticks_the_admins_until_someone_chooses(client, scene):
    client.force_login(scene.admin)
    url = f"/w/{scene.workspace.slug}/settings/sidekick/"
    form = client.get(url).context["form"]
    assert form.initial["escalation_emails"] == [scene.admin.email]
    services.sidekick_settings_update(workspace=scene.workspace, actor=scene.admin, escalation_emails=[])
    assert client.get(url).context["form"].initial["escalation_emails"] == []
