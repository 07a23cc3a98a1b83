"""The statements behind a message-performance report (definitions: docs/insights.md).

Everything is counted in Postgres: window functions label bookings (cancel or not) and find each
outbound message's next inbound reply, a join with a range condition pairs bookings with the
messages they credit, and one statement counts every cell of the report (its GROUPING SETS name the
cells; people are counted with a bit mask per person: `insights.cells_sql`). The number of statements never depends
on the number of rows.

The shared part is built once per report into five temporary tables (`BUILD`, in this order):
`insights_th` (the threads with their person), `insights_dth` (those of the people whose stored message
facts may be stale), `insights_bk` (the bookings that count), `insights_pairs` (each booking with the
messages it credits) and `insights_labeled` (the cohort: every delivered outbound message of the window
with its labels, from the stored facts of insights.facts where they are current, else from the messages),
each `ANALYZE`d so the planner sees their real sizes (its estimates over the source tables, filtered
by workspace twice through correlated joins, are off by orders of magnitude and chose nested loops:
BENCHMARKS.md, "Insights report"). The cells, summary, patterns and time to book read those tables.
They are `ON COMMIT DROP` and dropped explicitly at the end (`DROP`): the report may run twice in one
transaction (a caller's, in tests).

Parameters: ws (workspace id), start, end (the window, [start, end)), as_of, attr (the attribution
window), maturity (the maturity buffer), reply (the reply window), all timestamps or intervals;
tz (the workspace's time zone, for weeks); facts (whether to read the stored message facts); shards and shard: the statements read only the people
whose key falls in shard `shard` of `shards` (`_SHARD`; 1 and 0 for everyone).

Sharding by person: every count of a report is a sum over people (a message, a booking and a
person's first message each belong to exactly one person; people are counted once per cell), so the
report of every shard, each built in its own session on one shared snapshot, adds up to the report
of everyone (insights.report: `report_compute` runs them side by side, one core each).
Only rows with a time <= as_of exist for a report: messages by `sent_at`, booking events by
`occurred_at`, stage history by `created_at`.
"""

# A contact with no person is its own person: its key is minus its id, so it never meets a person id.
_PERSON_KEY = "COALESCE(c.person_id, -c.id)"
# The people of this shard (c: their contact).
_SHARD = f"mod(abs({_PERSON_KEY}), %(shards)s) = %(shard)s"

# An outbound message that reached the contact: our own sends once the Send API accepted them, the
# business's messages from outside Sidekick (echoes carry no send status). Deleted ones are dropped.
_DELIVERED = """(m.direction = 'out' AND NOT m.is_deleted AND m.sender_kind IN ('ai', 'setter', 'meta_inbox')
                 AND (m.send_status = 'sent' OR (m.send_status IS NULL AND m.sender_kind = 'meta_inbox')))"""

# The sender of an outbound message (docs/insights.md, "Sender") and its side in the AI-vs-setter
# comparison: the AI's words sent unchanged against a setter's own; edited drafts and the business
# outside Sidekick are mixed or unknown authorship and stay out of the comparison (NULL).
_SENDER = """CASE {s}.sender_kind WHEN 'ai' THEN 'ai_auto' WHEN 'meta_inbox' THEN 'business_outside'
                ELSE CASE {s}.disposition WHEN 'approved' THEN 'ai_approved' WHEN 'edited' THEN 'ai_edited'
                     ELSE 'setter' END
           END"""
_SIDE = """CASE WHEN {sender} IN ('ai_auto', 'ai_approved') THEN 'ai' WHEN {sender} = 'setter' THEN 'setter' END"""

# The threads of the workspace (of this shard's people) with their person, platform and the contact's
# first name (lower case), once per report: the statements after it join a table whose size the
# planner knows (ANALYZE), rather than a join filtered by an expression (the shard) it can only guess.
def threads_select(where: str) -> str:
    """The threads of the workspace whose contact meets `where` (c: the contact), shaped as `fact_rows` reads
    them (insights_th)."""
    return f"""
SELECT t.id AS thread_id, t.contact_id, {_PERSON_KEY} AS pk, ch.platform,
       -- NULL when too short to tell (one letter): such a message does not "use the contact's name".
       CASE WHEN char_length(split_part(c.display_name, ' ', 1)) >= 2
            THEN lower(split_part(c.display_name, ' ', 1)) END AS first_name
FROM conversations_thread t
JOIN contacts_contact c ON c.id = t.contact_id AND c.workspace_id = %(ws)s
JOIN integrations_channel ch ON ch.id = t.channel_id
WHERE t.workspace_id = %(ws)s AND {where}
"""  # noqa: S608 (module constants only; every value is a query parameter)


THREADS = f"CREATE TEMPORARY TABLE insights_th ON COMMIT DROP AS {threads_select(_SHARD)}"

ANALYZE_THREADS = "ANALYZE insights_th"

# Booking history of the person up to as_of; a booking is cancelled when the next booked/canceled
# event of the same person is a cancellation (a later rebooking is a booking of its own).
_EV = f"""
ev AS (
    SELECT e.id, e.kind, e.occurred_at, {_PERSON_KEY} AS pk,
           LEAD(e.kind) OVER (PARTITION BY {_PERSON_KEY} ORDER BY e.occurred_at, e.id) AS next_kind
    FROM contacts_bookingevent e JOIN contacts_contact c ON c.id = e.contact_id AND c.workspace_id = %(ws)s
    WHERE e.workspace_id = %(ws)s AND e.kind IN ('booked', 'canceled') AND e.occurred_at <= %(as_of)s AND {_SHARD}
)"""  # noqa: S608

# Large sorts and hashes of one report fit in memory instead of spilling to disk at the default 4 MB:
# the cohort's two window sorts over the messages read (90 days of a 1M-message workspace, one of two
# shards: ~490k rows, 88 and 79 MB). LOCAL: only this transaction; a report holds at most two such
# sorts per shard at once, and one report runs at a time per worker.
WORK_MEM = "SET LOCAL work_mem = '128MB'"

# The bookings that count: booked, not cancelled, from the window's start to its end + attribution.
BOOKINGS = f"""
CREATE TEMPORARY TABLE insights_bk ON COMMIT DROP AS
WITH {_EV}
SELECT id, pk, occurred_at AS at FROM ev
WHERE kind = 'booked' AND next_kind IS DISTINCT FROM 'canceled'
  AND occurred_at >= %(start)s AND occurred_at < %(end)s + %(attr)s
"""  # noqa: S608

ANALYZE_BOOKINGS = "ANALYZE insights_bk"

# Each booking with the delivered outbound messages it credits: [booking - attr, booking) on any of
# the person's channels; rn = 1 is the last touch. From the bookings (a few hundred a week, analysed
# just before) to their people's threads to the messages by (thread, sent_at): index lookups instead
# of a scan of every message of the attribution windows around the window.
PAIRS = f"""
CREATE TEMPORARY TABLE insights_pairs ON COMMIT DROP AS
SELECT b.id AS booking_id, m.id AS message_id,
       ROW_NUMBER() OVER (PARTITION BY b.id ORDER BY m.sent_at DESC, m.id DESC) AS rn
FROM insights_bk b
JOIN insights_th th ON th.pk = b.pk
-- OFFSET 0 keeps it a lookup per (booking, thread) on (thread, sent_at): flattened, the planner hashes
-- every message of the attribution windows instead (0.95 s of a 1 s statement for a week of 1M).
JOIN LATERAL (
    SELECT m.id, m.sent_at FROM conversations_message m
    WHERE m.thread_id = th.thread_id AND m.workspace_id = %(ws)s AND m.sent_at <= %(as_of)s
      AND m.sent_at >= %(start)s - %(attr)s AND m.sent_at < %(end)s + %(attr)s
      AND m.sent_at >= b.at - %(attr)s AND m.sent_at < b.at AND {_DELIVERED}
    OFFSET 0
) m ON true
"""  # noqa: S608

ANALYZE_PAIRS = "ANALYZE insights_pairs"

# An outbound message that can be the one before another in its thread (what makes the other a reply
# or a follow-up): the contact's messages and ours that reached them, deleted or not.
_PRIOR = """(m.direction = 'in' OR m.send_status = 'sent' OR (m.send_status IS NULL AND m.sender_kind = 'meta_inbox'))"""

# The labels of each delivered outbound message of the threads in `threads` (a table shaped like
# insights_th) sent in the window, that do not depend on the window, `as_of` or the bookings: the sender,
# reply or follow-up, the stage at send time, the person's next inbound message after it (on any of their
# channels), for a reply when the contact last wrote in the thread, whether it uses the contact's first
# name and its stored text features. The same rows whatever the window around the message (checked by
# insights/tests/test_facts.py): what `insights.facts` stores for every message (a window as wide as time)
# and what the report computes itself for the people whose stored facts may be stale (`LABELED`).
# One read of the window's messages (+ the reply window: an inbound message later than end + reply cannot
# be a reply within the reply window of a message of the window), in index order of (workspace, sent_at);
# two window sorts (by person for the next inbound message, by thread for the previous message and the
# last inbound one) over narrow rows (what the windows need, and the cohort's own columns, NULL for the
# other messages read: the sorts stay in memory); lookups before the window only for the first message
# read of each thread. Stage at send time: a hash join with the ranges [change, next change) of each
# contact's stage history.
# The tables and columns read here are the ones whose changes the triggers of insights migration 0004 log.
def fact_rows(threads: str) -> str:
    return f"""
WITH msg AS (
    SELECT m.id, m.thread_id, th.pk, m.sent_at, m.direction = 'in' AS inbound,
           -- The cohort's own columns: set for a delivered outbound message of the window only.
           CASE WHEN {_DELIVERED} AND m.sent_at >= %(start)s AND m.sent_at < %(end)s
                THEN {_SENDER.format(s="m")} END AS sender,
           CASE WHEN {_DELIVERED} AND m.sent_at >= %(start)s AND m.sent_at < %(end)s
                THEN COALESCE(strpos(lower(m.text), th.first_name) > 0, false) END AS contact_name,
           m.text_features
    FROM conversations_message m JOIN {threads} th ON th.thread_id = m.thread_id
    WHERE m.workspace_id = %(ws)s AND m.sent_at <= %(as_of)s
      AND m.sent_at >= %(start)s AND m.sent_at < %(end)s + %(reply)s AND {_PRIOR}
), seq AS (
    SELECT msg.*,
           -- The person's next inbound message after it, on any of their channels (among those read: one
           -- later than end + reply would not count as a reply anyway).
           -- Walked backwards so the frame only grows (a frame that loses rows at its head makes MIN start
           -- over for every row: quadratic in the person's messages).
           MIN(sent_at) FILTER (WHERE inbound)
               OVER (PARTITION BY pk ORDER BY sent_at DESC, id DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
               AS next_in,
           -- Whether the message before it in the thread is the contact's (NULL for the first read:
           -- looked up before the window).
           LAG(inbound) OVER (PARTITION BY thread_id ORDER BY sent_at, id) AS prev_in,
           ROW_NUMBER() OVER (PARTITION BY thread_id ORDER BY sent_at, id) AS thread_rn,
           -- The contact's last message in the thread at or before it (ties on sent_at included).
           MAX(sent_at) FILTER (WHERE inbound)
               OVER (PARTITION BY thread_id ORDER BY sent_at RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS last_in_read
    FROM msg
), stages AS (
    SELECT h.contact_id, h.stage, h.created_at AS since,
           LEAD(h.created_at) OVER (PARTITION BY h.contact_id ORDER BY h.created_at, h.id) AS until
    FROM contacts_contactstatechange h
    WHERE h.workspace_id = %(ws)s AND h.contact_id IN (SELECT contact_id FROM {threads})
), cohort AS (
    SELECT s.id, s.thread_id, th.pk, th.contact_id, th.platform, s.sent_at, s.sender,
           -- A message that came from a draft is what the draft was; any other answers the contact
           -- when the contact wrote last, and is a follow-up when the business did (or nobody).
           COALESCE(d.kind, CASE WHEN (CASE WHEN s.thread_rn > 1 THEN s.prev_in ELSE (
                SELECT m.direction = 'in' FROM conversations_message m
                WHERE m.thread_id = s.thread_id AND (m.sent_at, m.id) < (s.sent_at, s.id) AND {_PRIOR}
                ORDER BY m.sent_at DESC, m.id DESC LIMIT 1) END) THEN 'reply' ELSE 'follow_up' END) AS purpose,
           -- The contact's stage at send time: the last change recorded at or before it; "new" before any.
           COALESCE(st.stage, 'new') AS stage,
           s.next_in, s.text_features, s.contact_name, s.last_in_read
    FROM seq s
    JOIN {threads} th ON th.thread_id = s.thread_id
    LEFT JOIN LATERAL (
        SELECT d.kind FROM conversations_replydraft d WHERE d.outbound_message_id = s.id ORDER BY d.id LIMIT 1
    ) d ON true
    LEFT JOIN stages st ON st.contact_id = th.contact_id AND st.since <= s.sent_at
                       AND (st.until IS NULL OR st.until > s.sent_at)
    WHERE s.sender IS NOT NULL
)
SELECT c.id, c.thread_id, c.pk, c.contact_id, c.platform, c.sent_at, c.sender, c.purpose, c.stage, c.next_in,
       -- For a reply, when the contact last wrote in the thread (the response delay): read, else before the window.
       CASE WHEN c.purpose <> 'reply' THEN NULL WHEN c.last_in_read IS NOT NULL THEN c.last_in_read
            ELSE (SELECT max(i.sent_at) FROM conversations_message i
                  WHERE i.thread_id = c.thread_id AND i.direction = 'in' AND i.sent_at <= c.sent_at) END AS last_in,
       c.contact_name, c.text_features
FROM cohort c
"""  # noqa: S608 (module constants only; every value is a query parameter)


# The threads of this shard's people whose stored facts (insights.facts) may be stale, so the report
# labels their messages itself: all of them while the workspace's facts are not built (or `facts` is
# false: a report from the messages alone, for checks and the bench); else the people
# of every thread or contact changed since the last refresh (the log, insights_factchange), now and as
# the facts last saw them (a contact that left a person changes that person's facts too).
DIRTY = """
CREATE TEMPORARY TABLE insights_dth ON COMMIT DROP AS
WITH changed AS (
    SELECT thread_id, contact_id FROM insights_factchange WHERE workspace_id = %(ws)s
), dirty AS (
    SELECT th.pk FROM insights_th th
    WHERE NOT (%(facts)s AND EXISTS (SELECT 1 FROM insights_factsstate s WHERE s.workspace_id = %(ws)s
                                      AND s.built_at IS NOT NULL))
    UNION SELECT th.pk FROM insights_th th JOIN changed c ON c.thread_id = th.thread_id
    UNION SELECT th.pk FROM insights_th th JOIN changed c ON c.contact_id = th.contact_id
    UNION SELECT ft.person_key FROM insights_factthread ft JOIN changed c ON c.thread_id = ft.thread_id
          WHERE ft.workspace_id = %(ws)s
    UNION SELECT ft.person_key FROM insights_factthread ft JOIN changed c ON c.contact_id = ft.contact_id
          WHERE ft.workspace_id = %(ws)s
)
SELECT th.* FROM insights_th th WHERE th.pk IN (SELECT pk FROM dirty)
"""  # noqa: S608

ANALYZE_DIRTY = "ANALYZE insights_dth"

# The cohort: each delivered outbound message of the window with its labels. The labels that do not
# depend on the window come from the stored facts for the people whose facts are current, and from
# `fact_rows` over their messages for the others (insights_dth); then what does: replied within the
# reply window by as_of, the week, the outcome and the last touch (the pairs), the side.
LABELED = f"""
CREATE TEMPORARY TABLE insights_labeled ON COMMIT DROP AS
WITH facts AS (
    SELECT f.message_id AS id, f.thread_id, th.pk, th.contact_id, th.platform, f.sent_at, f.sender, f.purpose,
           f.stage, f.next_in, f.last_in, f.contact_name, f.text_features
    FROM insights_messagefact f
    -- This shard's threads whose facts are current (the stale ones, a few, looked up in a hash).
    JOIN insights_th th ON th.thread_id = f.thread_id AND th.thread_id NOT IN (SELECT thread_id FROM insights_dth)
    WHERE f.workspace_id = %(ws)s AND f.sent_at >= %(start)s AND f.sent_at < %(end)s AND f.sent_at <= %(as_of)s
      AND f.sender IS NOT NULL
    UNION ALL
    ({fact_rows("insights_dth")})
)
SELECT c.id, c.pk, c.thread_id, c.contact_id, c.platform, c.sent_at, c.sender,
       -- The Monday (in the workspace's time zone) of the week it was sent, for the weekly trend.
       date_trunc('week', c.sent_at AT TIME ZONE %(tz)s)::date AS week,
       c.purpose, c.stage,
       -- Unknown (NULL) until the reply window has passed by as_of.
       CASE WHEN c.sent_at + %(reply)s > %(as_of)s THEN NULL
            ELSE c.next_in IS NOT NULL AND c.next_in <= c.sent_at + %(reply)s END AS replied,
       c.text_features, c.contact_name, c.last_in,
       CASE WHEN cr.message_id IS NOT NULL THEN 'booked'
            WHEN c.sent_at + %(maturity)s <= %(as_of)s THEN 'not_booked' ELSE 'pending' END AS outcome,
       {_SIDE.format(sender="c.sender")} AS side,
       COALESCE(cr.last_touch, false) AS last_touch
FROM facts c
LEFT JOIN (SELECT message_id, bool_or(rn = 1) AS last_touch FROM insights_pairs GROUP BY message_id) cr
    ON cr.message_id = c.id
"""  # noqa: S608

# The columns the later statements join and group by on a scale that matters to the plan (messages by
# id with the pairs; per person and side): the statistics of the other columns cost six times as much
# to gather (0.30 against 0.05 s of CPU a shard for 28 days of the 1M-message bench); the plans stay the
# same but for how CELLS (insights.cells_sql) joins its ~125 rows of counts with theirs of bookings.
ANALYZE_LABELED = "ANALYZE insights_labeled (id, pk, side)"

# The statements that build the shared tables, in order.
BUILD = [WORK_MEM, THREADS, ANALYZE_THREADS, DIRTY, ANALYZE_DIRTY, BOOKINGS, ANALYZE_BOOKINGS, PAIRS, ANALYZE_PAIRS,
         LABELED, ANALYZE_LABELED]
DROP = "DROP TABLE insights_labeled, insights_pairs, insights_bk, insights_dth, insights_th"

# One row per message of the cohort with its labels (tests, and the evidence drilldown).
LABELS = """
SELECT id, pk, platform, sender, purpose, stage, outcome, side, last_touch, replied FROM insights_labeled ORDER BY id
"""

SUMMARY = f"""
WITH {_EV}, cohort AS (SELECT COUNT(*) AS n FROM insights_labeled), outcomes AS (
    -- Attended and no-show in one pass over the booking events (and the contacts, for the shard).
    SELECT COUNT(*) FILTER (WHERE e.kind = 'attended') AS attended, COUNT(*) FILTER (WHERE e.kind = 'no_show') AS no_show
    FROM contacts_bookingevent e
    JOIN contacts_contact c ON c.id = e.contact_id AND c.workspace_id = %(ws)s
    WHERE e.workspace_id = %(ws)s AND {_SHARD} AND e.occurred_at >= %(start)s AND e.occurred_at < %(end)s
      AND e.occurred_at <= %(as_of)s
)
SELECT
    -- Every outbound message of the window: the cohort, and those that did not reach the contact (a few:
    -- stored with no sender for the people whose facts are current, else counted from the messages).
    cohort.n
    + (SELECT COUNT(*) FROM insights_messagefact f
       JOIN insights_th th ON th.thread_id = f.thread_id AND th.thread_id NOT IN (SELECT thread_id FROM insights_dth)
       WHERE f.workspace_id = %(ws)s AND f.sender IS NULL
         AND f.sent_at >= %(start)s AND f.sent_at < %(end)s AND f.sent_at <= %(as_of)s)
    + (SELECT COUNT(*) FROM conversations_message m JOIN insights_dth th ON th.thread_id = m.thread_id
       WHERE m.workspace_id = %(ws)s AND m.direction = 'out' AND NOT COALESCE({_DELIVERED}, false)
         AND m.sent_at >= %(start)s AND m.sent_at < %(end)s AND m.sent_at <= %(as_of)s) AS considered,
    cohort.n AS cohort,
    (SELECT COUNT(*) FROM insights_bk WHERE at < %(end)s) AS booked,
    (SELECT COUNT(*) FROM insights_bk b WHERE b.at < %(end)s
       AND EXISTS (SELECT 1 FROM insights_pairs p WHERE p.booking_id = b.id)) AS attributed,
    (SELECT COUNT(DISTINCT pk) FROM insights_bk WHERE at < %(end)s) AS booked_people,
    (SELECT COUNT(*) FROM ev WHERE kind = 'booked' AND next_kind = 'canceled'
       AND occurred_at >= %(start)s AND occurred_at < %(end)s) AS canceled,
    outcomes.attended, outcomes.no_show
FROM cohort, outcomes
"""  # noqa: S608

# Time to book (docs/insights.md, "Time to book"): for each group (everyone, each side of the
# comparison) and person, the first message of the group in the cohort, and the first booking that
# credits that message (the event), else censoring at min(as_of, first message + attribution window).
# Durations are whole hours, events rounded up (so "booked within d days" stays exact) and censoring
# rounded down (a censored person is never counted at risk after they were last seen), and people are
# counted per (group, event, hours): the rows returned are bounded by the window's length in hours,
# whatever the number of people or messages.
TIME_TO_BOOK = """
WITH by_side AS (
    -- Each person's first message on each side (NULL included): the least (sent_at, id). A sort on
    -- (person, side, sent_at, id) and the first row of each run, then the least of a person's sides for
    -- everyone: 0.15 s of CPU where a hash aggregate of MIN(ARRAY[sent_at in microseconds, id]) over both
    -- groupings took 0.31 (an array built and compared per message and grouping; 90 days of the
    -- 1M-message bench, one of two shards).
    SELECT DISTINCT ON (l.pk, l.side) l.pk, l.side, l.id, l.sent_at
    FROM insights_labeled l ORDER BY l.pk, l.side, l.sent_at, l.id
), firsts AS (
    SELECT * FROM (SELECT DISTINCT ON (s.pk) 'all' AS grp, s.id, s.sent_at FROM by_side s ORDER BY s.pk, s.sent_at, s.id) a
    UNION ALL
    SELECT s.side, s.id, s.sent_at FROM by_side s WHERE s.side IS NOT NULL
), credit AS (
    -- The first booking crediting each message, for the few messages credited at all.
    SELECT p.message_id, MIN(b.at) AS at FROM insights_pairs p JOIN insights_bk b ON b.id = p.booking_id
    GROUP BY p.message_id
), timed AS (
    SELECT f.grp, c.at - f.sent_at AS to_booking, LEAST(%(as_of)s, f.sent_at + %(attr)s) - f.sent_at AS to_censor
    FROM firsts f LEFT JOIN credit c ON c.message_id = f.id
)
-- Hours through float8 (date_part) rather than numeric (EXTRACT): the same whole hours, for 0.04 s less
-- CPU (same bench). Exact for any duration under 68 years (2^31 s; here at most the attribution window):
-- float8 holds its seconds to within half a microsecond, a whole number of hours exactly, and a duration
-- that is not a whole number of hours is at least one microsecond away from one.
SELECT grp, to_booking IS NOT NULL AS event,
       (CASE WHEN to_booking IS NOT NULL THEN CEIL(date_part('epoch', to_booking) / 3600)
             ELSE FLOOR(date_part('epoch', to_censor) / 3600) END)::int AS hours,
       COUNT(*) AS people
FROM timed GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
"""
