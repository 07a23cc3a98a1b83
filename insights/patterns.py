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

# Each message's features as one bit per value (at most one value of each feature: none for a response
# delay of a follow-up; a purpose other than those compared is "other"), in an integer mask:
#   bits 0-6: text_features as stored (conversations.text_features: the binary features' "yes", MEDIUM,
#             LONG; at most one of those two, never NULL)
#   bits 7-11: the binary features' "no" (the complement of bits 0-4)
#   bit 14: short (neither MEDIUM nor LONG); bits 15-16: contact name yes, no
#   bits 17-20: the response delay's band, 21-24: the hour's band (their index in FEATURES)
#   bits 25-27: purpose reply, follow_up, other
# A message is "with" a value when it has the value's bit, "without" it when it has another bit of the
# feature; a person (the OR of their messages' masks) likewise: with the value when one of their
# messages is, without it when one of their messages has the feature and not the value.
_TEXT_BINARY = [f for f in FEATURES if f in _BINARY and f != "contact_name"]
_OTHER = {"purpose": "other"}
_BIT = {("length", "short"): 1 << 14, ("length", "medium"): tf.MEDIUM, ("length", "long"): tf.LONG,
        **{(f, "yes"): getattr(tf, f.upper()) for f in _TEXT_BINARY},
        **{(f, "no"): getattr(tf, f.upper()) << 7 for f in _TEXT_BINARY},
        ("contact_name", "yes"): 1 << 15, ("contact_name", "no"): 1 << 16,
        **{("response_delay", v): 1 << (17 + i) for i, v in enumerate(FEATURES["response_delay"])},
        **{("hour", v): 1 << (21 + i) for i, v in enumerate(FEATURES["hour"])},
        **{("purpose", v): 1 << (25 + i) for i, v in enumerate([*FEATURES["purpose"], _OTHER["purpose"]])}}
assert {f for f, _ in _BIT} == set(FEATURES) and len(set(_BIT.values())) == len(_BIT)
_BINARY_FLAGS = sum(_BIT[(f, "yes")] for f in _TEXT_BINARY)

# Bit arithmetic rather than a CASE per feature: 0.13 against 0.22 s of CPU for the cohort below. Each
# term in parentheses: Postgres gives |, & and << one precedence, left to right.
_MASK = " | ".join(f"({term})" for term in [
    "f.tf",
    f"((~f.tf & {_BINARY_FLAGS}) << 7)",
    f"CASE WHEN f.tf & {tf.MEDIUM | tf.LONG} = 0 THEN {_BIT[('length', 'short')]} ELSE 0 END",
    f"CASE WHEN f.name THEN {_BIT[('contact_name', 'yes')]} ELSE {_BIT[('contact_name', 'no')]} END",
    "COALESCE(1 << (17 + f.delay), 0)",
    "1 << (21 + f.hour)",
    "CASE f.purpose " + " ".join(f"WHEN '{v}' THEN {_BIT[('purpose', v)]}" for v in FEATURES["purpose"])
    + f" ELSE {_BIT[('purpose', 'other')]} END",
])


def _with(feature: str, value: str) -> int:
    return _BIT[(feature, value)]


def _without(feature: str, value: str) -> int:
    return sum(bit for (f, v), bit in _BIT.items() if f == feature and v != value)


def _group_counts(kind: str) -> str:
    """A group's counts from `messages` (kind "m": messages and booked) or `people` ("p"), with and
    without each value compared."""
    columns = []
    for feature, value in CANDIDATES:
        for side, bits in (("with", _with(feature, value)), ("without", _without(feature, value))):
            name = f"{feature}.{value}.{side}"
            if kind == "m":
                columns += [f'COALESCE(SUM(m.n) FILTER (WHERE m.mask & {bits} <> 0), 0)::bigint AS "{name}.messages"',
                            f'COALESCE(SUM(m.n) FILTER (WHERE m.mask & {bits} <> 0 AND m.booked), 0)::bigint AS "{name}.booked"']
            else:
                columns.append(f'COALESCE(SUM(p.n) FILTER (WHERE p.mask & {bits} <> 0), 0)::bigint AS "{name}.people"')
    return ",\n       ".join(columns)


# The columns in the order of the comparisons (messages and booked from `messages`, people from `people`).
_ORDER = [f'{"p" if n == "people" else "m"}."{feature}.{value}.{side}.{n}"'
          for feature, value in CANDIDATES for side in ("with", "without") for n in ("messages", "booked", "people")]

# Reads the report's cohort table (insights.report_sql.LABELED), which carries each message's stored
# text features (conversations.text_features), whether it uses the contact's first name and, for a
# reply, when the contact last wrote: no message is read again here. feat is MATERIALIZED: read twice.
# Messages are counted once per group and distinct (mask, booked) (a few thousand rows), people once
# per group and distinct OR of their masks: each comparison's six counts are then bit tests over those
# few rows. Counting per person first, a column per value (38 filtered counts per message and grouping,
# then 114 aggregates per person) took 0.92 s of CPU (90 days of the 1M-message bench, one of two
# shards).
PATTERNS = f"""
WITH feat AS MATERIALIZED (
    SELECT f.pk, f.side, f.booked, {_MASK} AS mask
    -- OFFSET 0: the delay and the hour computed once per message, not once per test of the mask.
    FROM (SELECT l.pk, l.side, l.outcome = 'booked' AS booked, l.text_features AS tf,
                 COALESCE(l.contact_name, false) AS name, l.purpose,
                 CASE WHEN l.purpose <> 'reply' OR l.last_in IS NULL THEN NULL
                      WHEN l.sent_at - l.last_in < interval '5 minutes' THEN 0
                      WHEN l.sent_at - l.last_in < interval '1 hour' THEN 1
                      WHEN l.sent_at - l.last_in < interval '24 hours' THEN 2 ELSE 3 END AS delay,
                 -- night [0, 6), morning [6, 12), afternoon [12, 18), evening [18, 24)
                 (EXTRACT(HOUR FROM l.sent_at AT TIME ZONE %(tz)s)::int / 6) AS hour
          FROM insights_labeled l
          WHERE l.outcome <> 'pending'
          OFFSET 0) f
), messages AS (
    -- Everyone (GROUPING 1) and each side (0).
    SELECT GROUPING(f.side) AS g, f.side, f.mask, f.booked, COUNT(*) AS n
    FROM feat f GROUP BY GROUPING SETS ((f.mask, f.booked), (f.side, f.mask, f.booked))
), people AS (
    SELECT p.g, p.side, p.mask, COUNT(*) AS n
    FROM (SELECT GROUPING(f.side) AS g, f.side, bit_or(f.mask) AS mask FROM feat f
          GROUP BY GROUPING SETS ((f.pk), (f.pk, f.side))) p
    GROUP BY p.g, p.side, p.mask
)
-- One row per group (everyone, then each side), a column per (value, with or without, count).
SELECT m.g, m.side, {", ".join(_ORDER)}
FROM (SELECT m.g, m.side,
       {_group_counts("m")}
      FROM messages m GROUP BY m.g, m.side) m
JOIN (SELECT p.g, p.side,
       {_group_counts("p")}
      FROM people p GROUP BY p.g, p.side) p ON p.g = m.g AND p.side IS NOT DISTINCT FROM m.side
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
