"""The inbox and a thread in a real browser: live updates, take over, reply, resume; the sandbox panel."""

import pytest

from accounts.tests.factories import PASSWORD, AdminMembershipFactory, MembershipFactory
from conftest import browser_login
from conversations.models import Message, SenderKind, SendStatus, SidekickSettings, Thread
from integrations.models import SandboxSend
from integrations.tests.factories import ChannelFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


@pytest.fixture
def team(sandbox):
    admin = AdminMembershipFactory(workspace__name="Zen Studio", workspace__slug="zen", user__email="admin@zen.test")
    setter = MembershipFactory(workspace=admin.workspace, user__email="setter@zen.test", user__full_name="Sam Setter")
    channel = ChannelFactory(workspace=admin.workspace, name="Zen IG")
    # These flows are about people handling threads by hand: Sidekick's automation is off, so it
    # neither answers nor escalates (and pauses) the test conversations.
    SidekickSettings.objects.update_or_create(workspace=admin.workspace, defaults={"enabled": False})
    return admin, setter, channel


def _deliver(channel, sender, text):
    from conversations.intake import sandbox_dm_deliver

    sandbox_dm_deliver(channel=channel, sender_id=sender, text=text)


def test_a_new_dm_appears_in_the_inbox_without_reload(page, screenshot, team):
    admin, _, channel = team
    _deliver(channel, "1001", "Hello! Is the spring coaching still open?")
    browser_login(page, "setter@zen.test", PASSWORD)
    page.get_by_role("link", name="Inbox").click()
    page.get_by_text("Is the spring coaching still open?").wait_for()
    page.evaluate("window.__marker = 'same page'")
    _deliver(channel, "1002", "Hi, what does the 1:1 programme cost?")
    page.get_by_text("what does the 1:1 programme cost?").wait_for(timeout=15_000)
    assert page.evaluate("window.__marker") == "same page"
    screenshot(page, "inbox")
    page.get_by_label("Search by name or message text").fill("programme")
    page.get_by_text("Is the spring coaching still open?").wait_for(state="detached")
    assert page.get_by_text("what does the 1:1 programme cost?").is_visible()
    assert page.evaluate("window.__marker") == "same page"


def test_take_over_reply_and_resume(page, screenshot, team):
    _, setter, channel = team
    _deliver(channel, "2001", "Can I talk to a person please?")
    thread = Thread.objects.get(contact__external_id="2001")
    browser_login(page, "setter@zen.test", PASSWORD)
    page.goto(f"/w/zen/inbox/{thread.pk}/")
    page.evaluate("window.__marker = 'same page'")
    page.get_by_role("button", name="Take over").click()
    page.get_by_role("button", name="Resume AI").wait_for()
    thread.refresh_from_db()
    assert thread.ai_paused
    page.get_by_label("Reply").fill("Hi! Sam here, happy to help.")
    page.get_by_role("button", name="Send").click()
    page.locator("#thread-live").get_by_text("Hi! Sam here, happy to help.").wait_for()
    page.locator("#thread-live").get_by_text("Sam Setter").wait_for()
    assert page.get_by_label("Reply").input_value() == ""
    message = Message.objects.get(thread=thread, sender_kind=SenderKind.SETTER)
    assert message.sent_by == setter.user and message.send_status == SendStatus.SENT
    assert SandboxSend.objects.filter(kind="message", payload__message__text="Hi! Sam here, happy to help.").exists()
    _deliver(channel, "2001", "Thanks Sam!")
    page.locator("#thread-live").get_by_text("Thanks Sam!").wait_for(timeout=15_000)
    screenshot(page, "thread")
    page.get_by_role("button", name="Resume AI").click()
    page.get_by_role("button", name="Take over").wait_for()
    assert page.evaluate("window.__marker") == "same page"
    thread.refresh_from_db()
    assert not thread.ai_paused


def test_sandbox_panel_types_as_a_contact(page, screenshot, team):
    browser_login(page, "admin@zen.test", PASSWORD)
    page.get_by_role("link", name="Sandbox").click()
    page.get_by_label("Message as the contact").fill("Hey, do you have evening sessions?")
    page.get_by_role("button", name="Send as contact").click()
    page.locator("#thread-live").get_by_text("Hey, do you have evening sessions?").wait_for()
    screenshot(page, "sandbox")
    page.get_by_role("link", name="open in the inbox").click()
    page.get_by_role("button", name="Take over").wait_for()


def test_inbox_at_phone_width(page, screenshot, team):
    _, _, channel = team
    _deliver(channel, "3001", "Quick question about prices")
    page.set_viewport_size({"width": 390, "height": 844})
    browser_login(page, "setter@zen.test", PASSWORD)
    page.goto("/w/zen/inbox/")
    page.get_by_text("Quick question about prices").wait_for()
    page.get_by_text("Quick question about prices").click()
    page.get_by_label("Reply").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    screenshot(page, "thread-phone")
