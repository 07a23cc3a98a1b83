"""Working the inbox in a real browser: the split view at 1366 px, list → thread on a phone, assign to me,
snooze, resolve, bulk actions and the keyboard (j/k/Enter, r, a, e, ?). Writes docs/screenshots/inbox-split.png
and docs/screenshots/inbox-phone.png."""

import re

import pytest

from accounts.tests.factories import PASSWORD, AdminMembershipFactory, MembershipFactory
from conftest import browser_login
from conversations import escalations
from conversations.intake import sandbox_dm_deliver
from conversations.models import Decision, Direction, Message, ReplyDraft, SidekickSettings, Thread, ThreadStatus
from integrations.tests.factories import ChannelFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

PHONE, LAPTOP = {"width": 390, "height": 844}, {"width": 1366, "height": 768}
INBOX = "/w/zen/inbox/"


@pytest.fixture
def inbox(sandbox):
    """Three conversations, newest first: Carla (a pending draft, escalated), Ben, Anna."""
    admin = AdminMembershipFactory(workspace__name="Zen Studio", workspace__slug="zen", user__email="admin@zen.test")
    setter = MembershipFactory(workspace=admin.workspace, user__email="setter@zen.test", user__full_name="Sam Setter")
    SidekickSettings.objects.update_or_create(workspace=admin.workspace, defaults={"enabled": False})
    channel = ChannelFactory(workspace=admin.workspace, name="Zen IG")
    threads = {}
    for sender, name, text in (("801", "Anna Alvarez", "Do you have a beginners class?"),
                               ("802", "Ben Brandt", "What time does the studio open on Sunday?"),
                               ("803", "Carla Costa", "Can I pay for ten classes at once?")):
        sandbox_dm_deliver(channel=channel, sender_id=sender, text=text)
        thread = Thread.objects.get(contact__external_id=sender)
        thread.contact.display_name = name
        thread.contact.save(update_fields=["display_name"])
        threads[name.split()[0].lower()] = thread
    carla = threads["carla"]
    draft = ReplyDraft.objects.create(workspace=carla.workspace, thread=carla, text="Yes! A 10-class card is £120.",
                                      final_text="Yes! A 10-class card is £120.", confidence=0.6,
                                      decision=Decision.DRAFT_SAVED, reason_code="low_confidence")
    escalations.escalation_open(thread=carla, reason_code="low_confidence", draft=draft)
    return setter, threads


def _overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def _row(page, name):
    return page.locator("#thread-list .thread-row", has_text=name)


def test_split_view_assign_snooze_and_resolve(page, screenshot, inbox):
    setter, threads = inbox
    page.set_viewport_size(LAPTOP)
    page.set_default_timeout(20_000)  # a loaded shared machine: HTMX swaps can take seconds
    browser_login(page, "setter@zen.test", PASSWORD)
    page.goto(INBOX)
    assert _row(page, "Carla Costa").get_by_text("Draft waiting").is_visible()
    assert _row(page, "Carla Costa").get_by_text("Sidekick was not confident").count() == 0  # the inbox's label:
    assert _row(page, "Carla Costa").locator(".thread-why").inner_text().strip()
    assert _row(page, "Ben Brandt").get_by_text("Unassigned").is_visible()
    page.evaluate("window.__marker = 'same page'")

    _row(page, "Ben Brandt").get_by_role("link").click()
    pane = page.locator("#thread-pane")
    pane.get_by_role("heading", name="Ben Brandt").wait_for()
    assert page.url.endswith(f"/inbox/{threads['ben'].pk}/")  # pushed: a reload opens the thread page
    assert page.evaluate("window.__marker") == "same page"
    list_box, pane_box = page.locator(".inbox-pane").bounding_box(), pane.bounding_box()
    assert list_box["x"] + list_box["width"] <= pane_box["x"]  # side by side
    assert abs(list_box["y"] - pane_box["y"]) < 40

    pane.get_by_role("button", name="Assign to me").click()
    pane.get_by_text("Assigned to you").first.wait_for()
    _row(page, "Ben Brandt").get_by_text("You", exact=True).wait_for()  # the list refreshed beside it
    threads["ben"].refresh_from_db()
    assert threads["ben"].assigned_to == setter.user

    pane.get_by_label("Snooze how long").select_option("3h")
    pane.get_by_role("button", name="Snooze").click()
    _row(page, "Ben Brandt").wait_for(state="detached")  # it left the open tab
    threads["ben"].refresh_from_db()
    assert threads["ben"].status == ThreadStatus.SNOOZED
    page.locator(".inbox-tabs").get_by_role("link", name=re.compile("Snoozed")).click()
    _row(page, "Ben Brandt").wait_for()

    page.locator(".inbox-tabs").get_by_role("link", name=re.compile("Open")).click()
    _row(page, "Anna Alvarez").get_by_role("link").click()
    pane.get_by_role("heading", name="Anna Alvarez").wait_for()
    assert _overflow(page) <= 0
    screenshot(page, "inbox-split")
    pane.get_by_role("button", name="Resolve").click()
    _row(page, "Anna Alvarez").wait_for(state="detached")
    threads["anna"].refresh_from_db()
    assert threads["anna"].status == ThreadStatus.RESOLVED and threads["anna"].resolved_by == setter.user
    assert _overflow(page) <= 0

    # The thread's own address (a reload after the pushed URL): the list beside the thread, its row open.
    page.goto(f"/w/zen/inbox/{threads['carla'].pk}/")
    assert page.get_by_role("heading", name="Carla Costa").is_visible()
    assert _row(page, "Carla Costa").is_visible()  # Anna is resolved and Ben snoozed by now
    assert "open" in _row(page, "Carla Costa").get_attribute("class").split()
    list_box, pane_box = page.locator(".inbox-pane").bounding_box(), pane.bounding_box()
    assert list_box["x"] + list_box["width"] <= pane_box["x"] and abs(list_box["y"] - pane_box["y"]) < 40
    assert not page.get_by_role("link", name="← Inbox").is_visible()  # the list is right there
    assert _overflow(page) <= 0


def test_bulk_assign_and_resolve(page, inbox):
    setter, threads = inbox
    page.set_viewport_size(LAPTOP)
    page.set_default_timeout(20_000)  # a loaded shared machine: HTMX swaps can take seconds
    browser_login(page, "setter@zen.test", PASSWORD)
    page.goto(INBOX)
    page.get_by_label("Select all conversations shown").check()
    assert page.locator("#thread-list .row-check:checked").count() == 3
    page.get_by_label("Bulk action").select_option("assign_me")
    page.get_by_role("button", name="Apply to selected").click()
    page.get_by_text("3 conversations updated").wait_for()
    assert Thread.objects.filter(assigned_to=setter.user).count() == 3
    _row(page, "Ben Brandt").get_by_role("checkbox").check()
    page.get_by_label("Bulk action").select_option("resolve")
    page.get_by_role("button", name="Apply to selected").click()
    _row(page, "Ben Brandt").wait_for(state="detached")
    assert set(Thread.objects.filter(status=ThreadStatus.RESOLVED).values_list("pk", flat=True)) == {threads["ben"].pk}


def test_keyboard_shortcuts(page, inbox):
    setter, threads = inbox
    page.set_viewport_size(LAPTOP)
    page.set_default_timeout(20_000)  # a loaded shared machine: HTMX swaps can take seconds
    browser_login(page, "setter@zen.test", PASSWORD)
    page.goto(INBOX)
    page.locator("#thread-list .thread-row").first.wait_for()
    selected = page.locator("#thread-list .thread-row.selected")
    page.keyboard.press("j")
    assert "Carla Costa" in selected.inner_text()
    page.keyboard.press("j")
    page.keyboard.press("j")
    assert "Anna Alvarez" in selected.inner_text()
    page.keyboard.press("k")
    assert "Ben Brandt" in selected.inner_text()
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    dialog.wait_for()
    assert dialog.get_by_text("Resolve the open conversation").is_visible()
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")

    page.keyboard.press("k")
    assert "Carla Costa" in selected.inner_text()
    # Enter on a focused button keeps the button's meaning (by design); the page's pollers (list, counts)
    # can leave focus on one, so start from the page itself.
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press("Enter")
    pane = page.locator("#thread-pane")
    pane.get_by_role("heading", name="Carla Costa").wait_for()
    page.keyboard.press("r")
    composer = page.locator("#composer textarea")
    assert composer.evaluate("el => el === document.activeElement")
    page.keyboard.type("just typing: j k e a ?")  # never a shortcut inside the composer
    assert "Carla Costa" in selected.inner_text()
    assert not page.get_by_role("dialog", name="Keyboard shortcuts").is_visible()
    composer.fill("")
    page.evaluate("document.activeElement.blur()")

    page.keyboard.press("a")
    page.keyboard.press("a")  # a second press before (or after) the answer sends nothing more
    pane.get_by_text("Nothing waiting for you.").wait_for()
    page.keyboard.press("a")
    page.wait_for_timeout(500)
    sent = Message.objects.filter(thread=threads["carla"], direction=Direction.OUT)
    assert sent.count() == 1 and sent.get().disposition == "approved"

    page.keyboard.press("e")
    page.keyboard.press("e")
    _row(page, "Carla Costa").wait_for(state="detached")
    threads["carla"].refresh_from_db()
    assert threads["carla"].status == ThreadStatus.RESOLVED
    assert threads["carla"].actions.filter(action="resolved").count() == 1


def test_e_resolves_the_selected_row_when_no_thread_is_open(page, inbox):
    setter, threads = inbox
    page.set_viewport_size(LAPTOP)
    page.set_default_timeout(20_000)
    browser_login(page, "setter@zen.test", PASSWORD)
    page.goto(INBOX)
    page.locator("#thread-list .thread-row").first.wait_for()
    page.keyboard.press("j")
    page.keyboard.press("j")
    assert "Ben Brandt" in page.locator("#thread-list .thread-row.selected").inner_text()
    page.keyboard.press("e")
    page.keyboard.press("e")  # a repeat before the list refreshes resolves nothing more
    _row(page, "Ben Brandt").wait_for(state="detached")
    threads["ben"].refresh_from_db()
    assert threads["ben"].status == ThreadStatus.RESOLVED and threads["ben"].resolved_by == setter.user
    assert threads["ben"].actions.filter(action="resolved").count() == 1
    assert Thread.objects.filter(status=ThreadStatus.RESOLVED).count() == 1  # only the selected one
    assert page.locator("#thread-pane .pane-empty").is_visible()  # no thread was opened
    page.keyboard.press("e")  # nothing selected any more: nothing happens
    page.wait_for_timeout(500)
    assert Thread.objects.filter(status=ThreadStatus.RESOLVED).count() == 1


def test_phone_keeps_list_then_thread(page, screenshot, inbox):
    _, threads = inbox
    page.set_viewport_size(PHONE)
    page.set_default_timeout(20_000)
    browser_login(page, "setter@zen.test", PASSWORD)
    page.goto(INBOX)
    assert _overflow(page) <= 0
    assert not page.locator("#thread-pane").is_visible()
    screenshot(page, "inbox-phone")
    _row(page, "Ben Brandt").get_by_role("link").click()
    page.wait_for_url(f"**/inbox/{threads['ben'].pk}/")
    assert page.get_by_role("link", name="← Inbox").is_visible()  # the thread page, not a hidden pane
    assert page.get_by_role("heading", name="Ben Brandt").is_visible()
    assert not page.locator("#thread-list").is_visible()  # the thread alone on a phone
    assert _overflow(page) <= 0
    page.get_by_role("button", name="Assign to me").click()
    page.get_by_text("Assigned to you").first.wait_for()
    assert _overflow(page) <= 0
    page.goto(INBOX)
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/inbox/{threads['carla'].pk}/")
