"""Every dashboard page fits a phone (390 px) and a laptop (1366 px) without horizontal scrolling, for an
admin and for a setter (on the pages a setter may open). Writes `<page>-phone.png` to docs/screenshots/."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.services import invitation_create
from accounts.tests.factories import PASSWORD, AdminMembershipFactory, MembershipFactory
from conftest import browser_login
from contacts.models import Contact, LeadMemory
from contacts.services import contact_link_as_person
from conversations import escalations, services
from conversations.intake import sandbox_dm_deliver
from conversations.models import Decision, ReplyDraft, SidekickSettings, Thread
from conversations.saved_replies import saved_reply_create
from integrations.tests.factories import ChannelFactory
from knowledge.models import FaqEntry

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

PHONE, LAPTOP = {"width": 390, "height": 844}, {"width": 1366, "height": 768}
LONG = ("Hi! I saw your post about the spring coaching programme and wanted to ask whether the evening group "
        "still has places, what it costs per month, and whether https://example.com/a-very-long-link-that-never-"
        "breaks-anywhere-at-all-0123456789 is the right page to book through?")
# What a setter may not open (admins only): checked for the admin alone.
ADMIN_ONLY = {"sidekick-settings", "follow-up-steps", "channels", "llm-providers", "usage", "sandbox", "audit-log",
              "knowledge-settings", "saved-replies"}


@pytest.fixture
def workspace_with_everything(sandbox, fake_llm):
    admin = AdminMembershipFactory(workspace__name="Harbor Light Studio", workspace__slug="zen",
                                   user__email="admin@zen.test", user__full_name="Alex Admin")
    setter = MembershipFactory(workspace=admin.workspace, user__email="setter@zen.test",
                               user__full_name="Sam Setter")
    workspace = admin.workspace
    SidekickSettings.objects.update_or_create(workspace=workspace, defaults={"enabled": False})
    channel = ChannelFactory(workspace=workspace, name="Harbor Light on Instagram")
    fake_llm.provider(workspace, kind="openai_compatible", model="a-rather-long-model-name-2026-11-30-preview")
    for n in range(3):
        sandbox_dm_deliver(channel=channel, sender_id=f"70{n}", text=LONG if n == 0 else f"Question number {n}?")
    thread = Thread.objects.get(contact__external_id="700")
    Contact.objects.filter(pk=thread.contact_id).update(display_name="Maria Fernanda Lopez-Gutierrez")
    draft = ReplyDraft.objects.create(
        workspace=workspace, thread=thread, text="Hi Maria! The evening group has two places left; it is £89 a month.",
        confidence=0.55, confidence_parts={"model": 0.8, "retrieval": 0.4, "value": 0.55},
        decision=Decision.DRAFT_SAVED, reason_code="below_threshold", model="gpt-test")
    escalations.escalation_open(thread=thread, reason_code="low_confidence", draft=draft)
    quiet = Thread.objects.get(contact__external_id="701")
    Contact.objects.filter(pk=quiet.contact_id).update(last_inbound_at=timezone.now() - timedelta(hours=30))
    services.thread_takeover(thread=Thread.objects.get(contact__external_id="702"), actor=setter.user)
    # The contact page's person section: one linked contact and one suggested link (same email in memory).
    contact_link_as_person(contact=Contact.objects.get(pk=thread.contact_id),
                           other=Contact.objects.get(pk=quiet.contact_id), actor=admin.user)
    for external_id in ("700", "702"):
        LeadMemory.objects.create(workspace=workspace, contact=Contact.objects.get(external_id=external_id),
                                  kind="fact", text="Email maria.fernanda.lopez@harbor-light-customers.example")
    invitation_create(workspace=workspace, email="a-new-colleague-with-a-long-address@harbor-light.example",
                      role="setter", invited_by=admin.user)
    faq = FaqEntry.objects.create(workspace=workspace, question="Do I need to bring my own mat?",
                                  answer="No, mats and blocks are provided; bring water and a towel.")
    saved_reply_create(workspace=workspace, actor=admin.user, title="Evening group prices and how to book a place",
                       shortcut="evening-prices", body="Hi {first_name}! " + LONG)
    w = "/w/zen"
    pages = {
        "overview": f"{w}/", "inbox": f"{w}/inbox/", "thread": f"{w}/inbox/{thread.pk}/",
        "escalations": f"{w}/escalations/", "follow-ups": f"{w}/follow-ups/", "contacts": f"{w}/contacts/",
        "contact": f"{w}/contacts/{thread.contact_id}/", "sidekick": f"{w}/sidekick/",
        "sidekick-settings": f"{w}/settings/sidekick/", "follow-up-steps": f"{w}/settings/sidekick/follow-ups/",
        "prompt": f"{w}/sidekick/prompt/",
        "members": f"{w}/settings/members/", "audit-log": f"{w}/settings/audit/",
        "channels": f"{w}/settings/channels/", "llm-providers": f"{w}/settings/llm/", "usage": f"{w}/settings/usage/",
        "sandbox": f"{w}/sandbox/", "knowledge": f"{w}/knowledge/", "faq": f"{w}/knowledge/faq/",
        "faq-entry": f"{w}/knowledge/faq/{faq.pk}/", "knowledge-test": f"{w}/knowledge/test/?q=mat",
        "knowledge-settings": f"{w}/knowledge/settings/", "saved-replies": f"{w}/settings/saved-replies/",
        # No report in this workspace: the empty state (insights/tests/test_browser.py covers a report).
        "insights-empty": f"{w}/insights/",
    }
    return pages


def _overflow(page) -> int:
    """How many pixels the document is wider than the viewport (0 when it fits)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def _visit_all(page, pages, names, *, screenshot=None) -> list[str]:
    problems = []
    for size_name, size in (("phone", PHONE), ("laptop", LAPTOP)):
        page.set_viewport_size(size)
        for name in names:
            response = page.goto(pages[name], wait_until="load")
            if response.status != 200:
                problems.append(f"{name}: HTTP {response.status}")
                continue
            extra = _overflow(page)
            if extra > 0:
                problems.append(f"{name} at {size['width']} px is {extra} px too wide")
            if screenshot and size_name == "phone":
                screenshot(page, f"{name}-phone")
    return problems


def test_every_page_fits_a_phone_and_a_laptop(page, screenshot, workspace_with_everything):
    pages = workspace_with_everything
    assert set(ADMIN_ONLY) <= set(pages)
    browser_login(page, "admin@zen.test", PASSWORD)
    problems = _visit_all(page, pages, list(pages), screenshot=screenshot)

    page.context.clear_cookies()
    browser_login(page, "setter@zen.test", PASSWORD)
    problems += [f"setter: {p}" for p in _visit_all(page, pages, [n for n in pages if n not in ADMIN_ONLY])]
    assert not problems, "\n".join(problems)


def test_phone_header_keeps_the_navigation_in_a_menu(page, workspace_with_everything):
    pages = workspace_with_everything
    page.set_viewport_size(PHONE)
    browser_login(page, "setter@zen.test", PASSWORD)
    page.goto(pages["inbox"])
    menu = page.get_by_role("navigation", name="Workspace navigation").get_by_role("link", name="Escalations")
    assert not menu.is_visible()  # folded away on a phone
    page.get_by_text("Menu", exact=True).click()
    menu.click()
    page.wait_for_url("**/escalations/")
    # On a thread the pending draft and its actions come before the composer.
    page.goto(pages["thread"])
    draft_top = page.get_by_role("button", name="Approve and send").bounding_box()["y"]
    composer_top = page.get_by_label("Reply").bounding_box()["y"]
    assert draft_top < composer_top


def test_overview_charts_keep_their_legend_and_show_today(page, workspace_with_everything):
    page.set_viewport_size(LAPTOP)
    browser_login(page, "admin@zen.test", PASSWORD)
    page.goto(workspace_with_everything["overview"], wait_until="load")
    page.wait_for_function("document.getElementById('escalation-chart').chart !== undefined")
    grid_bottom = page.locator(".chart-grid").bounding_box()
    heading = page.get_by_role("heading", name="Escalations by reason").bounding_box()
    assert grid_bottom["y"] + grid_bottom["height"] <= heading["y"]
    for chart in ("automation-chart", "response-chart", "escalation-chart"):
        ticks = page.evaluate(f"""(() => {{ const c = document.getElementById('{chart}').chart;
            return {{ last: c.scales.x.ticks.at(-1).label, today: c.data.labels.at(-1),
                      offset: c.scales.x.options.offset }}; }})()""")
        assert ticks["last"] == ticks["today"] and ticks["offset"], (chart, ticks)
