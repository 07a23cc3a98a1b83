"""Reads of proposals, always scoped to the workspace: another workspace's proposal is not found."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import Workspace
from evals.models import Proposal, ProposalStatus

LIST_LENGTH = 200


def proposals_for(*, workspace, status: str = "") -> QuerySet[Proposal]:
    """Newest first; `status` one of ProposalStatus or "" for all."""
    found = Proposal.objects.filter(workspace=workspace).select_related("created_by", "decided_by", "applied_by")
    if status in ProposalStatus.values:
        found = found.filter(status=status)
    return found


def proposal_for_workspace(*, workspace, proposal_id: int) -> Proposal:
    """Raises Proposal.DoesNotExist for another workspace's proposal."""
    return (Proposal.objects.select_related("workspace", "created_by", "decided_by", "applied_by", "rolled_back_by",
                                            "origin__workspace", "change_set")
            .get(workspace=workspace, pk=proposal_id))


def proposal_counts(*, workspace) -> dict[str, int]:
    counts = dict.fromkeys(ProposalStatus.values, 0)
    for status in Proposal.objects.filter(workspace=workspace).values_list("status", flat=True):
        counts[status] += 1
    return counts


def fan_out_workspaces(*, exclude: Workspace) -> QuerySet[Workspace]:
    """Every other workspace, for a super-admin's fan-out (the view shows it to super-admins only)."""
    return Workspace.objects.exclude(pk=exclude.pk).order_by("name", "pk")


def fanned_out_from(*, proposal: Proposal) -> QuerySet[Proposal]:
    """The copies a fan-out made of `proposal` in other workspaces (for the super-admin who made them)."""
    return Proposal.objects.filter(origin=proposal).select_related("workspace").order_by("workspace__name")


def proposal_pairwise_run(*, proposal: Proposal):
    """The pairwise comparison recorded in the proposal's evidence, of the same workspace; None if none."""
    from evals.models import PairwiseRun

    run_id = (proposal.evidence.get("pairwise") or {}).get("run_id")
    if not isinstance(run_id, int):
        return None
    return PairwiseRun.objects.filter(workspace_id=proposal.workspace_id, pk=run_id).first()
