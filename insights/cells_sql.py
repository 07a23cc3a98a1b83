"""The cells of a message-performance report: one statement over the cohort (insights_labeled, built by
insights.report_sql) for every cell, the AI-vs-setter comparison and the weekly trend, people counted
with per-person bit masks (below). Apart from report_sql for its length: the two share only the cohort's
columns."""

# Every cell: sender x purpose x channel with their roll-ups ("all"), the AI-vs-setter comparison
# overall, by stage at send time and by channel, and the weekly trend (everyone, each side).
_GROUPING_SETS = """GROUPING SETS (CUBE (l.sender, l.purpose, l.platform), (l.side), (l.side, l.stage), (l.side, l.platform),
                        (l.week), (l.side, l.week))"""
_GROUPING = "GROUPING(l.sender, l.purpose, l.platform, l.side, l.stage, l.week)"
_KEYS = ["sender", "purpose", "platform", "side", "stage", "week"]

# People are counted without COUNT(DISTINCT): each grouping set's three COUNT(DISTINCT pk) sorted the
# rows of every group once per aggregate (1.45 of CELLS' 1.84 s of CPU, 90 days of the 1M-message
# bench, one of two shards), and counting one row per (person, cell) first made 1.46M groups (4.2 s
# hashed, 2.7 s sorted). Instead each person's cells are bits of a bigint: `weekly` folds the cohort
# into one row per person and week with bit_or (one hash aggregate, ~65k groups), `per` those into one
# row per person (~47k); people with the same bits are then counted once per bit pattern (~6k), and a
# pattern counts in a cell when it shares a bit with the cell's mask (the cell's bits: the same
# GROUPING SETS over the combinations that occur). Three masks, as the cells need them: "m" a (sender,
# purpose, channel), "s" a (side, stage), "w" a side (per week); each also with only the booked and
# the decided messages. CELLS: 1.77 -> 0.65 s of CPU (min of 11 runs, same bench and shard; the person
# and person-week rows from one grouping-sets aggregate instead of `per` from `weekly`: 0.71).
# A bit's index: the value's position among the values that occur (sender and side: their fixed lists).
_SENDERS = ["ai_auto", "ai_approved", "ai_edited", "setter", "business_outside"]  # the values of _SENDER
_SIDES = ["ai", "setter"]  # the values of _SIDE; NULL is the third


def _position(column: str, values: list[str]) -> str:
    return f"CASE {column} " + " ".join(f"WHEN '{v}' THEN {i}" for i, v in enumerate(values)) + f" ELSE {len(values)} END"


def _occurring(column: str) -> str:
    """A value's position (0, 1, ...) among the values of `column` in the cohort (an array computed once)."""
    return f"(array_position((SELECT d.{column}s FROM dims d), {{t}}.{column}::text) - 1)"  # noqa: S608 (constants)


_BITS = {
    "m": f"1::bigint << ({_position('{t}.sender', _SENDERS)} + {len(_SENDERS)} * ({_occurring('purpose')}"  # noqa: S608
         f" + (SELECT d.purpose_stride FROM dims d) * {_occurring('platform')}))",
    "s": f"1::bigint << ({_position('{t}.side', _SIDES)} + {len(_SIDES) + 1} * {_occurring('stage')})",
    "w": f"1::bigint << {_position('{t}.side', _SIDES)}",
}
# A cell reads the masks of one kind: grouped by week (GROUPING bit 1 clear) the weekly ones, by
# stage (bit 2 clear) "s", any other "m".
_KIND = "CASE WHEN {g} & 1 = 0 THEN 'w' WHEN {g} & 2 = 0 THEN 's' ELSE 'm' END"
CELLS = f"""
WITH fine AS (
    -- Message counts add up: counted once per finest combination, then rolled up.
    SELECT l.sender, l.purpose, l.platform, l.side, l.stage, l.week,
           COUNT(*) AS messages,
           COUNT(*) FILTER (WHERE l.outcome = 'booked') AS messages_booked,
           COUNT(*) FILTER (WHERE l.outcome = 'not_booked') AS messages_not_booked,
           COUNT(*) FILTER (WHERE l.replied) AS replied,
           COUNT(*) FILTER (WHERE l.replied IS NOT NULL) AS reply_known
    FROM insights_labeled l
    GROUP BY l.sender, l.purpose, l.platform, l.side, l.stage, l.week
), dims AS (
    -- 64 bits a mask: more (sender, purpose, channel) or (side, stage) values than that stop the report.
    SELECT array_agg(DISTINCT f.purpose::text) AS purposes, array_agg(DISTINCT f.platform::text) AS platforms,
           array_agg(DISTINCT f.stage::text) AS stages,
           CASE WHEN {len(_SENDERS)} * COUNT(DISTINCT f.purpose) * COUNT(DISTINCT f.platform) <= 64
                 AND {len(_SIDES) + 1} * COUNT(DISTINCT f.stage) <= 64 THEN COUNT(DISTINCT f.purpose)::int
                ELSE ('insights CELLS: too many values for a 64-bit mask: ' || COUNT(DISTINCT f.purpose) || ' purposes, '
                      || COUNT(DISTINCT f.platform) || ' channels, ' || COUNT(DISTINCT f.stage) || ' stages')::int
           END AS purpose_stride
    FROM fine f
), cells AS (
    SELECT row_number() OVER () AS id, c.*, CASE c.kind WHEN 'w' THEN c.w WHEN 's' THEN c.s ELSE c.m END AS mask
    FROM (SELECT {_GROUPING} AS g, l.sender, l.purpose, l.platform, l.side, l.stage, {_KIND.format(g=_GROUPING)} AS kind,
                 bit_or(l.m) AS m, bit_or(l.s) AS s, bit_or(l.w) AS w
          FROM (SELECT DISTINCT f.sender, f.purpose, f.platform, f.side, f.stage, NULL::date AS week,
                       {_BITS["m"].format(t="f")} AS m, {_BITS["s"].format(t="f")} AS s, {_BITS["w"].format(t="f")} AS w
                FROM fine f) l
          GROUP BY {_GROUPING_SETS}) c
), weekly AS (
    -- One row per person and week; then one per person, from those (fewer rows than the cohort's).
    SELECT l.pk, l.week,
           bit_or(l.m) AS m, bit_or(l.m) FILTER (WHERE l.booked) AS m_booked, bit_or(l.m) FILTER (WHERE l.decided) AS m_decided,
           bit_or(l.s) AS s, bit_or(l.s) FILTER (WHERE l.booked) AS s_booked, bit_or(l.s) FILTER (WHERE l.decided) AS s_decided,
           bit_or(l.w) AS w, bit_or(l.w) FILTER (WHERE l.booked) AS w_booked, bit_or(l.w) FILTER (WHERE l.decided) AS w_decided
    -- OFFSET 0: each message's bits computed once, not again in every aggregate that reads them.
    FROM (SELECT l.pk, l.week, l.outcome = 'booked' AS booked, l.outcome <> 'pending' AS decided,
                 {_BITS["m"].format(t="l")} AS m, {_BITS["s"].format(t="l")} AS s, {_BITS["w"].format(t="l")} AS w
          FROM insights_labeled l OFFSET 0) l
    GROUP BY l.pk, l.week
), per AS (
    SELECT bit_or(m) AS m, bit_or(m_booked) AS m_booked, bit_or(m_decided) AS m_decided,
           bit_or(s) AS s, bit_or(s_booked) AS s_booked, bit_or(s_decided) AS s_decided
    FROM weekly GROUP BY pk
), patterns AS (
    SELECT 'm' AS kind, NULL::date AS week, m AS bits, m_booked AS booked, m_decided AS decided, COUNT(*)::int AS people
    FROM per GROUP BY m, m_booked, m_decided
    UNION ALL
    SELECT 's', NULL, s, s_booked, s_decided, COUNT(*)::int FROM per GROUP BY s, s_booked, s_decided
    UNION ALL
    SELECT 'w', week, w, w_booked, w_decided, COUNT(*)::int FROM weekly GROUP BY week, w, w_booked, w_decided
), people AS (
    SELECT c.id, p.week, SUM(p.people) AS people,
           SUM(p.people) FILTER (WHERE p.booked & c.mask <> 0) AS people_booked,
           SUM(p.people) FILTER (WHERE p.decided & c.mask <> 0) AS people_decided
    FROM patterns p JOIN cells c ON c.kind = p.kind AND p.bits & c.mask <> 0
    GROUP BY c.id, p.week
), parts AS (
    SELECT GROUPING(l.sender, l.purpose, l.platform, l.side, l.stage, l.week) AS g,
           l.sender, l.purpose, l.platform, l.side, l.stage, l.week,
           SUM(l.messages) AS messages, SUM(l.messages_booked) AS messages_booked,
           SUM(l.messages_not_booked) AS messages_not_booked, NULL::bigint AS people, NULL::bigint AS people_booked,
           NULL::bigint AS people_decided, SUM(l.replied) AS replied, SUM(l.reply_known) AS reply_known,
           NULL::bigint AS bookings, NULL::bigint AS last_touch
    FROM fine l
    GROUP BY {_GROUPING_SETS}
    UNION ALL
    SELECT c.g, c.sender, c.purpose, c.platform, c.side, c.stage, p.week, NULL, NULL, NULL,
           p.people, p.people_booked, p.people_decided, NULL, NULL, NULL, NULL
    FROM people p JOIN cells c ON c.id = p.id
    UNION ALL
    -- Bookings credited: the cohort joined with the pairs (a few rows per booking), 16k rows.
    SELECT {_GROUPING}, l.sender, l.purpose, l.platform, l.side, l.stage, l.week, NULL, NULL, NULL, NULL, NULL, NULL,
           NULL, NULL, COUNT(DISTINCT p.booking_id), COUNT(DISTINCT p.booking_id) FILTER (WHERE p.rn = 1)
    FROM insights_labeled l JOIN insights_pairs p ON p.message_id = l.id
    GROUP BY {_GROUPING_SETS}
)
-- Every cell has messages; a part without a row for it counts 0 there (an empty cohort has the () cell).
SELECT g, {", ".join(_KEYS)},
       {", ".join(f"COALESCE(SUM({c}), 0)::bigint AS {c}" for c in
                  ["messages", "messages_booked", "messages_not_booked", "people", "people_booked", "people_decided",
                   "replied", "reply_known", "bookings", "last_touch"])}
FROM parts GROUP BY g, {", ".join(_KEYS)}
"""  # noqa: S608
