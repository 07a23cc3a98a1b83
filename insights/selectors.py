"""Reads for the insights page. Every function takes the workspace: a report of another workspace is
simply not found."""

from __future__ import annotations

from django.db.models import QuerySet

from contacts.redaction import redact
from conversations.models import Message
from insights.models import Report, ReportStatus
from insights.report import ReportParameters, message_labels

HISTORY_LENGTH = 20


def reports_for_workspace(*, workspace) -> QuerySet[Report]:
    return Report.objects.filter(workspace=workspace)


def reports_history(*, workspace, limit: int = HISTORY_LENGTH) -> list[Report]:
    """The latest reports, newest first, without their metrics (the list shows the columns only)."""
    return list(reports_for_workspace(workspace=workspace).select_related("requested_by")
                .defer("metrics", "parameters")[:limit])


def report_for_workspace(*, workspace, report_id: int) -> Report | None:
    return reports_for_workspace(workspace=workspace).select_related("requested_by").filter(pk=report_id).first()


def report_latest_done(*, workspace) -> Report | None:
    return reports_for_workspace(workspace=workspace).filter(status=ReportStatus.DONE).first()


EVIDENCE_LIMIT = 100
EXCERPT_CHARS = 280


def cell_evidence(*, workspace, report: Report, sender: str, purpose: str, channel: str,
                  limit: int = EVIDENCE_LIMIT) -> tuple[int, list[dict]]:
    """The messages one cell of a done report counts, with their labels and a redacted excerpt.

    Labels are recomputed for the report's window and `as_of` (`message_labels`, one statement); rows
    written since with older times can make them differ from what the stored report saw. Returns
    (how many messages the cell has, the first `limit` of them: booked first, then oldest first).
    """
    labels = message_labels(workspace=workspace, start=report.window_start, end=report.window_end,
                            as_of=report.as_of, parameters=ReportParameters(**report.parameters))
    chosen = sorted((row for row in labels.values()
                     if sender in ("all", row["sender"]) and purpose in ("all", row["purpose"])
                     and channel in ("all", row["platform"])),
                    key=lambda r: (r["outcome"] != "booked", r["id"]))
    # Only the shown messages are read (a cell of a large workspace counts many thousands).
    shown = chosen[:limit]
    messages = {m.pk: m for m in Message.objects.filter(workspace=workspace, pk__in=[r["id"] for r in shown])
                .select_related("thread__contact").only("pk", "text", "sent_at", "thread__contact__id",
                                                         "thread__contact__display_name")}
    rows = []
    for row in shown:
        message = messages.get(row["id"])
        if message is None:
            continue
        text = redact(message.text)
        rows.append({**row, "sent_at": message.sent_at, "contact": message.thread.contact,
                     "excerpt": text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS - 1] + "…"})
    return len(chosen), rows
