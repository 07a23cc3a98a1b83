"""The usage page and the token limits page in Chromium, at a laptop (1366 px) and a phone (390 px), without
horizontal overflow. Writes docs/screenshots/usage.png, usage-phone.png, limits.png and limits-phone.png."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.tests.factories import PASSWORD, AdminMembershipFactory, MembershipFactory
from conftest import browser_login
from integrations.llm.models import LLMQuotaPolicy, LLMUsage

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

PHONE, LAPTOP = {"width": 390, "height": 844}, {"width": 1366, "height": 768}


@pytest.fixture
def team():
    admin = AdminMembershipFactory(workspace__name="Harbor Light Studio", workspace__slug="zen",
                                   user__email="admin@zen.test")
    workspace = admin.workspace
    setters = [MembershipFactory(workspace=workspace, user__email=f"{name}@zen.test").user
               for name in ("maria", "jonas", "lea")]
    LLMQuotaPolicy.objects.create(workspace=workspace, setter_daily=20_000, setter_monthly=300_000, admin_daily=80_000,
                                  admin_monthly=1_000_000, workspace_daily=None, workspace_monthly=5_000_000)
    now = timezone.now()
    for day in range(7):
        for n, (user, tokens) in enumerate([(admin.user, 5200), (setters[0], 3100), (setters[1], 1800),
                                            (setters[2], 700), (None, 9000)]):
            LLMUsage.objects.create(workspace=workspace, user=user, purpose="assistant" if user else "draft",
                                    provider_kind="anthropic", model="claude-sonnet-4-6",
                                    input_tokens=tokens + day * 90 * (n + 1), output_tokens=tokens // 5,
                                    cost_usd=Decimal("0.0009") * (tokens // 100), outcome="ok",
                                    created_at=now - timedelta(days=day))
    return workspace


def _overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def test_usage_page_at_a_laptop_and_a_phone(page, screenshot, team):
    page.set_viewport_size(LAPTOP)
    browser_login(page, "admin@zen.test", PASSWORD)
    page.goto("/w/zen/settings/usage/")
    page.wait_for_function("document.getElementById('usage-chart').chart !== undefined")
    assert page.get_by_role("heading", name="Top users this month").is_visible()
    assert page.get_by_role("link", name="Change the token limits").is_visible()
    assert _overflow(page) <= 0
    screenshot(page, "usage")
    page.set_viewport_size(PHONE)
    page.reload()
    page.wait_for_function("document.getElementById('usage-chart').chart !== undefined")
    assert _overflow(page) <= 0
    screenshot(page, "usage-phone")


def test_an_admin_sets_limits_and_sees_a_clear_error_for_a_bad_one(page, screenshot, team):
    page.set_viewport_size(LAPTOP)
    browser_login(page, "admin@zen.test", PASSWORD)
    page.goto("/w/zen/settings/usage/")
    page.get_by_role("link", name="Change the token limits").click()
    page.get_by_role("heading", name="Token limits").wait_for()
    page.get_by_label("Setters (each): per day").fill("-100")
    page.get_by_label("Admins (each): per month").fill("lots")
    page.get_by_role("button", name="Save limits").click()
    page.get_by_text("A limit cannot be negative").wait_for()
    assert page.get_by_text("Enter a whole number of tokens").is_visible()
    assert LLMQuotaPolicy.objects.get(workspace=team).setter_daily == 20_000  # nothing saved
    page.get_by_label("Setters (each): per day").fill("25000")
    page.get_by_label("Admins (each): per month").fill("")
    page.get_by_role("button", name="Save limits").click()
    page.get_by_text("Token limits saved").wait_for()
    policy = LLMQuotaPolicy.objects.get(workspace=team)
    assert (policy.setter_daily, policy.admin_monthly) == (25_000, None)
    assert _overflow(page) <= 0
    screenshot(page, "limits")
    page.set_viewport_size(PHONE)
    page.reload()
    assert _overflow(page) <= 0
    screenshot(page, "limits-phone")


def test_a_setter_cannot_open_the_limits_page(page, team):
    browser_login(page, "maria@zen.test", PASSWORD)
    assert page.get_by_role("link", name="Token limits").count() == 0
    response = page.goto("/w/zen/settings/limits/")
    assert response.status == 403
