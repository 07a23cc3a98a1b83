"""Insights report benchmark: `python bench/insights.py` (seed ≈ a few minutes on 2 cores, then ≈ 1 min).

Builds, once, in a *separate* embedded Postgres under var/bench-insights/ (never dev or test data),
with set-based SQL (generate_series; no Python loop over rows), two workspaces:

- `bench-insights`: 100,000 contacts and threads on two channels, 1,000,000 messages over 90 days
  (10 per thread, half outbound: AI, approved and edited drafts, setters, echoes; 3% failed sends),
  10,000 bookings (+ cancellations, rebookings, attended), one stage change per contact and 5,000
  contacts linked as 2,500 people;
- `bench-insights-small`: the same shape at a tenth of the size (100,000 messages).

Then runs `insights.report.report_compute` in a child process (the "worker": Django set up, nothing
else), several times per workspace and window, and reports the median time, the worker's peak RSS
(`resource.getrusage`, ru_maxrss) and the number of SQL statements per report
(`CaptureQueriesContext`) at both sizes. Results go to BENCHMARKS.md under "## Insights report".
The data is reused between runs (--reload to rebuild); the Postgres it started is stopped unless --keep.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import in_process_env  # noqa: E402 - after the path

VAR = ROOT / "var" / "bench-insights"
in_process_env(VAR)

# The data's last day; reports run "as of" three weeks later, so every message is decided.
DAY0 = datetime(2026, 1, 1, tzinfo=UTC)
SPAN_DAYS = 90
AS_OF = DAY0 + timedelta(days=SPAN_DAYS + 21)
SIZES = {"bench-insights": 100_000, "bench-insights-small": 10_000}  # contacts; messages are 10x
PER_THREAD = 10
TARGET_S, TARGET_RSS_MB = 5.0, 300
FIRST = ["Mara", "Leo", "Ines", "Sam", "Nina", "Olga", "Paula", "Ruth", "Tom", "Uma", "Victor", "Wen", "Yara",
         "Zoe", "Anna", "Ben", "Carla", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivan", "Jo", "Kai", "Lena"]

# Deterministic "random" numbers from ids: hashint8 is a stable hash (no setseed, parallel-safe).
SEED_SQL = """
INSERT INTO contacts_contact (workspace_id, channel_id, external_id, display_name, username, stage, sentiment,
                              lead_score, opted_out, created_at, updated_at)
SELECT %(ws)s, CASE WHEN i %% 5 < 3 THEN %(ig)s ELSE %(ms)s END, 'bi' || i,
       (%(first)s::text[])[1 + i %% %(nfirst)s] || ' ' || 'Lead' || i, 'lead' || i,
       (ARRAY['new','engaged','qualified','booked','lost'])[1 + abs(hashint8(i)) %% 5], 'unknown',
       abs(hashint8(i + 7)) %% 101, false, %(day0)s, %(day0)s
FROM generate_series(1, %(n)s) AS i;

INSERT INTO conversations_thread (workspace_id, channel_id, contact_id, last_message_at, unread_count, ai_paused,
                                  ai_paused_reason, app_has_control, needs_human, needs_human_reason, status, created_at)
SELECT c.workspace_id, c.channel_id, c.id, %(day0)s, 0, false, '', true, false, '', 'open', %(day0)s
FROM contacts_contact c WHERE c.workspace_id = %(ws)s;

-- Ten messages per thread from a start spread over the span; odd ones outbound. 20%% of threads open
-- with the business (a follow-up first).
INSERT INTO conversations_message (workspace_id, thread_id, channel_id, mid, direction, sender_kind, disposition,
                                   kind, text, attachments, payload, reply_to_mid, extra, is_deleted, edit_history,
                                   num_edit, reactions, standby, sent_at, created_at, send_status, messaging_type,
                                   attempts, last_error, error_code)
SELECT t.workspace_id, t.id, t.channel_id, 'bi-' || t.id || '-' || j,
       d.dir, d.kind, d.disposition, 'message',
       CASE WHEN d.dir = 'in' THEN 'ok thanks, how does it work?'
            ELSE (ARRAY['Hi ' || split_part(c.display_name, ' ', 1) || ', are you free this week?',
                        'Here is my calendar: https://calendly.com/acme/intro',
                        'The price is $300 per session, payable monthly.',
                        'Sounds great 🙂',
                        'Just checking in.',
                        repeat('We help teams like yours book more calls with less effort. ', 6),
                        'See www.acme.example/cases for examples',
                        'When would suit you best?'])[1 + abs(hashint8(t.id * 10 + j + 3)) %% 8] END,
       '[]', '', '', '{}', false, '[]', 0, '{}', false, s.at, s.at,
       CASE WHEN d.dir = 'in' OR d.kind = 'meta_inbox' THEN NULL
            WHEN abs(hashint8(t.id * 10 + j + 5)) %% 100 < 3 THEN 'failed' ELSE 'sent' END,
       CASE WHEN d.dir = 'in' THEN '' ELSE 'RESPONSE' END, 0, '', ''
FROM conversations_thread t
JOIN contacts_contact c ON c.id = t.contact_id
CROSS JOIN generate_series(0, %(per)s - 1) AS j
CROSS JOIN LATERAL (SELECT %(day0)s::timestamptz + (abs(hashint8(t.id)) %% (%(span)s * 86400)) * interval '1 second'
                           + j * (20 + abs(hashint8(t.id * 10 + j)) %% 600) * interval '1 minute' AS at) s
CROSS JOIN LATERAL (
    SELECT CASE WHEN (j + CASE WHEN t.id %% 5 = 0 THEN 1 ELSE 0 END) %% 2 = 0 THEN 'in' ELSE 'out' END AS dir,
           abs(hashint8(t.id * 10 + j + 1)) %% 100 AS roll
) r
CROSS JOIN LATERAL (
    SELECT r.dir,
           CASE WHEN r.dir = 'in' THEN 'contact' WHEN r.roll < 50 THEN 'ai' WHEN r.roll < 80 THEN 'setter'
                ELSE 'meta_inbox' END AS kind,
           CASE WHEN r.dir = 'out' AND r.roll >= 50 AND r.roll < 80
                THEN (ARRAY['approved', 'edited', NULL])[1 + r.roll %% 3] END AS disposition
) d
WHERE t.workspace_id = %(ws)s;

-- A stage change per contact (the stage at send time), a few hours after its thread starts.
INSERT INTO contacts_contactstatechange (workspace_id, contact_id, stage, sentiment, lead_score, created_at)
SELECT c.workspace_id, c.id, 'engaged', 'neutral', 50,
       %(day0)s::timestamptz + (abs(hashint8(t.id)) %% (%(span)s * 86400)) * interval '1 second' + interval '3 hours'
FROM contacts_contact c JOIN conversations_thread t ON t.contact_id = c.id WHERE c.workspace_id = %(ws)s;

-- Bookings: one contact in ten books a day or two after its thread starts; a tenth of those cancel
-- a day later, and half of the cancellations rebook; a fifth attend.
INSERT INTO contacts_bookingevent (workspace_id, contact_id, kind, occurred_at, note, created_at)
SELECT c.workspace_id, c.id, e.kind, b.at + e.after, '', b.at + e.after
FROM contacts_contact c JOIN conversations_thread t ON t.contact_id = c.id
CROSS JOIN LATERAL (SELECT %(day0)s::timestamptz + (abs(hashint8(t.id)) %% (%(span)s * 86400)) * interval '1 second'
                           + (24 + abs(hashint8(c.id + 11)) %% 24) * interval '1 hour' AS at) b
CROSS JOIN LATERAL (VALUES ('booked', interval '0', true),
                           ('canceled', interval '1 day', abs(hashint8(c.id + 13)) %% 10 = 0),
                           ('booked', interval '2 days', abs(hashint8(c.id + 13)) %% 20 = 0),
                           ('attended', interval '5 days', abs(hashint8(c.id + 13)) %% 5 = 1)) AS e(kind, after, yes)
WHERE c.workspace_id = %(ws)s AND abs(hashint8(c.id + 17)) %% 10 = 0 AND e.yes;

-- 5%% of contacts linked in pairs as one person (an Instagram and a Messenger contact).
WITH pairs AS (
    SELECT c.id, (row_number() OVER (ORDER BY c.id) + 1) / 2 AS pair
    FROM contacts_contact c WHERE c.workspace_id = %(ws)s AND c.id %% 20 IN (1, 4)
), people AS (
    INSERT INTO contacts_person (workspace_id, created_at)
    SELECT %(ws)s, %(day0)s FROM generate_series(1, (SELECT max(pair) FROM pairs))
    RETURNING id
), numbered AS (SELECT id, row_number() OVER (ORDER BY id) AS pair FROM people)
UPDATE contacts_contact c SET person_id = n.id FROM pairs p JOIN numbered n ON n.pair = p.pair WHERE c.id = p.id;
"""


def seed(workspace, ig, ms, n: int) -> float:
    from django.db import connection

    started = time.perf_counter()
    args = {"ws": workspace.pk, "ig": ig.pk, "ms": ms.pk, "n": n, "first": FIRST, "nfirst": len(FIRST),
            "day0": DAY0, "span": SPAN_DAYS, "per": PER_THREAD}
    with connection.cursor() as cursor:
        # The thread search-document triggers are not what this bench measures: off for the load.
        for table in ("contacts_contact", "conversations_thread", "conversations_message"):
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        cursor.execute("SET maintenance_work_mem = '256MB'")
        for statement in SEED_SQL.split(";\n\n"):
            cursor.execute(statement, args)
        for table in ("contacts_contact", "conversations_thread", "conversations_message"):
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
    return time.perf_counter() - started


def workspaces_ready(*, reload: bool, sizes: dict) -> dict:
    from django.db import connection

    from accounts.models import Workspace
    from conversations.models import Message
    from integrations.models import Channel

    info = {}
    for slug, n in sizes.items():
        workspace, _ = Workspace.objects.get_or_create(slug=slug, defaults={"name": slug, "timezone": "UTC"})
        if not reload and Message.objects.filter(workspace=workspace).count() == n * PER_THREAD:
            info[slug] = {"seed_s": None}
            continue
        print(f"Seeding {slug}: {n:,} contacts, {n * PER_THREAD:,} messages...", flush=True)
        with connection.cursor() as cursor:
            # The message facts first (they refer to the messages); a reseed starts them over.
            facts_reset(workspace.pk)
            for table in ("conversations_message", "conversations_thread", "contacts_bookingevent",
                          "contacts_contactstatechange", "contacts_contact", "contacts_person"):
                cursor.execute(f"DELETE FROM {table} WHERE workspace_id = %s", [workspace.pk])  # noqa: S608
        ig, ms = (Channel.objects.get_or_create(platform=p, account_id=f"{slug}-{p}",
                                                defaults={"workspace": workspace, "name": f"{slug} {p}",
                                                          "access_token": "bench-token"})[0]
                  for p in ("instagram", "messenger"))
        info[slug] = {"seed_s": round(seed(workspace, ig, ms, n), 1)}
        print(f"  seeded in {info[slug]['seed_s']} s", flush=True)
    with connection.cursor() as cursor:
        for table in ("contacts_contact", "conversations_thread", "conversations_message", "contacts_bookingevent",
                      "contacts_contactstatechange"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    return info


def facts_reset(workspace_id: int) -> None:
    """Forget the workspace's message facts (insights.facts): the next refresh is a first build."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table in ("insights_messagefact", "insights_factthread", "insights_factsstate"):
            cursor.execute(f"DELETE FROM {table} WHERE workspace_id = %s", [workspace_id])  # noqa: S608
        cursor.execute("DELETE FROM insights_factchange WHERE workspace_id = %s", [workspace_id])


def facts_build(slug: str) -> dict:
    """The first build of a workspace's message facts, timed (what its first report pays once), then a
    refresh with nothing to do (what every report pays while the facts are current)."""
    from accounts.models import Workspace
    from insights import facts
    from insights.models import MessageFact

    workspace = Workspace.objects.get(slug=slug)
    facts_reset(workspace.pk)
    started = time.perf_counter()
    built = facts.facts_refresh(workspace_id=workspace.pk)
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    facts.facts_refresh(workspace_id=workspace.pk)
    return {"build_s": round(build_s, 1), "people": built.people, "noop_ms": round((time.perf_counter() - started) * 1000, 1),
            "rows": MessageFact.objects.filter(workspace=workspace).count()}


# A burst of activity since the last refresh: one thread in a hundred gets a reply from the contact an
# hour after its last message and a setter's answer ten minutes later (2% more messages, 1% of people).
BURST_SQL = """
INSERT INTO conversations_message (workspace_id, thread_id, channel_id, mid, direction, sender_kind, kind, text,
                                   attachments, payload, reply_to_mid, extra, is_deleted, edit_history, num_edit,
                                   reactions, standby, sent_at, created_at, send_status, messaging_type, attempts,
                                   last_error, error_code)
SELECT t.workspace_id, t.id, t.channel_id, 'burst-' || t.id || '-' || b.n, b.dir, b.kind, 'message', b.text,
       '[]', '', '', '{}', false, '[]', 0, '{}', false, l.at + b.after, l.at + b.after,
       CASE WHEN b.dir = 'out' THEN 'sent' END, CASE WHEN b.dir = 'out' THEN 'RESPONSE' ELSE '' END, 0, '', ''
FROM conversations_thread t
CROSS JOIN LATERAL (SELECT max(m.sent_at) AS at FROM conversations_message m WHERE m.thread_id = t.id) l
CROSS JOIN (VALUES (1, 'in', 'contact', 'is there a slot on friday?', interval '1 hour'),
                   (2, 'out', 'setter', 'Yes: 10:00 or 14:00?', interval '70 minutes')) AS b(n, dir, kind, text, after)
WHERE t.workspace_id = %(ws)s AND abs(hashint8(t.id + 23)) %% 100 = 7
"""


def facts_burst(slug: str, start: datetime, end: datetime) -> dict:
    """A report right after a burst of new messages (its refresh rebuilds the people concerned), then the
    burst removed again (the data stays the same between runs)."""
    from django.db import connection

    from accounts.models import Workspace
    from insights import facts

    workspace = Workspace.objects.get(slug=slug)
    with connection.cursor() as cursor:
        cursor.execute(BURST_SQL, {"ws": workspace.pk})
        added = cursor.rowcount
    run = run_worker(slug, start, end, 3)  # three reports, the same work each (no refresh in between)
    with connection.cursor() as cursor:
        cursor.execute("""DELETE FROM insights_messagefact f USING conversations_message m
                          WHERE m.id = f.message_id AND m.workspace_id = %s AND m.mid LIKE 'burst-%%'""", [workspace.pk])
        cursor.execute("DELETE FROM conversations_message WHERE workspace_id = %s AND mid LIKE 'burst-%%'", [workspace.pk])
    facts.facts_refresh(workspace_id=workspace.pk)
    return {"added": added, "report_s": round(statistics.median(run["times"]), 2),
            "backend_cpu_s": round(statistics.median(run["backend_cpu"]), 2)}


def worker(slug: str, start: str, end: str, repeat: int) -> None:
    """The child process: run the report `repeat` times; print times, statement counts and peak RSS as JSON."""
    import resource

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.db.backends.signals import connection_created

    from accounts.models import Workspace
    from insights.report import report_compute

    # Every statement of a report, on this thread's connection and on each shard's (a thread's own,
    # opened during the report): a counting wrapper on each connection as it opens.
    counted = [0]
    lock = threading.Lock()

    def count(execute, sql, params, many, context):
        with lock:
            counted[0] += 1
        return execute(sql, params, many, context)

    def wrap(sender, connection, **kwargs):
        if count not in connection.execute_wrappers:
            connection.execute_wrappers.append(count)

    connection_created.connect(wrap)
    workspace = Workspace.objects.get(slug=slug)
    wrap(None, connection)
    postmaster = postmaster_pid()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times, statements, cohort, cpu = [], [], None, []
    for _ in range(repeat):
        cpu_before = postgres_cpu_s(postmaster)
        counted[0] = 0
        started = time.perf_counter()
        result = report_compute(workspace=workspace, start=datetime.fromisoformat(start),
                                end=datetime.fromisoformat(end), as_of=AS_OF)
        times.append(time.perf_counter() - started)
        cpu.append(postgres_cpu_s(postmaster) - cpu_before)
        statements.append(counted[0])
        cohort = result.metrics["counts"]["cohort_messages"]
    print(json.dumps({"times": times, "statements": statements, "cohort": cohort, "backend_cpu": cpu,
                      "shards": settings.INSIGHTS_REPORT_SHARDS,
                      "rss_before_mb": rss_before / 1024,
                      "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def postmaster_pid() -> int:
    """The bench Postgres's postmaster: the parent of this process's backend."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    return int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])


def postgres_cpu_s(postmaster: int) -> float:
    """CPU seconds (user + system) used by the bench Postgres: its running backends (the report's, its
    shards', their parallel workers) and the ones that have exited (counted in the postmaster's
    children's time once reaped). What a report costs the database whatever else the machine runs
    (wall time on a shared machine follows its load)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile: its time is in the postmaster's children's now
            continue
        if int(entry.name) == postmaster:
            total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
        elif int(fields[1]) == postmaster:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def run_worker(slug: str, start: datetime, end: datetime, repeat: int) -> dict:
    env = dict(os.environ)
    out = subprocess.run([sys.executable, __file__, "--worker", slug, start.isoformat(), end.isoformat(), str(repeat)],
                         env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        ram_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal"))
    except (OSError, StopIteration, ValueError):
        ram_kb = 0
    try:
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        load = "n/a"
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gb": round(ram_kb / 1024 / 1024, 1),
            "arch": platform.machine(), "load": load}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reload", action="store_true", help="drop and reseed the data")
    parser.add_argument("--keep", action="store_true", help="leave the bench Postgres running")
    parser.add_argument("--repeat", type=int, default=5, help="reports per scenario (the median is reported)")
    parser.add_argument("--full-repeat", type=int, default=1,
                        help="reports over the whole 90 days (the slow, worst case) per size")
    parser.add_argument("--work-mem", default=None, metavar="SIZE",
                        help="set the bench server's work_mem (server configuration, stated in the output)")
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    parser.add_argument("--size", choices=["small", "large", "both"], default="both",
                        help="which workspace(s): small (100k messages), large (1M) or both; only those are seeded")
    parser.add_argument("--window", choices=["week", "month", "full", "both", "all"], default="all",
                        help="which report window(s): one week, 28 days, the whole 90 days, week and full (both), or all")
    parser.add_argument("--seed-only", action="store_true", help="build the data (if missing) and stop")
    parser.add_argument("--worker", nargs=4, metavar=("SLUG", "START", "END", "REPEAT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        slug, start, end, repeat = args.worker
        worker(slug, start, end, int(repeat))
        return 0

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    results: dict = {"repeat": args.repeat, "machine": machine()}
    try:
        call_command("migrate", verbosity=0)
        sizes = {slug: n for slug, n in SIZES.items()
                 if args.size == "both" or (args.size == "large") == (slug == "bench-insights")}
        results["seed"] = workspaces_ready(reload=args.reload, sizes=sizes)
        if args.seed_only:
            return 0
        with connection.cursor() as cursor:
            cursor.execute("SELECT version()")
            results["pg"] = cursor.fetchone()[0].split(",")[0]
            cursor.execute("SELECT pg_size_pretty(pg_total_relation_size('conversations_message'))")
            results["message_table"] = cursor.fetchone()[0]
        with connection.cursor() as cursor:
            if args.work_mem:
                cursor.execute("ALTER SYSTEM SET work_mem = %s", [args.work_mem])
            else:
                cursor.execute("ALTER SYSTEM RESET work_mem")
            cursor.execute("SELECT pg_reload_conf()")
        connection.close()
        with connection.cursor() as cursor:
            cursor.execute("SHOW work_mem")
            results["work_mem"] = cursor.fetchone()[0]
        connection.close()
        windows = {"week": ("one week (the weekly report)", DAY0 + timedelta(days=42), DAY0 + timedelta(days=49),
                            args.repeat),
                   "month": ("28 days (the page's default window)", DAY0 + timedelta(days=42),
                             DAY0 + timedelta(days=70), args.repeat),
                   "full": ("the whole 90 days (every message)", DAY0, DAY0 + timedelta(days=SPAN_DAYS + 1),
                            args.full_repeat)}
        chosen = {"both": ["week", "full"], "all": ["week", "month", "full"]}.get(args.window, [args.window])
        windows = {windows[w][0]: windows[w][1:] for w in chosen}
        results["facts"] = {}
        for slug in sizes:
            results["facts"][slug] = facts_build(slug)
            print(f"  facts of {slug}: first build {results['facts'][slug]['build_s']} s "
                  f"({results['facts'][slug]['rows']:,} rows), refresh with nothing new "
                  f"{results['facts'][slug]['noop_ms']} ms", flush=True)
        connection.close()
        results["runs"] = []
        for label, (start, end, repeat) in windows.items():
            for slug, n in sizes.items():
                run = run_worker(slug, start, end, repeat)
                row = {"window": label, "messages": n * PER_THREAD, "cohort": run["cohort"],
                       "runs": len(run["times"]), "median_s": round(statistics.median(run["times"]), 2),
                       "min_s": round(min(run["times"]), 2), "max_s": round(max(run["times"]), 2),
                       "statements": sorted(set(run["statements"])), "rss_mb": round(run["rss_peak_mb"]),
                       "rss_setup_mb": round(run["rss_before_mb"]),
                       "backend_cpu_s": round(statistics.median(run["backend_cpu"]), 2)}
                results["runs"].append(row)
                results["shards"] = run["shards"]
                print(f"  {label}, {row['messages']:,} messages (cohort {row['cohort']:,}): median {row['median_s']} s "
                      f"(min {row['min_s']}, max {row['max_s']}), Postgres CPU {row['backend_cpu_s']} s, "
                      f"statements {row['statements']}, "
                      f"peak RSS {row['rss_mb']} MB (after setup {row['rss_setup_mb']} MB)", flush=True)
        results["bursts"] = {}
        for slug in sizes:
            label, (start, end, _) = list(windows.items())[-1]
            results["bursts"][slug] = {"window": label, **facts_burst(slug, start, end)}
            print(f"  {slug}, {label}, right after {results['bursts'][slug]['added']:,} new messages: "
                  f"{results['bursts'][slug]['report_s']} s (Postgres CPU {results['bursts'][slug]['backend_cpu_s']} s)",
                  flush=True)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep and "postgres" in getattr(settings, "EMBEDDED_STARTED", []):
            from sidekick_project import embedded

            embedded.stop_postgres(settings.VAR_DIR)
            print("stopped the bench Postgres", flush=True)
    if not args.no_write:
        write_markdown(results)
    return 0


# What EXPLAIN ANALYZE showed (one-week window, 1M messages, the machine under load), kept with the numbers.
FINDINGS = """Session 8 (table above, 2026-11-30, the machine otherwise idle): the reports read stored message
facts (`insights/facts.py`) and count people with bit masks, and the whole 90 days of the 1M-message
workspace now meets 5 s on 2 cores; session 7 measured one week 2.11 s, 28 days 4.19 s and 90 days 8.8 s
(Postgres CPU 3.35, 7.93 and 17.03 s) on the same machine. An earlier run of this session's code, 32 minutes
before (19:58 UTC, before the refresh moved after the report and the bench's burst was spread over the
shards), gave one week 0.83 s, 28 days 1.34 s, 90 days 3.84 s (3.28–4.07): the machine's speed drifts.

- Message facts: the labels of each outbound message that do not depend on the report's window, `as_of`
  or bookings (sender, reply or follow-up, stage at send time, the person's next inbound message, the
  response delay, the contact's name, text features) are stored per message and read by LABELED; the
  report labels from the messages only the people changed since the last refresh (logged by database
  triggers). Per shard, 90 days, 2 shards: LABELED 3.95 → 0.57–0.95 s of CPU, SUMMARY 0.53 → 0.13–0.17 s.
  First build of the 1M workspace: 26–34 s in one session, once, in the background; a refresh with nothing
  logged: 3 ms; a refresh after 2,000 new messages on 1,000 threads: 0.85 s of statements. The message
  triggers cost a write transaction 0.1–0.4 ms (an insert and an update of one message, medians of 400,
  noisy machine). The facts path gives byte-identical metrics JSON for the 4 bench reports, with the
  facts current and with 1,000 people to label.
- CELLS counts people with per-person bit masks (a bigint of cells per person and per person-week,
  people with the same bits counted once per pattern) instead of three COUNT(DISTINCT) per grouping set:
  1.64–1.77 → 0.62–0.72 s of CPU a shard. PATTERNS: one bit per feature value, counts by bit tests over
  a few thousand rows (0.88 → 0.44 s). TIME_TO_BOOK: first messages by one sort and DISTINCT ON, hours
  in float8 (0.43 → 0.26 s). Each is checked against the old statement on random cohorts in tests.
- What a 90-day shard costs now (backend CPU, varying ±30% with the machine): THREADS 0.2–0.3, PAIRS
  0.2, LABELED 0.6–0.95, CELLS 0.6–1.1, PATTERNS 0.45–0.9, TIME_TO_BOOK 0.26–0.56, the rest ~0.4: 3.4–4.3 s,
  against ~8.3 s in session 7.

Session 7: one week **2.11 s**, 28 days **4.19 s**, the whole 90 days **8.8 s**, against
3.03 s, 8.31 s and 21.09 s before the sharding (session 6, load 1.5–1.9): ×1.4, ×2.0, ×2.4.

Wall time on this machine follows its load (2 cores shared with other sessions): the one-week report
of the 1M workspace took 3.14 s (2.92–3.71, 3 runs) at load 1.0–1.2 with the code of 4922cb4 (before
stored features) and 6.9–11.2 s at load 5–7 with the same code; the Postgres CPU column is the figure
to compare across runs. At that CPU (3.1 s for a week, 6.6 s for 28 days, 17.8 s for 90 days of the 1M
workspace) the weekly report meets 5 s on a quiet 2-core machine; 28 and 90 days of a 1M-message
workspace do not. Re-run at load 1.5–1.9 (15:32 UTC, after the stored features; `--size large
--window all --repeat 3`): one week **3.03 s** (2.84–3.39), 28 days **8.31 s** (7.22–8.34), 90 days
**21.09 s** (one run), against 3.14 s and 28.11 s for one week and 90 days at load 1.0–1.2 before
(×1.03 and ×1.33).

How the report got here (EXPLAIN (ANALYZE, BUFFERS), one-week window of the 1M-message workspace):

- Before (the report of 2026-11-30 up to commit 90bfc3a): four statements (cells, summary, patterns,
  time to book) each rebuilt the same prefix (`msg` → `seq`, the next-inbound window function over
  about 400k messages sorted by person and time, then `pairs`), with sorts spilling at work_mem 4 MB;
  the planner, multiplying the selectivities of correlated workspace filters (thread ⋈ contact,
  message ⋈ thread), expected a few hundred messages where there are 100k and chose nested loops
  (158M rows filtered for the 90 days of the small workspace); PATTERNS expanded each decided message
  into about 23 (feature, candidate value) rows (≈ 900k for a week) before a `GROUPING SETS` with
  `COUNT(DISTINCT)`.
- Now (`insights/report_sql.py`): one report builds three temporary tables once, inside its own
  REPEATABLE READ transaction (read-write: Postgres refuses CREATE TEMPORARY TABLE in a read-only
  one), `ON COMMIT DROP` and dropped at the end: `insights_bk` (bookings that count), `insights_pairs`
  (each booking with the messages it credits) and `insights_labeled` (the cohort with its labels),
  `ANALYZE`d so the planner sees their real sizes (the nested loops are gone). `SET LOCAL work_mem =
  '64MB'`: the largest sort (the window function, ≈ 90k rows for a week) stays in memory. The cells,
  summary, patterns and time to book read the tables; the evidence drilldown (`message_labels`) and the
  synthesis excerpts use the same tables. 12 statements per report (15 in its own transaction, counted
  with its BEGIN/SET TRANSACTION/COMMIT), whatever the row count.
- The next-inbound window function reads `[start, end + reply)` only (an inbound message later than
  that cannot be a reply within the reply window of a message of the window): a week reads ≈ 90k
  messages instead of ≈ 400k. PAIRS goes from the bookings (analysed first) to their people's
  threads and looks up each thread's messages before the booking by (thread, sent_at): 0.24 s instead
  of 0.95 s for a week (a hash join read every message of the attribution windows).
- PATTERNS counts every comparison in one pass: a `MATERIALIZED` CTE computes each message's features
  once (inlined, Postgres re-evaluated the regular expressions in every aggregate that read them: 14 s),
  then one row per group with a column per (value, with/without, count); only the values the shaping
  compares (binary features: "yes" against the rest). Each message's text is read by primary key (a
  hash join read the whole 1.1M-row table: 0.8 s of 1.4 s for a week); the response-delay lookup runs
  only for replies.
- CELLS counts messages and replies with plain counts over the cohort (one row per message) and the
  bookings credited over the cohort joined with the pairs, matched on the grouping: 6.4–8.7 s instead
  of 14.9–20.1 s on the 90 days of 1M messages, same rows.
- Every change was checked against the previous code's metrics JSON, byte for byte: every report the
  insights tests compute (120 results: metrics, labels, synthesis excerpts) and, on this data, both
  workspaces for the one-week window and the whole 90 days.
- Old against new on the same data, minutes apart (`report_compute` of commit 90bfc3a and of this
  one, each in a fresh process, as of 21 days after the data's end; load average of the machine at the
  time, 2 cores shared with other sessions; every pair gave byte-identical metrics JSON). The server's
  work_mem stays 4 MB; the report raises it for its own transaction:

  | window | messages | old | new | old/new | load |
  |---|---|---|---|---|---|
  | one week | 1,000,000 | 14.75 s (14.61–18.91, 3 runs) | 4.53 s (3.85–4.90, 3 runs) | ×3.3 | 3.0–3.5 |
  | one week | 1,000,000 | 34.26 s (32.77–39.50, 3 runs) | 10.71 s (9.14–12.56, 3 runs; with the PAIRS lookups) | ×3.2 | 7.2–7.6 |
  | one week | 100,000 | 2.74 s (2.21–3.08, 3 runs) | 0.73 s (0.70–0.81, 3 runs) | ×3.8 | 3.0 |
  | whole 90 days | 100,000 | 105.6 s (1 run) | 4.9 s (1 run) | ×21 | 5.1 |
  | whole 90 days | 1,000,000 | 175.5 s (1 run) | 44.0 s (1 run) | ×4.0 | 5.8–5.9 |

  The times follow the machine's load (the bench table above ran at load 6.9–7.6; an earlier bench
  run, before the PAIRS lookups, at load 3.5–4.7 gave the one-week 1M report 6.8 s); the ratio holds at
  ≈ ×3.2–3.3 for the weekly report of 1M messages. The lowest seen: 3.45 s for that report at load 1.9
  (one run, the final code); its statements timed one by one at load 2.3–3.3 add up to 4.5–6.1 s
  (PAIRS 0.24, LABELED 1.1–2.0, CELLS 0.4–0.8, SUMMARY 0.3, PATTERNS 1.4–2.1, the rest < 0.5). On an
  idle 2-core machine the weekly report of the 1M workspace should be at or under the 5 s target; it
  was not measured idle (the machine never was).

- Stored text features (2026-11-30, session 6; commit "message text features stored with the
  message"): `Message.text_features` is a stored generated column (conversations/text_features.py):
  Postgres computes the length band and the question, link, booking-link, price and emoji flags when a
  message is written or edited. LABELED reads the window once through a new `(workspace, sent_at)` index
  (or a parallel scan when the window is most of the table), computes "uses the contact's first name"
  during that read, takes the previous message and the contact's last message of the thread from a
  window over the thread (a lookup before the window only for the first message read of each thread),
  the stage at send from ranges of the stage history (a hash join), and carries all of it; PATTERNS
  reads only the cohort table and counts people per person first. Backend CPU of PATTERNS on the 1M
  workspace: 90 days 18.4 → 4.3 s, 28 days 5.6 → 1.5 s, one week 1.7 → 0.4 s (old and new measured
  minutes apart on the same data, load 5–20); byte-identical metrics JSON for 7, 28 and 90 days of the
  1M workspace and 90 days of the 100k one. The migration rewrites the message table once (92 s for
  1.1M rows on the loaded machine). Counting people per (cell, person) first in CELLS as well was
  slower than `COUNT(DISTINCT)` (2.9M intermediate rows over 13 grouping sets: 6.6 s against 4.3 s of
  CPU for 90 days) and was not kept.
- Then (session 6) for the whole 90 days of 1M messages (cohort 481,854): about 20 s of backend CPU
  (LABELED ≈ 8.5 s, CELLS ≈ 4.3 s, PATTERNS ≈ 4.3 s, TIME_TO_BOOK ≈ 2.1 s), the statements after
  LABELED on one core (Postgres does not scan temporary tables in parallel).
- Sharded by person (session 7, 2026-11-30; `INSIGHTS_REPORT_SHARDS`, default the cores up to 4: 2
  here). Every count of the report is a sum over people, so each of N sessions builds the tables and
  runs the statements for the people whose key is its share (key mod N), all on one snapshot exported
  by the first (`pg_export_snapshot` / `SET TRANSACTION SNAPSHOT`), and Python adds their rows up
  (cells, summary, pattern counts, time-to-book counts: tens to hundreds of rows, never messages).
  Every statement runs on each core instead of one, not only the parallel-safe scans. With it:
  the shard's threads and their person are a table built once (`insights_th`, analysed: the shard
  expression in a join made the planner guess 0.5% of the contacts and pick nested loops); the
  cohort's two window sorts carry narrow rows (the cohort's own columns only for cohort rows);
  `work_mem` 128 MB for the report's transactions (those sorts, 88 and 79 MB per shard for 90 days,
  stay in memory); PATTERNS counts, per person, the messages with each value and with any value of
  each feature ("without" is the difference) over compact per-message features computed once (4.7 →
  2.0 s of CPU for 90 days, one session); TIME_TO_BOOK finds each person's first message by one hash
  aggregate instead of a DISTINCT ON sort (2.1 → 1.6 s). Metrics JSON byte-identical before and after
  each step for 7, 28 and 90 days of the 1M workspace and 90 days of the 100k one; a test
  (`insights/tests/test_report_shards.py`) checks 2, 3 and 5 shards against one session, and that rows
  committed mid-report count in no shard.
- Per shard, 90 days of the 1M workspace, 2 shards, backend CPU: LABELED 3.8 s, CELLS 1.8 s, PATTERNS
  0.95 s, TIME_TO_BOOK 0.5 s, SUMMARY 0.5 s, the rest 0.75 s: about 8.3 s a shard, 16–17 s in all.
  Tried and not kept: counting people per (cell, person) by hash in CELLS (4.2 s a shard against 1.8 s:
  1.46M groups spill), the next inbound message by its number in the thread (a hash join) instead of
  the sort by person (no gain: 4.0 against 3.8 s), shared_buffers 1 GB (no gain). On 2 cores the
  whole 90 days of a 1M-message workspace stays above 5 s; more cores (more shards) divide it further."""


def write_markdown(results: dict) -> None:
    m = results["machine"]
    rows = []
    by_window: dict[str, dict[int, dict]] = {}
    for r in results["runs"]:
        by_window.setdefault(r["window"], {})[r["messages"]] = r
        rows.append(f"| {r['window']} | {r['messages']:,} | {r['cohort']:,} | {r['median_s']} s "
                    f"({r['min_s']}–{r['max_s']}) | {r.get('backend_cpu_s', '–')} s | {r['runs']} | {r['rss_mb']} MB "
                    f"({r['rss_setup_mb']} MB after setup) | "
                    f"{', '.join(map(str, r['statements']))} |")
    ratios = []
    for window, sizes in by_window.items():
        big, small = sizes[max(sizes)], sizes[min(sizes)]
        ratios.append(f"{window}: time ×{big['median_s'] / small['median_s']:.1f} for ×{big['messages'] // small['messages']} "
                      f"rows, statements {small['statements']} → {big['statements']}")
    worst_s = max(r["median_s"] for r in results["runs"])
    worst_rss = max(r["rss_mb"] for r in results["runs"])
    constant = len({tuple(r["statements"]) for r in results["runs"]}) == 1
    seeded = "; ".join(f"{slug} seeded in {s['seed_s']} s" for slug, s in results["seed"].items() if s["seed_s"])
    facts_line = "; ".join(
        f"{slug}: first build {f['build_s']} s ({f['rows']:,} rows, once per workspace, in the background), "
        f"a refresh with nothing new {f['noop_ms']} ms" for slug, f in results.get("facts", {}).items())
    bursts_line = "; ".join(
        f"{slug}, {b['window']}, after {b['added']:,} new messages on 1% of the threads: {b['report_s']} s "
        f"(Postgres CPU {b['backend_cpu_s']} s, median of 3)" for slug, b in results.get("bursts", {}).items())
    section = f"""## Insights report

Measured by `python bench/insights.py` on {time.strftime('%Y-%m-%d')} on a shared machine: {m['nproc']} cores
({m['cpu']}, {m['arch']}), {m['ram_gb']} GB RAM, load average {m['load']} at the end of the run (other work
running). {results['pg']} (embedded, default settings but work_mem {results['work_mem']}), separate database under
`var/bench-insights/`.

Data (set-based SQL, `generate_series`): `bench-insights` with 100,000 contacts and threads on two
channels, 1,000,000 messages over 90 days (half outbound: AI, approved and edited drafts, setters,
echoes; 3% failed sends), ~11,500 booking events (10,000 contacts booked, cancellations, rebookings,
attended), one stage change per contact, 5,000 contacts linked as 2,500 people; `bench-insights-small`
is the same at a tenth (100,000 messages). Message table with indexes {results['message_table']}.
{seeded + '.' if seeded else 'Data reused from an earlier seed.'}

`report_compute` run the number of times in the "runs" column in a child process (the worker: Django set up,
nothing else; `INSIGHTS_REPORT_SHARDS` {results['shards']}: the report counts in that many database sessions side
by side, one share of the people each, on one snapshot), as of 21 days after the data's end; time is the
median (min–max); peak RSS is the worker's `ru_maxrss`; statements are those of every session of the
report (each run, BEGIN/COMMIT included); Postgres CPU is the median CPU time (user + system) of the
bench Postgres during the report (every backend: the shards' and any parallel workers), what the report
costs the database whatever else runs on the machine:

| window | messages in the workspace | cohort (outbound in the window) | report time | Postgres CPU | runs | worker peak RSS | SQL statements |
|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}

Growth from 100k to 1M messages: {'; '.join(ratios)}.

Message facts (`insights.facts`: the labels of each outbound message that do not depend on a report's
window, kept as messages arrive; the reports above read them): {facts_line}. A report right after new
activity, before any refresh, labels the people concerned itself from their messages: {bursts_line}.

Targets (report ≤ {TARGET_S:.0f} s, peak RSS ≤ {TARGET_RSS_MB} MB, statement count independent of rows):
time {"met" if worst_s <= TARGET_S else "**not met**"} (worst median {worst_s} s), RSS {"met" if worst_rss <= TARGET_RSS_MB else "**not met**"}
(worst {worst_rss} MB), statements {"constant" if constant else "**not constant**"}.

{FINDINGS}
"""
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    marker = "## Insights report"
    if marker in text:
        start = text.index(marker)
        end = text.find("\n## ", start + 5)
        text = text[:start] + section + ("\n" + text[end + 1:] if end != -1 else "")
    else:
        text = text.rstrip() + "\n\n" + section
    path.write_text(text)
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
