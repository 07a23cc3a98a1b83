"""Evals in a real browser, at a laptop and a phone width: the Evals page (AUC, κ, pairwise, weakest
cases) and the calibration page driven by the keyboard (g / b label and move on, j / k navigate, each
an HTMX swap, no reload). Writes docs/screenshots/evals.png and evals-calibrate.png."""

import pytest

from accounts.tests.factories import PASSWORD, AdminMembershipFactory
from conftest import browser_login
from conversations.models import Message
from conversations.tests.factories import InboundMessageFactory
from evals.calibration import calibration_sample
from evals.models import CalibrationLabel, PairwiseRun
from evals.services import eval_run
from evals.stats import pairwise_summary
from insights import services as insights
from insights.tests.scenario import DAY, T0, Scene

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

PHONE, LAPTOP = {"width": 390, "height": 844}, {"width": 1366, "height": 768}
CASES = 16
TEXTS = [("Hi! Is there a slot on Friday afternoon for a first consultation?",
          "Yes [name], Friday at 3pm or 4:30pm are free. Which one suits you? Here is the booking link."),
         ("How much is a consultation, and how long does it take?",
          "Thanks for your message, we will get back to you.")]


def _overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def _seed(workspace, fake_llm):
    fake_llm.provider(workspace, kind="openai")
    scene = Scene(workspace)
    for i in range(CASES):
        contact = scene.contact()
        thread = scene.thread(contact)
        asked, answered = TEXTS[i % 2]
        InboundMessageFactory(thread=thread, sent_at=T0 + DAY - DAY / 4, text=asked)
        sent = scene.out(contact, T0 + DAY)
        Message.objects.filter(pk=sent.pk).update(text=answered)
        if i % 2 == 0 or i % 7 == 0:
            scene.booking(contact, T0 + 2 * DAY)
    insights.report_run(workspace=workspace, start=T0, end=T0 + 7 * DAY, as_of=T0 + 30 * DAY)

    def grade(request):
        good = "Friday at 3pm" in request.last_user_text
        overall = 5 if good else 2
        return {"relevance": overall, "clarity": 4, "next_step": overall, "tone": 4, "safety": 5, "overall": overall,
                "reason": "Offers two concrete times and a link." if good else "No answer and no next step."}

    fake_llm.handler = grade
    run = eval_run(workspace=workspace, budget_tokens=1_000_000)
    PairwiseRun.objects.create(
        workspace=workspace, eval_run=run, kind="prompt", status="done", budget_tokens=400_000, tokens_used=61_240,
        candidate_prompt="Always offer two concrete time slots and the booking link.", judge_model="gpt-4o-mini",
        judge_prompt_version="evals-pairwise-1",
        metrics={**pairwise_summary(wins=9, ties=4, losses=1, consistent=11, judged=14), "cases": 14, "failed": 0})
    return run


def _press(page, key: str) -> None:
    """Press a key once HTMX has set up the shown case (a key pressed between a swap and HTMX processing
    the new controls follows the plain link instead: a full page load, which the test would misread)."""
    page.wait_for_function("window.htmx && !document.querySelector("
                           "'.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')")
    page.keyboard.press(key)


def test_the_evals_page_and_keyboard_calibration(page, screenshot, fake_llm):
    admin = AdminMembershipFactory(workspace__name="Harbor Light Studio", workspace__slug="harbor",
                                   user__email="admin@harbor.test")
    workspace = admin.workspace
    run = _seed(workspace, fake_llm)
    page.set_viewport_size(LAPTOP)
    browser_login(page, "admin@harbor.test", PASSWORD)
    page.get_by_role("navigation", name="Workspace navigation").get_by_role("link", name="Evals").click()
    page.get_by_role("heading", name="Can the judge be trusted?").wait_for()
    assert "Separates" in page.locator("#stat-auc").inner_text()
    assert "9 / 4 / 1" in page.locator("#pairwise-runs").inner_text()
    assert page.locator("#weakest-cases tbody tr").count() > 0
    page.get_by_role("button", name="Estimate a run").click()  # the cost before anything starts
    page.get_by_role("button", name="Start the run").wait_for()
    assert f"{CASES} decided" in page.locator("#run-form").inner_text()
    assert _overflow(page) <= 0
    screenshot(page, "evals")
    page.set_viewport_size(PHONE)
    page.reload(wait_until="load")
    assert _overflow(page) <= 0, f"{_overflow(page)} px too wide at 390 px"

    page.set_viewport_size(LAPTOP)
    page.get_by_role("link", name="Label cases").click()
    page.get_by_role("heading", name="Calibrate the judge").wait_for()
    sample = calibration_sample(run=run)
    page.evaluate("window.__marker = 'same page'")
    case = page.locator("#calibrate-case")
    assert f"Case 1 of {len(sample)}" in case.inner_text()

    _press(page, "g")  # label the first case good: the second one is swapped in
    page.get_by_text(f"Case 2 of {len(sample)}").wait_for()
    _press(page, "j")
    page.get_by_text(f"Case 3 of {len(sample)}").wait_for()
    _press(page, "k")
    page.get_by_text(f"Case 2 of {len(sample)}").wait_for()
    _press(page, "b")
    page.get_by_text(f"Case 3 of {len(sample)}").wait_for()
    assert page.evaluate("window.__marker") == "same page"  # HTMX swaps, no reload
    labels = dict(CalibrationLabel.objects.filter(workspace=workspace).values_list("message_id", "label"))
    assert labels == {sample[0].message_id: "good", sample[1].message_id: "bad"}
    assert "2 labelled" in page.locator("#calibrate-stats").inner_text()
    for _ in range(4):  # a few more, so the screenshot shows a κ
        current = page.locator("#calibrate-case").inner_text()
        _press(page, "g" if "Friday at 3pm" in current else "b")
        page.wait_for_function("(t) => document.querySelector('#calibrate-stats').innerText.includes(t)",
                               arg=f"{len(labels) + 1} labelled")
        labels = dict(CalibrationLabel.objects.filter(workspace=workspace).values_list("message_id", "label"))
    assert _overflow(page) <= 0
    screenshot(page, "evals-calibrate")
    page.set_viewport_size(PHONE)
    page.reload(wait_until="load")
    assert _overflow(page) <= 0, f"{_overflow(page)} px too wide at 390 px"
