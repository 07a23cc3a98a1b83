"""Erasing a contact from the stored reports (GDPR): metrics are aggregates and stay; the written
synthesis lists the ids of the message excerpts it was shown, and an erased message's id goes."""

from __future__ import annotations

from django.db import transaction

from insights.models import Report


def report_excerpts_forget(*, workspace, message_ids: list[int]) -> int:
    """Drop `message_ids` from the workspace's syntheses; returns how many reports changed.
    Precondition: inside the erasure's transaction."""
    assert transaction.get_connection().in_atomic_block, "runs inside the erasure's transaction"
    if not message_ids:
        return 0
    gone, changed = set(message_ids), 0
    for report in Report.objects.filter(workspace=workspace, synthesis__excerpt_message_ids__isnull=False) \
            .select_for_update().only("pk", "synthesis"):
        ids = report.synthesis.get("excerpt_message_ids") or []
        kept = [i for i in ids if i not in gone]
        if kept != ids:
            report.synthesis = {**report.synthesis, "excerpt_message_ids": kept}
            report.save(update_fields=["synthesis"])
            changed += 1
    return changed
