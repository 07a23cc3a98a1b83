"""The follow-up sequence in a browser, on the demo data `make run` seeds: an admin edits the steps (adds,
retimes, reorders, switches one off) and finds them saved; a setter is refused the editor; a thread's
panel shows where its sequence stands. At 390 px and 1366 px, with no horizontal scroll.
Writes docs/screenshots/follow-up-steps.png and follow-up-steps-phone.png."""

from io import StringIO

import pytest
from django.core.management import call_command

from conftest import browser_login
from contacts.models import Contact
from conversations.models import FollowUpStep, Thread
from conversations.tests.test_browser_layout import LAPTOP, PHONE, _overflow

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


@pytest.fixture
def demo(sandbox, tmp_path):
    """The demo workspace as `make run` seeds it (its quiet conversations included); returns the password."""
    sandbox.VAR_DIR = tmp_path
    call_command("seed_demo", stdout=StringIO())
    return (tmp_path / "demo-password.txt").read_text().strip()


def _steps() -> list[tuple]:
    return list(FollowUpStep.objects.filter(workspace__slug="demo").order_by("position").values_list(
        "position", "delay_hours", "use_human_agent_tag", "enabled"))


def _row(page, index: int, field: str):
    return page.locator(f'[name="steps-{index}-{field}"]')


def test_an_admin_edits_the_sequence_and_a_setter_is_refused(page, screenshot, demo):
    url = "/w/demo/settings/sidekick/follow-ups/"
    # The defaults: 4 h, 20 h, and a Human Agent step at 72 h that is off (the demo does not allow the tag).
    assert _steps() == [(1, 4, False, True), (2, 20, False, True), (3, 72, True, False)]
    browser_login(page, "admin@example.com", demo)
    for size in (PHONE, LAPTOP):
        page.set_viewport_size(size)
        page.goto(url, wait_until="load")
        assert _overflow(page) <= 0, f"the editor at {size['width']} px is {_overflow(page)} px too wide"
    # Step 1 a little earlier; a new step at 8 h placed second (the 20 h step moves to third, the Human
    # Agent step to fourth); the 20 h step switched off.
    _row(page, 0, "delay_hours").fill("3")
    _row(page, 3, "delay_hours").fill("8")
    _row(page, 3, "ORDER").fill("2")
    _row(page, 1, "ORDER").fill("3")
    _row(page, 2, "ORDER").fill("4")
    _row(page, 1, "enabled").uncheck()
    page.get_by_role("button", name="Save the sequence").click()
    page.wait_for_load_state("load")
    assert page.get_by_text("Follow-up sequence saved.").is_visible()
    assert _steps() == [(1, 3, False, True), (2, 8, False, True), (3, 20, False, False), (4, 72, True, False)]
    # What the page shows after the save (a fresh load) is what was stored.
    page.reload(wait_until="load")
    shown = [(_row(page, i, "ORDER").input_value(), _row(page, i, "delay_hours").input_value(),
              _row(page, i, "use_human_agent_tag").is_checked(), _row(page, i, "enabled").is_checked())
             for i in range(4)]
    assert shown == [("1", "3", False, True), ("2", "8", False, True), ("3", "20", False, False),
                     ("4", "72", True, False)]
    assert _overflow(page) <= 0
    screenshot(page, "follow-up-steps")
    page.set_viewport_size(PHONE)
    page.reload(wait_until="load")
    assert _overflow(page) <= 0
    screenshot(page, "follow-up-steps-phone")

    # A setter may not open the editor, nor save it.
    page.context.clear_cookies()
    browser_login(page, "setter@example.com", demo)
    response = page.goto(url, wait_until="load")
    assert response.status == 403
    assert page.request.post(url, form={"steps-TOTAL_FORMS": "0", "steps-INITIAL_FORMS": "0"}).status == 403
    assert _steps()[0] == (1, 3, False, True)


def test_the_thread_panel_shows_the_next_step_or_why_the_sequence_stopped(page, demo):
    waiting = Thread.objects.get(workspace__slug="demo", contact__display_name="Priya (demo)")
    stopped = Thread.objects.get(workspace__slug="demo", contact__display_name="Maya (demo)")
    Contact.objects.filter(pk=stopped.contact_id).update(opted_out=True)
    browser_login(page, "setter@example.com", demo)
    for size in (PHONE, LAPTOP):
        page.set_viewport_size(size)
        page.goto(f"/w/demo/inbox/{waiting.pk}/", wait_until="load")
        state = page.locator("#follow-up-state")
        assert state.get_by_text("Step 1 at").is_visible()
        assert _overflow(page) <= 0, f"the thread at {size['width']} px is {_overflow(page)} px too wide"
        page.goto(f"/w/demo/inbox/{stopped.pk}/", wait_until="load")
        assert page.locator("#follow-up-state").get_by_text("Stopped: The contact opted out of messages.").is_visible()
        assert _overflow(page) <= 0
