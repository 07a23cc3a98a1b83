"""A report counted in several database sessions side by side (insights.report `_report_rows`): the
shards' rows must add up to exactly the report of one session, read one snapshot, and fail as one."""

from __future__ import annotations

import pytest
from django.db import connection

from insights import report, services
from insights.models import Report, ReportStatus
from insights.report import metrics_json
from insights.tests.scenario import DAY, T0, Scene, world

pytestmark = pytest.mark.django_db(transaction=True)  # shards are other sessions: they only see committed rows

START, END, AS_OF = T0, T0 + 21 * DAY, T0 + 25 * DAY  # the last days' messages are still pending


def _metrics(scene: Scene, shards: int) -> str:
    return metrics_json(report.report_compute(workspace=scene.workspace, start=START, end=END, as_of=AS_OF,
                                              shards=shards).metrics)


def test_the_shards_add_up_to_the_report_of_one_session(workspace):
    scene = Scene(workspace)
    world(scene, START, END)
    one = _metrics(scene, 1)
    assert '"cohort_messages": 0' not in one
    for shards in (2, 3, 5):
        assert _metrics(scene, shards) == one, f"{shards} shards differ from one session"


def test_every_shard_reads_the_snapshot_the_report_started_with(workspace, monkeypatch):
    """Rows committed while the report runs, before a shard's session starts, count in no shard."""
    scene = Scene(workspace)
    world(scene, START, END)
    before = _metrics(scene, 1)
    original = report._shard_in_snapshot

    def late_rows_first(args, snapshot):
        # Committed on this thread's connection before its shard starts: a message and a booking for a
        # new person in every shard (ids run on, so some of them fall in this shard).
        for _ in range(4):
            contact = scene.contact()
            scene.out(contact, START + DAY)
            scene.booking(contact, START + 2 * DAY)
        return original(args, snapshot)

    monkeypatch.setattr(report, "_shard_in_snapshot", late_rows_first)
    assert _metrics(scene, 3) == before
    monkeypatch.undo()
    assert _metrics(scene, 3) != before  # the rows are there for the next report


def test_a_failing_shard_fails_the_report_and_leaves_no_metrics(workspace, monkeypatch):
    scene = Scene(workspace)
    world(scene, START, END)
    original = report._shard_in_snapshot

    def shard_one_fails(args, snapshot):
        if args["shard"] == 1:
            raise RuntimeError("shard 1 lost its database")
        return original(args, snapshot)

    monkeypatch.setattr(report, "_shard_in_snapshot", shard_one_fails)
    monkeypatch.setattr(report, "report_shards", lambda: 3)
    with pytest.raises(RuntimeError, match="shard 1 lost"):
        services.report_run(workspace=workspace, start=START, end=END, as_of=AS_OF)
    failed = Report.objects.get()
    assert failed.status == ReportStatus.FAILED and failed.metrics is None and "shard 1 lost" in failed.error
    monkeypatch.undo()
    assert services.report_run(workspace=workspace, start=START, end=END, as_of=AS_OF).status == ReportStatus.DONE


def test_the_shards_run_in_sessions_of_their_own(workspace, monkeypatch):
    scene = Scene(workspace)
    world(scene, START, END)
    backends = []
    original = report._shard_rows

    def noted(args):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backends.append((args["shard"], args["shards"], cursor.fetchone()[0]))
        return original(args)

    monkeypatch.setattr(report, "_shard_rows", noted)
    _metrics(scene, 3)
    assert sorted(shard for shard, _, _ in backends) == [0, 1, 2] and {n for _, n, _ in backends} == {3}
    assert len({pid for _, _, pid in backends}) == 3


def test_inside_a_transaction_the_report_counts_in_one_session(workspace, monkeypatch):
    """Another session would not see the caller's uncommitted rows: one shard, on the caller's connection."""
    from django.db import transaction

    scene = Scene(workspace)
    seen = []
    original = report._shard_rows
    monkeypatch.setattr(report, "_shard_rows", lambda args: seen.append(args["shards"]) or original(args))
    with transaction.atomic():
        contact = scene.contact()
        scene.out(contact, START + DAY)
        metrics = report.report_compute(workspace=workspace, start=START, end=END, as_of=AS_OF, shards=4).metrics
    assert seen == [1] and metrics["counts"]["cohort_messages"] == 1
