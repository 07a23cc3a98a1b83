"""Erasing a contact from the evals (GDPR): a case holds redacted text of one thread (the message sent
and the messages before it), so every case of an erased message goes, with its pairwise re-drafts
(cascade) and the admins' calibration label of the message. Run metrics are aggregates (an AUC,
counts) and stay."""

from __future__ import annotations

from django.db import transaction

from evals.models import CalibrationLabel, EvalCase, Proposal, ProposalSource, ProposalStatus


def eval_cases_erase(*, workspace, message_ids: list[int]) -> int:
    """Delete the workspace's cases of `message_ids`; returns how many went.
    Precondition: inside the erasure's transaction."""
    assert transaction.get_connection().in_atomic_block, "runs inside the erasure's transaction"
    if not message_ids:
        return 0
    _, deleted = EvalCase.objects.filter(run__workspace=workspace, message_id__in=message_ids).delete()
    CalibrationLabel.objects.filter(workspace=workspace, message_id__in=message_ids).delete()
    return deleted.get(EvalCase._meta.label, 0)


def proposals_contact_erase(*, workspace, thread_ids: list[int], message_ids: list[int]) -> dict[str, int]:
    """Forget a contact in proposals. A setter's FAQ proposal drawn from their conversation is deleted
    while undecided or rejected; once applied it is knowledge the business adopted (the FAQ entry
    lives on in knowledge), so only its evidence (the redacted conversation, message ids) is dropped.
    A loop proposal loses the evidence rows of the contact's eval cases (the judge's reasons).
    Precondition: inside the erasure's transaction, before `eval_cases_erase` (it reads the cases)."""
    assert transaction.get_connection().in_atomic_block, "runs inside the erasure's transaction"
    counts = {"proposals_deleted": 0, "proposals_evidence_scrubbed": 0}
    threads = {int(pk) for pk in thread_ids}
    for proposal in Proposal.objects.select_for_update().filter(workspace=workspace, source=ProposalSource.SETTER):
        if proposal.evidence.get("thread_id") not in threads:
            continue
        if proposal.status in (ProposalStatus.PROPOSED, ProposalStatus.APPROVED, ProposalStatus.REJECTED):
            proposal.delete()
            counts["proposals_deleted"] += 1
        else:
            proposal.evidence = {"escalation_id": proposal.evidence.get("escalation_id"), "tokens": 0,
                                 "erased": "The contact's conversation was erased (GDPR)."}
            proposal.save(update_fields=["evidence", "updated_at"])
            counts["proposals_evidence_scrubbed"] += 1
    case_ids = set(EvalCase.objects.filter(run__workspace=workspace, message_id__in=message_ids or [])
                   .values_list("pk", flat=True))
    if case_ids:
        for proposal in Proposal.objects.select_for_update().filter(workspace=workspace, source=ProposalSource.LOOP):
            cases = proposal.evidence.get("cases") or []
            kept = [case for case in cases if case.get("id") not in case_ids]
            if len(kept) != len(cases):
                proposal.evidence = {**proposal.evidence, "cases": kept,
                                     "case_ids": [pk for pk in proposal.evidence.get("case_ids", []) if pk not in case_ids]}
                proposal.save(update_fields=["evidence", "updated_at"])
                counts["proposals_evidence_scrubbed"] += 1
    return counts
