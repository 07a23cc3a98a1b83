"""Proposals in a real browser: approve → apply → the new prompt revision in History → roll back, at a
laptop and a phone width. Writes docs/screenshots/proposals.png, proposal-detail.png, history.png and
their -phone variants."""


import pytest

from accounts.models import Workspace
from accounts.tests.factories import PASSWORD, AdminMembershipFactory
from conftest import browser_login
from conversations import services as conversation_services
from conversations.selectors import prompt_text_current
from evals.models import ProposalKind, ProposalSource, ProposalStatus
from evals.proposals import proposal_create, proposal_reject

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

PHONE, LAPTOP = {"width": 390, "height": 844}, {"width": 1366, "height": 768}
BASE = ("You are the booking assistant of {business}, a photo studio.\n"
        "Answer in the customer's language, briefly and warmly.\n"
        "When someone asks about prices, give the range from the sources.\n"
        "Never promise a date you cannot see in the calendar.")


def _loop_proposal(workspace, line: str):
    return proposal_create(
        workspace=workspace, kind=ProposalKind.PROMPT, source=ProposalSource.LOOP,
        title="End with two concrete times to meet",
        rationale="Messages that asked a question booked 40% of the time against 10% without; the weakest "
                  "messages left the customer without a next step.",
        payload={"text": BASE + "\n" + line},
        evidence={"run_id": 12, "auc": {"value": 0.74, "verdict": "separates"}, "tokens": 1840,
                  "cases": [{"id": 301, "outcome": "not_booked", "overall": 1, "reason": "No next step offered."},
                            {"id": 317, "outcome": "not_booked", "overall": 2, "reason": "Vague about availability."}],
                  "patterns": ["all messages with question = yes went with more bookings (40% booked with it, "
                               "10% without; p adj. 0.01)"]})


def _overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def _flow(page, screenshot, *, workspace, proposal, suffix: str):
    nav = page.get_by_role("navigation", name="Workspace navigation")
    if suffix:
        page.get_by_text("Menu", exact=True).click()  # folded into a "Menu" on a phone
    nav.get_by_role("link", name="Proposals").click()
    page.get_by_role("heading", name="Proposals", exact=True).wait_for()
    assert _overflow(page) <= 0
    screenshot(page, f"proposals{suffix}")

    page.get_by_role("link", name=proposal.title).first.click()
    page.locator("#diff .diff-add").first.wait_for()
    assert "Always offer two concrete times" in page.locator("#diff .diff-add").first.inner_text()
    page.get_by_label("Note").fill("The weakest cases lack a next step; worth it.")
    page.get_by_role("button", name="Approve").click()
    page.get_by_text("Approved. Nothing changes until it is applied.").wait_for()
    page.get_by_role("button", name="Apply").click()
    page.get_by_text("Applied as a new revision.").wait_for()
    assert _overflow(page) <= 0
    screenshot(page, f"proposal-detail{suffix}")
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.APPLIED
    applied = prompt_text_current(workspace=workspace)[1]
    assert applied.text == proposal.payload["text"]

    page.get_by_role("link", name="in History").click()
    row = page.locator(f"#prompt-revision-{applied.pk}")
    row.wait_for()
    assert "current" in row.inner_text() and f"Proposal {proposal.pk}" in row.inner_text()
    assert _overflow(page) <= 0
    screenshot(page, f"history{suffix}")

    row.get_by_role("link", name=f"Proposal {proposal.pk}").click()
    page.get_by_role("button", name="Roll back").click()
    page.get_by_text("Rolled back: the previous revision is current again").wait_for()
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.ROLLED_BACK
    assert prompt_text_current(workspace=workspace)[0] == BASE


def test_approve_apply_see_the_revision_in_history_and_roll_back(page, screenshot):
    admin = AdminMembershipFactory(workspace__name="Harbor Light Studio", workspace__slug="harbor",
                                   user__email="admin@harbor.test").user
    workspace = Workspace.objects.get(slug="harbor")
    conversation_services.prompt_revision_create(workspace=workspace, text="You are a helpful assistant.", actor=admin,
                                                 note="First draft")
    conversation_services.prompt_revision_create(workspace=workspace, text=BASE, actor=admin, note="Prices and dates")
    rejected = proposal_create(workspace=workspace, kind=ProposalKind.PROMPT, title="Use more emoji",
                               payload={"text": BASE + "\nUse emoji in every message."})
    proposal_reject(proposal=rejected, actor=admin, note="Not our tone")
    proposal_create(workspace=workspace, kind=ProposalKind.FAQ, source=ProposalSource.SETTER,
                    title="FAQ: Do you do couples sessions?",
                    payload={"question": "Do you do couples sessions?", "answer": "Yes, 90 minutes, from 120 €."},
                    evidence={"escalation_id": 4, "tokens": 0})
    first = _loop_proposal(workspace, "Always offer two concrete times to meet, e.g. Tuesday 10:00 or Thursday 16:00.")

    page.set_viewport_size(LAPTOP)
    browser_login(page, "admin@harbor.test", PASSWORD)
    _flow(page, screenshot, workspace=workspace, proposal=first, suffix="")

    second = _loop_proposal(workspace, "Always offer two concrete times to meet.")
    second.title = "Offer two times to meet"
    second.save(update_fields=["title"])
    page.set_viewport_size(PHONE)
    page.goto(f"/w/{workspace.slug}/")
    _flow(page, screenshot, workspace=workspace, proposal=second, suffix="-phone")
