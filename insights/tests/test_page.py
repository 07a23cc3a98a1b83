"""The Insights page: who sees what, Run now and its progress, the report's sections, compare, evidence, exports."""

import csv
import io
import json
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import AdminMembershipFactory, MembershipFactory
from conftest import queued_tasks
from conversations.models import Message
from insights import page, selectors, services, tasks
from insights.models import Report, ReportStatus
from insights.report import metrics_json
from insights.tests.scenario import DAY, T0, Scene
from sidekick_project.celery import app as celery_app

pytestmark = pytest.mark.django_db

TASK = "insights.tasks.report_run"


def url(name, workspace, *args):
    return reverse(f"insights:{name}", args=[workspace.slug, *args])


@pytest.fixture
def scene(workspace):
    """Ana (AI reply, booked), Ben (setter nudge, not booked), Cara (AI reply with her email in it)."""
    scene = Scene(workspace)
    ana, ben, cara = scene.contact(), scene.contact(), scene.contact("messenger")
    scene.inbound(ana, T0)
    scene.out(ana, T0 + timedelta(minutes=1))
    scene.booking(ana, T0 + 2 * DAY)
    scene.out(ben, T0 + DAY, sender="setter")
    scene.inbound(cara, T0 + DAY)
    cara_message = scene.out(cara, T0 + DAY + timedelta(minutes=2))
    Message.objects.filter(pk=cara_message.pk).update(text="Write to cara.lopez@example.com and we book you in")
    scene.ana = ana
    return scene


def run(scene, **kwargs):
    return services.report_run(workspace=scene.workspace, start=T0, end=T0 + 7 * DAY, as_of=T0 + 20 * DAY, **kwargs)


def done_report(workspace, metrics, **fields):
    now = timezone.now()
    return Report.objects.create(workspace=workspace, window_start=T0, window_end=T0 + 7 * DAY, as_of=T0 + 20 * DAY,
                                 status=ReportStatus.DONE, progress=100, metrics=metrics, finished_at=now,
                                 duration=timedelta(seconds=1), **fields)


def _drop_queued(report_id):
    client = redis.Redis.from_url(settings.REDIS_URL)
    for raw in client.lrange("default", 0, -1):
        if json.loads(raw).get("headers", {}).get("argsrepr") == f"({report_id},)":
            client.lrem("default", 0, raw)


# --- the page --------------------------------------------------------------------------------------

def test_the_navigation_links_insights(client, setter, workspace):
    client.force_login(setter)
    body = client.get(url("overview", workspace)).content.decode()
    assert f'href="{url("insights", workspace)}"' in body
    assert "soon" not in body


def test_without_a_report_the_page_says_to_run_one(client, setter, workspace):
    client.force_login(setter)
    response = client.get(url("insights", workspace))
    body = response.content.decode()
    assert response.status_code == 200
    assert "No report yet" in body and "Run now" in body
    # The form's default window: the last 28 days ending today (workspace time zone).
    today = timezone.localdate()
    assert f'value="{(today - timedelta(days=27)).isoformat()}"' in body and f'value="{today.isoformat()}"' in body
    # The weekly opt-in: setters read its state, only admins get the switch.
    assert 'id="weekly-optin"' in body and "An admin can change this." in body
    assert 'name="weekly_report"' not in body


def test_an_admin_turns_the_weekly_report_on_from_the_page(client, admin, workspace):
    client.force_login(admin)
    body = client.get(url("insights", workspace)).content.decode()
    assert 'name="weekly_report"' in body and " checked" not in body.split('name="weekly_report"')[1][:80]
    response = client.post(reverse("insights:weekly_optin", args=[workspace.slug]),
                           {"weekly_report": "on"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "checked" in response.content.decode()
    assert services.insights_settings_for(workspace=workspace).weekly_report is True


def test_a_setter_sees_the_aggregates_but_no_evidence_or_exports(client, setter, scene):
    report = run(scene)
    client.force_login(setter)
    body = client.get(url("insights", scene.workspace)).content.decode()
    assert f"Report {report.pk}" in body
    assert 'id="headline-ai"' in body and "Booked rate, setters" in body
    assert "AI vs setter is not a fair race" in body and "AI answers the easy threads" in body
    assert 'aria-label="AI vs setter by stage at send time"' in body
    assert 'aria-label="AI vs setter by channel"' in body
    assert '<svg class="insights-chart"' in body and 'id="patterns"' in body
    assert "not enough data" in body  # three people: every cell is under 30
    # Schema 2 reports carry the weekly trend and time to book (drawn; see the test with both below).
    assert 'id="weekly-chart"' in body and "No weekly data in this report." not in body
    assert 'id="time-to-book"' in body
    for name in ("export_csv", "export_json"):
        assert url(name, scene.workspace, report.pk) not in body
    assert url("evidence", scene.workspace, report.pk) not in body


def test_an_admin_gets_export_and_evidence_links(client, admin, scene):
    report = run(scene)
    client.force_login(admin)
    body = client.get(url("insights", scene.workspace)).content.decode()
    assert url("export_csv", scene.workspace, report.pk) in body
    assert url("export_json", scene.workspace, report.pk) in body
    assert url("evidence", scene.workspace, report.pk) + "?sender=ai_auto&amp;purpose=all&amp;channel=all" in body


def test_the_headline_shows_the_rates_with_their_intervals(client, admin, workspace):
    metrics = run(Scene(workspace)).metrics  # an empty cohort, then numbers of our own
    ai = {"booked_rate": {"value": 0.25, "low": 0.1512, "high": 0.3843, "n": 40, "successes": 10},
          "enough_data": True}
    setter = {"booked_rate": {"value": 0.5, "low": 0.2, "high": 0.8, "n": 10, "successes": 5}, "enough_data": False}
    metrics["comparison"] = {"overall": {"ai": ai, "setter": setter}, "by_stage": {"new": {"ai": ai}},
                             "by_channel": {"instagram": {"setter": setter}},
                             "simpson": {"crude_gap": None, "reversed_in": ["stage:new", "channel:messenger"]}}
    side = {"messages": 120, "booked": 30, "people": 60, "booked_rate": ai["booked_rate"]}
    metrics["patterns"] = {"correction": "holm", "alpha": 0.05, "comparisons": 1, "entries": [
        {"group": "ai", "feature": "question", "value": "yes", "with": side, "without": side, "enough_data": True,
         "p_value": 0.001, "p_adjusted": 0.004, "verdict": "works"},
        {"group": "setter", "feature": "question", "value": "yes", "with": side, "without": side,
         "enough_data": False, "p_value": None, "p_adjusted": None, "verdict": "not_enough_data"}]}
    done_report(workspace, metrics)
    client.force_login(admin)
    body = client.get(url("insights", workspace)).content.decode()
    assert "25.0%" in body and "95% interval 15.1%–38.4%, 40 people" in body
    assert "95% interval 20.0%–80.0%, 10 people: not enough data" in body
    assert "25.0% (15.1–38.4%, n 40)" in body  # the stage table
    assert "not enough data (n 10)" in body  # the channel table
    assert "the gap points the other way in: the new stage, Messenger" in body
    patterns = body[body.index('id="patterns"'):]
    row = patterns[patterns.index("Asks a question"):patterns.index("</tr>", patterns.index("Asks a question"))]
    # One row per feature value: all (no entry), AI (works), setter (not enough data).
    assert row.index("—") < row.index("works") < row.index("not enough data")
    assert "p 0.004" in row and "(120 / 120 messages)" in row


def test_weekly_trend_and_time_to_book_are_drawn_when_the_report_has_them(client, admin, workspace):
    metrics = run(Scene(workspace)).metrics

    def point(week, value):
        return {"week_start": week, "messages": 12,
                "booked_rate": {"value": value, "low": value / 2, "high": min(1, value * 2), "n": 12, "successes": 3}}

    metrics["weekly"] = {side: [point("2026-03-02", 0.2), point("2026-03-09", 0.3)] for side in ("all", "ai", "setter")}
    metrics["time_to_book"] = {side: {"median_days": 4.5 if side == "ai" else None, "n": 20, "events": 6,
                                      "censored": 14, "curve": [{"day": 2, "booked": 0.1, "low": 0.05, "high": 0.2},
                                                                {"day": 5, "booked": 0.3, "low": 0.2, "high": 0.4}]}
                               for side in ("all", "ai", "setter")}
    done_report(workspace, metrics)
    client.force_login(admin)
    body = client.get(url("insights", workspace)).content.decode()
    assert "No weekly data in this report." not in body
    assert 'class="series-ai"' in body and 'class="band"' in body and "Week of" in body
    assert 'id="time-to-book"' in body and "4.5" in body and "not reached" in body


def test_a_failed_latest_report_shows_its_error_and_keeps_the_previous_numbers(client, setter, scene):
    done = run(scene)
    Report.objects.create(workspace=scene.workspace, window_start=T0, window_end=T0 + DAY, as_of=T0 + DAY,
                          status=ReportStatus.FAILED, error="OperationalError: the database went away")
    client.force_login(setter)
    body = client.get(url("insights", scene.workspace)).content.decode()
    assert "The latest run" in body and "the database went away" in body
    assert f"Report {done.pk}" in body and "from the previous finished report" in body


def test_the_history_lists_every_report_with_who_asked(client, admin, scene):
    mine = run(scene, requested_by=admin)
    system = run(scene)
    client.force_login(admin)
    body = client.get(url("insights", scene.workspace)).content.decode()
    history = body[body.index('id="insights-history"'):]
    assert f"#{mine.pk}" in history and f"#{system.pk}" in history
    assert (admin.full_name or admin.email) in history and "system" in history


def test_the_page_costs_a_handful_of_queries(client, admin, scene, django_assert_max_num_queries):
    for _ in range(5):
        run(scene)
    client.force_login(admin)
    client.get(url("insights", scene.workspace))  # warm the session
    with django_assert_max_num_queries(7):
        assert client.get(url("insights", scene.workspace)).status_code == 200


def test_the_synthesis_is_shown_only_when_one_was_written(client, setter, scene, monkeypatch):
    run(scene)
    written = {"status": "done", "model": "gpt-test", "output": {
        "headline": "Questions book more meetings.", "caveats": ["Few setter messages."],
        "findings": [{"text": "The AI's replies <b>book</b> more.", "metric_keys": ["comparison.overall"]}]}}
    # The field comes with the synthesis work (insights.synthesis); the page reads it with getattr. Set
    # on the instance the page loads, this works with and without the field.
    found = selectors.report_for_workspace
    stored = {}

    def with_synthesis(**kwargs):
        shown = found(**kwargs)
        shown.synthesis = stored["value"]
        return shown

    monkeypatch.setattr(selectors, "report_for_workspace", with_synthesis)
    client.force_login(setter)
    stored["value"] = written
    body = client.get(url("insights", scene.workspace)).content.decode()
    assert "Questions book more meetings." in body and "Few setter messages." in body
    assert "The AI&#x27;s replies &lt;b&gt;book&lt;/b&gt; more." in body and "gpt-test" in body
    for skipped in ({"status": "skipped", "reason": "no_provider"}, {"status": "failed"}, None):
        stored["value"] = skipped
        assert 'id="synthesis-heading"' not in client.get(url("insights", scene.workspace)).content.decode()
    assert page.synthesis_view(object()) is None  # a Report without the field


# --- Run now -------------------------------------------------------------------------------------

def test_run_now_queues_the_report_and_the_page_polls_it(client, setter, workspace):
    client.force_login(setter)
    today = timezone.localdate()
    response = client.post(url("run", workspace), {"first_day": (today - timedelta(days=6)).isoformat(),
                                                   "last_day": today.isoformat()})
    assert response.status_code == 302
    report = Report.objects.get(workspace=workspace)
    try:
        assert (report.status, report.progress, report.requested_by) == (ReportStatus.RUNNING, 0, setter)
        assert timezone.localtime(report.window_end).date() == today + timedelta(days=1)  # the last day included
        assert (TASK, f"({report.pk},)") in queued_tasks("default")
        body = client.get(url("insights", workspace)).content.decode()
        assert f'hx-get="{url("progress", workspace, report.pk)}"' in body and 'hx-trigger="every 1s"' in body
    finally:
        _drop_queued(report.pk)


def test_run_now_refuses_a_backwards_window(client, setter, workspace):
    client.force_login(setter)
    today = timezone.localdate()
    response = client.post(url("run", workspace), {"first_day": today.isoformat(),
                                                   "last_day": (today - timedelta(days=3)).isoformat()})
    assert response.status_code == 200 and "must not be after the last day" in response.content.decode()
    assert not Report.objects.exists()


@pytest.fixture
def dead_broker(tmp_path):
    original = celery_app.conf.broker_url

    def reset():
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    celery_app.conf.broker_url = f"redis+socket://{tmp_path}/nobody-listens.sock"
    reset()
    yield
    celery_app.conf.broker_url = original
    reset()


def test_run_now_with_redis_down_says_so_instead_of_failing(client, setter, workspace, dead_broker):
    client.force_login(setter)
    today = timezone.localdate()
    response = client.post(url("run", workspace), {"first_day": today.isoformat(), "last_day": today.isoformat()},
                           follow=True)
    assert response.status_code == 200
    report = Report.objects.get(workspace=workspace)
    assert report.status == ReportStatus.FAILED and report.error == services.QUEUE_DOWN
    assert "task queue (Redis) is unreachable" in response.content.decode()


def _progress(client, workspace, report):
    return client.get(url("progress", workspace, report.pk), HTTP_HX_REQUEST="true")


def _queued(scene, user):
    report = Report.objects.create(workspace=scene.workspace, window_start=T0, window_end=T0 + 7 * DAY,
                                   as_of=T0 + 20 * DAY, requested_by=user, progress=0,
                                   parameters=services.ReportParameters().as_dict())
    return report


def test_the_progress_partial_shows_the_bar_then_swaps_in_the_result(client, setter, scene):
    report = _queued(scene, setter)
    client.force_login(setter)
    running = _progress(client, scene.workspace, report)
    assert "<progress" in running.content.decode() and "HX-Retarget" not in running

    tasks.report_run.run(report.pk)  # what the worker does
    report.refresh_from_db()
    assert report.status == ReportStatus.DONE
    done = _progress(client, scene.workspace, report)
    body = done.content.decode()
    assert done["HX-Retarget"] == "#insights-current" and done["HX-Reswap"] == "outerHTML"
    assert f"Report {report.pk}" in body and "<progress" not in body
    assert 'id="insights-history" hx-swap-oob="true"' in body


def test_a_page_run_writes_its_synthesis_and_the_bar_waits_for_it(client, setter, scene):
    report = _queued(scene, setter)
    tasks.report_run.run(report.pk)
    report.refresh_from_db()
    # No provider in the scene: the synthesis is recorded as skipped, so the numbers show at once.
    assert report.synthesis["status"] == "skipped" and report.synthesis["reason"] == "no_provider"
    assert not services.synthesis_pending(report=report)

    # Done, but its synthesis not yet recorded: the bar stays ("writing the summary"), for a while only.
    Report.objects.filter(pk=report.pk).update(synthesis=None)
    report.refresh_from_db()
    client.force_login(setter)
    waiting = _progress(client, scene.workspace, report)
    assert "Writing the summary" in waiting.content.decode() and "HX-Retarget" not in waiting
    later = report.finished_at + services.SYNTHESIS_WAIT
    assert not services.synthesis_pending(report=report, now=later)
    # A report nobody asked for from the page (the weekly run, the command) never waits.
    Report.objects.filter(pk=report.pk).update(requested_by=None)
    report.refresh_from_db()
    assert not services.synthesis_pending(report=report)


def test_the_progress_partial_shows_a_failed_run(client, setter, scene, monkeypatch):
    report = _queued(scene, setter)

    def crash(**kwargs):
        raise RuntimeError("statement timeout")

    monkeypatch.setattr(services, "report_compute", crash)
    tasks.report_run.run(report.pk)
    client.force_login(setter)
    body = _progress(client, scene.workspace, report).content.decode()
    assert "The latest run" in body and "statement timeout" in body


def test_a_queued_report_is_computed_once(scene, setter):
    report = _queued(scene, setter)
    assert services.report_run_requested(report_id=report.pk).status == ReportStatus.DONE
    first = Report.objects.get(pk=report.pk).finished_at
    assert services.report_run_requested(report_id=report.pk) is None  # a duplicate delivery
    assert Report.objects.get(pk=report.pk).finished_at == first


# --- compare ---------------------------------------------------------------------------------------

def test_compare_shows_two_reports_side_by_side(client, setter, scene):
    first = run(scene)
    second = services.report_run(workspace=scene.workspace, start=T0, end=T0 + 7 * DAY, as_of=T0 + 3 * DAY)
    client.force_login(setter)
    response = client.get(url("compare", scene.workspace), {"a": first.pk, "b": second.pk})
    body = response.content.decode()
    assert response.status_code == 200
    assert f"A: report {first.pk}" in body and f"B: report {second.pk}" in body
    assert "All senders · All · All channels" in body and "Booked rate, AI" in body


def test_compare_without_two_finished_reports_goes_back(client, setter, scene):
    done = run(scene)
    running = _queued(scene, setter)
    client.force_login(setter)
    response = client.get(url("compare", scene.workspace), {"a": done.pk, "b": running.pk})
    assert response.status_code == 302
    assert client.get(url("compare", scene.workspace), {"a": done.pk}).status_code == 302


# --- evidence and exports (admins) ---------------------------------------------------------------

def test_evidence_lists_the_cell_messages_redacted_with_their_contact(client, admin, scene):
    report = run(scene)
    client.force_login(admin)
    response = client.get(url("evidence", scene.workspace, report.pk),
                          {"sender": "ai_auto", "purpose": "all", "channel": "all"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "cara.lopez@example.com" not in body and "Write to [email] and we book you in" in body
    assert reverse("contacts:detail", args=[scene.workspace.slug, scene.ana.pk]) in body
    assert body.count("<td>ai_auto</td>") == 2 and "<td>setter</td>" not in body
    assert client.get(url("evidence", scene.workspace, report.pk), {"sender": "nobody"}).status_code == 404


def test_the_csv_export_has_one_row_per_cell(client, admin, scene):
    report = run(scene)
    client.force_login(admin)
    response = client.get(url("export_csv", scene.workspace, report.pk))
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == len(report.metrics["cells"])
    first = report.metrics["cells"][0]
    assert (rows[0]["sender"], rows[0]["purpose"], rows[0]["channel"]) == ("all", "all", "all")
    assert int(rows[0]["messages_total"]) == first["messages"]["total"] == 3
    assert int(rows[0]["people_booked"]) == first["people"]["booked"] == 1
    assert rows[0]["enough_data"] == "False"


def test_the_json_export_is_the_canonical_metrics(client, admin, scene):
    report = run(scene)
    client.force_login(admin)
    response = client.get(url("export_json", scene.workspace, report.pk))
    assert response["Content-Type"] == "application/json"
    assert response.content.decode() == metrics_json(report.metrics)


def test_a_setter_gets_404_on_evidence_and_exports(client, setter, scene):
    report = run(scene)
    client.force_login(setter)
    for name in ("export_csv", "export_json"):
        assert client.get(url(name, scene.workspace, report.pk)).status_code == 404
    evidence = client.get(url("evidence", scene.workspace, report.pk),
                          {"sender": "all", "purpose": "all", "channel": "all"})
    assert evidence.status_code == 404


def test_a_superadmin_without_membership_gets_the_evidence(client, scene, settings):
    from accounts.tests.factories import UserFactory

    report = run(scene)
    root = UserFactory(email="root@sidekick.test")  # SUPERADMIN_EMAILS in the test settings
    assert root.is_superadmin
    client.force_login(root)
    assert client.get(url("export_json", scene.workspace, report.pk)).status_code == 200


def test_another_workspaces_reports_are_404_everywhere(client, scene, other_workspace):
    theirs = run(scene)
    other = Scene(other_workspace)
    other.out(other.contact(), T0 + DAY)
    ours = services.report_run(workspace=other_workspace, start=T0, end=T0 + 7 * DAY, as_of=T0 + 20 * DAY)
    intruder = AdminMembershipFactory(workspace=other_workspace).user
    client.force_login(intruder)
    ws = other_workspace
    for name in ("report", "progress", "export_csv", "export_json", "evidence"):
        assert client.get(url(name, ws, theirs.pk), {"sender": "all", "purpose": "all", "channel": "all"},
                          HTTP_HX_REQUEST="true").status_code == 404, name
    assert client.get(url("compare", ws), {"a": ours.pk, "b": theirs.pk}).status_code == 404
    # Their own page shows their own report only.
    body = client.get(url("insights", ws)).content.decode()
    assert f"Report {ours.pk}" in body and f"#{theirs.pk}" not in body
    assert client.get(url("export_json", ws, ours.pk)).status_code == 200


def test_anonymous_visitors_are_sent_to_log_in(client, scene):
    report = run(scene)
    for name, args in (("insights", ()), ("report", (report.pk,)), ("export_csv", (report.pk,))):
        response = client.get(url(name, scene.workspace, *args))
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_member_of_the_workspace_only_as_setter_elsewhere_is_refused(client, scene):
    report = run(scene)
    stranger = MembershipFactory().user  # a setter of some other workspace
    client.force_login(stranger)
    assert client.get(url("insights", scene.workspace)).status_code == 404
    assert client.get(url("report", scene.workspace, report.pk)).status_code == 404
