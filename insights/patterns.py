"""Patterns: deterministic features of each message and whether they go with more or fewer bookings.

The features come with the cohort (insights.report_sql.LABELED): the text features Postgres stores with
each message (conversations.text_features), whether it uses the contact's first name and, for a
reply, the response delay. One statement counts, for each feature value, the messages (and people)
with it and without it, overall and for the AI and for setters (one row per group, a column per
count). Python then compares "with" against "without" for each value (a two-proportion z-test from
statsmodels) and corrects the p-values for the number of comparisons (Holm, statsmodels
`multipletests`). A value is called "works" or "doesn't" only when the corrected test says so.
"""

from __future__ import annotations

import math

from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportions_ztest

from conversations import text_features as tf

DIGITS = 4
ALPHA = 0.05

# Feature -> its values, in display order. A message whose value is NULL (a response delay for a
# follow-up) is not compared on that feature.
FEATURES: dict[str, list[str]] = {
    "length": ["short", "medium", "long"],
    "question": ["yes", "no"],
    "link": ["yes", "no"],
    "booking_link": ["yes", "no"],
    "price": ["yes", "no"],
    "emoji": ["yes", "no"],
    "contact_name": ["yes", "no"],
    "response_delay": ["under_5m", "5m_to_1h", "1h_to_24h", "over_24h"],
    "hour": ["night", "morning", "afternoon", "evening"],
    "purpose": ["reply", "follow_up"],
}
# Binary features are compared once (yes against no), not once per value.
_BINARY = {name for name, values in FEATURES.items() if values == ["yes", "no"]}

# The values compared: a binary feature once ("yes" against the rest), as `patterns_shape` reads them.
CANDIDATES = [(feature, value) for feature, values in FEATURES.items() for value in values
              if not (feature in _BINARY and value == "no")]

# Each message's features as small values (feat, below), computed once per message: the text
# features' bits (conversations.text_features), the response delay and the hour of day as band
# numbers (index in FEATURES), NULL when the feature has no value.
_BANDED = {"response_delay": "delay", "hour": "hour"}


def _has_value(feature: str, value: str) -> str:
    """The condition for a message of feat to have `value` of `feature`."""
    if feature == "length":
        return {"long": f"f.tf & {tf.LONG} <> 0", "medium": f"f.tf & {tf.LONG} = 0 AND f.tf & {tf.MEDIUM} <> 0",
                "short": f"f.tf & {tf.LONG | tf.MEDIUM} = 0"}[value]
    if feature == "contact_name":
        return "f.name"
    if feature in _BANDED:
        return f"f.{_BANDED[feature]} = {FEATURES[feature].index(value)}"
    if feature == "purpose":
        return f"f.purpose = '{value}'"
    return f"f.tf & {getattr(tf, feature.upper())} <> 0"


# The messages with any value of the feature: every message, but for the response delay (replies only).
_KNOWN = {"response_delay": "f.delay IS NOT NULL"}

# Per person: their messages (and booked ones) with each value, and with any value of each feature.
# "Without a value" is then "with any value" minus "with it": two counts per value instead of three
# aggregates each for "with" and "without".
_PERSON_COUNTS = ",\n       ".join(
    [f'COUNT(*) FILTER (WHERE {_has_value(feature, value)}) AS "{feature}.{value}.m", '
     f'COUNT(*) FILTER (WHERE {_has_value(feature, value)} AND f.booked) AS "{feature}.{value}.b"'
     for feature, value in CANDIDATES]
    + [f'COUNT(*) FILTER (WHERE {known}) AS "{feature}.m", COUNT(*) FILTER (WHERE {known} AND f.booked) AS "{feature}.b"'
       for feature, known in _KNOWN.items()]
    + ['COUNT(*) AS "m"', 'COUNT(*) FILTER (WHERE f.booked) AS "b"'])


def _group_counts(feature: str, value: str) -> str:
    known = feature if feature in _KNOWN else None
    km, kb = (f'p."{known}.m"', f'p."{known}.b"') if known else ('p."m"', 'p."b"')
    w = f"{feature}.{value}"
    return (f'SUM(p."{w}.m")::bigint AS "{w}.with.messages", SUM(p."{w}.b")::bigint AS "{w}.with.booked", '
            f'COUNT(*) FILTER (WHERE p."{w}.m" > 0) AS "{w}.with.people", '
            f'SUM({km} - p."{w}.m")::bigint AS "{w}.without.messages", '
            f'SUM({kb} - p."{w}.b")::bigint AS "{w}.without.booked", '
            f'COUNT(*) FILTER (WHERE {km} > p."{w}.m") AS "{w}.without.people"')


# Per group: the sums over people, and the people who had any.
_GROUP_COUNTS = ",\n       ".join(_group_counts(feature, value) for feature, value in CANDIDATES)

# Reads the report's cohort table (insights.report_sql.LABELED), which carries each message's stored
# text features (conversations.text_features), whether it uses the contact's first name and, for a
# reply, when the contact last wrote: no message is read again here. feat is MATERIALIZED: inlined,
# Postgres would compute its expressions again in every aggregate that reads them.
PATTERNS = f"""
WITH feat AS MATERIALIZED (
    SELECT l.pk, l.side, l.outcome = 'booked' AS booked, l.text_features AS tf,
           COALESCE(l.contact_name, false) AS name, l.purpose,
           CASE WHEN l.purpose <> 'reply' OR l.last_in IS NULL THEN NULL
                WHEN l.sent_at - l.last_in < interval '5 minutes' THEN 0
                WHEN l.sent_at - l.last_in < interval '1 hour' THEN 1
                WHEN l.sent_at - l.last_in < interval '24 hours' THEN 2 ELSE 3 END AS delay,
           -- night [0, 6), morning [6, 12), afternoon [12, 18), evening [18, 24)
           (EXTRACT(HOUR FROM l.sent_at AT TIME ZONE %(tz)s)::int / 6) AS hour
    FROM insights_labeled l
    WHERE l.outcome <> 'pending'
), per_person AS (
    -- Each person once in each group (everyone: GROUPING 1; their side: 0): a plain aggregate per person
    -- instead of a COUNT(DISTINCT) per comparison (each a sort of the whole cohort).
    SELECT GROUPING(f.side) AS g, f.side, f.pk,
       {_PERSON_COUNTS}
    FROM feat f
    GROUP BY GROUPING SETS ((f.pk), (f.pk, f.side))
)
-- One row per group (everyone, then each side), a column per (value, with or without, count).
SELECT p.g, p.side,
       {_GROUP_COUNTS}
FROM per_person p
GROUP BY p.g, p.side
"""  # noqa: S608 (module constants only; every value is a query parameter)


def pattern_args(*, workspace) -> dict:
    return {"tz": workspace.timezone}


def pattern_counts(rows: list[dict]) -> list[dict]:
    """PATTERNS' wide rows as one row per (group, feature, value, with or without), for `patterns_shape`."""
    return [{"g": row["g"], "side": row["side"], "feature": feature, "value": value, "has": has,
             **{n: row[f"{feature}.{value}.{'with' if has else 'without'}.{n}"] for n in ("messages", "booked", "people")}}
            for row in rows for feature, value in CANDIDATES for has in (True, False)]


def _side(n: int, booked: int, people: int, rate) -> dict:
    return {"messages": n, "booked": booked, "people": people, "booked_rate": rate(booked, n)}


def patterns_shape(rows: list[dict], *, min_people: int, rate) -> dict:
    """Compare, for each group (all, ai, setter), feature and value, the messages with the value against
    those without it; Holm-correct every comparison that had enough data. `rate(successes, n)` gives
    the rate with its interval (the report's)."""
    counts: dict[tuple, dict] = {}
    for row in rows:
        group = "all" if row["g"] else row["side"]
        if group is None:
            continue  # edited drafts and the business outside Sidekick: only in "all"
        counts[(group, row["feature"], row["value"], row["has"])] = row
    empty = {"messages": 0, "booked": 0, "people": 0}
    entries = []
    for group in ("all", "ai", "setter"):
        for feature, values in FEATURES.items():
            for value in values:
                if feature in _BINARY and value == "no":
                    continue
                with_, without = (counts.get((group, feature, value, has), empty) for has in (True, False))
                if not with_["messages"] and not without["messages"]:
                    continue
                enough = with_["people"] >= min_people and without["people"] >= min_people
                entries.append({
                    "group": group, "feature": feature, "value": value,
                    "with": _side(with_["messages"], with_["booked"], with_["people"], rate),
                    "without": _side(without["messages"], without["booked"], without["people"], rate),
                    "enough_data": enough, "p_value": None, "p_adjusted": None,
                    "verdict": "not_enough_data",
                })
    tested = [e for e in entries if e["enough_data"]]
    if tested:
        p_values = [_p_value(e) for e in tested]
        reject, adjusted, _, _ = multipletests(p_values, alpha=ALPHA, method="holm")
        for entry, p, p_adj, significant in zip(tested, p_values, adjusted, reject, strict=True):
            entry["p_value"], entry["p_adjusted"] = round(p, DIGITS), round(float(p_adj), DIGITS)
            higher = entry["with"]["booked_rate"]["value"] > entry["without"]["booked_rate"]["value"]
            entry["verdict"] = ("works" if higher else "doesnt") if significant else "no_difference_shown"
    return {"correction": "holm", "alpha": ALPHA, "comparisons": len(tested), "entries": entries}


def _p_value(entry: dict) -> float:
    """Two-sided two-proportion z-test of booked rates, with the value against without it."""
    with_, without = entry["with"], entry["without"]
    booked, n = with_["booked"] + without["booked"], with_["messages"] + without["messages"]
    if booked in (0, n):
        return 1.0  # every message booked, or none: no variance, no evidence of a difference
    _z, p = proportions_ztest([with_["booked"], without["booked"]], [with_["messages"], without["messages"]])
    return 1.0 if math.isnan(p) else float(p)
