"""Admin settings in a real browser: connect a channel by token, add and test a provider, usage chart;
a setter is kept out of every admin page."""

from decimal import Decimal

import pytest

from accounts.tests.factories import PASSWORD, AdminMembershipFactory, MembershipFactory
from conftest import browser_login
from integrations.llm.models import LLMProvider, LLMUsage
from integrations.models import Channel

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

TOKEN = "IGAAbrowser-secret-token-0123456789"


@pytest.fixture
def team():
    admin = AdminMembershipFactory(workspace__name="Zen Studio", workspace__slug="zen", user__email="admin@zen.test")
    setter = MembershipFactory(workspace=admin.workspace, user__email="setter@zen.test")
    return admin, setter


def test_admin_connects_a_channel_by_token(page, screenshot, team):
    browser_login(page, "admin@zen.test", PASSWORD)
    page.get_by_role("link", name="Channels").click()
    page.evaluate("window.__marker = 'same page'")
    page.get_by_label("Platform").select_option("instagram")
    page.get_by_label("Account id").fill("17841400000000777")
    page.get_by_label("Access token").fill(TOKEN)
    page.get_by_label("Name (optional)").fill("Zen on Instagram")
    page.get_by_role("button", name="Connect", exact=True).click()
    page.get_by_text("Instagram Zen on Instagram is connected.").wait_for()
    assert page.evaluate("window.__marker") == "same page"
    assert TOKEN not in page.content()
    channel = Channel.objects.get(account_id="17841400000000777")
    assert channel.access_token == TOKEN
    assert page.get_by_text(channel.token_masked).is_visible()
    screenshot(page, "settings-channels")


def test_admin_adds_and_tests_a_provider(page, screenshot, team, fake_llm):
    browser_login(page, "admin@zen.test", PASSWORD)
    page.get_by_role("link", name="LLM providers").click()
    page.get_by_label("Provider").select_option("openai")
    page.get_by_label("Model").fill("gpt-4o-mini")
    page.get_by_label("API key").fill("sk-browser-test-key-0123456789")
    page.get_by_role("textbox", name="Base URL").fill(fake_llm.base_url_for("openai"))
    page.get_by_role("button", name="Save provider").click()
    page.get_by_text("added. Test the connection below.").wait_for()
    provider = LLMProvider.objects.get(workspace__slug="zen")
    assert provider.is_default and "sk-browser-test-key-0123456789" not in page.content()
    page.get_by_role("button", name="Test connection").click()
    page.get_by_text("Connected to").wait_for()
    screenshot(page, "settings-llm")


def test_usage_page_draws_the_chart(page, screenshot, team):
    admin, setter = team
    for day, (user, tokens) in enumerate([(admin.user, 1200), (setter.user, 800), (None, 3000), (setter.user, 400)]):
        LLMUsage.objects.create(workspace=admin.workspace, user=user, purpose="draft", provider_kind="openai",
                                model="gpt-4o-mini", input_tokens=tokens, output_tokens=tokens // 4,
                                cost_usd=Decimal("0.0021") * (day + 1), outcome="ok")
    browser_login(page, "admin@zen.test", PASSWORD)
    page.get_by_role("link", name="Usage").click()
    page.wait_for_function("document.getElementById('usage-chart').chart !== undefined")
    assert page.get_by_role("cell", name="System (auto-replies)").first.is_visible()
    screenshot(page, "settings-usage")


def test_setter_cannot_open_admin_pages(page, team):
    browser_login(page, "setter@zen.test", PASSWORD)
    for name in ("Channels", "LLM providers", "Audit log"):
        assert page.get_by_role("link", name=name).count() == 0
    for path in ("/w/zen/settings/channels/", "/w/zen/settings/llm/", "/w/zen/settings/audit/"):
        response = page.goto(path)
        assert response.status == 403, path
        assert page.get_by_role("heading", name="Not allowed").is_visible()
    # Usage is open to setters since the assistant (issue 16): their own use only, against their limits.
    response = page.goto("/w/zen/settings/usage/")
    assert response.status == 200
    assert page.get_by_text("Your use only.").is_visible()
