"""Erasing a contact from the evals (GDPR): a case holds redacted text of one thread (the message sent
and the messages before it), so every case of an erased message goes, with its pairwise re-drafts
(cascade) and the admins' calibration label of the message. Run metrics are aggregates (an AUC,
counts) and stay."""

from __future__ import annotations

from django.db import transaction

from evals.models import CalibrationLabel, EvalCase


def eval_cases_erase(*, workspace, message_ids: list[int]) -> int:
    """Delete the workspace's cases of `message_ids`; returns how many went.
    Precondition: inside the erasure's transaction."""
    assert transaction.get_connection().in_atomic_block, "runs inside the erasure's transaction"
    if not message_ids:
        return 0
    _, deleted = EvalCase.objects.filter(run__workspace=workspace, message_id__in=message_ids).delete()
    CalibrationLabel.objects.filter(workspace=workspace, message_id__in=message_ids).delete()
    return deleted.get(EvalCase._meta.label, 0)
