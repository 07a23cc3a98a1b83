"""PATTERNS counts with bit masks (insights.patterns): on any cohort, each comparison's messages, booked
messages and people, with and without the value, overall and per side, must be what counting message by
message says (docs/insights.md, "Patterns")."""

from __future__ import annotations

import random
import zoneinfo
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction

from conversations import text_features as tf
from insights import patterns

pytestmark = pytest.mark.django_db

TZ = "America/Bogota"
T0 = datetime(2026, 3, 2, tzinfo=UTC)


def _value(feature: str, m: dict) -> str | None:
    """The message's value of the feature, counted in Python (None: the feature does not apply)."""
    if feature == "length":
        return "long" if m["tf"] & tf.LONG else "medium" if m["tf"] & tf.MEDIUM else "short"
    if feature == "contact_name":
        return "yes" if m["name"] else "no"
    if feature == "response_delay":
        if m["purpose"] != "reply" or m["last_in"] is None:
            return None
        gap = m["sent_at"] - m["last_in"]
        return ("under_5m" if gap < timedelta(minutes=5) else "5m_to_1h" if gap < timedelta(hours=1)
                else "1h_to_24h" if gap < timedelta(hours=24) else "over_24h")
    if feature == "hour":
        return patterns.FEATURES["hour"][m["sent_at"].astimezone(zoneinfo.ZoneInfo(TZ)).hour // 6]
    if feature == "purpose":
        return m["purpose"]
    return "yes" if m["tf"] & getattr(tf, feature.upper()) else "no"


def _expected(messages: list[dict]) -> dict:
    groups = defaultdict(list)
    for m in messages:
        if m["outcome"] != "pending":
            groups[(1, None)].append(m)
            groups[(0, m["side"])].append(m)
    result = {}
    for key, rows in groups.items():
        counts = {}
        for feature, value in patterns.CANDIDATES:
            for has in ("with", "without"):
                hit = [m for m in rows if (v := _value(feature, m)) is not None and (v == value) == (has == "with")]
                name = f"{feature}.{value}.{has}"
                counts[f"{name}.messages"] = len(hit)
                counts[f"{name}.booked"] = sum(m["outcome"] == "booked" for m in hit)
                counts[f"{name}.people"] = len({m["pk"] for m in hit})
        result[key] = counts
    return result


def _cohort(rnd: random.Random, n: int) -> list[dict]:
    messages = []
    for _ in range(n):
        sent_at = T0 + timedelta(minutes=rnd.randrange(14 * 24 * 60), microseconds=rnd.choice([0, 1]))
        last_in = rnd.choice([None, sent_at - timedelta(minutes=rnd.choice([0, 4, 5, 59, 60, 600, 1439, 1440, 3000]))])
        messages.append({
            "pk": rnd.randint(-3, 30), "side": rnd.choice(["ai", "setter", None]),
            "outcome": rnd.choice(["booked", "not_booked", "pending"]),
            "tf": rnd.choice([0, tf.MEDIUM, tf.LONG]) | rnd.randrange(32), "name": rnd.choice([True, False, None]),
            "purpose": rnd.choice(["reply", "follow_up", "nudge"]), "sent_at": sent_at, "last_in": last_in})
    return messages


@pytest.mark.parametrize("seed", range(5))
def test_patterns_counts_message_by_message(seed):
    rnd = random.Random(seed)
    messages = _cohort(rnd, rnd.choice([3, 40, 300]))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("""CREATE TEMPORARY TABLE insights_labeled (pk bigint, side text, outcome text,
                          text_features smallint, contact_name boolean, purpose varchar, sent_at timestamptz,
                          last_in timestamptz) ON COMMIT DROP""")
        cursor.executemany("INSERT INTO insights_labeled VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                           [(m["pk"], m["side"], m["outcome"], m["tf"], m["name"], m["purpose"], m["sent_at"],
                             m["last_in"]) for m in messages])
        cursor.execute(patterns.PATTERNS, {"tz": TZ})
        names = [c.name for c in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    got = {(r.pop("g"), r.pop("side")): r for r in rows}
    assert got == _expected(messages)
