"""A setter's tools in a real browser (#18): a saved reply inserted with "/", the setup checklist ticking
as the steps are done, the counts in the title. Writes saved-replies.png and onboarding.png."""

import pytest

from accounts.models import Role
from accounts.services import invitation_create
from accounts.tests.factories import PASSWORD, AdminMembershipFactory, MembershipFactory
from conftest import browser_login
from contacts.models import Contact
from conversations.models import SidekickSettings, Thread
from conversations.saved_replies import saved_reply_create
from conversations.services import prompt_revision_create
from integrations.tests.factories import ChannelFactory
from knowledge.models import FaqEntry

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


@pytest.fixture
def team(sandbox):
    admin = AdminMembershipFactory(workspace__name="Zen Studio", workspace__slug="zen", user__email="admin@zen.test")
    setter = MembershipFactory(workspace=admin.workspace, user__email="setter@zen.test", user__full_name="Sam Setter")
    SidekickSettings.objects.update_or_create(workspace=admin.workspace, defaults={"enabled": False})
    return admin, setter


def test_a_saved_reply_is_inserted_with_slash_and_not_sent(page, screenshot, team):
    admin, _ = team
    channel = ChannelFactory(workspace=admin.workspace, name="Zen IG")
    from conversations.intake import sandbox_dm_deliver

    sandbox_dm_deliver(channel=channel, sender_id="3001", text="How much is the evening class?")
    thread = Thread.objects.get(contact__external_id="3001")
    Contact.objects.filter(pk=thread.contact_id).update(display_name="Maria Lopez")
    saved_reply_create(workspace=admin.workspace, actor=admin.user, title="Prices", shortcut="price",
                       body="Hi {first_name}! The evening class is £89 a month.")
    saved_reply_create(workspace=admin.workspace, actor=admin.user, title="Opening hours",
                       body="We are open 9 to 6, {first_name}.")
    sent_before = thread.messages.count()

    browser_login(page, "setter@zen.test", PASSWORD)
    page.goto(f"/w/zen/inbox/{thread.pk}/")
    reply = page.get_by_label("Reply")
    reply.click()
    reply.type("Thanks for asking! /pri")
    picker = page.get_by_role("listbox", name="Saved replies")
    picker.get_by_role("option").first.wait_for()
    assert picker.get_by_role("option").count() == 1  # the search narrowed it to "Prices"
    screenshot(page, "saved-replies")
    page.keyboard.press("Enter")
    assert reply.input_value() == "Thanks for asking! Hi Maria! The evening class is £89 a month."
    assert picker.is_hidden()
    assert thread.messages.count() == sent_before  # inserted, not sent

    # A click works too, and Escape closes the picker without inserting anything.
    reply.fill("")
    reply.type("/")
    picker.get_by_role("option", name="Opening hours").click()
    assert reply.input_value() == "We are open 9 to 6, Maria."
    reply.type(" /x")
    page.keyboard.press("Escape")
    assert picker.is_hidden() and reply.input_value() == "We are open 9 to 6, Maria. /x"


def test_the_setup_checklist_ticks_as_steps_are_done(page, screenshot, team, fake_llm):
    admin, _ = team
    workspace = admin.workspace
    browser_login(page, "admin@zen.test", PASSWORD)
    page.goto("/w/zen/")
    checklist = page.get_by_role("article", name="Set up Sidekick")
    # The fixture's setter already counts for "invite a setter".
    checklist.get_by_text("1 of 5 done").wait_for()
    done = lambda: checklist.locator("li.done").count()  # noqa: E731
    assert done() == 1

    # Connect a channel through the page the checklist links to.
    checklist.get_by_role("link", name="Connect a channel").click()
    page.get_by_label("Platform").select_option("instagram")
    page.get_by_label("Account id").fill("17841400000000789")
    page.get_by_label("Access token").fill("EAAG-sandbox-token-0123456789")
    page.get_by_label("Name (optional)").fill("Zen IG")
    page.get_by_role("button", name="Connect", exact=True).click()
    page.get_by_text("Instagram Zen IG is connected.").wait_for()
    page.goto("/w/zen/")
    assert done() == 2 and checklist.locator("li.done[data-step=channel]").count() == 1

    fake_llm.provider(workspace, kind="openai")
    FaqEntry.objects.create(workspace=workspace, question="Mat?", answer="Provided.")
    page.reload()
    assert done() == 4
    screenshot(page, "onboarding")

    prompt_revision_create(workspace=workspace, text="You are friendly.", actor=admin.user)
    invitation_create(workspace=workspace, email="new@zen.test", role=Role.SETTER, invited_by=admin.user)
    page.reload()
    assert page.get_by_role("article", name="Set up Sidekick").count() == 0


def test_counts_show_in_the_navigation_and_the_title(page, team):
    admin, _ = team
    channel = ChannelFactory(workspace=admin.workspace, name="Zen IG")
    from conversations.intake import sandbox_dm_deliver

    sandbox_dm_deliver(channel=channel, sender_id="4001", text="Hello?")
    sandbox_dm_deliver(channel=channel, sender_id="4002", text="Anyone there?")
    browser_login(page, "setter@zen.test", PASSWORD)
    page.goto("/w/zen/contacts/")
    page.wait_for_function("document.title.startsWith('(2) ')")
    badge = page.locator("#nav-count-inbox")
    assert badge.is_visible() and badge.inner_text().startswith("2")
    # Notifications are never asked for on load: the button is there for the person to press.
    assert page.evaluate("Notification.permission") == "default"
    assert page.get_by_role("button", name="Turn on browser notifications").is_visible()
