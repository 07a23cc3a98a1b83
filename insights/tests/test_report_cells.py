"""CELLS counts people with bit masks (insights.cells_sql): on any cohort it must return exactly the rows
of the plain statement it replaced (COUNT(DISTINCT) per grouping set), values the app never writes
included, and refuse a cohort whose values do not fit a mask rather than count it wrong."""

from __future__ import annotations

import random
from datetime import date

import pytest
from django.db import DataError, connection, transaction

from insights import cells_sql

pytestmark = pytest.mark.django_db

# The statement CELLS replaced: slow (a sort per group per COUNT(DISTINCT)), plainly right.
REFERENCE = f"""
WITH counted AS (
    SELECT {cells_sql._GROUPING} AS g, l.sender, l.purpose, l.platform, l.side, l.stage, l.week,
           COUNT(*) AS messages,
           COUNT(*) FILTER (WHERE l.outcome = 'booked') AS messages_booked,
           COUNT(*) FILTER (WHERE l.outcome = 'not_booked') AS messages_not_booked,
           COUNT(DISTINCT l.pk) AS people,
           COUNT(DISTINCT l.pk) FILTER (WHERE l.outcome = 'booked') AS people_booked,
           COUNT(DISTINCT l.pk) FILTER (WHERE l.outcome <> 'pending') AS people_decided,
           COUNT(*) FILTER (WHERE l.replied) AS replied,
           COUNT(*) FILTER (WHERE l.replied IS NOT NULL) AS reply_known
    FROM insights_labeled l
    GROUP BY {cells_sql._GROUPING_SETS}
), credited AS (
    SELECT {cells_sql._GROUPING} AS g, l.sender, l.purpose, l.platform, l.side, l.stage, l.week,
           COUNT(DISTINCT p.booking_id) AS bookings,
           COUNT(DISTINCT p.booking_id) FILTER (WHERE p.rn = 1) AS last_touch
    FROM insights_labeled l JOIN insights_pairs p ON p.message_id = l.id
    GROUP BY {cells_sql._GROUPING_SETS}
)
SELECT c.*, COALESCE(b.bookings, 0) AS bookings, COALESCE(b.last_touch, 0) AS last_touch
FROM counted c LEFT JOIN credited b
    ON b.g = c.g AND {" AND ".join(f"b.{k} IS NOT DISTINCT FROM c.{k}" for k in cells_sql._KEYS)}
"""  # noqa: S608

SIDE = {"ai_auto": "ai", "ai_approved": "ai", "setter": "setter"}


def _tables(cursor, messages: list[tuple], pairs: list[tuple]) -> None:
    """insights_labeled and insights_pairs with only the columns CELLS reads."""
    cursor.execute("""CREATE TEMPORARY TABLE insights_labeled (id bigint, pk bigint, sender text, purpose varchar,
                      platform varchar(16), side text, stage varchar, week date, outcome text, replied boolean)
                      ON COMMIT DROP""")
    cursor.execute("CREATE TEMPORARY TABLE insights_pairs (booking_id bigint, message_id bigint, rn bigint) ON COMMIT DROP")
    cursor.executemany("INSERT INTO insights_labeled VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", messages)
    if pairs:
        cursor.executemany("INSERT INTO insights_pairs VALUES (%s, %s, %s)", pairs)


def _rows(cursor, sql: str) -> list[tuple]:
    cursor.execute(sql)
    names = [c.name for c in cursor.description]
    return sorted((tuple(sorted(zip(names, (int(v) if isinstance(v, int) else v for v in row), strict=True)))
                   for row in cursor.fetchall()), key=repr)


def _cohort(rnd: random.Random, n: int) -> tuple[list[tuple], list[tuple]]:
    senders = ["ai_auto", "ai_approved", "ai_edited", "setter", "business_outside"]
    purposes = ["reply", "follow_up", "nudge"]  # "nudge": a draft kind the app does not have
    platforms = ["instagram", "messenger", "whatsapp"]
    stages = ["new", "engaged", "booked", "lost", "archived"]
    weeks = [date(2026, 1, 5), date(2026, 1, 12), date(2026, 1, 19)]
    messages, pairs = [], []
    for i in range(n):
        sender = rnd.choice(senders)
        messages.append((i, rnd.randint(-3, 25), sender, rnd.choice(purposes), rnd.choice(platforms), SIDE.get(sender),
                         rnd.choice(stages), rnd.choice(weeks), rnd.choice(["booked", "not_booked", "pending"]),
                         rnd.choice([True, False, None])))
        for booking in rnd.sample(range(12), rnd.choice([0, 0, 0, 1, 2])):
            pairs.append((booking, i, rnd.choice([1, 2, 3])))
    return messages, pairs


@pytest.mark.parametrize("seed", range(6))
def test_cells_returns_the_rows_of_count_distinct_on_any_cohort(seed):
    rnd = random.Random(seed)
    messages, pairs = _cohort(rnd, rnd.choice([1, 7, 60, 400]))
    with transaction.atomic(), connection.cursor() as cursor:
        _tables(cursor, messages, pairs)
        expected = _rows(cursor, REFERENCE)
        assert len(expected) > 1
        assert _rows(cursor, cells_sql.CELLS) == expected


def test_an_empty_cohort_has_the_grand_total_cell_with_zeros():
    with transaction.atomic(), connection.cursor() as cursor:
        _tables(cursor, [], [])
        rows = _rows(cursor, cells_sql.CELLS)
        assert rows == _rows(cursor, REFERENCE)
        assert len(rows) == 1 and dict(rows[0])["g"] == 63 and dict(rows[0])["people"] == 0


def test_more_values_than_a_mask_holds_stop_the_statement():
    """5 senders x 13 purposes x 1 channel need 65 bits: an error, not wrapped bits and wrong counts."""
    messages = [(i, i, "setter", f"purpose-{i}", "instagram", "setter", "new", date(2026, 1, 5), "pending", None)
                for i in range(13)]
    with transaction.atomic(), connection.cursor() as cursor:
        _tables(cursor, messages, [])
        with pytest.raises(DataError, match="too many values for a 64-bit mask"), transaction.atomic():
            cursor.execute(cells_sql.CELLS)
