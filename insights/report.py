"""Message performance for one workspace, one window [start, end) and one `as_of` time.

`report_compute` runs the statements of `insights.report_sql` (a fixed number, whatever the number of
messages: the shared tables built once by `report_tables`, then one statement per part of the report)
and shapes the metrics; `metrics_json` is the canonical text (sorted keys, floats rounded),
so the same inputs give byte-identical JSON. The definitions are in docs/insights.md.
"""

from __future__ import annotations

import json
import zoneinfo
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction

from insights import cells_sql, patterns, report_sql
from insights.intervals import time_to_event, wilson_interval
from sidekick_project.db import in_autocommit

SCHEMA_VERSION = 2  # 2: time_to_book and weekly
DIGITS = 4  # every float in the metrics is rounded to this many decimals

SENDERS = ["ai_auto", "ai_approved", "ai_edited", "setter", "business_outside"]
PURPOSES = ["reply", "follow_up"]
CHANNELS = ["instagram", "messenger"]
STAGES = ["new", "engaged", "qualified", "booked", "customer", "lost", "ghosted"]
ALL = "all"
_COLUMNS = ["sender", "purpose", "platform", "side", "stage", "week"]
GROUPS = [ALL, "ai", "setter"]  # everyone, and the two sides of the AI-vs-setter comparison


@dataclass(frozen=True)
class ReportParameters:
    attribution_days: int = 14
    maturity_days: int = 7
    reply_hours: int = 24
    min_people: int = 30  # a cell with fewer people (with a known outcome) says "not enough data"
    confidence: float = 0.95

    def __post_init__(self):
        if not (self.attribution_days > 0 and self.maturity_days >= 0 and self.reply_hours > 0
                and self.min_people > 0 and 0 < self.confidence < 1):
            raise ValueError("report parameters out of range")

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ReportResult:
    metrics: dict
    rows_considered: int
    rows_dropped: int


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _rate(successes: int, n: int, *, confidence: float) -> dict:
    if n == 0:
        return {"value": None, "low": None, "high": None, "n": 0, "successes": 0}
    low, high = wilson_interval(successes, n, confidence=confidence)
    return {"value": round(successes / n, DIGITS), "low": _round(low), "high": _round(high),
            "n": n, "successes": successes}


def _cell(row: dict, params: ReportParameters) -> dict:
    decided, booked = row["people_decided"], row["people_booked"]
    bookings = row["bookings"]
    return {
        "messages": {"total": row["messages"], "booked": row["messages_booked"],
                     "not_booked": row["messages_not_booked"],
                     "pending": row["messages"] - row["messages_booked"] - row["messages_not_booked"]},
        "people": {"total": row["people"], "booked": booked, "not_booked": decided - booked,
                   "pending": row["people"] - decided},
        # The unit is the person: several messages to one person are not independent trials.
        "booked_rate": _rate(booked, decided, confidence=params.confidence),
        "enough_data": decided >= params.min_people,
        "bookings_credited": bookings,
        "last_touch_bookings": row["last_touch"],
        "messages_per_booking": round(row["messages"] / bookings, DIGITS) if bookings else None,
        "reply_rate_24h": _rate(row["replied"], row["reply_known"], confidence=params.confidence),
    }


def _grouped_by(g: int) -> frozenset[str]:
    """The columns a GROUPING(...) bitmask says the row is grouped by (bit set: rolled up)."""
    n = len(_COLUMNS)
    return frozenset(col for i, col in enumerate(_COLUMNS) if not g & (1 << (n - 1 - i)))


def _shape(rows: list[dict], params: ReportParameters) -> tuple[list[dict], dict, dict]:
    cells, comparison, weekly = [], {"overall": {}, "by_stage": {}, "by_channel": {}}, {}
    for row in rows:
        by = _grouped_by(row["g"])
        if "week" in by:
            group = ALL if by == {"week"} else row["side"]
            if group is not None:
                weekly[(group, row["week"])] = row
            continue
        if "side" in by:
            if row["side"] is None:
                continue  # edited drafts and the business outside Sidekick: not in the comparison
            if by == {"side"}:
                comparison["overall"][row["side"]] = _cell(row, params)
            elif by == {"side", "stage"}:
                comparison["by_stage"].setdefault(row["stage"], {})[row["side"]] = _cell(row, params)
            else:
                comparison["by_channel"].setdefault(row["platform"], {})[row["side"]] = _cell(row, params)
            continue
        cell = {"sender": row["sender"] if "sender" in by else ALL,
                "purpose": row["purpose"] if "purpose" in by else ALL,
                "channel": row["platform"] if "platform" in by else ALL}
        cells.append({**cell, **_cell(row, params)})
    order = {ALL: -1, **{v: i for i, v in enumerate(SENDERS + PURPOSES + CHANNELS)}}
    cells.sort(key=lambda c: (order.get(c["sender"], 99), order.get(c["purpose"], 99), order.get(c["channel"], 99),
                              c["sender"], c["purpose"], c["channel"]))
    return cells, comparison, weekly


def _weeks(start: datetime, end: datetime, tz: str) -> list[date]:
    """The Mondays (in the workspace's time zone) of every week the window [start, end) overlaps."""
    zone = zoneinfo.ZoneInfo(tz)
    first = start.astimezone(zone).date()
    last = (end - timedelta(microseconds=1)).astimezone(zone).date()
    monday, weeks = first - timedelta(days=first.weekday()), []
    while monday <= last:
        weeks.append(monday)
        monday += timedelta(days=7)
    return weeks


def _weekly(found: dict, weeks: list[date], params: ReportParameters) -> dict:
    """Every week of the window for each group, in order; a week without messages has zeros."""
    def week(group: str, monday: date) -> dict:
        row = found.get((group, monday))
        messages, booked, decided = (row["messages"], row["people_booked"], row["people_decided"]) if row else (0, 0, 0)
        return {"week_start": monday.isoformat(), "messages": messages,
                "booked_rate": _rate(booked, decided, confidence=params.confidence)}

    return {group: [week(group, monday) for monday in weeks] for group in GROUPS}


def _round(x: float | None) -> float | None:
    """Rounded to DIGITS places; minus zero (a bound a hair below 0, rounded) is written as 0.0, as the
    stored report's jsonb gives it back (the metrics JSON is the same computed or stored)."""
    return None if x is None else round(x, DIGITS) + 0.0


def _time_to_book(rows: list[dict], params: ReportParameters) -> dict:
    """Kaplan–Meier time to book for each group, from (group, event, hours, people) counts."""
    days = list(range(params.attribution_days + 1))
    shaped = {}
    for group in GROUPS:
        counts = [(r["hours"], r["event"], r["people"]) for r in rows if r["grp"] == group]
        fit = time_to_event(counts, at=[24 * d for d in days], confidence=params.confidence)
        shaped[group] = {
            "median_days": None if fit.median is None else round(fit.median / 24, DIGITS),
            "curve": [{"day": d, "booked": _round(p.booked), "low": _round(p.low), "high": _round(p.high)}
                      for d, p in zip(days, fit.points, strict=True)] if fit.n else [],
            "n": fit.n, "events": fit.events, "censored": fit.censored,
        }
    return shaped


def _simpson_note(comparison: dict) -> dict:
    """Where the crude AI-vs-setter gap and the gap inside strata with enough data point different ways."""
    def gap(pair):
        ai, setter = pair.get("ai"), pair.get("setter")
        if not (ai and setter and ai["enough_data"] and setter["enough_data"]):
            return None
        return ai["booked_rate"]["value"] - setter["booked_rate"]["value"]

    crude = gap(comparison["overall"])
    reversed_in = []
    for kind in ("by_stage", "by_channel"):
        for name, pair in sorted(comparison[kind].items()):
            inner = gap(pair)
            if crude is not None and inner is not None and inner * crude < 0:
                reversed_in.append(f"{kind[3:]}:{name}")
    return {"crude_gap": _round(crude), "reversed_in": reversed_in}


def sql_args(workspace, start: datetime, end: datetime, as_of: datetime, params: ReportParameters, *,
             facts: bool = True) -> dict:
    return {"ws": workspace.pk, "start": start, "end": end, "as_of": as_of, "tz": workspace.timezone,
            "attr": timedelta(days=params.attribution_days), "maturity": timedelta(days=params.maturity_days),
            "reply": timedelta(hours=params.reply_hours), "facts": facts, "shards": 1, "shard": 0}


@contextmanager
def report_tables(args: dict) -> Iterator:
    """A cursor inside a transaction where the report's shared tables exist (insights_bk, insights_pairs,
    insights_labeled: insights.report_sql, `BUILD`), built for `args` (`sql_args`); dropped on the way out.

    Outside a transaction it opens its own, REPEATABLE READ: every statement reads one snapshot (rows
    committed between them do not count in one and not the other). Not READ ONLY: Postgres refuses
    CREATE TEMPORARY TABLE there; the tables are the only thing written, and they are this session's
    own. Inside a caller's transaction it runs in a savepoint (an error leaves no table behind) and
    `work_mem` stays raised until that transaction ends.
    """
    outermost = not connection.in_atomic_block
    with transaction.atomic(), connection.cursor() as cursor:
        if outermost:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        for statement in report_sql.BUILD:
            cursor.execute(statement, args)
        yield cursor
        cursor.execute(report_sql.DROP)


def _fetch(cursor, sql: str, args: dict) -> list[dict]:
    cursor.execute(sql, args)
    names = [c.name for c in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


# The keys of each statement's rows across shards (every other column is a count, added up).
_TTB_KEY = ("grp", "event", "hours")


def _shard_rows(args: dict) -> dict:
    """The rows of every statement of the report for the people of `args`' shard."""
    if args["shards"] > 1:
        # The shards already keep one core each busy: a statement's own parallel workers would only
        # compete with the other shards for the same cores (28 days of the 1M-message bench, 2 shards
        # on 2 cores: 8.8 s without them against 11.3 s with, one run each on a busy machine). LOCAL:
        # the shard's transaction, which `_report_rows` opened.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
    with report_tables(args) as cursor:
        return {"cells": _fetch(cursor, cells_sql.CELLS, args),
                "summary": _fetch(cursor, report_sql.SUMMARY, args)[0],
                "patterns": _fetch(cursor, patterns.PATTERNS, args),
                "ttb": _fetch(cursor, report_sql.TIME_TO_BOOK, args)}


def _shard_in_snapshot(args: dict, snapshot: str) -> dict:
    """A shard on this thread's own connection, reading the snapshot the report exported; the
    connection is closed afterwards (a pool thread of one report)."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cursor.execute("SET TRANSACTION SNAPSHOT %s", [snapshot])
            return _shard_rows(args)
    finally:
        connection.close()


def report_shards() -> int:
    return max(1, int(settings.INSIGHTS_REPORT_SHARDS))


def _sum_rows(rows: list[dict], key: tuple[str, ...]) -> list[dict]:
    """Rows with the same key added up, column by column (every column not in the key)."""
    merged: dict[tuple, dict] = {}
    for row in rows:
        k = tuple(row[c] for c in key)
        if k not in merged:
            merged[k] = dict(row)
            continue
        into = merged[k]
        for column in row.keys() - set(key):
            into[column] += row[column]
    return list(merged.values())


def _report_rows(args: dict, *, shards: int) -> dict:
    """Every statement's rows for the whole report: one session when `shards` is 1 or the caller holds a
    transaction (another connection would not see its rows), else `shards` sessions side by side on one
    snapshot (Postgres `pg_export_snapshot`: every shard reads exactly what the first one reads),
    their rows added up (report_sql, "Sharding by person")."""
    if shards <= 1 or not in_autocommit():
        return _shard_rows(args)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        with ThreadPoolExecutor(max_workers=shards - 1, thread_name_prefix="insights-shard") as pool:
            others = [pool.submit(_shard_in_snapshot, {**args, "shards": shards, "shard": i}, snapshot)
                      for i in range(1, shards)]
            parts = [_shard_rows({**args, "shards": shards, "shard": 0})] + [f.result() for f in others]
    summary = {name: sum(part["summary"][name] for part in parts) for name in parts[0]["summary"]}
    return {"cells": _sum_rows([r for p in parts for r in p["cells"]], ("g", *_COLUMNS)),
            "summary": summary,
            "patterns": _sum_rows([r for p in parts for r in p["patterns"]], ("g", "side")),
            "ttb": sorted(_sum_rows([r for p in parts for r in p["ttb"]], _TTB_KEY),
                          key=lambda r: tuple(r[c] for c in _TTB_KEY))}


def report_compute(*, workspace, start: datetime, end: datetime, as_of: datetime,
                   parameters: ReportParameters | None = None, shards: int | None = None,
                   use_facts: bool = True) -> ReportResult:
    """The metrics of one report in one snapshot, a fixed number of statements per shard whatever the
    row count: the shared tables (`report_tables`), then cells with the weekly trend, summary, patterns
    and time to book. `shards` (default `INSIGHTS_REPORT_SHARDS`): how many sessions count side by side.
    Reads the stored message facts as they are (insights.facts: the people changed since their last
    refresh are labelled from the messages); `use_facts` false: every message labelled from the messages
    (the same metrics, slower; for checks).

    Precondition: start < end and as_of >= start (the service and the command check it).
    """
    params = parameters or ReportParameters()
    args = {**sql_args(workspace, start, end, as_of, params, facts=use_facts),
            **patterns.pattern_args(workspace=workspace)}
    found = _report_rows(args, shards=report_shards() if shards is None else shards)
    rows, summary = found["cells"], found["summary"]
    pattern_rows, ttb_rows = patterns.pattern_counts(found["patterns"]), found["ttb"]
    cells, comparison, weekly = _shape(rows, params)
    comparison["simpson"] = _simpson_note(comparison)
    dropped = summary["considered"] - summary["cohort"]
    metrics = {
        "schema": SCHEMA_VERSION,
        "workspace": workspace.slug,
        "window": {"start": _iso(start), "end": _iso(end)},
        "as_of": _iso(as_of),
        "parameters": params.as_dict(),
        "counts": {"outbound_considered": summary["considered"], "outbound_dropped": dropped,
                   "cohort_messages": summary["cohort"]},
        "bookings": {"booked": summary["booked"], "attributed": summary["attributed"],
                     "unattributed": summary["booked"] - summary["attributed"],
                     "people": summary["booked_people"], "canceled": summary["canceled"],
                     "attended": summary["attended"], "no_show": summary["no_show"]},
        "cells": cells,
        "comparison": comparison,
        "patterns": patterns.patterns_shape(
            pattern_rows, min_people=params.min_people,
            rate=lambda successes, n: _rate(successes, n, confidence=params.confidence)),
        "time_to_book": _time_to_book(ttb_rows, params),
        "weekly": _weekly(weekly, _weeks(start, end, workspace.timezone), params),
    }
    return ReportResult(metrics=metrics, rows_considered=summary["considered"], rows_dropped=dropped)


def message_labels(*, workspace, start: datetime, end: datetime, as_of: datetime,
                   parameters: ReportParameters | None = None) -> dict[int, dict]:
    """Each outbound message of the report's cohort, by id, with its labels (sender, purpose, stage at
    send, outcome, last touch, replied within the reply window): what the cells count, from the same
    tables (`report_tables`)."""
    args = sql_args(workspace, start, end, as_of, parameters or ReportParameters())
    with report_tables(args) as cursor:
        return {row["id"]: row for row in _fetch(cursor, report_sql.LABELS, args)}


def metrics_json(metrics: dict) -> str:
    """The canonical text of a report's metrics: the same metrics always give the same bytes."""
    return json.dumps(metrics, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
