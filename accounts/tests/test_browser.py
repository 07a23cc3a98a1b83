"""The foundation in a real browser: logging in per role, HTMX member management, role walls."""

import pytest
from django.core import mail

from accounts.models import Invitation, Role
from accounts.tests.factories import PASSWORD, AdminMembershipFactory, MembershipFactory
from conftest import browser_login

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


@pytest.fixture
def team():
    admin = AdminMembershipFactory(workspace__name="Zen Studio", workspace__slug="zen", user__email="admin@zen.test")
    setter = MembershipFactory(workspace=admin.workspace, user__email="setter@zen.test")
    return admin, setter


def test_login_page_and_wrong_password(page, screenshot, team):
    page.goto("/")
    assert "/accounts/login/" in page.url
    screenshot(page, "login")
    page.get_by_label("Email").fill("admin@zen.test")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").is_visible()
    assert "/accounts/login/" in page.url


def test_admin_logs_in_and_invites_a_setter_without_reload(page, screenshot, team):
    browser_login(page, "admin@zen.test", PASSWORD)
    assert page.get_by_role("heading", name="Zen Studio").is_visible()
    # The overview screenshot, with figures, is taken in conversations/tests/test_browser_sidekick.py.
    page.get_by_role("link", name="Members").click()
    page.evaluate("window.__marker = 'same page'")  # survives only if no full reload happens
    page.get_by_label("Email").fill("new.setter@zen.test")
    page.get_by_role("button", name="Invite").click()
    page.get_by_text("Invitation sent to new.setter@zen.test").wait_for()
    assert page.evaluate("window.__marker") == "same page"
    assert page.get_by_role("cell", name="new.setter@zen.test").is_visible()
    screenshot(page, "members")
    assert Invitation.objects.get(email="new.setter@zen.test").role == Role.SETTER
    assert mail.outbox and "/invite/" in mail.outbox[-1].body


def test_setter_logs_in_and_cannot_open_admin_pages(page, team):
    _, setter = team
    browser_login(page, "setter@zen.test", PASSWORD)
    assert page.get_by_role("heading", name="Zen Studio").is_visible()
    assert page.get_by_role("link", name="Audit log").count() == 0
    response = page.goto("/w/zen/settings/audit/")
    assert response.status == 403
    assert page.get_by_role("heading", name="Not allowed").is_visible()
    response = page.goto("/admin/")
    assert "/admin/login/" in page.url


def test_phone_width_keeps_navigation_reachable(page, team):
    page.set_viewport_size({"width": 390, "height": 844})
    browser_login(page, "admin@zen.test", PASSWORD)
    members = page.get_by_role("link", name="Members")
    page.keyboard.press("Tab")  # the skip link is the first stop for keyboard users
    assert page.evaluate("document.activeElement.textContent").strip() == "Skip to content"
    page.get_by_text("Menu", exact=True).click()  # on a phone the navigation is folded into a menu (issue 18)
    assert members.is_visible()
