"""Admin settings pages: channels by token, LLM providers, token usage with quotas."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from accounts.tests.factories import AdminMembershipFactory, MembershipFactory
from integrations.llm.models import LLMProvider, LLMQuotaPolicy, LLMUsage
from integrations.models import Channel, ChannelStatus
from integrations.tests.factories import ChannelFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
TOKEN = "IGAAsecret-token-value-0123456789abcdef"


@pytest.fixture
def admin(client):
    membership = AdminMembershipFactory()
    client.force_login(membership.user)
    return membership


def _url(admin, name, *args):
    return reverse(f"integrations:{name}", args=[admin.workspace.slug, *args])


# --- channels ---------------------------------------------------------------------------------------

def test_channels_page_lists_sandbox_messages_and_sender_actions(client, admin, settings):
    """A message payload has no sender_action and an action has no message: both must render."""
    from integrations.models import SandboxSend

    settings.META_SANDBOX = True
    channel = ChannelFactory(workspace=admin.workspace)
    SandboxSend.objects.create(channel=channel, account_id=channel.account_id, recipient_id="5001", kind="message",
                               payload={"recipient": {"id": "5001"}, "message": {"text": "See you Friday!"}})
    SandboxSend.objects.create(channel=channel, account_id=channel.account_id, recipient_id="5001",
                               kind="sender_action", payload={"recipient": {"id": "5001"}, "sender_action": "mark_seen"})
    response = client.get(_url(admin, "channels"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "See you Friday!" in page and "mark_seen" in page


def test_connect_a_channel_by_token_shows_only_the_masked_token(client, admin):
    response = client.post(_url(admin, "channel_connect"), {
        "platform": "instagram", "account_id": "17841400000000001", "token": TOKEN, "name": "Studio IG"}, **HTMX)
    html = response.content.decode()
    channel = Channel.objects.get(workspace=admin.workspace)
    assert channel.access_token == TOKEN and channel.name == "Studio IG" and channel.connected_by == admin.user
    assert "is connected" in html and channel.token_masked in html and TOKEN not in html
    assert TOKEN not in client.get(_url(admin, "channels")).content.decode()
    assert AuditEvent.objects.filter(verb="channel.connected").exists()


def test_reconnect_replaces_the_token_and_reactivates(client, admin):
    channel = ChannelFactory(workspace=admin.workspace, status=ChannelStatus.RECONNECT_NEEDED, last_error="expired")
    client.post(_url(admin, "channel_connect"), {
        "platform": channel.platform, "account_id": channel.account_id, "token": TOKEN, "name": channel.name}, **HTMX)
    channel.refresh_from_db()
    assert channel.access_token == TOKEN and channel.status == ChannelStatus.ACTIVE and channel.last_error == ""
    assert Channel.objects.filter(workspace=admin.workspace).count() == 1


def test_connect_refuses_an_account_of_another_workspace(client, admin):
    other = ChannelFactory()
    response = client.post(_url(admin, "channel_connect"), {
        "platform": other.platform, "account_id": other.account_id, "token": TOKEN}, **HTMX)
    assert "already connected to another workspace" in response.content.decode()
    other.refresh_from_db()
    assert other.access_token != TOKEN


def test_connect_with_missing_fields(client, admin):
    response = client.post(_url(admin, "channel_connect"), {"platform": "instagram", "account_id": "1"}, **HTMX)
    assert "enter the account id and an access token" in response.content.decode()
    assert not Channel.objects.exists()


# --- LLM providers ---------------------------------------------------------------------------------

def test_add_provider_masks_the_key_and_becomes_default(client, admin):
    key = "sk-live-abcdefghijklmnopqrstuvwxyz"
    response = client.post(_url(admin, "llm_provider_add"), {
        "kind": "openai", "model": "gpt-4o-mini", "api_key": key, "max_tokens": 1024}, **HTMX)
    html = response.content.decode()
    provider = LLMProvider.objects.get(workspace=admin.workspace)
    assert provider.is_default and provider.api_key == key
    assert key not in html and provider.masked_api_key in html and "Default" in html


def test_add_provider_reports_what_is_missing(client, admin):
    response = client.post(_url(admin, "llm_provider_add"), {"kind": "azure_openai", "model": "dep", "max_tokens": 10},
                           **HTMX)
    html = response.content.decode()
    assert "was not saved" in html and "needs an API key" in html
    assert not LLMProvider.objects.exists()


def test_test_connection_and_make_default(client, admin, fake_llm):
    first = fake_llm.provider(admin.workspace, kind="openai")
    second = fake_llm.provider(admin.workspace, kind="anthropic", is_default=False)
    response = client.post(_url(admin, "llm_provider_test", second.pk), **HTMX)
    assert "Connected to" in response.content.decode()
    client.post(_url(admin, "llm_provider_default", second.pk), **HTMX)
    first.refresh_from_db()
    second.refresh_from_db()
    assert second.is_default and not first.is_default


def test_test_connection_failure_does_not_leak_the_key(client, admin, fake_llm):
    from testing.fake_llm import Reply

    provider = fake_llm.provider(admin.workspace, kind="openai", api_key="sk-very-secret-key-123456")
    fake_llm.queue(Reply.unauthorized())
    html = client.post(_url(admin, "llm_provider_test", provider.pk), **HTMX).content.decode()
    assert "sk-very-secret-key-123456" not in html
    assert 'class="error-text"' in html


def test_provider_of_another_workspace_is_404(client, admin, fake_llm):
    other = fake_llm.provider(AdminMembershipFactory().workspace, kind="openai")
    assert client.post(_url(admin, "llm_provider_test", other.pk)).status_code == 404


# --- usage -------------------------------------------------------------------------------------------

def _usage(workspace, user, *, tokens, days_ago=0, cost="0.001"):
    LLMUsage.objects.create(workspace=workspace, user=user, purpose="draft", provider_kind="openai", model="m",
                            input_tokens=tokens, output_tokens=0, cost_usd=Decimal(cost), outcome="ok",
                            created_at=timezone.now() - timedelta(days=days_ago))


def test_usage_page_shows_per_user_days_cost_and_remaining_quota(client, admin):
    setter = MembershipFactory(workspace=admin.workspace)
    LLMQuotaPolicy.objects.create(workspace=admin.workspace, setter_daily=1000, setter_monthly=None,
                                  admin_daily=None, admin_monthly=None, workspace_daily=None, workspace_monthly=None)
    _usage(admin.workspace, setter.user, tokens=300)
    _usage(admin.workspace, None, tokens=50)
    _usage(admin.workspace, admin.user, tokens=70, days_ago=3)
    _usage(AdminMembershipFactory().workspace, None, tokens=99999)
    response = client.get(_url(admin, "llm_usage"))
    html = response.content.decode()
    quota = {row.label: row for row in response.context["quota_rows"]}
    assert quota[setter.user.email].day_remaining == 700
    assert quota[admin.user.email].day_remaining is None
    assert quota["Whole workspace"].day_used == 350
    assert "System (auto-replies)" in html and "99999" not in html
    chart = response.context["chart"]
    assert len(chart["labels"]) == 30 and sum(sum(d["data"]) for d in chart["datasets"]) == 420
    assert 'id="usage-chart-data"' in html and "vendor/chartjs/chart.umd.min.js" in html


def test_usage_query_count_does_not_grow_with_rows(client, admin):
    def queries():
        client.get(_url(admin, "llm_usage"))
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(_url(admin, "llm_usage")).status_code == 200
        return len(ctx.captured_queries)

    for i in range(5):
        _usage(admin.workspace, admin.user, tokens=10, days_ago=i)
    few = queries()
    for i in range(45):
        _usage(admin.workspace, MembershipFactory(workspace=admin.workspace).user, tokens=10, days_ago=i % 30)
    assert queries() == few


def test_usage_numbers_have_thousands_separators(client, admin):
    _usage(admin.workspace, admin.user, tokens=1234567)
    html = client.get(_url(admin, "llm_usage")).content.decode()
    assert "1,234,567 tokens" in html and "<td>1,234,567</td>" in html


def test_a_connection_test_counts_as_the_admins_own_call(client, admin, fake_llm):
    """#18: the usage page showed an admin's "Test" as "System (auto-replies)"."""
    provider = fake_llm.provider(admin.workspace, kind="openai")
    client.post(_url(admin, "llm_provider_test", provider.pk))
    assert LLMUsage.objects.get(purpose="test_connection").user == admin.user
    html = client.get(_url(admin, "llm_usage")).content.decode()
    assert f"<td>{admin.user.email}</td>" in html and "System (auto-replies)" not in html
