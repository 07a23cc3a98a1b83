"""Contacts in a real browser: list, search, detail; a setter moves the stage and records a booking."""

import pytest

from accounts.tests.factories import PASSWORD, MembershipFactory
from conftest import browser_login
from contacts.models import BookingEvent, Contact, Sentiment, Stage
from contacts.tests.factories import ContactFactory
from integrations.tests.factories import ChannelFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_setter_updates_stage_and_booking_without_reload(page, screenshot):
    setter = MembershipFactory(workspace__name="Zen Studio", workspace__slug="zen", user__email="setter@zen.test")
    channel = ChannelFactory(workspace=setter.workspace)
    ContactFactory(channel=channel, display_name="Mara Quinn", username="mara.q", stage=Stage.QUALIFIED,
                   sentiment=Sentiment.POSITIVE, lead_score=82)
    ContactFactory(channel=channel, display_name="Leo Brandt", stage=Stage.ENGAGED, lead_score=45)
    ContactFactory(channel=channel, display_name="Ines Roy", stage=Stage.NEW, lead_score=12)
    browser_login(page, "setter@zen.test", PASSWORD)
    page.get_by_role("link", name="Contacts").click()
    page.get_by_role("link", name="Mara Quinn").wait_for()
    screenshot(page, "contacts")
    page.get_by_label("Search contacts").fill("leo")
    page.get_by_role("link", name="Mara Quinn").wait_for(state="detached")
    page.get_by_label("Search contacts").fill("")
    page.get_by_role("link", name="Mara Quinn").click()
    page.evaluate("window.__marker = 'same page'")
    page.locator("#contact-status").get_by_label("Stage").select_option("customer")
    page.get_by_text("Stage set to Customer.").wait_for()
    page.get_by_label("Outcome").select_option("booked")
    page.get_by_label("Note").fill("Strategy call")
    page.get_by_role("button", name="Record").click()
    page.get_by_text("Recorded: booked.").wait_for()
    assert page.evaluate("window.__marker") == "same page"
    contact = Contact.objects.get(display_name="Mara Quinn")
    assert contact.stage == Stage.CUSTOMER and contact.booked_at is not None
    assert BookingEvent.objects.filter(contact=contact, note="Strategy call").exists()
    screenshot(page, "contact")
