"""Proposals: the state machine, apply and roll back through `changes` (new revisions, nothing lost),
restoring the earliest revision from History, the audit trail, and the fan-out."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.test import override_settings

from accounts.models import AuditEvent
from accounts.tests.factories import AdminMembershipFactory, UserFactory, WorkspaceFactory
from changes.models import ChangeSet, Source
from conversations import services as conversation_services
from conversations.models import PromptRevision
from conversations.selectors import prompt_text_current
from evals.history import history_entries, history_restore
from evals.models import Proposal, ProposalKind, ProposalSource, ProposalStatus
from evals.proposals import (
    ProposalError,
    ProposalStateError,
    proposal_apply,
    proposal_approve,
    proposal_create,
    proposal_fan_out,
    proposal_reject,
    proposal_rollback,
)
from knowledge import services as knowledge_services
from knowledge.models import Document, FaqEntry

pytestmark = pytest.mark.django_db

EARLIEST = "You are the booking assistant of Studio Uno.\n\nBe brief.  Keep  these   spaces."
SUPER = "root@sidekick.example"


def prompt(workspace, admin, text, note=""):
    return conversation_services.prompt_revision_create(workspace=workspace, text=text, actor=admin, note=note)


def prompt_proposal(workspace, text="You are the booking assistant.\n\nAlways offer two times.", **kwargs):
    return proposal_create(workspace=workspace, kind=ProposalKind.PROMPT, title="Offer two times",
                           payload={"text": text}, evidence={"report_id": None, "tokens": 321}, **kwargs)


def current_prompt(workspace) -> str:
    return prompt_text_current(workspace=workspace)[0]


def verbs(workspace) -> list[str]:
    return list(AuditEvent.objects.filter(workspace=workspace, verb__startswith="proposals.")
                .order_by("pk").values_list("verb", flat=True))


def test_apply_then_roll_back_then_restore_the_earliest_revision_exactly(workspace, admin):
    first = prompt(workspace, admin, EARLIEST)
    second = prompt(workspace, admin, "You are the booking assistant.\n\nBe brief.")
    proposal = prompt_proposal(workspace)
    assert proposal.status == ProposalStatus.PROPOSED and proposal.base["revision"] == second.pk
    assert current_prompt(workspace) == second.text  # proposing changes nothing

    proposal_approve(proposal=proposal, actor=admin, note="Two options book more")
    assert current_prompt(workspace) == second.text  # approving changes nothing either
    proposal = proposal_apply(proposal=proposal, actor=admin)
    applied = PromptRevision.objects.get(pk=proposal.result["revision_id"])
    assert proposal.status == ProposalStatus.APPLIED and applied.number == 3 and applied.author == admin
    assert applied.note == f"Proposal {proposal.pk}: Offer two times"
    assert current_prompt(workspace) == "You are the booking assistant.\n\nAlways offer two times."
    assert proposal.change_set.source == Source.PROPOSAL and proposal.change_set.status == "applied"

    proposal = proposal_rollback(proposal=proposal, actor=admin)
    assert proposal.status == ProposalStatus.ROLLED_BACK and current_prompt(workspace) == second.text
    assert PromptRevision.objects.filter(workspace=workspace).count() == 4  # the rollback is a revision too

    history_restore(workspace=workspace, kind="prompt", revision_id=first.pk, actor=admin)
    restored = PromptRevision.objects.filter(workspace=workspace).first()
    assert restored.number == 5 and restored.restored_from == first
    assert current_prompt(workspace) == EARLIEST  # byte for byte, inner spaces and blank line included

    entries = history_entries(workspace=workspace, kind="prompt")
    assert [e.number for e in entries] == [5, 4, 3, 2, 1]
    assert entries[0].current and not entries[0].restorable and entries[-1].restorable
    by_number = {e.number: e for e in entries}
    assert by_number[3].proposal_id == proposal.pk and by_number[3].author == admin.email
    assert by_number[5].why == "Restored revision 1"
    assert verbs(workspace) == ["proposals.approved", "proposals.applied", "proposals.rolled_back"]
    applied_event = AuditEvent.objects.get(workspace=workspace, verb="proposals.applied")
    assert applied_event.actor == admin and applied_event.data["change_set"] == proposal.change_set_id
    assert applied_event.target == f"evals.proposal:{proposal.pk}"


def test_the_state_machine_refuses_out_of_order_steps_with_clear_errors(workspace, admin):
    proposal = prompt_proposal(workspace)
    with pytest.raises(ProposalStateError, match="Only an approved proposal can be applied; this one is proposed"):
        proposal_apply(proposal=proposal, actor=admin)
    with pytest.raises(ProposalStateError, match="Only an applied proposal can be rolled back; this one is proposed"):
        proposal_rollback(proposal=proposal, actor=admin)
    with pytest.raises(ProposalError, match="Say why"):
        proposal_reject(proposal=proposal, actor=admin, note="  ")
    proposal_approve(proposal=proposal, actor=admin)
    with pytest.raises(ProposalStateError, match="Only a proposed proposal can be approved; this one is approved"):
        proposal_approve(proposal=proposal, actor=admin)
    with pytest.raises(ProposalStateError, match="this one is approved"):
        proposal_reject(proposal=proposal, actor=admin, note="too late")
    proposal_apply(proposal=proposal, actor=admin)
    revisions = PromptRevision.objects.filter(workspace=workspace).count()
    with pytest.raises(ProposalStateError, match="already applied"):
        proposal_apply(proposal=proposal, actor=admin)
    assert PromptRevision.objects.filter(workspace=workspace).count() == revisions  # applied once

    rejected = prompt_proposal(workspace, text="Something else entirely.")
    proposal_reject(proposal=rejected, actor=admin, note="Off brand")
    with pytest.raises(ProposalStateError, match="this one is rejected"):
        proposal_apply(proposal=rejected, actor=admin)
    rejected.refresh_from_db()
    assert rejected.status == ProposalStatus.REJECTED and rejected.decision_note == "Off brand"
    assert verbs(workspace) == ["proposals.approved", "proposals.applied", "proposals.rejected"]


def test_a_proposal_equal_to_the_current_text_or_invalid_is_refused(workspace, admin):
    prompt(workspace, admin, "Same text")
    with pytest.raises(ProposalError, match="already the current text"):
        prompt_proposal(workspace, text="Same text")
    with pytest.raises(ProposalError):
        prompt_proposal(workspace, text="   ")
    with pytest.raises(ProposalError):  # proposals set texts only, never a setting such as the threshold
        proposal_create(workspace=workspace, kind=ProposalKind.PROMPT, title="x", payload={"threshold": 0.1})
    assert not Proposal.objects.exists()


def test_apply_is_refused_when_the_prompt_changed_since_the_proposal(workspace, admin):
    prompt(workspace, admin, "Version one")
    proposal = prompt_proposal(workspace)
    proposal_approve(proposal=proposal, actor=admin)
    prompt(workspace, admin, "Someone's later edit")
    with pytest.raises(ProposalError, match="changed since this proposal was made"):
        proposal_apply(proposal=proposal, actor=admin)
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.APPROVED and "changed since" in proposal.error
    assert current_prompt(workspace) == "Someone's later edit"


def test_roll_back_is_refused_once_the_prompt_changed_after_the_apply(workspace, admin):
    proposal = prompt_proposal(workspace)
    proposal_approve(proposal=proposal, actor=admin)
    proposal_apply(proposal=proposal, actor=admin)
    prompt(workspace, admin, "A later edit")
    with pytest.raises(ProposalError, match="History"):
        proposal_rollback(proposal=proposal, actor=admin)
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.APPLIED and current_prompt(workspace) == "A later edit"


def test_faq_proposals_new_and_edited_apply_and_roll_back(workspace, admin):
    new = proposal_create(workspace=workspace, kind=ProposalKind.FAQ, title="Parking",
                          payload={"question": "Is there parking?", "answer": "Yes, free, behind the studio."})
    proposal_approve(proposal=new, actor=admin)
    new = proposal_apply(proposal=new, actor=admin)
    faq = FaqEntry.objects.get(pk=new.result["faq_id"])
    assert faq.workspace == workspace and faq.answer == "Yes, free, behind the studio." and faq.is_active
    proposal_rollback(proposal=new, actor=admin)
    faq.refresh_from_db()
    assert not faq.is_active  # the entry the proposal created is gone from retrieval; its history stays

    existing = knowledge_services.faq_create(workspace=workspace, question="Opening hours?", answer="9 to 5.",
                                             actor=admin)
    edit = proposal_create(workspace=workspace, kind=ProposalKind.FAQ, title="Hours", target_id=existing.pk,
                           payload={"question": "Opening hours?", "answer": "9 to 6, Saturdays 10 to 2."})
    assert edit.base == {"revision": 1, "text": "Q: Opening hours?\n\nA: 9 to 5."}
    proposal_approve(proposal=edit, actor=admin)
    edit = proposal_apply(proposal=edit, actor=admin)
    existing.refresh_from_db()
    assert existing.answer == "9 to 6, Saturdays 10 to 2." and edit.result["revision_number"] == 2
    assert [e.proposal_id for e in history_entries(workspace=workspace, kind="faq") if e.asset_id == existing.pk] == [
        edit.pk, None]
    proposal_rollback(proposal=edit, actor=admin)
    existing.refresh_from_db()
    assert existing.answer == "9 to 5." and existing.revision_number == 3


def test_a_text_document_proposal_uploads_a_revision_and_rolls_back(workspace, admin):
    new = proposal_create(workspace=workspace, kind=ProposalKind.DOCUMENT, title="Cancellation policy",
                          payload={"title": "Cancellation policy", "text": "Cancel up to 24 hours before."})
    proposal_approve(proposal=new, actor=admin)
    new = proposal_apply(proposal=new, actor=admin)
    document = Document.objects.get(pk=new.result["document_id"])
    assert document.title == "Cancellation policy" and document.filename == "cancellation-policy.txt"
    assert bytes(document.revisions.get().content) == b"Cancel up to 24 hours before."

    edit = proposal_create(workspace=workspace, kind=ProposalKind.DOCUMENT, title="Longer notice",
                           target_id=document.pk, payload={"title": "", "text": "Cancel up to 48 hours before."})
    assert edit.base == {"revision": 1, "text": "Cancel up to 24 hours before."}
    proposal_approve(proposal=edit, actor=admin)
    edit = proposal_apply(proposal=edit, actor=admin)
    assert edit.result["revision_number"] == 2
    proposal_rollback(proposal=edit, actor=admin)
    latest = document.revisions.order_by("-number").first()
    assert latest.number == 3 and bytes(latest.content) == b"Cancel up to 24 hours before."
    assert latest.restored_from.number == 1


def test_only_admins_of_the_workspace_decide_and_apply(workspace, admin, setter, other_workspace):
    proposal = prompt_proposal(workspace)
    other_admin = AdminMembershipFactory(workspace=other_workspace).user
    for actor in (setter, other_admin):
        with pytest.raises(PermissionDenied):
            proposal_approve(proposal=proposal, actor=actor)
    proposal_approve(proposal=proposal, actor=admin)
    for actor in (setter, other_admin):
        with pytest.raises(PermissionDenied):
            proposal_apply(proposal=proposal, actor=actor)
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.APPROVED and not ChangeSet.objects.exists()


@override_settings(SUPERADMIN_EMAILS=[SUPER])
def test_a_super_admin_applies_anywhere_and_fans_out_each_apply_audited(workspace, admin):
    root = UserFactory(email=SUPER)
    proposal = prompt_proposal(workspace)
    proposal_approve(proposal=proposal, actor=admin)
    proposal_apply(proposal=proposal, actor=root)  # no membership here: super-admins act everywhere
    first, second = WorkspaceFactory(), WorkspaceFactory()
    prompt(second, root, "You are the booking assistant.\n\nAlways offer two times.")  # already has it

    with pytest.raises(PermissionDenied):
        proposal_fan_out(proposal=proposal, actor=admin, workspaces=[first])
    outcomes = proposal_fan_out(proposal=proposal, actor=root, workspaces=[first, second, workspace])
    assert [(o["workspace"], o["error"] == "") for o in outcomes] == [(first, True), (second, False)]
    copy = Proposal.objects.get(workspace=first)
    assert copy.status == ProposalStatus.APPLIED and copy.source == ProposalSource.FAN_OUT and copy.origin == proposal
    assert copy.decided_by == root and copy.applied_by == root
    assert current_prompt(first) == "You are the booking assistant.\n\nAlways offer two times."
    assert verbs(first) == ["proposals.applied"]
    # The origin's audit log counts the copies without naming other tenants; the detailed event has no workspace.
    counted = AuditEvent.objects.get(verb="proposals.fanned_out", workspace=workspace)
    assert counted.actor == root and (counted.data["applied"], counted.data["failed"]) == (1, 1)
    assert first.slug not in str(counted.data) and second.slug not in str(counted.data)
    detailed = AuditEvent.objects.get(verb="proposals.fanned_out", workspace=None)
    assert [w["slug"] for w in detailed.data["workspaces"]] == [first.slug, second.slug]
    assert "already the current text" in detailed.data["workspaces"][1]["error"]
    # Nothing in the copy names the workspace it came from.
    assert workspace.slug not in str(copy.evidence) + copy.decision_note
    assert workspace.name not in copy.decision_note


@override_settings(SUPERADMIN_EMAILS=[SUPER])
def test_an_edit_of_one_workspace_entry_and_an_undecided_proposal_do_not_fan_out(workspace, admin):
    root = UserFactory(email=SUPER)
    faq = knowledge_services.faq_create(workspace=workspace, question="Price?", answer="50", actor=admin)
    edit = proposal_create(workspace=workspace, kind=ProposalKind.FAQ, title="Price", target_id=faq.pk,
                           payload={"question": "Price?", "answer": "60"})
    with pytest.raises(ProposalStateError):
        proposal_fan_out(proposal=edit, actor=root, workspaces=[WorkspaceFactory()])
    proposal_approve(proposal=edit, actor=admin)
    with pytest.raises(ProposalError, match="cannot be fanned out"):
        proposal_fan_out(proposal=edit, actor=root, workspaces=[WorkspaceFactory()])
