"""The setup checklist on the overview (#18): ticked from data, linked, for admins, gone when all is done."""

import dataclasses

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Role
from accounts.services import invitation_create
from accounts.tests.factories import AdminMembershipFactory, MembershipFactory
from conversations.services import prompt_revision_create
from insights.onboarding import onboarding_steps
from integrations.tests.factories import ChannelFactory
from knowledge.models import FaqEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def fresh(db):
    """A new workspace with only its admin."""
    return AdminMembershipFactory()


def _done(workspace) -> dict:
    return {step.key: step.done for step in onboarding_steps(workspace=workspace)}


def test_each_step_ticks_from_what_exists(fresh, fake_llm):
    workspace, admin = fresh.workspace, fresh.user
    assert _done(workspace) == dict.fromkeys(["channel", "provider", "knowledge", "prompt", "setter"], False)
    ChannelFactory(workspace=workspace)
    fake_llm.provider(workspace, kind="openai")
    FaqEntry.objects.create(workspace=workspace, question="Mat?", answer="Provided.")
    prompt_revision_create(workspace=workspace, text="You are friendly.", actor=admin)
    invitation_create(workspace=workspace, email="new@example.com", role=Role.SETTER, invited_by=admin)
    assert all(_done(workspace).values())


def test_deleted_knowledge_and_an_admin_invitation_do_not_count(fresh):
    workspace, admin = fresh.workspace, fresh.user
    FaqEntry.objects.create(workspace=workspace, question="Old?", answer="Gone.", is_active=False)
    invitation_create(workspace=workspace, email="boss@example.com", role=Role.ADMIN, invited_by=admin)
    done = _done(workspace)
    assert not done["knowledge"] and not done["setter"]
    MembershipFactory(workspace=workspace)  # a setter who already joined
    assert _done(workspace)["setter"]


def test_other_workspaces_do_not_tick_steps(fresh, fake_llm):
    other = AdminMembershipFactory().workspace
    ChannelFactory(workspace=other)
    fake_llm.provider(other, kind="openai")
    MembershipFactory(workspace=other)
    assert not any(_done(fresh.workspace).values())


def test_one_query(fresh):
    with CaptureQueriesContext(connection) as ctx:
        onboarding_steps(workspace=fresh.workspace)
    assert len(ctx.captured_queries) == 1


def test_overview_shows_the_checklist_with_links_until_everything_is_done(client, fresh, fake_llm, settings):
    settings.META_SANDBOX = True
    workspace, admin = fresh.workspace, fresh.user
    client.force_login(admin)
    url = reverse("insights:overview", args=[workspace.slug])
    html = client.get(url).content.decode()
    assert "Set up Sidekick" in html and "0 of 5 done" in html
    for name in ("integrations:channels", "integrations:llm_providers", "knowledge:home", "conversations:prompt",
                 "accounts:members", "conversations:sandbox"):
        assert reverse(name, args=[workspace.slug]) in html, name
    ChannelFactory(workspace=workspace)
    fake_llm.provider(workspace, kind="openai")
    html = client.get(url).content.decode()
    assert "2 of 5 done" in html
    FaqEntry.objects.create(workspace=workspace, question="Mat?", answer="Provided.")
    prompt_revision_create(workspace=workspace, text="You are friendly.", actor=admin)
    MembershipFactory(workspace=workspace)
    html = client.get(url).content.decode()
    assert "Set up Sidekick" not in html


def test_setters_do_not_see_the_checklist(client, fresh):
    setter = MembershipFactory(workspace=fresh.workspace).user
    client.force_login(setter)
    html = client.get(reverse("insights:overview", args=[fresh.workspace.slug])).content.decode()
    assert "Set up Sidekick" not in html


def test_overview_numbers_have_thousands_separators(client, fresh, monkeypatch):
    from insights import views

    real = views.workspace_overview

    def big(**kwargs):  # a busy workspace's figures, without writing 23,456 messages
        return dataclasses.replace(real(**kwargs), by_ai=12345, outbound=23456)

    monkeypatch.setattr(views, "workspace_overview", big)
    client.force_login(fresh.user)
    html = client.get(reverse("insights:overview", args=[fresh.workspace.slug])).content.decode()
    assert "12,345 of 23,456 messages" in html
