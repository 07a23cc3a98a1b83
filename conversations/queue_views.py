"""The work queues: open escalations (claim, reply in the thread, resolve) and follow-ups.

Rows are handled in place: a claim re-renders its row, a resolve or a follow-up removes it.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.tenancy import scoped_or_404, workspace_required
from conversations import selectors, services
from conversations.models import Escalation, Thread
from conversations.sending import SendRefused

ESCALATIONS_LIMIT = 200


@workspace_required
def escalations(request):
    rows = list(selectors.open_escalations(workspace=request.workspace)[:ESCALATIONS_LIMIT])
    return render(request, "conversations/queues/escalations.html", {"escalations": rows})


def _escalation_row(request, escalation: Escalation, error: str = ""):
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect("conversations:escalations", workspace_slug=request.workspace.slug)
    fresh = selectors.open_escalations(workspace=request.workspace).filter(pk=escalation.pk).first()
    if fresh is None:  # resolved: the row leaves the list; the flash shows above it (out of band)
        return render(request, "conversations/queues/escalations.html#handled", {})
    return render(request, "conversations/queues/escalations.html#escalation-row", {"e": fresh, "row_error": error})


@workspace_required
@require_POST
def escalation_claim(request, escalation_id):
    escalation = scoped_or_404(selectors.escalation_for_workspace, request, escalation_id=escalation_id, what="escalation")
    try:
        services.escalation_claim(escalation=escalation, actor=request.user)
    except services.EscalationStateError as exc:
        return _escalation_row(request, escalation, str(exc))
    return _escalation_row(request, escalation)


@workspace_required
@require_POST
def escalation_resolve(request, escalation_id):
    escalation = scoped_or_404(selectors.escalation_for_workspace, request, escalation_id=escalation_id, what="escalation")
    try:
        services.escalation_resolve(escalation=escalation, actor=request.user,
                                    resume_ai=request.POST.get("resume_ai") == "1")
        messages.success(request, "Escalation resolved.")
    except services.EscalationStateError as exc:
        return _escalation_row(request, escalation, str(exc))
    return _escalation_row(request, escalation)


# --- Follow-ups ---------------------------------------------------------------------------------------

@workspace_required
def follow_ups(request):
    candidates = selectors.contacts_needing_follow_up(workspace=request.workspace)
    waiting = selectors.follow_up_drafts_waiting(workspace=request.workspace)
    return render(request, "conversations/queues/follow_ups.html", {"candidates": candidates, "waiting_drafts": waiting})


@workspace_required
@require_POST
def follow_up_send(request, thread_id):
    """Draft a follow-up and send it (or keep it for review). Makes LLM calls; not in a transaction."""
    try:
        thread = selectors.thread_for_workspace(workspace=request.workspace, thread_id=thread_id)
    except Thread.DoesNotExist:
        raise Http404("No such thread") from None
    review = request.POST.get("review") == "1"
    error = ""
    try:
        draft = services.follow_up_send(thread=thread, actor=request.user, review=review)
    except (SendRefused, ValueError) as exc:
        error = str(exc) or "The follow-up could not be drafted."
    else:
        if draft.decision == "sent":
            messages.success(request, f"Follow-up sent to {thread.contact}.")
        else:
            messages.info(request, f"Follow-up for {thread.contact} saved as a draft: approve it in the conversation.")
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect("conversations:follow_ups", workspace_slug=request.workspace.slug)
    if error:
        return render(request, "conversations/queues/follow_ups.html#row-error",
                      {"thread": thread, "row_error": error})
    # Handled: the row leaves, and the flash appears above the list (out of band).
    return render(request, "conversations/queues/follow_ups.html#handled", {})
