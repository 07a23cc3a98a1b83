"""Message facts (insights.facts): a report that reads the stored facts is byte for byte the report
computed from the messages alone, right after a refresh and after every kind of change since, whoever
wrote it and however (the ORM, `.update()`, another connection while the refresh runs)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction

from contacts.services import contact_link_as_person, contact_unlink_person
from conversations.models import Message, ReplyDraft, SendStatus
from insights import facts, report, report_sql, services
from insights.models import FactChange, FactsState, FactThread, MessageFact, Report, ReportStatus
from insights.report import metrics_json
from insights.tests.scenario import DAY, T0, Scene, world

pytestmark = pytest.mark.django_db(transaction=True)  # the refresh commits; shards are other sessions

START, END, AS_OF = T0, T0 + 21 * DAY, T0 + 25 * DAY
# Windows around the data: the whole of it, one with pending messages, one wider than it, one whose
# as_of is inside it.
WINDOWS = [(START, END, AS_OF), (START + 3 * DAY, START + 10 * DAY, START + 12 * DAY),
           (START - 5 * DAY, END + 5 * DAY, END + 30 * DAY), (START, END, START + 9 * DAY)]


def _report(scene, window=WINDOWS[0], *, use_facts: bool, shards: int = 1) -> str:
    start, end, as_of = window
    return metrics_json(report.report_compute(workspace=scene.workspace, start=start, end=end, as_of=as_of,
                                              shards=shards, use_facts=use_facts).metrics)


def _stale_facts_report(scene, monkeypatch, window=WINDOWS[0], shards: int = 1) -> str:
    """A report that reads the facts as they are (a report never refreshes them first)."""
    with monkeypatch.context() as m:
        m.setattr(facts, "facts_refresh", lambda **kw: pytest.fail("no refresh expected"))
        return _report(scene, window, use_facts=True, shards=shards)


def _build(scene):
    return facts.facts_refresh(workspace_id=scene.workspace.pk)


@pytest.fixture
def scene(workspace):
    scene = Scene(workspace)
    world(scene, START, END)
    return scene


def test_a_report_from_the_facts_is_the_report_from_the_messages(scene):
    live = [_report(scene, w, use_facts=False) for w in WINDOWS]
    assert not FactsState.objects.exists()  # a report from the messages alone keeps nothing
    assert _report(scene, use_facts=True) == live[0]  # no facts yet: labelled from the messages
    assert not FactsState.objects.exists()  # and a report does not build them
    _build(scene)  # turns the facts on and builds them
    state = FactsState.objects.get(workspace=scene.workspace)
    assert state.built_at is not None and not FactChange.objects.exists()
    delivered = Message.objects.filter(workspace=scene.workspace, direction="out").count()
    assert MessageFact.objects.filter(workspace=scene.workspace).count() == delivered
    for window, expected in zip(WINDOWS, live, strict=True):
        assert _report(scene, window, use_facts=True) == expected, window
        assert _report(scene, window, use_facts=True, shards=3) == expected, window


def test_the_report_reads_the_facts_rather_than_relabelling(scene, monkeypatch):
    """With the facts current, no thread is labelled from the messages; break the facts and the report
    shows it (so the equality above is not the live path twice)."""
    _build(scene)
    args = report.sql_args(scene.workspace, START, END, AS_OF, report.ReportParameters())
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in report_sql.BUILD[:5]:  # work_mem, threads, analyse, the stale ones, analyse
            cursor.execute(statement, args)
        cursor.execute("SELECT COUNT(*) FROM insights_th")
        assert cursor.fetchone()[0] > 36
        cursor.execute("SELECT COUNT(*) FROM insights_dth")
        assert cursor.fetchone()[0] == 0
    before = _stale_facts_report(scene, monkeypatch)
    MessageFact.objects.filter(workspace=scene.workspace, sender="setter").update(sender="ai_auto")
    assert _stale_facts_report(scene, monkeypatch) != before


def _first_outbound(scene, **filters):
    return Message.objects.filter(workspace=scene.workspace, direction="out", **filters).order_by("sent_at", "id")


def _contacts_with_outbound(scene):
    from contacts.models import Contact
    return Contact.objects.filter(workspace=scene.workspace, threads__messages__direction="out").distinct().order_by("pk")


def _reply_to_an_outbound(scene):
    message = _first_outbound(scene, sent_at__gte=START + 2 * DAY).first()
    scene.inbound(message.thread.contact, message.sent_at + timedelta(hours=2))


def _new_outbound(scene):
    scene.out(_contacts_with_outbound(scene)[3], START + 4 * DAY + timedelta(hours=3), sender="setter")


def _inbound_back_in_time(scene):
    """An inbound message that arrives late, between a thread's messages: the next one becomes a reply."""
    message = _first_outbound(scene, sent_at__gte=START + 3 * DAY, sender_kind="setter", disposition=None).first()
    scene.inbound(message.thread.contact, message.sent_at - timedelta(minutes=1))


def _sent_at_last(scene):
    pending = scene.out(_contacts_with_outbound(scene)[5], START + 5 * DAY, sender="setter",
                        status=SendStatus.PENDING)
    return pending


def _deleted(scene):
    Message.objects.filter(pk=_first_outbound(scene, sent_at__gte=START + DAY).first().pk).update(is_deleted=True)


def _text_with_the_name(scene):
    message = _first_outbound(scene, sent_at__gte=START + DAY).first()
    name = message.thread.contact.display_name.split(" ")[0]
    Message.objects.filter(pk=message.pk).update(text=f"Thanks {name}, see you there? https://cal.example/x")


def _draft_kind(scene):
    ReplyDraft.objects.filter(workspace=scene.workspace, kind="reply").update(kind="follow_up")


def _stage_before_a_message(scene):
    message = _first_outbound(scene, sent_at__gte=START + 2 * DAY, sender_kind="ai").first()
    scene.stage(message.thread.contact, message.sent_at - timedelta(hours=1), "qualified")


def _link(scene, actor):
    contacts = list(_contacts_with_outbound(scene).filter(person__isnull=True)[:4])
    contact_link_as_person(contact=contacts[0], other=contacts[1], actor=actor)
    contact_link_as_person(contact=contacts[2], other=contacts[3], actor=actor)


def _unlink(scene, actor):
    from contacts.models import Contact
    contact_unlink_person(contact=Contact.objects.filter(workspace=scene.workspace, person__isnull=False)
                          .order_by("pk").first(), actor=actor)


def _rename(scene):
    from contacts.models import Contact
    message = _first_outbound(scene, sent_at__gte=START + DAY).first()
    Message.objects.filter(pk=message.pk).update(text="Hello Zebedee, shall we talk?")
    _report_refresh(scene)  # the text change is in the facts; only the rename is new below
    Contact.objects.filter(pk=message.thread.contact_id).update(display_name="Zebedee Q")


def _erase_a_linked_contact(scene):
    from contacts.erasure import contact_erase
    from contacts.models import Contact
    from conversations.erasure import contact_conversations_erase
    contact = Contact.objects.filter(workspace=scene.workspace, person__isnull=False).order_by("pk").first()
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=contact.pk)
        contact_conversations_erase(workspace=scene.workspace, contact_id=contact.pk)
        contact_erase(contact=contact)


def _report_refresh(scene):
    return facts.facts_refresh(workspace_id=scene.workspace.pk)


CHANGES = {
    "a reply arrives": _reply_to_an_outbound,
    "a new outbound message": _new_outbound,
    "an inbound message back in time": _inbound_back_in_time,
    "a pending send goes out": None,  # two steps: see the test
    "a message is deleted": _deleted,
    "a message's text changes": _text_with_the_name,
    "a draft's kind changes": _draft_kind,
    "a stage change before a message": _stage_before_a_message,
    "two pairs of contacts linked": "actor",
    "a contact unlinked": "actor",
    "a contact renamed": _rename,
    "a linked contact erased": _erase_a_linked_contact,
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_every_change_after_the_refresh_counts(scene, change, monkeypatch, admin):
    if change == "a pending send goes out":
        pending = _sent_at_last(scene)
    _build(scene)
    before = [_report(scene, w, use_facts=False) for w in WINDOWS]
    if change == "a pending send goes out":
        Message.objects.filter(pk=pending.pk).update(send_status=SendStatus.SENT)
    elif change == "two pairs of contacts linked":
        _link(scene, admin)
    elif change == "a contact unlinked":
        _unlink(scene, admin)
    else:
        CHANGES[change](scene)
    live = [_report(scene, w, use_facts=False) for w in WINDOWS]
    assert live != before, "the change must show in some report, or this test proves nothing"
    assert FactChange.objects.filter(workspace_id=scene.workspace.pk).exists()
    for window, expected in zip(WINDOWS, live, strict=True):
        assert _stale_facts_report(scene, monkeypatch, window) == expected, window  # labelled by the report
    assert _stale_facts_report(scene, monkeypatch, shards=2) == live[0]
    refreshed = facts.facts_refresh(workspace_id=scene.workspace.pk)
    assert refreshed.built and refreshed.people > 0 and not FactChange.objects.exists()
    for window, expected in zip(WINDOWS, live, strict=True):
        assert _stale_facts_report(scene, monkeypatch, window) == expected, window  # from the refreshed facts


def test_what_the_facts_do_not_read_is_not_logged(scene):
    _build(scene)
    message = _first_outbound(scene).first()
    Message.objects.filter(pk=message.pk).update(read_at=T0, reactions={"1": "❤"}, delivered_at=T0)
    from contacts.models import Contact
    Contact.objects.filter(pk=message.thread.contact_id).update(lead_score=99, username="someone_else")
    assert not FactChange.objects.exists()
    Message.objects.filter(pk=message.pk).update(is_deleted=True)
    assert list(FactChange.objects.values_list("thread_id", flat=True)) == [message.thread_id]


def test_a_workspace_without_facts_logs_nothing(scene, other_workspace):
    other = Scene(other_workspace)
    other.out(other.contact(), START)
    _build(scene)
    other.out(other.contact(), START + DAY)
    assert not FactChange.objects.filter(workspace_id=other_workspace.pk).exists()
    assert not MessageFact.objects.filter(workspace=other_workspace).exists()


def test_a_change_committed_during_a_refresh_waits_for_the_next(scene, monkeypatch):
    """The refresh reads one snapshot: a message committed by another connection after it started is
    not in its facts and its log row stays, so the report still labels that person itself."""
    _build(scene)
    contact = _contacts_with_outbound(scene)[2]

    fired = []

    def write_elsewhere():
        fired.append(True)
        scene.inbound(contact, START + 2 * DAY + timedelta(minutes=5))
        scene.out(contact, START + 2 * DAY + timedelta(minutes=20), sender="setter")
        connections.close_all()

    class Hooked:
        """report_sql as the refresh sees it, with a write by another connection once its snapshot is taken."""

        def __getattr__(self, name):
            if name == "WORK_MEM":  # read once its snapshot is taken
                t = threading.Thread(target=write_elsewhere)
                t.start()
                t.join()
            return getattr(report_sql, name)

    _new_outbound(scene)  # something for the refresh to do (with nothing logged it stops at once)
    monkeypatch.setattr(facts, "report_sql", Hooked())
    assert _report_refresh(scene).people > 0
    monkeypatch.undo()
    assert fired and FactChange.objects.filter(workspace_id=scene.workspace.pk).exists()
    live = _report(scene, use_facts=False)
    assert _stale_facts_report(scene, monkeypatch) == live
    assert not MessageFact.objects.filter(thread_id=scene.thread(contact).pk, sent_at=START + 2 * DAY
                                          + timedelta(minutes=20)).exists()


def _run(scene):
    """The service behind Run now, the weekly run and the command: the report, then the facts' refresh."""
    done = services.report_run(workspace=scene.workspace, start=START, end=END, as_of=AS_OF)
    assert done.status == ReportStatus.DONE
    return metrics_json(done.metrics)


def test_the_service_refreshes_the_facts_once_the_report_is_stored(scene, monkeypatch):
    live = _report(scene, use_facts=False)
    assert _run(scene) == live and FactsState.objects.get().built_at is not None  # the first build, after
    _new_outbound(scene)
    live = _report(scene, use_facts=False)
    order = []
    original = facts.facts_refresh
    monkeypatch.setattr(facts, "facts_refresh", lambda **kw: order.append(Report.objects.get(
        pk=Report.objects.latest("pk").pk).status) or original(**kw))
    assert _run(scene) == live
    assert order == [ReportStatus.DONE] and not FactChange.objects.exists()


def test_a_failed_refresh_costs_speed_not_correctness(scene, monkeypatch, caplog):
    _build(scene)
    _new_outbound(scene)
    live = _report(scene, use_facts=False)
    monkeypatch.setattr(facts, "_STORE", "INSERT INTO insights_messagefact (message_id) SELECT no_such_column")
    assert _run(scene) == live  # the report stands
    assert "refresh failed" in caplog.text
    assert FactChange.objects.exists()  # the log is kept for the next refresh (it rolled back)
    assert _stale_facts_report(scene, monkeypatch) == live
    monkeypatch.undo()
    assert facts.facts_refresh(workspace_id=scene.workspace.pk).people > 0 and not FactChange.objects.exists()


def test_the_first_build_waits_for_transactions_older_than_the_log(scene):
    """A transaction that wrote before logging started may commit after: the first build must see it."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute("UPDATE conversations_message SET text = 'Hello later' WHERE workspace_id = %s",
                           [scene.workspace.pk])
            waiting = facts.facts_refresh(workspace_id=scene.workspace.pk, wait_seconds=0.3)
            assert waiting.waiting and not waiting.built
            live_report_meanwhile = _report(scene, use_facts=True)  # still labelled from the messages
            assert live_report_meanwhile == _report(scene, use_facts=False)
            cursor.execute("COMMIT")
    finally:
        other.close()
    built = facts.facts_refresh(workspace_id=scene.workspace.pk)
    assert built.built and FactsState.objects.get().built_at is not None
    assert _report(scene, use_facts=True) == _report(scene, use_facts=False)


def test_erased_messages_leave_no_facts(scene):
    _build(scene)
    contact = _contacts_with_outbound(scene).first()
    thread_ids = list(contact.threads.values_list("pk", flat=True))
    assert MessageFact.objects.filter(thread_id__in=thread_ids).exists()
    from contacts.erasure import contact_erase
    from conversations.erasure import contact_conversations_erase
    with transaction.atomic():
        contact_conversations_erase(workspace=scene.workspace, contact_id=contact.pk)
        contact_erase(contact=contact)
    assert not MessageFact.objects.filter(thread_id__in=thread_ids).exists()
    facts.facts_refresh(workspace_id=scene.workspace.pk)
    assert not FactThread.objects.filter(thread_id__in=thread_ids).exists()


def test_the_periodic_refresh_enqueues_workspaces_with_changes(scene, other_workspace):
    from insights import tasks
    from sidekick_project.celery import app

    assert app.conf.beat_schedule["insights-facts-refresh"]["task"] == "insights.tasks.facts_refresh_due"
    _build(scene)
    sent = []

    class Task:
        name = "recorded"

        @staticmethod
        def apply_async(args, **options):
            sent.append((args, options))

    assert facts.facts_refresh_enqueue(task=Task) == 0  # other_workspace has no messages: nothing to keep
    FactChange.objects.create(workspace_id=other_workspace.pk + 1000, thread_id=1)  # a workspace gone
    _new_outbound(scene)
    other = Scene(other_workspace)
    other.out(other.contact(), START)  # facts not kept yet: built in the background
    assert facts.facts_refresh_enqueue(task=Task) == 2
    assert sorted(args[0] for args, _ in sent) == sorted([scene.workspace.pk, other_workspace.pk])
    assert {options["expires"] for _, options in sent} == {facts.REFRESH_EXPIRES}
    assert not FactChange.objects.filter(workspace_id=other_workspace.pk + 1000).exists()
    tasks.facts_refresh(scene.workspace.pk)
    tasks.facts_refresh(other_workspace.pk)
    assert not FactChange.objects.exists()
    assert FactsState.objects.get(workspace=other_workspace).built_at is not None
    assert MessageFact.objects.filter(workspace=other_workspace).count() == 1
    sent.clear()
    assert facts.facts_refresh_enqueue(task=Task) == 0


def test_a_workspace_with_facts_can_be_deleted(scene, other_workspace):
    """Deleting a workspace deletes its facts with it; the log rows its messages' deletion wrote are
    dropped by the next periodic fan-out."""
    other = Scene(other_workspace)
    other.out(other.contact(), START)
    _build(scene)
    _build(other)
    gone = scene.workspace.pk
    scene.workspace.delete()
    assert not MessageFact.objects.filter(workspace_id=gone).exists()
    assert not FactsState.objects.filter(workspace_id=gone).exists()
    assert not FactThread.objects.filter(workspace_id=gone).exists()
    facts.facts_refresh_enqueue(task="insights.tasks.facts_refresh")
    assert not FactChange.objects.filter(workspace_id=gone).exists()
    assert MessageFact.objects.filter(workspace=other_workspace).count() == 1


def test_a_report_does_not_wait_for_a_refresh_running_elsewhere(scene, monkeypatch):
    _build(scene)
    _new_outbound(scene)
    live = _report(scene, use_facts=False)
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:  # another refresh of this workspace holds the lock
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [facts._LOCK_CLASS, scene.workspace.pk])
            busy = facts.facts_refresh(workspace_id=scene.workspace.pk, wait_for_other=False)
            assert busy.busy and busy.built and busy.people == 0
            assert _run(scene) == live  # the service did not wait for the lock
            assert FactChange.objects.exists()  # and the logged person is still to refresh
    finally:
        other.close()
    assert facts.facts_refresh(workspace_id=scene.workspace.pk).people > 0


def test_another_workspaces_facts_never_count(scene, other_workspace):
    """Both workspaces keep facts over the same shape of data: each report reads its own only."""
    other = Scene(other_workspace)
    world(other, START, END)
    other.out(other.contact(), START + DAY, sender="setter")  # so the two reports differ
    live = {ws.pk: _report(s, use_facts=False) for ws, s in ((scene.workspace, scene), (other_workspace, other))}
    assert live[scene.workspace.pk] != live[other_workspace.pk]
    _build(scene)
    _build(other)
    assert _report(scene, use_facts=True, shards=2) == live[scene.workspace.pk]
    assert _report(other, use_facts=True, shards=2) == live[other_workspace.pk]
