"""The live answer in Chromium: the pieces arrive by server-sent events (EventSource on the stream endpoint,
no poll while it is open), Stop still stops, and without EventSource the poll does the same job.

The `llm` worker is a thread (assistant/tests/conftest.py::worker_thread); the live server is a threaded
WSGI server, so the stream endpoint runs its blocking relay there (the stream server of `make run` runs
the async one, tested in test_stream.py and measured by bench/assistant_stream.py).
"""

import re

import pytest

from accounts.tests.factories import PASSWORD, AdminMembershipFactory, MembershipFactory
from assistant.models import AssistantMessage, MessageStatus
from conftest import browser_login
from testing.fake_llm import Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

ANSWER = [f"step{n} " for n in range(30)]
POLL = re.compile(r"/assistant/messages/\d+/$")
STREAM = re.compile(r"/assistant/messages/\d+/stream/$")


@pytest.fixture
def studio(fake_llm, worker_thread):
    admin = AdminMembershipFactory(workspace__slug="zen", user__email="admin@zen.test")
    MembershipFactory(workspace=admin.workspace, user__email="setter@zen.test")
    fake_llm.provider(admin.workspace, kind="anthropic")
    fake_llm.handler = lambda request: Reply.stream(ANSWER, chunk_delay=0.1)
    return admin.workspace


def _requests(page):
    seen = []
    page.on("request", lambda request: seen.append(request.url))
    return seen


def _ask(page, question="What follow-up works after the price?"):
    page.goto("/w/zen/assistant/")
    page.get_by_role("button", name="Ask Sidekick").click()
    panel = page.locator("#assistant-panel")
    panel.get_by_label("Your question").fill(question)
    panel.get_by_role("button", name="Send").click()
    return panel


def test_the_answer_arrives_by_server_sent_events_without_polling(page, studio):
    browser_login(page, "setter@zen.test", PASSWORD)
    seen = _requests(page)
    _ask(page)
    page.wait_for_function("""(() => { const m = document.querySelector('.assistant-msg[data-status="streaming"]');
        return m && m.textContent.includes('step3') && !m.textContent.includes('step29'); })()""")
    streaming_requests = list(seen)
    page.locator('.assistant-msg[data-status="complete"]', has_text="step29").wait_for()
    assert any(STREAM.search(url) for url in streaming_requests)
    assert not any(POLL.search(url) for url in streaming_requests)  # the 300 ms poll stayed quiet
    # Once ended, the finished row was loaded once (its final state, the token line under the input).
    assert sum(1 for url in seen if POLL.search(url)) == 1
    text = page.locator('.assistant-msg[data-status="complete"] .assistant-text').last.inner_text()
    assert text.strip() == "".join(ANSWER).strip()
    assert AssistantMessage.objects.get(role="assistant").status == MessageStatus.COMPLETE


def test_stop_ends_a_streamed_answer_and_keeps_what_arrived(page, studio):
    browser_login(page, "setter@zen.test", PASSWORD)
    panel = _ask(page)
    page.wait_for_function("""(() => { const m = document.querySelector('.assistant-msg[data-status="streaming"]');
        return m && m.textContent.includes('step2'); })()""")
    panel.get_by_role("button", name="Stop").click()
    note = panel.get_by_text("Stopped; the answer above is what arrived.")
    note.wait_for()
    answer = AssistantMessage.objects.get(role="assistant")
    assert answer.status == MessageStatus.STOPPED and answer.content.startswith("step0 step1 step2")
    assert "step29" not in answer.content


def test_without_event_source_the_poll_shows_the_answer(page, studio):
    page.add_init_script("delete window.EventSource;")
    browser_login(page, "setter@zen.test", PASSWORD)
    seen = _requests(page)
    _ask(page)
    page.locator('.assistant-msg[data-status="complete"]', has_text="step29").wait_for()
    assert not any(STREAM.search(url) for url in seen)
    assert sum(1 for url in seen if POLL.search(url)) > 3
