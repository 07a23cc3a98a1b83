"""AutoCRM in Chromium: on a contact's page, open the sidebar, type a command, see the plan (before →
after), confirm, see the contact's status change on the page, undo, see it restored; at a laptop
(1366 px) and a phone (390 px). No model: the deterministic grammar answers (no provider configured).
Writes docs/screenshots/autocrm.png and autocrm-phone.png.
"""

import pytest

from accounts.tests.factories import PASSWORD, AdminMembershipFactory, MembershipFactory
from conftest import SCREENSHOTS, browser_login
from contacts.models import Contact
from conversations.tests.factories import InboundMessageFactory, ThreadFactory
from integrations.tests.factories import ChannelFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

PHONE, LAPTOP = {"width": 390, "height": 844}, {"width": 1366, "height": 768}


@pytest.fixture
def studio():
    admin = AdminMembershipFactory(workspace__name="Harbor Light Studio", workspace__slug="zen",
                                   user__email="admin@zen.test")
    workspace = admin.workspace
    MembershipFactory(workspace=workspace, user__email="setter@zen.test")
    thread = ThreadFactory(contact__channel=ChannelFactory(workspace=workspace), contact__display_name="Maria Lopez",
                           contact__username="maria.lopez", contact__stage="engaged", contact__lead_score=35)
    InboundMessageFactory(thread=thread, text="Hi! Do you still have places in the evening group?")
    return {"contact": thread.contact, "url": f"/w/zen/contacts/{thread.contact_id}/"}


def _overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def _command_confirm_undo(page, contact, command, *, screenshot=None):
    panel = page.locator("#assistant-panel")
    panel.get_by_label("Your question").fill(command)
    panel.get_by_role("button", name="Send").click()
    card = panel.locator('.assistant-plan[data-plan-state="previewed"]').last
    card.wait_for()
    steps = card.inner_text()
    assert "engaged" in steps and "qualified" in steps and "35" in steps and "80" in steps
    status = page.locator("#contact-status")
    assert "35 / 100" in status.inner_text()  # nothing changes before the confirm
    card.get_by_role("button", name="Confirm").click()
    panel.locator('.assistant-plan[data-plan-state="executed"]').last.wait_for()
    page.wait_for_function("document.querySelector('#contact-status').innerText.includes('80 / 100')")
    assert page.locator("#contact-status select[name=stage]").input_value() == "qualified"
    contact.refresh_from_db()
    assert (contact.stage, contact.lead_score) == ("qualified", 80)
    if screenshot:
        screenshot()
    panel.get_by_role("button", name="Undo", exact=True).last.click()
    panel.locator('.assistant-plan[data-plan-state="undone"]').last.wait_for()
    page.wait_for_function("document.querySelector('#contact-status').innerText.includes('35 / 100')")
    assert page.locator("#contact-status select[name=stage]").input_value() == "engaged"
    contact.refresh_from_db()
    assert (contact.stage, contact.lead_score) == ("engaged", 35)


def test_a_command_on_a_contact_page_is_planned_confirmed_and_undone(page, screenshot, studio):
    page.set_viewport_size(LAPTOP)
    # The live server's first page (URLconf, templates) can take longer than the default on a loaded machine.
    page.goto("/accounts/login/", timeout=60_000)
    browser_login(page, "setter@zen.test", PASSWORD)
    page.goto(studio["url"])
    page.get_by_role("button", name="Ask Sidekick").click()
    page.get_by_label("Your question").wait_for()
    assert "This page: Contact Maria Lopez" in page.locator("#assistant-panel").inner_text()
    _command_confirm_undo(page, studio["contact"], "move her to qualified, score 80",
                          screenshot=lambda: screenshot(page, "autocrm"))
    assert _overflow(page) <= 0

    # On a phone the panel covers the screen; the same round trip, in Spanish.
    page.set_viewport_size(PHONE)
    page.goto(studio["url"])
    page.get_by_label("Your question").wait_for()
    box = page.locator("#assistant-panel").bounding_box()
    assert box["x"] == 0 and box["width"] == PHONE["width"]
    _command_confirm_undo(page, studio["contact"], "muévela a calificado y puntuación 80",
                          screenshot=lambda: page.screenshot(path=str(SCREENSHOTS / "autocrm-phone.png")))
    assert _overflow(page) <= 0
    assert Contact.objects.get(pk=studio["contact"].pk).stage == "engaged"
