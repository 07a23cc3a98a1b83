"""Aggregates for the overview page: automation rate, median first response time, escalations.

Each figure is one aggregate query over the period, whatever the number of messages, so the page
costs the same in a workspace with ten threads or fifty thousand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db import connection
from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from conversations.models import Direction, Escalation, Message, SenderKind
from conversations.templatetags.inbox import reason_label

HUMAN_KINDS = (SenderKind.SETTER, SenderKind.META_INBOX)


@dataclass
class Overview:
    days: list[date]
    outbound: int = 0
    by_ai: int = 0
    median_ai_seconds: float | None = None
    median_human_seconds: float | None = None
    escalations_by_reason: dict[str, int] = field(default_factory=dict)
    chart: dict = field(default_factory=dict)

    @property
    def automation_rate(self) -> float | None:
        return self.by_ai / self.outbound if self.outbound else None


# A reply's first response time runs from the first message of the contact's burst (an inbound
# message right after an outbound one, or the first in the thread) to the first outbound message
# after it. Only replies inside the period count.
_RESPONSE_SQL = """
WITH m AS (
    SELECT thread_id, direction, sender_kind, sent_at,
           LAG(direction) OVER (PARTITION BY thread_id ORDER BY sent_at, id) AS prev_dir
    FROM conversations_message
    WHERE workspace_id = %(ws)s AND sent_at >= %(since)s AND is_deleted = false
), marked AS (
    SELECT direction, sender_kind, sent_at, prev_dir,
           MAX(CASE WHEN direction = 'in' AND (prev_dir IS NULL OR prev_dir <> 'in') THEN sent_at END)
               OVER (PARTITION BY thread_id ORDER BY sent_at ROWS UNBOUNDED PRECEDING) AS burst_at
    FROM m
)
SELECT (timezone(%(tz)s, sent_at))::date AS day,
       CASE WHEN sender_kind = 'ai' THEN 'ai' ELSE 'human' END AS who,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM sent_at - burst_at)) AS median
FROM marked
WHERE direction = 'out' AND prev_dir = 'in' AND burst_at IS NOT NULL
  AND sender_kind IN ('ai', 'setter', 'meta_inbox')
GROUP BY GROUPING SETS ((day, who), (who))
"""


def workspace_overview(*, workspace, days: int = 30, now=None) -> Overview:
    """The last ``days`` days (workspace time zone): three queries in all."""
    now = now or timezone.now()
    tz = timezone.get_current_timezone()
    today = timezone.localtime(now, tz).date()
    day_list = [today - timedelta(days=i) for i in range(days - 1, -1, -1)]
    since = now - timedelta(days=days)
    result = Overview(days=day_list)

    sent = {d: {"ai": 0, "all": 0} for d in day_list}
    rows = (Message.objects.filter(workspace=workspace, direction=Direction.OUT, sent_at__gte=since, is_deleted=False)
            .annotate(day=TruncDate("sent_at", tzinfo=tz)).values("day")
            .annotate(total=Count("pk"), ai=Count("pk", filter=Q(sender_kind=SenderKind.AI))))
    for row in rows:
        result.outbound += row["total"]
        result.by_ai += row["ai"]
        if row["day"] in sent:
            sent[row["day"]] = {"ai": row["ai"], "all": row["total"]}

    medians = {d: {"ai": None, "human": None} for d in day_list}
    with connection.cursor() as cursor:
        cursor.execute(_RESPONSE_SQL, {"ws": workspace.pk, "since": since, "tz": str(tz)})
        for day, who, median in cursor.fetchall():
            if day is None:
                setattr(result, f"median_{who}_seconds", median)
            elif day in medians:
                medians[day][who] = round(median, 1) if median is not None else None

    reasons: dict[str, dict[date, int]] = {}
    esc = (Escalation.objects.filter(workspace=workspace, created_at__gte=since)
           .annotate(day=TruncDate("created_at", tzinfo=tz)).values("day", "reason_code").annotate(n=Count("pk")))
    for row in esc:
        result.escalations_by_reason[row["reason_code"]] = result.escalations_by_reason.get(row["reason_code"], 0) + row["n"]
        reasons.setdefault(row["reason_code"], {})[row["day"]] = row["n"]
    result.escalations_by_reason = dict(sorted(result.escalations_by_reason.items(), key=lambda kv: -kv[1]))

    result.chart = {
        "labels": [d.isoformat() for d in day_list],
        "automation": [round(100 * sent[d]["ai"] / sent[d]["all"], 1) if sent[d]["all"] else None for d in day_list],
        "median_ai": [medians[d]["ai"] for d in day_list],
        "median_human": [medians[d]["human"] for d in day_list],
        "escalations": [{"label": reason_label(reason), "data": [by_day.get(d, 0) for d in day_list]}
                        for reason, by_day in reasons.items()],
    }
    return result
