"""The weekly report: the beat entry, the per-workspace opt-in, the fan-out, its window and idempotency."""

import json
from datetime import UTC, datetime, timedelta

import pytest
import redis
from celery.schedules import crontab
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from accounts.tests.factories import AdminMembershipFactory, MembershipFactory, WorkspaceFactory
from insights import services, weekly
from insights.models import InsightsSettings, Report, ReportStatus
from sidekick_project.celery import app

pytestmark = pytest.mark.django_db

TASK = "insights.weekly.weekly_report"


def _take_weekly_tasks(workspace_id: int) -> list[dict]:
    """Remove and return the headers of the weekly report tasks queued for this workspace (tests share Redis)."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    found = []
    for raw in client.lrange("default", 0, -1):
        headers = json.loads(raw).get("headers", {})
        if headers.get("task") == TASK and headers.get("argsrepr", "").startswith(f"[{workspace_id}, "):
            client.lrem("default", 1, raw)
            found.append(headers)
    return found


def _opt_in(workspace, on=True):
    return InsightsSettings.objects.create(workspace=workspace, weekly_report=on)


def test_the_beat_entry_runs_the_fan_out_on_monday_at_six_utc():
    entry = app.conf.beat_schedule["insights-weekly-reports"]
    app.loader.import_default_modules()
    assert entry["task"] in app.tasks and entry["options"]["expires"]
    schedule = entry["schedule"]
    assert isinstance(schedule, crontab)
    assert (schedule.minute, schedule.hour, schedule.day_of_week) == ({0}, {6}, {1})
    assert app.conf.timezone == "UTC"  # the crontab is read in UTC
    stale = app.conf.beat_schedule["insights-fail-stale-reports"]
    assert stale["task"] in app.tasks and stale["options"]["expires"]


def test_the_weekly_setting_is_off_by_default(workspace):
    assert services.insights_settings_for(workspace=workspace).weekly_report is False
    assert not InsightsSettings.objects.filter(workspace=workspace).exists()  # a read never writes


def test_no_task_without_opt_in(workspace, other_workspace):
    _opt_in(other_workspace, on=False)
    weekly.weekly_reports_enqueue()
    assert _take_weekly_tasks(workspace.pk) == [] and _take_weekly_tasks(other_workspace.pk) == []


def test_one_task_with_expires_for_the_workspace_that_opted_in(workspace, other_workspace):
    _opt_in(workspace)
    now = timezone.now()
    weekly.weekly_reports_enqueue(now=now)
    (headers,) = _take_weekly_tasks(workspace.pk)
    assert _take_weekly_tasks(other_workspace.pk) == []
    expires = datetime.fromisoformat(headers["expires"])
    assert now + timedelta(hours=5) < expires <= now + timedelta(hours=6, seconds=5)
    start, end = weekly.weekly_window(workspace=workspace, now=now)
    assert headers["argsrepr"] == repr([workspace.pk, start.isoformat(), end.isoformat()])


def test_the_window_is_the_matured_week_monday_to_monday_in_the_workspace_zone():
    utc, honolulu = WorkspaceFactory.build(timezone="UTC"), WorkspaceFactory.build(timezone="Pacific/Honolulu")
    run = datetime(2026, 3, 16, 6, 0, tzinfo=UTC)  # a Monday, 06:00 UTC
    start, end = weekly.weekly_window(workspace=utc, now=run)
    assert (start, end) == (datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC))
    # Every message of the week is past the 7-day maturity buffer when the report runs.
    assert end + timedelta(days=7) <= run
    # In Honolulu it is still Sunday 20:00: the latest local Monday is 9 March, so the week is 23 Feb - 2 March.
    start, end = weekly.weekly_window(workspace=honolulu, now=run)
    assert start.isoformat() == "2026-02-23T00:00:00-10:00" and end.isoformat() == "2026-03-02T00:00:00-10:00"
    # Any time in the same week gives the same window (the key of idempotency).
    assert weekly.weekly_window(workspace=utc, now=run + timedelta(days=6, hours=17)) == (
        datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC))
    assert weekly.weekly_window(workspace=utc, now=run + timedelta(days=7))[0] == datetime(2026, 3, 9, tzinfo=UTC)


def test_a_week_is_reported_once_however_often_the_fan_out_runs(workspace):
    _opt_in(workspace)
    now = timezone.now()
    start, end = weekly.weekly_window(workspace=workspace, now=now)
    weekly.weekly_reports_enqueue(now=now)
    (headers,) = _take_weekly_tasks(workspace.pk)
    # The task runs (here, in this process) and stores a done system report.
    weekly.weekly_report(workspace.pk, start.isoformat(), end.isoformat())
    report = Report.objects.get(workspace=workspace)
    assert (report.status, report.requested_by, report.window_start, report.window_end) == (
        ReportStatus.DONE, None, start, end)
    # A second fan-out the same week enqueues nothing; a duplicate copy of the task does nothing.
    weekly.weekly_reports_enqueue(now=now + timedelta(hours=1))
    assert _take_weekly_tasks(workspace.pk) == []
    assert weekly.weekly_report_run(workspace_id=workspace.pk, start=start, end=end) is None
    assert Report.objects.filter(workspace=workspace).count() == 1


def test_a_failed_or_dead_week_is_retried_by_the_next_fan_out(workspace):
    _opt_in(workspace)
    now = timezone.now()
    start, end = weekly.weekly_window(workspace=workspace, now=now)
    failed = Report.objects.create(workspace=workspace, window_start=start, window_end=end, as_of=now,
                                   status=ReportStatus.FAILED)
    weekly.weekly_reports_enqueue(now=now)
    assert len(_take_weekly_tasks(workspace.pk)) == 1
    # A run whose worker died (still running after an hour) is failed by the fan-out, then retried.
    failed.delete()
    dead = Report.objects.create(workspace=workspace, window_start=start, window_end=end, as_of=now)
    Report.objects.filter(pk=dead.pk).update(created_at=now - timedelta(hours=2))
    weekly.weekly_reports_enqueue(now=now)
    assert len(_take_weekly_tasks(workspace.pk)) == 1
    dead.refresh_from_db()
    assert dead.status == ReportStatus.FAILED and dead.metrics is None


def test_a_task_for_a_workspace_that_opted_out_since_does_nothing(workspace):
    _opt_in(workspace, on=False)
    start, end = weekly.weekly_window(workspace=workspace, now=timezone.now())
    assert weekly.weekly_report_run(workspace_id=workspace.pk, start=start, end=end) is None
    assert not Report.objects.filter(workspace=workspace).exists()


# --- the opt-in view ---------------------------------------------------------------------------------

def _url(workspace):
    return reverse("insights:weekly_optin", kwargs={"workspace_slug": workspace.slug})


def test_an_admin_turns_the_weekly_report_on_and_off_audited(client, workspace, admin):
    client.force_login(admin)
    response = client.post(_url(workspace), {"weekly_report": "on"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and b'id="weekly-optin"' in response.content and b"checked" in response.content
    cfg = InsightsSettings.objects.get(workspace=workspace)
    assert cfg.weekly_report and cfg.updated_by == admin
    assert AuditEvent.objects.filter(workspace=workspace, verb="insights.settings_updated", actor=admin).count() == 1
    response = client.post(_url(workspace), {})  # an unchecked box sends nothing: off
    assert response.status_code == 302
    cfg.refresh_from_db()
    assert not cfg.weekly_report
    assert AuditEvent.objects.filter(workspace=workspace, verb="insights.settings_updated").count() == 2


def test_setters_and_strangers_cannot_change_it(client, workspace, setter, other_workspace):
    client.force_login(setter)
    assert client.post(_url(workspace), {"weekly_report": "on"}).status_code == 403
    assert client.get(_url(workspace)).status_code in (403, 405)
    outsider = AdminMembershipFactory(workspace=other_workspace).user
    client.force_login(outsider)
    assert client.post(_url(workspace), {"weekly_report": "on"}).status_code == 404
    assert not InsightsSettings.objects.filter(workspace=workspace).exists()
    with pytest.raises(Exception, match="admins"):
        services.insights_settings_update(workspace=workspace, actor=MembershipFactory(workspace=workspace).user,
                                          weekly_report=True)


def test_the_redirect_stays_on_this_site(client, workspace, admin):
    client.force_login(admin)
    response = client.post(_url(workspace), {"weekly_report": "on", "next": "https://evil.example/"})
    assert response.status_code == 302 and "evil" not in response["Location"]
    response = client.post(_url(workspace), {"next": f"/w/{workspace.slug}/"})
    assert response["Location"] == f"/w/{workspace.slug}/"
