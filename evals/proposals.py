"""Proposals: a concrete prompt or knowledge change with its evidence, which a person decides on.

    proposal = proposal_create(workspace=ws, kind="prompt", title=..., payload={"text": ...}, evidence=...)
    proposal_approve(proposal=proposal, actor=admin, note="Reads better")     # or proposal_reject
    proposal_apply(proposal=proposal, actor=admin)        # a change set: a new PromptRevision
    proposal_rollback(proposal=proposal, actor=admin)     # undo: the previous text as a new revision

States: proposed → approved or rejected → applied → rolled back; every transition is a conditional
step on a locked row, so a double click or two admins at once act once, and any other order is
refused with a `ProposalStateError` saying why. Applying and rolling back go through `changes` (the
same path as the assistant's one-click apply: `change_set_preview` + `change_set_apply`,
`change_set_undo`), which writes through the owning apps' services and refuses an undo once the
target moved on. A proposal only ever sets prompt text, an FAQ entry or a text document: no kind of
proposal can change a numeric threshold or a setting.

Who: workspace admins (and super-admins, admins everywhere) decide, apply and roll back in their
workspace; setters only read. Only a super-admin fans a proposal out to other workspaces. Every
decision, apply, rollback and fan-out is audited (`proposals.*`).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.services import audit_event_record
from accounts.tenancy import require_workspace_admin
from changes.kinds import kind_get
from changes.kinds.knowledge import document_text_revision
from changes.models import Operation, Source
from changes.services import OperationSpec, change_set_apply, change_set_preview, change_set_undo
from conversations.selectors import prompt_text_current
from evals.models import Proposal, ProposalKind, ProposalSource, ProposalStatus
from knowledge.models import Document, FaqEntry

OPERATION_KIND = {ProposalKind.PROMPT: "prompt.revision", ProposalKind.FAQ: "knowledge.faq",
                  ProposalKind.DOCUMENT: "knowledge.document"}
NOTE_MAX = 500


class ProposalError(ValidationError):
    """Refused; nothing changed. The message says why, for a person."""


class ProposalStateError(ProposalError):
    """The proposal is not in the state this step needs (applying twice, applying a rejected one...)."""


# --- What a proposal changes, as text ------------------------------------------------------------

def faq_text(question: str, answer: str) -> str:
    return f"Q: {question}\n\nA: {answer}" if question or answer else ""


def proposed_text(proposal: Proposal) -> str:
    payload = proposal.payload
    if proposal.kind == ProposalKind.FAQ:
        return faq_text(payload.get("question", ""), payload.get("answer", ""))
    return payload.get("text", "")


def target_current(*, workspace, kind: str, target_id: int | None) -> dict:
    """The target's current state as {"revision": ..., "text": ...}: the prompt's revision id (None:
    the default prompt), the FAQ entry's revision number, the document's newest revision number;
    {"revision": None, "text": ""} for what does not exist yet."""
    if kind == ProposalKind.PROMPT:
        text, revision = prompt_text_current(workspace=workspace)
        return {"revision": revision.pk if revision else None, "text": text}
    if target_id is None:
        return {"revision": None, "text": ""}
    if kind == ProposalKind.FAQ:
        faq = FaqEntry.objects.filter(workspace=workspace, pk=target_id).first()
        if faq is None:
            return {"revision": None, "text": ""}
        return {"revision": faq.revision_number, "text": faq_text(faq.question, faq.answer) if faq.is_active else ""}
    document = Document.objects.filter(workspace=workspace, pk=target_id).first()
    revision = document_text_revision(document) if document else None
    if revision is None:
        return {"revision": None, "text": ""}
    return {"revision": revision.number, "text": bytes(revision.content).decode("utf-8", errors="replace")}


def _validated(*, workspace, kind: str, payload: dict, target_id: int | None) -> dict:
    """The payload as the change kind normalises it (the same checks apply runs again)."""
    if kind not in OPERATION_KIND:
        raise ProposalError(f"Unknown kind of proposal {kind!r}.")
    if kind == ProposalKind.PROMPT and target_id is not None:
        raise ProposalError("A prompt change has no target.")
    operation_kind = kind_get(OPERATION_KIND[kind])
    op = Operation(position=0, kind=operation_kind.name)
    try:
        operation_kind.resolve(workspace=workspace, op=op, target_id=target_id)
        return operation_kind.clean(workspace=workspace, op=op, after=payload)
    except ValidationError as exc:
        raise ProposalError(exc.messages) from exc


# --- Create ----------------------------------------------------------------------------------------

def proposal_create(*, workspace, kind: str, title: str, payload: dict, target_id: int | None = None,
                    rationale: str = "", evidence: dict | None = None, source: str = ProposalSource.MANUAL,
                    source_key: str = "", actor=None, origin: Proposal | None = None,
                    status: str = ProposalStatus.PROPOSED) -> Proposal:
    """A proposed change, validated as applying it would be and recorded with what it was built
    against (`base`). Raises ProposalError when it would change nothing or is invalid."""
    payload = _validated(workspace=workspace, kind=kind, payload=payload, target_id=target_id)
    base = target_current(workspace=workspace, kind=kind, target_id=target_id)
    proposal = Proposal(workspace=workspace, kind=kind, source=source, status=status, title=title.strip()[:200],
                        rationale=rationale.strip(), payload=payload, target_id=target_id, base=base,
                        evidence=evidence or {}, source_key=source_key[:64], created_by=actor, origin=origin)
    if proposed_text(proposal).strip() == base["text"].strip():
        raise ProposalError("This is already the current text; there is nothing to propose.")
    proposal.save()
    return proposal


# --- Decide ----------------------------------------------------------------------------------------

def _locked(proposal: Proposal) -> Proposal:
    return Proposal.objects.select_for_update().select_related("workspace").get(pk=proposal.pk)


def _refuse_state(locked: Proposal, wanted: str, action: str) -> None:
    if locked.status != wanted:
        raise ProposalStateError(f"Only {wanted_label(wanted)} proposal can be {action}; this one is "
                                 f"{locked.get_status_display().lower()}.")


def wanted_label(status: str) -> str:
    return {"proposed": "a proposed", "approved": "an approved", "applied": "an applied"}[status]


def _audit(verb: str, proposal: Proposal, actor, **data) -> None:
    audit_event_record(verb=verb, workspace=proposal.workspace, actor=actor, target=proposal,
                       data={"proposal": proposal.pk, "kind": proposal.kind, "title": proposal.title[:200], **data})


def _decide(*, proposal: Proposal, actor, note: str, status: str, verb: str, action: str) -> Proposal:
    require_workspace_admin(workspace_id=proposal.workspace_id, actor=actor,
                            message="Only workspace admins can decide on proposals.")
    with transaction.atomic():
        locked = _locked(proposal)
        _refuse_state(locked, ProposalStatus.PROPOSED, action)
        locked.status, locked.decided_by, locked.decided_at = status, actor, timezone.now()
        locked.decision_note = (note or "").strip()[:NOTE_MAX]
        locked.save(update_fields=["status", "decided_by", "decided_at", "decision_note", "updated_at"])
        _audit(verb, locked, actor, note=locked.decision_note)
    proposal.refresh_from_db()
    return locked


def proposal_approve(*, proposal: Proposal, actor, note: str = "") -> Proposal:
    """proposed → approved (a workspace admin). Approving applies nothing."""
    return _decide(proposal=proposal, actor=actor, note=note, status=ProposalStatus.APPROVED,
                   verb="proposals.approved", action="approved")


def proposal_reject(*, proposal: Proposal, actor, note: str) -> Proposal:
    """proposed → rejected (a workspace admin), with a note saying why."""
    if not (note or "").strip():
        raise ProposalError("Say why it is rejected (a note).")
    return _decide(proposal=proposal, actor=actor, note=note, status=ProposalStatus.REJECTED,
                   verb="proposals.rejected", action="rejected")


# --- Compare on held-out cases (evals.pairwise) ---------------------------------------------------

def proposal_compare(*, proposal: Proposal, actor):
    """Queue the pairwise comparison of a prompt or FAQ proposal against the current version on the
    held-out cases of the workspace's latest eval run (dry-run drafts, judged in both orders: see
    evals.pairwise), and record the run in the proposal's evidence (`pairwise.run_id`); the detail page
    shows its result. A workspace admin, while the proposal is still to be decided or applied. Raises
    ProposalError with the reason (a text document cannot be compared: pairwise drafts with an FAQ
    entry or a prompt; no eval run with held-out cases)."""
    from evals import pairwise
    from evals.models import CandidateKind
    from evals.services import EvalInputError

    require_workspace_admin(workspace_id=proposal.workspace_id, actor=actor,
                            message="Only workspace admins can compare proposals.")
    if proposal.kind == ProposalKind.DOCUMENT:
        raise ProposalError("A text document cannot be compared yet: pairwise re-drafts with a prompt or an FAQ entry.")
    with transaction.atomic():
        locked = _locked(proposal)
        if locked.status not in (ProposalStatus.PROPOSED, ProposalStatus.APPROVED):
            raise ProposalStateError(f"Only a proposal still to be decided or applied can be compared; this one is "
                                     f"{locked.get_status_display().lower()}.")
        payload = locked.payload
        candidate = ({"kind": CandidateKind.PROMPT, "candidate_prompt": payload.get("text", "")}
                     if locked.kind == ProposalKind.PROMPT else
                     {"kind": CandidateKind.KNOWLEDGE, "candidate_question": payload.get("question", ""),
                      "candidate_answer": payload.get("answer", ""), "replaces_faq_id": locked.target_id})
        try:
            run = pairwise.pairwise_run_request(workspace=locked.workspace, requested_by=actor, **candidate)
        except EvalInputError as exc:
            raise ProposalError(f"Cannot compare: {exc}.") from exc
        locked.evidence = {**locked.evidence, "pairwise": {"run_id": run.pk}}
        locked.save(update_fields=["evidence", "updated_at"])
        _audit("proposals.compared", locked, actor, pairwise_run=run.pk)
    proposal.refresh_from_db()
    return run


# --- Apply and roll back (through `changes`) ------------------------------------------------------

def _record_error(proposal: Proposal, message: str) -> None:
    Proposal.objects.filter(pk=proposal.pk).update(error=message[:1000], updated_at=timezone.now())


def proposal_apply(*, proposal: Proposal, actor) -> Proposal:
    """approved → applied: one change set previewed and applied through `changes`, which writes a new
    prompt, FAQ or document revision through the owning service, noted "Proposal N: title".

    Refused (ProposalError, the proposal stays approved, the reason kept in `error`) when the target
    moved on since the proposal was made (someone edited the prompt or the entry: the proposal would
    silently undo that) or when the owning service refuses. PermissionDenied outside the actor's
    workspaces (a super-admin is admin everywhere)."""
    require_workspace_admin(workspace_id=proposal.workspace_id, actor=actor,
                            message="Only workspace admins can apply proposals.")
    refused = None
    with transaction.atomic():
        locked = _locked(proposal)
        if locked.status == ProposalStatus.APPLIED:
            raise ProposalStateError("This proposal is already applied.")
        _refuse_state(locked, ProposalStatus.APPROVED, "applied")
        current = target_current(workspace=locked.workspace, kind=locked.kind, target_id=locked.target_id)
        if current["revision"] != locked.base.get("revision"):
            refused = ("The target changed since this proposal was made, so applying it would undo that "
                       "change. Nothing was applied; make a new proposal from the current text.")
        else:
            try:
                change_set = change_set_preview(
                    workspace=locked.workspace, actor=actor, source=Source.PROPOSAL,
                    title=f"Proposal {locked.pk}: {locked.title}"[:200],
                    operations=[OperationSpec(OPERATION_KIND[locked.kind], dict(locked.payload), locked.target_id)])
                change_set = change_set_apply(change_set=change_set, actor=actor)
            except ValidationError as exc:  # a stale preview, a service's own refusal
                refused = " ".join(exc.messages)
            else:
                locked.result = change_set.operations.get().result
                locked.status, locked.change_set, locked.error = ProposalStatus.APPLIED, change_set, ""
                locked.applied_by, locked.applied_at = actor, timezone.now()
                locked.save(update_fields=["status", "change_set", "result", "error", "applied_by", "applied_at",
                                           "updated_at"])
                _audit("proposals.applied", locked, actor, change_set=change_set.pk, result=locked.result,
                       note=locked.decision_note)
    if refused:
        _record_error(proposal, refused)
        raise ProposalError(refused)
    proposal.refresh_from_db()
    return locked


def proposal_rollback(*, proposal: Proposal, actor) -> Proposal:
    """applied → rolled back: the change set undone, i.e. the revision before it restored as a new
    revision (nothing is lost). Refused (ProposalError, still applied) once the target changed since
    the apply: restore the wanted revision from History instead."""
    require_workspace_admin(workspace_id=proposal.workspace_id, actor=actor,
                            message="Only workspace admins can roll back proposals.")
    refused = None
    with transaction.atomic():
        locked = _locked(proposal)
        _refuse_state(locked, ProposalStatus.APPLIED, "rolled back")
        try:
            change_set_undo(change_set=locked.change_set, actor=actor)
        except ValidationError as exc:  # ChangeConflict: edited since
            refused = " ".join(exc.messages) + " Restore the revision you want from History instead."
        else:
            locked.status, locked.rolled_back_by, locked.rolled_back_at = ProposalStatus.ROLLED_BACK, actor, timezone.now()
            locked.error = ""
            locked.save(update_fields=["status", "rolled_back_by", "rolled_back_at", "error", "updated_at"])
            _audit("proposals.rolled_back", locked, actor, change_set=locked.change_set_id)
    if refused:
        _record_error(proposal, refused)
        raise ProposalError(refused)
    proposal.refresh_from_db()
    return locked


# --- Fan-out (super-admins) ------------------------------------------------------------------------

def proposal_fan_out(*, proposal: Proposal, actor, workspaces) -> list[dict]:
    """Apply an approved (or applied) proposal's change in each of `workspaces` as well: a copy there,
    approved by the super-admin and applied through `proposal_apply` (audited in that workspace).

    Only the prompt and new FAQ entries or documents can travel (an edit names one workspace's entry).
    Returns, per workspace, {"workspace", "proposal", "error"}: one workspace refusing (its own
    document of that name, the same prompt already) does not stop the others."""
    if not getattr(actor, "is_superadmin", False):
        raise PermissionDenied("Only super-admins can fan a proposal out.")
    if proposal.status not in (ProposalStatus.APPROVED, ProposalStatus.APPLIED):
        raise ProposalStateError("Only an approved or applied proposal can be fanned out.")
    if proposal.target_id is not None:
        raise ProposalError("An edit of one workspace's entry cannot be fanned out; only the prompt and new "
                            "entries or documents can.")
    outcomes = []
    for workspace in workspaces:
        if workspace.pk == proposal.workspace_id:
            continue
        outcome = {"workspace": workspace, "proposal": None, "error": ""}
        try:
            copy = proposal_create(
                workspace=workspace, kind=proposal.kind, title=proposal.title, payload=proposal.payload,
                rationale=proposal.rationale, source=ProposalSource.FAN_OUT, actor=actor, origin=proposal,
                # No name or slug of the origin's workspace: this copy's admins must not learn other tenants.
                evidence={**proposal.evidence, "origin": {"proposal": proposal.pk}},
                status=ProposalStatus.APPROVED)
            Proposal.objects.filter(pk=copy.pk).update(
                decided_by=actor, decided_at=timezone.now(),
                decision_note=f"Fanned out by a super-admin from proposal {proposal.pk} of another workspace.")
            outcome["proposal"] = copy
            proposal_apply(proposal=copy, actor=actor)
        except ValidationError as exc:
            outcome["error"] = " ".join(exc.messages)
        outcomes.append(outcome)
    # The origin workspace's audit log (which its admins read) counts the copies without naming other
    # tenants; the event naming each workspace and its outcome has no workspace (super-admins see it).
    failed = sum(1 for o in outcomes if o["error"])
    audit_event_record(verb="proposals.fanned_out", workspace=proposal.workspace, actor=actor, target=proposal,
                       data={"proposal": proposal.pk, "kind": proposal.kind, "workspaces": len(outcomes),
                             "applied": len(outcomes) - failed, "failed": failed})
    audit_event_record(verb="proposals.fanned_out", workspace=None, actor=actor, target=proposal,
                       data={"proposal": proposal.pk, "kind": proposal.kind, "from": proposal.workspace.slug,
                             "workspaces": [{"slug": o["workspace"].slug,
                                             "proposal": o["proposal"].pk if o["proposal"] else None,
                                             "error": o["error"][:200]} for o in outcomes]})
    return outcomes
