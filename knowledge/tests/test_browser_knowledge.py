"""Knowledge → "Test a question" in Chromium: a setter asks, sees the passages at once, then the reply
Sidekick would send (written by the real drafting pipeline), its decision, sources and confidence, with
the raw scores behind "Details"; at a laptop (1366 px) and a phone (390 px) without horizontal overflow.
Writes docs/screenshots/knowledge-test-answer.png and knowledge-test-answer-phone.png.

The `llm` worker is a thread here (as assistant/tests/conftest.py `worker_thread` does it): the view's
enqueue starts the real task code in a thread instead of publishing to Redis; the model is the
scripted fake provider over HTTP.
"""

import threading

import pytest
from django.db import connection

from accounts.tests.factories import PASSWORD, AdminMembershipFactory, MembershipFactory
from conftest import browser_login
from conversations.tests.pipeline_fixtures import draft_reply, review, screen
from knowledge.services import faq_create
from testing.fake_llm import Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

PHONE, LAPTOP = {"width": 390, "height": 844}, {"width": 1366, "height": 768}
REPLY = "No need to bring one: mats and blocks are provided. Just bring water and a towel, see you soon!"


@pytest.fixture
def trial_worker(monkeypatch):
    """The `llm` worker as a thread: `question_trials.task_enqueue` runs the real task code."""
    from conversations.question_trial import question_trial_run
    from knowledge import question_trials

    threads = []

    def enqueue(task, *, args, **options):
        def run():
            try:
                question_trial_run(trial_id=args[0])
            finally:
                connection.close()

        thread = threading.Thread(target=run)
        thread.start()
        threads.append(thread)
        return True

    monkeypatch.setattr(question_trials, "task_enqueue", enqueue)
    yield
    for thread in threads:
        thread.join(timeout=10)


@pytest.fixture
def studio(fake_llm, trial_worker):
    admin = AdminMembershipFactory(workspace__name="Harbor Light Studio", workspace__slug="zen",
                                   user__email="admin@zen.test")
    workspace = admin.workspace
    MembershipFactory(workspace=workspace, user__email="setter@zen.test")
    fake_llm.provider(workspace, kind="openai_compatible", model="gpt-4o-mini")
    mat = faq_create(workspace=workspace, question="Do I need to bring my own mat?",
                     answer="No, mats and blocks are provided; bring water and a towel.", actor=None)
    faq_create(workspace=workspace, question="Is there parking?", answer="Yes, free parking behind the studio.",
               actor=None)
    return {"fake": fake_llm, "mat_chunk": mat.chunks.get().pk}


def _script(studio):
    # The draft is slow, so the page shows that Sidekick is still writing before the reply arrives.
    studio["fake"].queue(
        Reply.structured(draft_reply(REPLY, intent="question", cited_source_ids=[f"K{studio['mat_chunk']}"]),
                         delay=1.0),
        Reply.structured(review()), Reply.structured(screen()))


def _ask(page, question):
    page.goto("/w/zen/knowledge/test/")
    page.get_by_label("Question").fill(question)
    page.get_by_role("button", name="Search").click()
    answer = page.locator("#model-answer")
    answer.get_by_text("Sidekick is writing the reply it would send").wait_for()
    page.locator("#results .chunk", has_text="mats and blocks are provided").wait_for()  # passages at once
    answer.get_by_text(REPLY).wait_for(timeout=15_000)
    return answer


def _overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def test_a_setter_asks_and_sees_the_reply_sidekick_would_send(page, screenshot, studio):
    page.set_viewport_size(LAPTOP)
    browser_login(page, "setter@zen.test", PASSWORD)
    _script(studio)
    answer = _ask(page, "do I have to bring my own mat?")
    assert answer.get_by_text("It would send this on its own.").is_visible()
    source = answer.get_by_role("link", name="FAQ: Do I need to bring my own mat?")
    assert source.is_visible() and "/knowledge/faq/" in source.get_attribute("href")
    assert answer.get_by_role("meter").first.is_visible()
    raw = answer.get_by_text("evidence kind")
    assert not raw.is_visible()  # raw scores stay behind the toggle
    answer.get_by_text("Details").click()
    assert raw.is_visible()
    answer.get_by_text("Details").click()  # the screenshot shows the plain-language view
    assert _overflow(page) <= 0
    screenshot(page, "knowledge-test-answer")

    page.set_viewport_size(PHONE)
    _script(studio)
    _ask(page, "do I have to bring my own mat?")
    assert _overflow(page) <= 0
    screenshot(page, "knowledge-test-answer-phone")
