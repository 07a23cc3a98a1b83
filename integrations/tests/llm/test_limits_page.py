"""The token limits page: admins set daily and monthly limits per role and for the workspace; setters
and other workspaces are kept out; bad input is refused with a clear message and nothing saved."""

import pytest
from django.conf import settings
from django.urls import reverse

from accounts.models import AuditEvent, Role
from accounts.tests.factories import AdminMembershipFactory, MembershipFactory
from assistant.selectors import token_budget
from integrations.llm.models import LLMQuotaPolicy, LLMUsage

pytestmark = pytest.mark.django_db

FIELDS = ["setter_daily", "setter_monthly", "admin_daily", "admin_monthly", "workspace_daily", "workspace_monthly"]
VALID = {"setter_daily": "20000", "setter_monthly": "300000", "admin_daily": "80000", "admin_monthly": "1000000",
         "workspace_daily": "", "workspace_monthly": "5000000"}


@pytest.fixture
def team():
    admin = AdminMembershipFactory()
    workspace = admin.workspace
    workspace.admin_user = admin.user
    workspace.setter_user = MembershipFactory(workspace=workspace, role=Role.SETTER).user
    workspace.stranger = AdminMembershipFactory().user
    return workspace


def _url(workspace):
    return reverse("integrations:llm_limits", args=[workspace.slug])


def test_an_admin_sees_the_defaults_then_saves_limits_that_apply_at_once(client, team):
    client.force_login(team.admin_user)
    page = client.get(_url(team))
    assert page.status_code == 200 and "Defaults apply until you save" in page.content.decode()
    defaults = settings.LLM_QUOTA_DEFAULTS
    assert page.context["form"]["setter_daily"].value() == defaults["setter_daily"]
    response = client.post(_url(team), VALID)
    assert response.status_code == 302
    policy = LLMQuotaPolicy.objects.get(workspace=team)
    assert [getattr(policy, f) for f in FIELDS] == [20000, 300000, 80000, 1000000, None, 5000000]
    event = AuditEvent.objects.get(verb="llm_quota_policy.updated", workspace=team)
    assert event.actor == team.admin_user and event.data["changed"]["setter_daily"][1] == 20000
    # The line under the assistant's input counts against the new limit; super-admins stay unlimited.
    LLMUsage.objects.create(workspace=team, user=team.setter_user, purpose="assistant", provider_kind="openai",
                            model="m", input_tokens=15000, output_tokens=1500, outcome="ok")
    budget = token_budget(workspace=team, user=team.setter_user, role=Role.SETTER)
    assert budget.line == "Tokens used today: 16,500 of 20,000" and budget.warning and not budget.exhausted
    follow = client.get(_url(team)).content.decode()
    assert "Defaults apply until you save" not in follow and 'value="20000"' in follow


def test_empty_means_no_limit(client, team):
    client.force_login(team.admin_user)
    client.post(_url(team), dict.fromkeys(FIELDS, ""))
    policy = LLMQuotaPolicy.objects.get(workspace=team)
    assert all(getattr(policy, f) is None for f in FIELDS)
    assert token_budget(workspace=team, user=team.setter_user, role=Role.SETTER).line.endswith("of unlimited")


@pytest.mark.parametrize(("field", "value", "message"), [
    ("setter_daily", "-5", "cannot be negative"),
    ("setter_monthly", "lots", "whole number of tokens"),
    ("admin_daily", "1.5", "whole number of tokens"),
    ("workspace_monthly", "1" + "0" * 13, "leave it empty for no limit"),
    ("setter_daily", "400000", "daily limit is above the monthly one"),
])
def test_bad_limits_are_refused_with_a_clear_message_and_nothing_is_saved(client, team, field, value, message):
    client.force_login(team.admin_user)
    response = client.post(_url(team), {**VALID, field: value})
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert message in response.content.decode() and 'aria-invalid="true"' in response.content.decode()
    assert not LLMQuotaPolicy.objects.filter(workspace=team).exists()
    assert not AuditEvent.objects.filter(verb="llm_quota_policy.updated").exists()


def test_setters_and_other_workspaces_are_kept_out(client, team):
    client.force_login(team.setter_user)
    assert client.get(_url(team)).status_code == 403
    assert client.post(_url(team), VALID).status_code == 403
    assert "Token limits" not in client.get(reverse("integrations:llm_usage", args=[team.slug])).content.decode()
    client.force_login(team.stranger)
    assert client.get(_url(team)).status_code == 404
    assert client.post(_url(team), VALID).status_code == 404
    assert not LLMQuotaPolicy.objects.filter(workspace=team).exists()
