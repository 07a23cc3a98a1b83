"""Insights in a real browser: Run now from the page, the progress bar, the result swapped in without a
reload, the charts, at a laptop and a phone width. Writes docs/screenshots/insights.png and insights-phone.png."""

import json
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from accounts.tests.factories import PASSWORD, AdminMembershipFactory
from conftest import browser_login
from contacts.models import ContactStateChange
from insights import tasks
from insights.models import Report, ReportStatus
from insights.tests.scenario import DAY, Scene

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

PHONE, LAPTOP = {"width": 390, "height": 844}, {"width": 1366, "height": 768}


def _seed(workspace):
    """Enough people for some cells to have data: AI replies to 45 people (15 book), setter nudges to 36
    (6 book), and a few messages outside Sidekick, all in the last four weeks."""
    scene = Scene(workspace)
    now = timezone.now()
    for i in range(45):
        contact = scene.contact("instagram" if i % 3 else "messenger")
        sent = now - (22 - i % 14) * DAY
        scene.inbound(contact, sent - timedelta(minutes=3))
        scene.out(contact, sent, sender="ai_auto" if i % 4 else "ai_approved")
        if i % 3 == 0:
            scene.booking(contact, sent + 2 * DAY)
    for i in range(36):
        contact = scene.contact()
        sent = now - (20 - i % 10) * DAY
        scene.out(contact, sent, sender="setter")
        ContactStateChange.objects.create(workspace=workspace, contact=contact, stage="engaged",
                                          sentiment="neutral", lead_score=40)
        if i % 6 == 0:
            scene.booking(contact, sent + 3 * DAY)
    for i in range(5):
        scene.out(scene.contact(), now - (12 + i) * DAY, sender="business_outside")


def _overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def _drop_queued(report_id):
    client = redis.Redis.from_url(settings.REDIS_URL)
    for raw in client.lrange("default", 0, -1):
        if json.loads(raw).get("headers", {}).get("argsrepr") == f"({report_id},)":
            client.lrem("default", 0, raw)


def test_run_now_shows_progress_then_the_report_and_its_charts(page, screenshot):
    admin = AdminMembershipFactory(workspace__name="Harbor Light Studio", workspace__slug="harbor",
                                   user__email="admin@harbor.test")
    workspace = admin.workspace
    _seed(workspace)
    page.set_viewport_size(LAPTOP)
    browser_login(page, "admin@harbor.test", PASSWORD)
    page.get_by_role("navigation", name="Workspace navigation").get_by_role("link", name="Insights").click()
    page.get_by_role("heading", name="No report yet").wait_for()

    page.get_by_role("button", name="Run now").click()
    page.locator("progress").wait_for()
    report = Report.objects.get(workspace=workspace)
    assert report.status == ReportStatus.RUNNING and report.requested_by == admin.user
    page.evaluate("window.__marker = 'same page'")
    _drop_queued(report.pk)
    tasks.report_run.run(report.pk)  # what the worker does with the queued job
    page.get_by_role("heading", name=f"Report {report.pk}:").wait_for()
    assert page.evaluate("window.__marker") == "same page"  # swapped in by HTMX, no reload
    assert page.locator("progress").count() == 0

    assert page.locator("#rate-chart svg .whisker").count() >= 6
    assert page.locator("#rate-chart svg").is_visible()
    assert page.locator("#headline-ai strong").inner_text().endswith("%")
    assert page.get_by_text("No weekly data in this report.").count() + page.locator("#weekly-chart svg").count() == 1
    assert page.locator("#patterns tbody tr").count() > 3
    assert _overflow(page) <= 0
    screenshot(page, "insights")

    page.set_viewport_size(PHONE)
    page.reload(wait_until="load")
    page.locator("#rate-chart svg").wait_for()
    assert _overflow(page) <= 0, f"{_overflow(page)} px too wide at 390 px"
    screenshot(page, "insights-phone")
