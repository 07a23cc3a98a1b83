"""Message facts: what a report needs of each outbound message that does not depend on its window, kept
as messages arrive instead of recounted from every message by every report (docs/insights.md,
"Message facts").

A report's cohort labels each delivered outbound message of its window. Most of those labels (the
sender, reply or follow-up, the stage at send time, the person's next inbound message, the response
delay, the contact's name, the text features: `report_sql.fact_rows`) are the same whatever the window,
`as_of` or bookings; computing them is most of a report's work (two window sorts over every message
read). So they are stored (`MessageFact`) and a report reads them, and labels itself only the messages
of people whose stored facts may be stale (`report_sql.DIRTY`). Such a report is byte for byte the report
computed from the messages alone (insights/tests/test_facts.py): stale facts are never read.

Staleness is tracked by the database, not by the code that writes: the triggers of migration 0004 log,
in the writer's own transaction, every thread and contact whose messages, drafts, stage history, name
or person changed (`FactChange`). `facts_refresh` takes the log rows it sees, rebuilds the facts of those
people in the same snapshot and deletes exactly those rows; a change committed after its snapshot stays
logged for the next refresh, and until then the report labels that person itself.

Facts are kept for every workspace with messages: built in the background by the periodic refresh
(`facts_refresh_due`, every 5 minutes in the beat schedule, which then keeps the log short), or after
the workspace's first stored report if that comes first (`services.report_run` refreshes them once a
report is stored). A report reads them as they are and never waits for a refresh.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from insights import report_sql
from insights.models import FactsState
from sidekick_project.enqueue import task_enqueue

logger = logging.getLogger(__name__)

_LOCK_CLASS = 0x1FAC  # advisory lock namespace for "message facts of workspace N"
# A window as wide as time: the facts of a message do not depend on the window around it.
_FAR_PAST = datetime(1900, 1, 1, tzinfo=UTC)
_FAR_FUTURE = datetime(9000, 1, 1, tzinfo=UTC)
# How long the first build waits for transactions that were running when logging started (they may
# have written without logging: the build must see what they wrote). Past it, the build is left for the
# next refresh and reports keep labelling every message themselves.
ENABLE_WAIT_SECONDS = 10.0
REFRESH_EXPIRES = 10 * 60  # a refresh not started within 10 min is replaced by the next one

# The log rows this refresh sees, taken (deleted) in its snapshot: later ones stay for the next refresh.
_TAKE = """
CREATE TEMPORARY TABLE insights_fc ON COMMIT DROP AS
WITH taken AS (DELETE FROM insights_factchange WHERE workspace_id = %(ws)s RETURNING thread_id, contact_id)
SELECT DISTINCT thread_id, contact_id FROM taken
"""

# The people whose facts are rebuilt and their threads now (insights_dpk, insights_dth: the shape of
# insights_th, which `fact_rows` reads). The first build: everyone.
_ALL_THREADS = f"CREATE TEMPORARY TABLE insights_dth ON COMMIT DROP AS {report_sql.threads_select('true')}"
_ALL_PEOPLE = "CREATE TEMPORARY TABLE insights_dpk ON COMMIT DROP AS SELECT DISTINCT pk FROM insights_dth"
# Later: the people of each logged thread or contact, now and as the facts last filed them (a contact
# that left a person changes that person's facts too), found through the log's few rows and indexes.
_LOGGED_PEOPLE = """
CREATE TEMPORARY TABLE insights_dpk ON COMMIT DROP AS
SELECT COALESCE(c.person_id, -c.id) AS pk FROM contacts_contact c
WHERE c.workspace_id = %(ws)s
  AND c.id IN (SELECT contact_id FROM insights_fc
               UNION SELECT t.contact_id FROM conversations_thread t JOIN insights_fc f ON f.thread_id = t.id)
UNION SELECT ft.person_key FROM insights_factthread ft JOIN insights_fc f ON f.thread_id = ft.thread_id
      WHERE ft.workspace_id = %(ws)s
UNION SELECT ft.person_key FROM insights_factthread ft JOIN insights_fc f ON f.contact_id = ft.contact_id
      WHERE ft.workspace_id = %(ws)s
"""
_LOGGED_WHERE = ("(c.person_id IN (SELECT pk FROM insights_dpk WHERE pk > 0)"
                 " OR (c.person_id IS NULL AND c.id IN (SELECT -pk FROM insights_dpk WHERE pk < 0)))")
_LOGGED_THREADS = f"CREATE TEMPORARY TABLE insights_dth ON COMMIT DROP AS {report_sql.threads_select(_LOGGED_WHERE)}"

# Out with the old facts of those people (their threads now, and the threads the facts filed under them)...
_FORGET = """
WITH gone AS (
    DELETE FROM insights_factthread ft WHERE ft.workspace_id = %(ws)s
      AND (ft.person_key IN (SELECT pk FROM insights_dpk) OR ft.thread_id IN (SELECT thread_id FROM insights_dth))
    RETURNING ft.thread_id
)
DELETE FROM insights_messagefact f WHERE f.workspace_id = %(ws)s
  AND f.thread_id IN (SELECT thread_id FROM gone UNION SELECT thread_id FROM insights_dth)
"""
# ... in with the new: the delivered messages with their labels, then every other outbound message of
# those threads with no sender (a report counts them as considered, not in the cohort).
_STORE = f"""
INSERT INTO insights_messagefact (message_id, workspace_id, thread_id, sent_at, sender, purpose, stage, next_in,
                                  last_in, contact_name, text_features)
SELECT r.id, %(ws)s, r.thread_id, r.sent_at, r.sender, r.purpose, r.stage, r.next_in, r.last_in, r.contact_name,
       r.text_features
FROM ({report_sql.fact_rows("insights_dth")}) r
-- In the order reports read them (a window of sent_at), so the index scan reads the table in order.
ORDER BY r.sent_at
"""  # noqa: S608 (module constants only; every value is a query parameter)
_STORE_UNDELIVERED = """
INSERT INTO insights_messagefact (message_id, workspace_id, thread_id, sent_at)
SELECT m.id, %(ws)s, m.thread_id, m.sent_at
FROM conversations_message m JOIN insights_dth th ON th.thread_id = m.thread_id
WHERE m.workspace_id = %(ws)s AND m.direction = 'out'
ON CONFLICT (message_id) DO NOTHING
"""
_STORE_THREADS = """
INSERT INTO insights_factthread (thread_id, workspace_id, contact_id, person_key)
SELECT thread_id, %(ws)s, contact_id, pk FROM insights_dth
"""


@dataclass(frozen=True)
class FactsRefresh:
    built: bool  # the facts are usable (this refresh or an earlier one built them)
    people: int = 0  # people whose facts were rebuilt
    waiting: bool = False  # the first build waits for older transactions to end
    busy: bool = False  # another refresh of the workspace was running (and this one did not wait)


def _enable(workspace_id: int) -> FactsState:
    """The workspace's state row, created (logging on, committed) if missing.

    Then the id of a transaction that starts after that commit: any transaction that wrote before the
    row was visible (so its triggers did not log) has a lower id, and the first build waits until all of
    them have ended. (Writers in READ COMMITTED, as every writer of those tables is: their triggers'
    statements see the row from its commit on.) Set in a second statement so the id is taken after the
    commit; a row left without it (a crash in between) gets it on the next call.
    """
    state = FactsState.objects.filter(workspace_id=workspace_id).first()
    if state is not None and state.enabled_before_xid:
        return state
    with connection.cursor() as cursor:
        cursor.execute("""INSERT INTO insights_factsstate (workspace_id, enabled_at, enabled_before_xid)
                          VALUES (%s, now(), 0) ON CONFLICT (workspace_id) DO NOTHING""", [workspace_id])
        cursor.execute("""UPDATE insights_factsstate SET enabled_before_xid = pg_current_xact_id()::text::bigint
                          WHERE workspace_id = %s AND enabled_before_xid = 0""", [workspace_id])
    return FactsState.objects.get(workspace_id=workspace_id)


def _older_writers_done(cursor, before_xid: int) -> bool:
    """Whether every transaction with an id below `before_xid` has ended."""
    cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint >= %s", [before_xid])
    return cursor.fetchone()[0]


def facts_refresh(*, workspace_id: int, wait_seconds: float = ENABLE_WAIT_SECONDS,
                  wait_for_other: bool = True) -> FactsRefresh:
    """Bring the workspace's message facts up to date with every change committed before it started,
    turning them on first if they are not kept yet. One refresh per workspace at a time (a session
    advisory lock): a second one waits for the first, then finds little to do; with `wait_for_other`
    false it returns at once instead (`busy`: a report does not wait for the beat's refresh, it labels
    the people still logged itself).

    Precondition: autocommit (it commits its own transactions).
    """
    assert connection.get_autocommit() and not connection.in_atomic_block, "commits its own transactions"
    state = _enable(workspace_id)
    with connection.cursor() as cursor:
        if state.built_at is None:
            deadline = time.monotonic() + wait_seconds
            while not _older_writers_done(cursor, state.enabled_before_xid):
                if time.monotonic() >= deadline:
                    logger.info("insights facts of workspace %s: waiting for older transactions", workspace_id)
                    return FactsRefresh(built=False, waiting=True)
                time.sleep(0.05)
        if wait_for_other:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [_LOCK_CLASS, workspace_id])
        else:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_LOCK_CLASS, workspace_id])
            if not cursor.fetchone()[0]:
                return FactsRefresh(built=state.built_at is not None, busy=True)
        try:
            return _rebuild(workspace_id)
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_LOCK_CLASS, workspace_id])


def _rebuild(workspace_id: int) -> FactsRefresh:
    """The refresh proper, in one REPEATABLE READ snapshot taken after the lock: the log rows it takes and
    the messages it reads are the ones that snapshot sees."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cursor.execute("SELECT built_at IS NOT NULL FROM insights_factsstate WHERE workspace_id = %s", [workspace_id])
        built = cursor.fetchone()[0]
        cursor.execute("SELECT EXISTS (SELECT 1 FROM insights_factchange WHERE workspace_id = %s)", [workspace_id])
        if built and not cursor.fetchone()[0]:
            return FactsRefresh(built=True)  # nothing changed since the last refresh
        args = {"ws": workspace_id, "start": _FAR_PAST, "end": _FAR_FUTURE, "as_of": _FAR_FUTURE,
                "reply": timedelta(0)}
        cursor.execute(report_sql.WORK_MEM)
        cursor.execute(_TAKE, args)
        if built:
            cursor.execute(_LOGGED_PEOPLE, args)
            cursor.execute(_LOGGED_THREADS, args)
        else:
            cursor.execute(_ALL_THREADS, args)
            cursor.execute(_ALL_PEOPLE, args)
        cursor.execute("SELECT COUNT(*) FROM insights_dpk")
        people = cursor.fetchone()[0]
        if people:
            cursor.execute("ANALYZE insights_dth")
            cursor.execute(_FORGET, args)
            cursor.execute(_STORE, args)
            cursor.execute(_STORE_UNDELIVERED, args)
            cursor.execute(_STORE_THREADS, args)
            if not built:
                # The planner's statistics of the new rows now, not at autovacuum's next pass: without
                # them it guesses one fact per window and hashes the cohort instead of the pairs.
                cursor.execute("ANALYZE insights_messagefact, insights_factthread")
        now = timezone.now()
        FactsState.objects.filter(workspace_id=workspace_id).update(
            built_at=Coalesce(F("built_at"), Value(now)), refreshed_at=now)
    return FactsRefresh(built=True, people=people)


def facts_refresh_enqueue(*, task) -> int:
    """The periodic fan-out: `task(workspace_id)` for each workspace whose facts have changes logged or are
    not built yet, and for each workspace with messages whose facts are not kept yet (so its first report
    finds them built), each expiring before the next fan-out; drops log rows of workspaces no longer kept
    (deleted while their messages logged). Returns how many were enqueued."""
    with connection.cursor() as cursor:
        cursor.execute("""DELETE FROM insights_factchange c
                          WHERE NOT EXISTS (SELECT 1 FROM insights_factsstate s WHERE s.workspace_id = c.workspace_id)""")
        cursor.execute("""SELECT s.workspace_id FROM insights_factsstate s
                          WHERE s.built_at IS NULL
                             OR EXISTS (SELECT 1 FROM insights_factchange c WHERE c.workspace_id = s.workspace_id)
                          UNION
                          SELECT w.id FROM accounts_workspace w
                          WHERE NOT EXISTS (SELECT 1 FROM insights_factsstate s WHERE s.workspace_id = w.id)
                            AND EXISTS (SELECT 1 FROM conversations_message m WHERE m.workspace_id = w.id)
                          ORDER BY 1""")
        due = [row[0] for row in cursor.fetchall()]
    return sum(1 for workspace_id in due if task_enqueue(task, args=[workspace_id], expires=REFRESH_EXPIRES))
