"""Patterns: deterministic features of each message and whether they go with more or fewer bookings.

One statement computes every feature of every decided message of the cohort in Postgres and counts,
for each feature value, the messages (and people) with it and without it, overall and for the AI and
for setters (one row per group, a column per count). Python then compares "with" against "without" for each value (a two-proportion z-test
from statsmodels) and corrects the p-values for the number of comparisons (Holm, statsmodels
`multipletests`). A value is called "works" or "doesn't" only when the corrected test says so.
"""

from __future__ import annotations

import math

from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportions_ztest

DIGITS = 4
ALPHA = 0.05

# Scheduling links: the tools teams send to book a call.
BOOKING_LINK_RE = (r"(calendly\.com|cal\.com/|savvycal\.com|acuityscheduling\.com|tidycal\.com|youcanbook\.me|"
                   r"zcal\.co|hubspot\.com/meetings|meetings\.hubspot\.com|calendar\.app\.google|oncehub\.com)")
LINK_RE = r"(https?://|www\.)"
# A currency sign or amount, or a word about price (English and Spanish, the workspace languages so far).
PRICE_RE = r"([$€£]|\m(price|prices|pricing|cost|costs|fee|fees|rate|rates|precio|precios|tarifa|cuesta)\M)"
# Pictographs, symbols and dingbats, flags.
EMOJI_RE = "[\U0001F300-\U0001FAFF\u2600-\u27BF\U0001F1E6-\U0001F1FF]"

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

_YES = "CASE WHEN {} THEN 'yes' ELSE 'no' END"
# The values compared: a binary feature once ("yes" against the rest), as `patterns_shape` reads them.
CANDIDATES = [(feature, value) for feature, values in FEATURES.items() for value in values
              if not (feature in _BINARY and value == "no")]


def _counts(feature: str, value: str) -> str:
    """The messages, booked messages and people with the value and without it (another, non-NULL value)."""
    out = []
    for has, cond in ((True, f"f.{feature} = '{value}'"), (False, f"f.{feature} <> '{value}'")):
        key = f"{feature}.{value}.{'with' if has else 'without'}"
        out += [f'COUNT(*) FILTER (WHERE {cond}) AS "{key}.messages"',
                f"COUNT(*) FILTER (WHERE {cond} AND f.outcome = 'booked') AS \"{key}.booked\"",
                f'COUNT(DISTINCT f.pk) FILTER (WHERE {cond}) AS "{key}.people"']
    return ",\n       ".join(out)


_ALL_COUNTS = ",\n       ".join(_counts(feature, value) for feature, value in CANDIDATES)

# Reads the report's cohort table (insights.report_sql.LABELED).
PATTERNS = f"""
WITH feat AS MATERIALIZED (  -- each feature computed once per message, not once per count that reads it
    SELECT l.id, l.pk, l.side, l.outcome,
           CASE WHEN char_length(m.text) <= 80 THEN 'short' WHEN char_length(m.text) <= 240 THEN 'medium'
                ELSE 'long' END AS length,
           {_YES.format("strpos(m.text, '?') > 0")} AS question,
           {_YES.format("m.text ~* %(link_re)s")} AS link,
           {_YES.format("m.text ~* %(booking_re)s")} AS booking_link,
           {_YES.format("m.text ~* %(price_re)s")} AS price,
           {_YES.format("m.text ~ %(emoji_re)s")} AS emoji,
           {_YES.format("char_length(split_part(c.display_name, ' ', 1)) >= 2 AND "
                        "strpos(lower(m.text), lower(split_part(c.display_name, ' ', 1))) > 0")} AS contact_name,
           CASE WHEN l.purpose <> 'reply' OR li.at IS NULL THEN NULL
                WHEN l.sent_at - li.at < interval '5 minutes' THEN 'under_5m'
                WHEN l.sent_at - li.at < interval '1 hour' THEN '5m_to_1h'
                WHEN l.sent_at - li.at < interval '24 hours' THEN '1h_to_24h' ELSE 'over_24h' END AS response_delay,
           CASE WHEN EXTRACT(HOUR FROM l.sent_at AT TIME ZONE %(tz)s) < 6 THEN 'night'
                WHEN EXTRACT(HOUR FROM l.sent_at AT TIME ZONE %(tz)s) < 12 THEN 'morning'
                WHEN EXTRACT(HOUR FROM l.sent_at AT TIME ZONE %(tz)s) < 18 THEN 'afternoon'
                ELSE 'evening' END AS hour,
           l.purpose
    FROM insights_labeled l
    -- By primary key, one message at a time (OFFSET 0 keeps it a lookup): the cohort is a few percent
    -- of the table, and a hash join would read all of it.
    JOIN LATERAL (SELECT m.text FROM conversations_message m WHERE m.id = l.id OFFSET 0) m ON true
    JOIN contacts_contact c ON c.id = l.contact_id
    -- The contact's last message at or before it in the thread: only replies have a response delay.
    LEFT JOIN LATERAL (
        SELECT max(i.sent_at) AS at FROM conversations_message i
        WHERE l.purpose = 'reply' AND i.thread_id = l.thread_id AND i.direction = 'in' AND i.sent_at <= l.sent_at
    ) li ON true
    WHERE l.outcome <> 'pending'
)
-- One row per group (everyone, then each side), a column per (value, with or without, count): every
-- comparison in one pass over the decided messages, none expanded into (message, value) rows.
SELECT GROUPING(f.side) AS g, f.side,
       {_ALL_COUNTS}
FROM feat f
GROUP BY GROUPING SETS ((), (f.side))
"""  # noqa: S608 (module constants only; every value is a query parameter)


def pattern_args(*, workspace) -> dict:
    return {"tz": workspace.timezone, "link_re": LINK_RE, "booking_re": BOOKING_LINK_RE, "price_re": PRICE_RE,
            "emoji_re": EMOJI_RE}


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
