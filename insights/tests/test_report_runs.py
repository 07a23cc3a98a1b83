"""Stored reports: a run ends done (with metrics) or failed (without), and the management command."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction
from django.utils import timezone

from insights import services
from insights.models import Report, ReportStatus
from insights.report import metrics_json
from insights.tests.scenario import DAY, T0, Scene

pytestmark = pytest.mark.django_db


@pytest.fixture
def scene(workspace):
    scene = Scene(workspace)
    contact = scene.contact()
    scene.out(contact, T0 + DAY)
    scene.booking(contact, T0 + 2 * DAY)
    scene.out(scene.contact("messenger"), T0 + DAY, status="failed")
    return scene


def test_a_run_stores_a_done_report_with_its_metrics(scene, admin):
    report = services.report_run(workspace=scene.workspace, start=T0, end=T0 + 7 * DAY, as_of=T0 + 20 * DAY,
                                 requested_by=admin)
    assert (report.status, report.progress, report.requested_by) == (ReportStatus.DONE, 100, admin)
    assert (report.rows_considered, report.rows_dropped) == (2, 1)
    assert report.duration is not None and report.finished_at is not None
    assert report.parameters == {"attribution_days": 14, "maturity_days": 7, "reply_hours": 24,
                                 "min_people": 30, "confidence": 0.95}
    assert report.metrics["bookings"]["attributed"] == 1
    # Stored and read back, the metrics give the same canonical JSON as a fresh computation.
    again = services.report_run(workspace=scene.workspace, start=T0, end=T0 + 7 * DAY, as_of=T0 + 20 * DAY)
    assert again.requested_by is None  # the system
    assert metrics_json(Report.objects.get(pk=report.pk).metrics) == metrics_json(again.metrics)


def test_a_crash_mid_run_leaves_a_failed_report_without_metrics(scene, monkeypatch):
    def crash(**kwargs):
        assert Report.objects.get().status == ReportStatus.RUNNING  # the row exists while it runs
        raise RuntimeError("worker lost the database")

    monkeypatch.setattr(services, "report_compute", crash)
    with pytest.raises(RuntimeError):
        services.report_run(workspace=scene.workspace, start=T0, end=T0 + 7 * DAY, as_of=T0 + 20 * DAY)
    report = Report.objects.get()
    assert report.status == ReportStatus.FAILED and report.metrics is None
    assert "worker lost the database" in report.error and report.finished_at is not None


def test_a_report_cannot_look_complete_without_its_metrics(scene):
    report = Report.objects.create(workspace=scene.workspace, window_start=T0, window_end=T0 + DAY, as_of=T0 + DAY)
    with pytest.raises(IntegrityError), transaction.atomic():
        Report.objects.filter(pk=report.pk).update(status=ReportStatus.DONE, progress=100, finished_at=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        Report.objects.filter(pk=report.pk).update(status=ReportStatus.FAILED, metrics={"cells": []})


def test_a_run_whose_worker_died_is_marked_failed(scene):
    stale = Report.objects.create(workspace=scene.workspace, window_start=T0, window_end=T0 + DAY, as_of=T0 + DAY)
    fresh = Report.objects.create(workspace=scene.workspace, window_start=T0, window_end=T0 + DAY, as_of=T0 + DAY)
    Report.objects.filter(pk=stale.pk).update(created_at=timezone.now() - timedelta(hours=2))
    assert services.reports_fail_stale() == 1
    stale.refresh_from_db(), fresh.refresh_from_db()
    assert (stale.status, fresh.status) == (ReportStatus.FAILED, ReportStatus.RUNNING)


@pytest.mark.parametrize("start, end, as_of, message", [
    (T0, T0, T0, "start must be before its end"),
    (T0 + DAY, T0, T0 + DAY, "start must be before its end"),
    (T0, T0 + DAY, T0 - DAY, "must not be before the window's start"),
    (T0, T0 + DAY, timezone.now() + DAY, "must not be in the future"),
])
def test_bad_inputs_are_refused_before_any_row_is_written(scene, start, end, as_of, message):
    with pytest.raises(services.ReportInputError, match=message):
        services.report_run(workspace=scene.workspace, start=start, end=end, as_of=as_of)
    assert not Report.objects.exists()


# --- manage.py insights_report ----------------------------------------------------------------

def _command(*args):
    out = StringIO()
    call_command("insights_report", *args, stdout=out)
    return out.getvalue()


def test_the_command_prints_the_metrics_json(scene):
    args = ["--workspace", scene.workspace.slug, "--start", "2026-03-02", "--end", "2026-03-09",
            "--as-of", "2026-03-22T09:00:00+00:00", "--json"]
    printed = _command(*args)
    metrics = json.loads(printed)
    assert metrics["window"] == {"start": "2026-03-02T00:00:00Z", "end": "2026-03-09T00:00:00Z"}  # UTC workspace
    assert metrics["bookings"]["booked"] == 1
    assert printed.strip() == metrics_json(Report.objects.latest("id").metrics)
    assert _command(*args) == printed  # the same inputs, byte-identical


def test_the_command_reads_dates_in_the_workspace_time_zone(scene):
    scene.workspace.timezone = "Europe/Madrid"
    scene.workspace.save(update_fields=["timezone"])
    metrics = json.loads(_command("--workspace", scene.workspace.slug, "--start", "2026-03-02", "--end",
                                  "2026-03-09", "--as-of", "2026-03-22T10:00:00", "--json"))
    assert metrics["window"]["start"] == "2026-03-01T23:00:00Z" and metrics["as_of"] == "2026-03-22T09:00:00Z"


def test_the_command_without_json_prints_a_summary(scene):
    text = _command("--workspace", scene.workspace.slug, "--start", "2026-03-02", "--end", "2026-03-09",
                    "--as-of", "2026-03-22T09:00:00Z")
    assert "Bookings: 1 (1 attributed, 0 unattributed)" in text and "not enough data" in text


@pytest.mark.parametrize("args, message", [
    (["--workspace", "no-such", "--start", "2026-03-02", "--end", "2026-03-09"], "No workspace"),
    (["--start", "2026-03-09", "--end", "2026-03-02"], "start must be before its end"),
    (["--start", "2026-03-02", "--end", "2026-03-02"], "start must be before its end"),
    (["--start", "2026-02-30", "--end", "2026-03-09"], "--start: '2026-02-30' is not a date"),
    (["--start", "2026-03-02", "--end", "next week"], "--end: 'next week' is not a date"),
    (["--start", "2026-03-02", "--end", "2026-03-09", "--as-of", "yesterday"], "--as-of: 'yesterday' is not an ISO"),
    (["--start", "2026-03-02", "--end", "2026-03-09", "--as-of", "2999-01-01T00:00:00Z"], "in the future"),
])
def test_the_command_refuses_bad_input_with_a_clear_error(scene, args, message):
    if "--workspace" not in args:
        args = ["--workspace", scene.workspace.slug, *args]
    with pytest.raises(CommandError, match=message) as raised:
        _command(*args)
    assert raised.value.returncode == 1  # manage.py exits non-zero
    assert not Report.objects.exists()


def test_the_command_reports_a_failed_run(scene, monkeypatch):
    monkeypatch.setattr(services, "report_compute", lambda **kwargs: 1 / 0)
    with pytest.raises(CommandError, match="The report failed.*stored as failed"):
        _command("--workspace", scene.workspace.slug, "--start", "2026-03-02", "--end", "2026-03-09",
                 "--as-of", "2026-03-22T09:00:00Z")
    assert Report.objects.get().status == ReportStatus.FAILED


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_report_reads_one_repeatable_read_snapshot(workspace):
    """The path production takes (no test transaction around it): the report opens its own REPEATABLE READ
    transaction (read-write: its temporary tables), and the running row is committed before the computation starts."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    scene = Scene(workspace)
    contact = scene.contact()
    scene.out(contact, T0 + DAY)
    scene.booking(contact, T0 + 2 * DAY)
    with CaptureQueriesContext(connection) as captured:
        report = services.report_run(workspace=workspace, start=T0, end=T0 + 7 * DAY, as_of=T0 + 20 * DAY)
    assert report.status == ReportStatus.DONE and report.metrics["bookings"]["attributed"] == 1
    assert any("ISOLATION LEVEL REPEATABLE READ" in q["sql"] for q in captured.captured_queries)


def _temporary_tables() -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_class WHERE relpersistence = 't' AND relname LIKE 'insights_%%'")
        return sorted(row[0] for row in cursor.fetchall())


def test_inside_a_transaction_a_failed_report_leaves_no_tables_and_the_next_one_runs(scene, monkeypatch):
    """The shared tables live in the report's savepoint: a statement failing after they are built rolls
    them back with it, and the caller's transaction can run the report again."""
    from insights import patterns, report

    good = report.report_compute(workspace=scene.workspace, start=T0, end=T0 + 7 * DAY, as_of=T0 + 20 * DAY)
    assert _temporary_tables() == []  # dropped at the end, not left to the caller's commit
    monkeypatch.setattr(patterns, "PATTERNS", "SELECT no_such_column FROM insights_labeled")
    with pytest.raises(Exception, match="no_such_column"):
        report.report_compute(workspace=scene.workspace, start=T0, end=T0 + 7 * DAY, as_of=T0 + 20 * DAY)
    assert _temporary_tables() == []
    monkeypatch.undo()
    again = report.report_compute(workspace=scene.workspace, start=T0, end=T0 + 7 * DAY, as_of=T0 + 20 * DAY)
    assert metrics_json(again.metrics) == metrics_json(good.metrics)


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_tables_are_gone_after_a_failed_report(workspace, monkeypatch):
    from insights import patterns, report

    scene = Scene(workspace)
    scene.out(scene.contact(), T0 + DAY)
    monkeypatch.setattr(patterns, "PATTERNS", "SELECT no_such_column FROM insights_labeled")
    with pytest.raises(Exception, match="no_such_column"):
        report.report_compute(workspace=workspace, start=T0, end=T0 + 7 * DAY, as_of=T0 + 20 * DAY)
    assert _temporary_tables() == []
    monkeypatch.undo()
    result = report.report_compute(workspace=workspace, start=T0, end=T0 + 7 * DAY, as_of=T0 + 20 * DAY)
    assert result.metrics["counts"]["cohort_messages"] == 1 and _temporary_tables() == []
