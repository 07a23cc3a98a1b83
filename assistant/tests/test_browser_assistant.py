"""The assistant in Chromium: open the sidebar on the inbox, ask, watch the answer stream in, at a laptop
(1366 px) and a phone (390 px, a full-screen panel) without horizontal overflow. Writes
docs/screenshots/assistant.png and assistant-phone.png.

The `llm` worker is a thread here: the send view's enqueue starts the real task code
(assistant.answer.answer_write) in a thread instead of publishing to Redis, and the task streams from
the fake provider over HTTP into the database, which the page polls.
"""


import pytest

from accounts.tests.factories import PASSWORD, AdminMembershipFactory, MembershipFactory
from assistant.models import AssistantMessage, MessageStatus
from conftest import SCREENSHOTS, browser_login
from conversations.tests.factories import InboundMessageFactory, ThreadFactory
from integrations.tests.factories import ChannelFactory
from testing.fake_llm import Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

PHONE, LAPTOP = {"width": 390, "height": 844}, {"width": 1366, "height": 768}
ANSWER = ["Ask her ", "which evening ", "suits her best, ", "then offer ", "the Tuesday ", "group: ",
          "it still has ", "two places."]


@pytest.fixture
def studio(fake_llm, worker_thread):
    admin = AdminMembershipFactory(workspace__name="Harbor Light Studio", workspace__slug="zen",
                                   user__email="admin@zen.test")
    workspace = admin.workspace
    MembershipFactory(workspace=workspace, user__email="setter@zen.test")
    fake_llm.provider(workspace, kind="openai_compatible", model="gpt-4o-mini")
    fake_llm.handler = lambda request: Reply.stream(ANSWER, chunk_delay=0.12)
    thread = ThreadFactory(contact__channel=ChannelFactory(workspace=workspace), contact__display_name="Maria Lopez")
    InboundMessageFactory(thread=thread, text="Hi! Do you still have places in the evening group?")
    return {"inbox": "/w/zen/inbox/", "thread": f"/w/zen/inbox/{thread.pk}/"}


def _overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def _ask_and_watch(page, question):
    panel = page.locator("#assistant-panel")
    panel.get_by_label("Your question").fill(question)
    panel.get_by_role("button", name="Send").click()
    # Part of the answer shows while it is still being written...
    page.wait_for_function("""(() => { const m = document.querySelector('.assistant-msg[data-status="streaming"]');
        return m && m.textContent.includes('Ask her') && !m.textContent.includes('two places.'); })()""")
    # ...then all of it, finished.
    page.locator('.assistant-msg[data-status="complete"]', has_text="two places.").last.wait_for()


def test_ask_on_the_inbox_and_watch_the_answer_stream(page, screenshot, studio):
    page.set_viewport_size(LAPTOP)
    browser_login(page, "setter@zen.test", PASSWORD)
    page.goto(studio["inbox"])
    panel = page.locator("#assistant-panel")
    assert not panel.is_visible()
    page.get_by_role("button", name="Ask Sidekick").click()
    page.get_by_label("Your question").wait_for()
    assert "Tokens used today: 0 of" in panel.inner_text()
    _ask_and_watch(page, "How should I answer the lead asking about evening places?")
    assert _overflow(page) <= 0
    assert "Tokens used today: 0 of" not in panel.inner_text()  # the answer's tokens are counted
    screenshot(page, "assistant")
    answer = AssistantMessage.objects.get(role="assistant")
    assert answer.status == MessageStatus.COMPLETE and answer.content == "".join(ANSWER)

    # On a phone the panel stays open (remembered) and covers the screen; a thread page is its context.
    page.set_viewport_size(PHONE)
    page.goto(studio["thread"])
    page.get_by_label("Your question").wait_for()
    box = panel.bounding_box()
    assert box["x"] == 0 and box["width"] == PHONE["width"]
    assert "This page: Conversation with Maria Lopez" in panel.inner_text()
    _ask_and_watch(page, "What should I reply to Maria?")
    assert _overflow(page) <= 0
    # The viewport only: the panel covers the screen (a full-page shot would show the page below it).
    page.screenshot(path=str(SCREENSHOTS / "assistant-phone.png"))
    page.get_by_role("button", name="Close the assistant").click()
    assert not panel.is_visible()
    page.reload()
    assert not panel.is_visible()  # closed is remembered too
