"""Phase 2 of the dashboard in a real browser: an AI reply's confidence and sources, approving and
editing drafts, the Sidekick page, escalations, sending a follow-up, editing and restoring the prompt."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import PASSWORD, AdminMembershipFactory, MembershipFactory
from conftest import browser_login
from contacts.models import Contact
from conversations.models import (
    ActionKind,
    Decision,
    DraftDisposition,
    Escalation,
    EscalationStatus,
    Message,
    PromptRevision,
    ReplyDraft,
    SenderKind,
    SendStatus,
    SidekickActionLog,
    SidekickSettings,
    Thread,
)
from conversations.tests.pipeline_fixtures import draft_reply, review
from integrations.tests.factories import ChannelFactory
from testing.fake_llm import Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


@pytest.fixture
def team(sandbox):
    admin = AdminMembershipFactory(workspace__name="Zen Studio", workspace__slug="zen", user__email="admin@zen.test")
    setter = MembershipFactory(workspace=admin.workspace, user__email="setter@zen.test", user__full_name="Sam Setter")
    channel = ChannelFactory(workspace=admin.workspace, name="Zen IG")
    # Sidekick does not answer on its own here: each test sets up the drafts it needs.
    SidekickSettings.objects.update_or_create(workspace=admin.workspace,
                                              defaults={"enabled": False, "follow_up_after_hours": 12})
    return admin, setter, channel


def _conversation(channel, name="Dana", *, ago=timedelta(minutes=5)):
    at = timezone.now() - ago
    contact = Contact.objects.create(workspace=channel.workspace, channel=channel, external_id=f"7{name}",
                                     display_name=name)
    thread = Thread.objects.create(workspace=channel.workspace, channel=channel, contact=contact, last_message_at=at,
                                   last_inbound_at=at)
    Message.objects.create(workspace=channel.workspace, thread=thread, channel=channel, mid=f"in-{name}",
                           direction="in", sender_kind=SenderKind.CONTACT, text="How much is the 1:1 coaching?",
                           sent_at=at)
    return thread


def _ai_reply(thread, text, confidence=0.91):
    message = Message.objects.create(workspace=thread.workspace, thread=thread, channel=thread.channel,
                                     mid=f"out-{text[:10]}", direction="out", sender_kind=SenderKind.AI, text=text,
                                     send_status=SendStatus.SENT)
    draft = ReplyDraft.objects.create(
        workspace=thread.workspace, thread=thread, text=text, final_text=text, confidence=confidence,
        confidence_parts={"model": 0.95, "retrieval": 0.9, "value": confidence}, decision=Decision.SENT,
        outbound_message=message, model="claude-test",
        reasons={"rules": [], "overseer": {"verdict": "approve", "reasons": ["Grounded in the price list."]}},
        cited_chunks=[{"source": "document", "document_title": "Price list 2026", "page": 1, "section": "Coaching",
                       "text": "1:1 coaching is 200 EUR per session."}])
    SidekickActionLog.objects.create(workspace=thread.workspace, thread=thread, contact=thread.contact,
                                     action=ActionKind.SENT_REPLY, text=text, confidence=confidence, draft=draft,
                                     message=message, result="sent")
    return draft


def _pending(thread, text, confidence=0.64):
    return ReplyDraft.objects.create(workspace=thread.workspace, thread=thread, text=text, final_text=text,
                                     confidence=confidence, decision=Decision.DRAFT_SAVED,
                                     reason_code="below_threshold",
                                     reasons={"rules": [], "overseer": {"verdict": "approve", "reasons": []}})


def test_ai_reply_confidence_and_sources_then_approve_and_edit_drafts(page, screenshot, team):
    _, setter, channel = team
    thread = _conversation(channel)
    _ai_reply(thread, "1:1 coaching is 200 EUR per session.")
    first = _pending(thread, "Would Friday at 3pm suit you?")
    browser_login(page, "setter@zen.test", PASSWORD)
    page.goto(f"/w/zen/inbox/{thread.pk}/")
    page.evaluate("window.__marker = 'same page'")
    page.get_by_text("91% confident").wait_for()
    page.get_by_role("link", name="Why Sidekick wrote this").click()
    details = page.locator("#sidekick-details")
    details.get_by_text("Price list 2026").wait_for()
    assert details.get_by_text("Grounded in the price list.").is_visible()
    assert details.get_by_text("91%").first.is_visible()
    screenshot(page, "thread-sidekick")

    page.get_by_role("button", name="Approve and send").click()
    page.locator("#thread-live").get_by_text("Would Friday at 3pm suit you?").wait_for()
    page.get_by_text("Nothing waiting for you.").wait_for()
    first.refresh_from_db()
    assert first.disposition == DraftDisposition.APPROVED and first.disposition_by == setter.user

    second = _pending(thread, "We also have Saturday mornings.")
    page.locator(".draft-text").get_by_text("We also have Saturday mornings.").wait_for(timeout=15_000)  # the panel polls
    page.get_by_text("Edit and send").click()
    page.get_by_label("Edit the draft").fill("Saturday 10am works too, Dana!")
    page.get_by_role("button", name="Send edited reply").click()
    page.locator("#thread-live").get_by_text("Saturday 10am works too, Dana!").wait_for()
    second.refresh_from_db()
    assert second.disposition == DraftDisposition.EDITED
    assert page.evaluate("window.__marker") == "same page"


def test_sidekick_page_escalations_and_overview(page, screenshot, team):
    admin, _, channel = team
    thread = _conversation(channel)
    _ai_reply(thread, "1:1 coaching is 200 EUR per session.")
    other = _conversation(channel, "Eli")
    draft = _pending(other, "Let me find a teammate for you.", confidence=0.41)
    Escalation.objects.create(workspace=channel.workspace, thread=other, reason_code="human_requested", draft=draft,
                              reason_text="The customer asked for a person.")
    browser_login(page, "admin@zen.test", PASSWORD)
    page.locator(".sidebar").get_by_role("link", name="Sidekick", exact=True).click()
    page.get_by_text("Sent a reply").first.wait_for()
    page.get_by_label("Confidence threshold").fill("0.85")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Auto mode saved.").wait_for()
    assert SidekickSettings.objects.get(workspace=channel.workspace).threshold == 0.85
    screenshot(page, "sidekick")

    page.get_by_role("link", name="Escalations").first.click()
    page.get_by_text("Let me find a teammate for you.").wait_for()
    page.get_by_role("button", name="Claim").click()
    page.get_by_text("Claimed by admin@zen.test").wait_for()
    screenshot(page, "escalations")
    page.get_by_role("button", name="Resolve").click()
    page.get_by_text("Let me find a teammate for you.").wait_for(state="detached")
    page.get_by_text("Escalation resolved.").wait_for()
    assert Escalation.objects.get(thread=other).status == EscalationStatus.RESOLVED

    page.get_by_role("link", name="Overview").click()
    page.get_by_text("Automation rate").first.wait_for()
    page.wait_for_function("document.getElementById('automation-chart').chart !== undefined")
    screenshot(page, "overview")


def test_send_a_follow_up(page, screenshot, team, fake_llm):
    _, _, channel = team
    thread = _conversation(channel, ago=timedelta(hours=13))
    _conversation(channel, "Eli", ago=timedelta(hours=14))
    fake_llm.provider(channel.workspace, kind="openai")
    fake_llm.queue(Reply.structured(draft_reply("Hi Dana! Still keen on a coaching slot?", intent="small_talk",
                                                confidence=0.97)), Reply.structured(review()))
    browser_login(page, "setter@zen.test", PASSWORD)
    page.get_by_role("link", name="Follow-ups").click()
    row = page.locator(f"#follow-up-{thread.pk}")
    row.wait_for()
    assert page.get_by_text("window is still open").first.is_visible()
    screenshot(page, "follow-ups")
    row.get_by_role("button", name="Send follow-up").click()
    page.get_by_text("Follow-up sent to Dana.").wait_for()
    row.wait_for(state="detached")
    assert page.get_by_role("link", name="Eli").is_visible()
    message = Message.objects.get(thread=thread, direction="out")
    assert message.sender_kind == SenderKind.AI and message.text == "Hi Dana! Still keen on a coaching slot?"


def test_edit_the_prompt_see_the_revision_and_restore(page, screenshot, team):
    browser_login(page, "admin@zen.test", PASSWORD)
    page.goto("/w/zen/sidekick/prompt/")
    editor = page.get_by_label("System prompt")
    editor.fill("You answer for {business}. Be brief.")
    page.locator("#preview").get_by_text("You answer for Zen Studio. Be brief.").wait_for()
    page.get_by_label("What changed (note)").fill("shorter")
    page.get_by_role("button", name="Save as a new revision").click()
    page.get_by_text("Saved as revision 1.").wait_for()
    page.get_by_label("System prompt").fill("You answer for {business}. Be brief and warm.")
    page.get_by_label("What changed (note)").fill("warmer")
    page.get_by_role("button", name="Save as a new revision").click()
    page.get_by_text("Saved as revision 2.").wait_for()
    assert page.get_by_role("cell", name="warmer").is_visible()
    page.locator("#revision-2").get_by_role("link", name="Diff").click()
    page.locator("#diff").get_by_text("+You answer for {business}. Be brief and warm.").wait_for()
    screenshot(page, "prompt")
    page.get_by_role("button", name="Restore revision 1").click()
    page.get_by_text("Revision 1 restored as revision 3.").wait_for()
    latest = PromptRevision.objects.order_by("-number").first()
    assert (latest.number, latest.text) == (3, "You answer for {business}. Be brief.")
    assert page.get_by_label("System prompt").input_value() == "You answer for {business}. Be brief."
