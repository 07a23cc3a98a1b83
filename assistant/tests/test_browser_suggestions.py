"""A suggested reply in Chromium: on a thread, open the sidebar, ask, press "Suggest actions", apply the
suggested reply as the thread's draft, see it in the thread's Sidekick panel, undo; at a laptop (1366 px)
and a phone (390 px). Writes docs/screenshots/assistant-suggestion.png and assistant-suggestion-phone.png.

The `llm` worker is a thread here: the views' enqueue runs the real task code (the answer, then the
suggestions) in a thread instead of publishing to Redis; the model is the fake provider over HTTP.
"""


import pytest

from accounts.tests.factories import PASSWORD, AdminMembershipFactory, MembershipFactory
from assistant.models import AssistantSuggestion, SuggestionStatus
from conftest import SCREENSHOTS, browser_login
from conversations.models import Decision, DraftDisposition, ReplyDraft
from conversations.tests.factories import InboundMessageFactory, ThreadFactory
from integrations.tests.factories import ChannelFactory
from testing.fake_llm import Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

PHONE, LAPTOP = {"width": 390, "height": 844}, {"width": 1366, "height": 768}
ANSWER = ["Tell her ", "the Tuesday group ", "at 7 pm ", "still has places ", "and ask if that suits her."]
REPLY = "Hi Maria! Yes, the Tuesday evening group at 7 still has places. Would that suit you?"


@pytest.fixture
def studio(fake_llm, worker_thread):
    admin = AdminMembershipFactory(workspace__name="Harbor Light Studio", workspace__slug="zen",
                                   user__email="admin@zen.test")
    workspace = admin.workspace
    MembershipFactory(workspace=workspace, user__email="setter@zen.test")
    fake_llm.provider(workspace, kind="openai_compatible", model="gpt-4o-mini")

    def model(request):
        if request.schema:  # the suggestions call
            return Reply.structured({"suggestions": [{
                "type": "reply", "title": "Offer the Tuesday group", "content": REPLY,
                "reasoning": "She asked about evening places; Tuesday still has room.", "confidence": 0.82}]})
        return Reply.stream(ANSWER, chunk_delay=0.05)

    fake_llm.handler = model
    thread = ThreadFactory(contact__channel=ChannelFactory(workspace=workspace), contact__display_name="Maria Lopez")
    InboundMessageFactory(thread=thread, text="Hi! Do you still have places in the evening group?")
    return {"thread": thread, "url": f"/w/zen/inbox/{thread.pk}/"}


def _overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def _ask_and_suggest(page, question):
    panel = page.locator("#assistant-panel")
    panel.get_by_label("Your question").fill(question)
    panel.get_by_role("button", name="Send").click()
    panel.locator('.assistant-msg[data-status="complete"]', has_text="suits her.").last.wait_for()
    panel.get_by_role("button", name="Suggest actions").last.click()
    card = panel.locator('.assistant-suggestion[data-status="pending"]').last
    card.wait_for()
    assert REPLY in card.inner_text() and "82% sure" in card.inner_text()
    return card


def _apply(page, card):
    card.get_by_role("button", name="Use as the draft").click()
    applied = page.locator('#assistant-panel .assistant-suggestion[data-status="applied"]').last
    applied.wait_for()
    assert "Applied: draft on the thread" in applied.inner_text()
    return applied


def test_apply_a_suggested_reply_as_the_draft_then_undo(page, screenshot, studio):
    thread = studio["thread"]
    page.set_viewport_size(LAPTOP)
    browser_login(page, "setter@zen.test", PASSWORD)
    page.goto(studio["url"])
    page.get_by_role("button", name="Ask Sidekick").click()
    card = _ask_and_suggest(page, "How should I answer Maria?")
    applied = _apply(page, card)
    # The thread's Sidekick panel reloads and shows the suggestion as the draft to approve; nothing is sent.
    page.locator("#sidekick-panel .draft-text", has_text="Tuesday evening group").wait_for()
    draft = ReplyDraft.objects.get(thread=thread)
    assert draft.decision == Decision.DRAFT_SAVED and draft.outbound_message_id is None
    assert _overflow(page) <= 0
    screenshot(page, "assistant-suggestion")

    applied.get_by_role("button", name="Undo").click()
    page.locator('#assistant-panel .assistant-suggestion[data-status="undone"]').wait_for()
    page.locator("#sidekick-panel", has_text="Nothing waiting for you.").wait_for()
    draft.refresh_from_db()
    assert draft.disposition == DraftDisposition.DISCARDED

    # On a phone the panel covers the screen: ask again, apply, and the draft is on the thread behind it.
    page.set_viewport_size(PHONE)
    page.goto(studio["url"])
    panel = page.locator("#assistant-panel")
    panel.get_by_label("Your question").wait_for()
    box = panel.bounding_box()
    assert box["x"] == 0 and box["width"] == PHONE["width"]
    card = _ask_and_suggest(page, "And a shorter version?")
    _apply(page, card)
    assert _overflow(page) <= 0
    page.screenshot(path=str(SCREENSHOTS / "assistant-suggestion-phone.png"))
    assert ReplyDraft.objects.filter(thread=thread, disposition="").get().final_text == REPLY
    assert AssistantSuggestion.objects.filter(status=SuggestionStatus.APPLIED).count() == 1
    page.get_by_role("button", name="Close the assistant").click()
    page.locator("#sidekick-panel .draft-text", has_text="Tuesday evening group").wait_for()
