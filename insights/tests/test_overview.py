"""Overview figures: automation rate, median first response (AI and human), escalations by reason."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from conversations.models import Escalation, SenderKind
from conversations.tests.factories import ThreadFactory
from insights.stats import workspace_overview

pytestmark = pytest.mark.django_db


def test_figures(scene):
    # Burst at -60 min (two messages) answered by AI 30 s after its first message.
    scene.inbound("hi", ago=timedelta(minutes=60))
    scene.inbound("are you there?", ago=timedelta(minutes=60) - timedelta(seconds=10))
    scene.outbound("Hello!", ago=timedelta(minutes=60) - timedelta(seconds=30))
    scene.outbound("Also this.", ago=timedelta(minutes=59))  # not a first response
    # Next burst answered by a setter after 10 minutes.
    scene.inbound("price?", ago=timedelta(minutes=40))
    scene.outbound("It is 200.", ago=timedelta(minutes=30), sender_kind=SenderKind.SETTER)
    for reason in ("human_requested", "human_requested", "reviewer_veto"):
        Escalation.objects.create(workspace=scene.workspace, thread=scene.thread, reason_code=reason,
                                  status="resolved")

    stats = workspace_overview(workspace=scene.workspace, days=7)
    assert (stats.by_ai, stats.outbound) == (2, 3)
    assert stats.median_ai_seconds == pytest.approx(30, abs=1)
    assert stats.median_human_seconds == pytest.approx(600, abs=1)
    assert stats.escalations_by_reason == {"human_requested": 2, "reviewer_veto": 1}
    assert len(stats.chart["labels"]) == 7 and stats.chart["automation"][-1] == pytest.approx(66.7)
    assert {s["label"] for s in stats.chart["escalations"]} == {"Human requested", "Reviewer veto"}


def test_other_workspaces_do_not_count(scene):
    other = ThreadFactory()
    from conversations.models import Message

    Message.objects.create(workspace=other.workspace, thread=other, channel=other.channel, direction="out",
                           sender_kind=SenderKind.AI, text="x", sent_at=timezone.now())
    stats = workspace_overview(workspace=scene.workspace, days=7)
    assert stats.outbound == 0 and stats.automation_rate is None and stats.median_ai_seconds is None


def test_overview_page_queries_are_constant(client, scene):
    client.force_login(scene.setter)
    url = reverse("insights:overview", args=[scene.workspace.slug])

    def fill(n):
        for i in range(n):
            scene.inbound(f"q{i}", ago=timedelta(hours=i + 1))
            scene.outbound(f"a{i}", ago=timedelta(hours=i + 1) - timedelta(seconds=20))
            Escalation.objects.create(workspace=scene.workspace, thread=scene.thread, reason_code=f"r{i % 3}",
                                      status="resolved")

    def count():
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url)
        assert response.status_code == 200
        return len(ctx.captured_queries), response.content.decode()

    fill(5)
    client.get(url)
    few, _ = count()
    fill(45)
    many, html = count()
    assert few == many
    assert "Automation rate" in html and "100%" in html and 'id="overview-chart-data"' in html
