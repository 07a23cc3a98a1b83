"""The Proposals and History pages.

Every member reads them (setters see what is proposed and what changed, and why); approving,
rejecting, applying, rolling back and restoring are for workspace admins (403 to setters); fanning a
proposal out to other workspaces is for super-admins (the service refuses anyone else). Actions are
plain POST forms answered with a redirect and a message, so they work without JavaScript.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.tenancy import admin_required, scoped_or_404, workspace_required
from conversations.prompt_views import diff_lines
from evals import history, proposal_selectors, proposal_sources, proposals
from evals.models import ProposalKind, ProposalStatus

NOTE_MAX = proposals.NOTE_MAX
SCAN_DAYS = 7


@workspace_required
def proposal_list(request):
    status = request.GET.get("status", "")
    status = status if status in ProposalStatus.values else ""
    context = {
        "proposals": proposal_selectors.proposals_for(workspace=request.workspace, status=status)[
            :proposal_selectors.LIST_LENGTH],
        "status": status, "statuses": ProposalStatus.choices,
        "counts": proposal_selectors.proposal_counts(workspace=request.workspace),
    }
    return render(request, "evals/proposals/list.html", context)


@admin_required
@require_POST
def proposal_draft(request):
    """Ask the judge-side model for a prompt proposal from the latest finished eval run (queued)."""
    try:
        run = proposal_sources.proposal_draft_request(workspace=request.workspace)
        messages.success(request, f"Drafting a proposal from eval run {run.pk}; it appears here in a minute or two.")
    except proposals.ProposalError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("evals:proposals", workspace_slug=request.workspace.slug)


@admin_required
@require_POST
def proposals_from_escalations(request):
    """FAQ proposals from the escalated questions setters answered in the last week (no model call)."""
    found = proposal_sources.proposals_from_escalations(
        workspace=request.workspace, since=timezone.now() - timedelta(days=SCAN_DAYS))
    created = len(found["created"])
    messages.success(request, f"{created} new FAQ proposal{'s' if created != 1 else ''} from answered escalations "
                              f"of the last {SCAN_DAYS} days.")
    return redirect("evals:proposals", workspace_slug=request.workspace.slug)


def _diff(proposal) -> tuple[list, str]:
    """The diff shown, and against what: the target as it was when the proposal was made (`base`) —
    for an applied proposal that is exactly what it replaced — and, while it waits, as it is now."""
    proposed = proposals.proposed_text(proposal)
    base = proposal.base.get("text", "")
    if proposal.status in (ProposalStatus.PROPOSED, ProposalStatus.APPROVED):
        now = proposals.target_current(workspace=proposal.workspace, kind=proposal.kind, target_id=proposal.target_id)
        if now.get("revision") != proposal.base.get("revision"):
            return diff_lines(now["text"], proposed), "the current text, which changed since the proposal was made"
        return diff_lines(base, proposed), "the current text"
    return diff_lines(base, proposed), "the text it replaced"


@workspace_required
def proposal_detail(request, proposal_id):
    proposal = scoped_or_404(proposal_selectors.proposal_for_workspace, request, proposal_id=proposal_id,
                             what="proposal")
    diff, against = _diff(proposal)
    context = {"proposal": proposal, "diff": diff, "against": against, "evidence": proposal.evidence,
               "pairwise": proposal_selectors.proposal_pairwise_run(proposal=proposal),
               "is_admin": request.access.is_admin, "is_superadmin": request.user.is_superadmin}
    if request.user.is_superadmin:
        context["fan_out_workspaces"] = proposal_selectors.fan_out_workspaces(exclude=request.workspace)
        context["fanned_out"] = proposal_selectors.fanned_out_from(proposal=proposal)
    return render(request, "evals/proposals/detail.html", context)


def _proposal(request, proposal_id):
    return scoped_or_404(proposal_selectors.proposal_for_workspace, request, proposal_id=proposal_id, what="proposal")


def _act(request, proposal_id, action, done: str):
    proposal = _proposal(request, proposal_id)
    try:
        action(proposal)
        messages.success(request, done)
    except proposals.ProposalError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("evals:proposal", workspace_slug=request.workspace.slug, proposal_id=proposal.pk)


@admin_required
@require_POST
def proposal_approve(request, proposal_id):
    note = request.POST.get("note", "")[:NOTE_MAX]
    return _act(request, proposal_id, lambda p: proposals.proposal_approve(proposal=p, actor=request.user, note=note),
                "Approved. Nothing changes until it is applied.")


@admin_required
@require_POST
def proposal_reject(request, proposal_id):
    note = request.POST.get("note", "")[:NOTE_MAX]
    return _act(request, proposal_id, lambda p: proposals.proposal_reject(proposal=p, actor=request.user, note=note),
                "Rejected.")


@admin_required
@require_POST
def proposal_compare(request, proposal_id):
    return _act(request, proposal_id, lambda p: proposals.proposal_compare(proposal=p, actor=request.user),
                "Comparison queued: each held-out case is re-drafted both ways and judged in both orders.")


@admin_required
@require_POST
def proposal_apply(request, proposal_id):
    return _act(request, proposal_id, lambda p: proposals.proposal_apply(proposal=p, actor=request.user),
                "Applied as a new revision.")


@admin_required
@require_POST
def proposal_rollback(request, proposal_id):
    return _act(request, proposal_id, lambda p: proposals.proposal_rollback(proposal=p, actor=request.user),
                "Rolled back: the previous revision is current again (as a new revision).")


@admin_required
@require_POST
def proposal_fan_out(request, proposal_id):
    """Super-admins only (the service raises PermissionDenied, a 403, for anyone else)."""
    proposal = _proposal(request, proposal_id)
    ids = [int(value) for value in request.POST.getlist("workspaces") if value.isdigit()]
    chosen = list(proposal_selectors.fan_out_workspaces(exclude=request.workspace).filter(pk__in=ids))
    if not chosen:
        messages.error(request, "Choose at least one workspace.")
    else:
        try:
            outcomes = proposals.proposal_fan_out(proposal=proposal, actor=request.user, workspaces=chosen)
        except proposals.ProposalError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            for outcome in outcomes:
                if outcome["error"]:
                    messages.error(request, f"{outcome['workspace'].name}: {outcome['error']}")
                else:
                    messages.success(request, f"{outcome['workspace'].name}: applied.")
    return redirect("evals:proposal", workspace_slug=request.workspace.slug, proposal_id=proposal.pk)


@workspace_required
def revision_history(request):
    kind = request.GET.get("kind", "")
    kind = kind if kind in ProposalKind.values else ""
    context = {"entries": history.history_entries(workspace=request.workspace, kind=kind), "kind": kind,
               "kinds": list(history.KINDS.items()), "is_admin": request.access.is_admin}
    template = "evals/proposals/history.html"
    if request.htmx and not request.htmx.history_restore_request:
        template += "#entries"
    return render(request, template, context)


@admin_required
@require_POST
def revision_restore(request, kind, revision_id):
    if kind not in ProposalKind.values:
        raise Http404("No such kind of revision")
    try:
        messages.success(request, history.history_restore(workspace=request.workspace, kind=kind,
                                                          revision_id=revision_id, actor=request.user))
    except ObjectDoesNotExist:
        raise Http404("No such revision") from None
    except history.RestoreRefused as exc:
        messages.error(request, exc.message)
    return redirect(reverse("evals:history", args=[request.workspace.slug]) + f"?kind={kind}")
