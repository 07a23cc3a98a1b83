"""The Proposals and History pages: who sees what, who may act, and what the pages show."""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.urls import reverse

from accounts.models import AuditEvent
from accounts.tests.factories import AdminMembershipFactory, UserFactory, WorkspaceFactory
from conversations import services as conversation_services
from conversations.selectors import prompt_text_current
from evals.models import Proposal, ProposalKind, ProposalStatus
from evals.proposals import proposal_approve, proposal_create

pytestmark = pytest.mark.django_db

SUPER = "root@sidekick.example"
ACTIONS = ["proposal_approve", "proposal_reject", "proposal_apply", "proposal_rollback", "proposal_fan_out"]


@pytest.fixture
def proposal(workspace, admin):
    conversation_services.prompt_revision_create(workspace=workspace, text="Be brief.", actor=admin)
    return proposal_create(workspace=workspace, kind=ProposalKind.PROMPT, title="Offer two times",
                           payload={"text": "Be brief.\nOffer two times <b>now</b>."},
                           evidence={"report_id": None, "tokens": 1234,
                                     "cases": [{"id": 7, "outcome": "not_booked", "overall": 2, "reason": "vague"}]})


def url(name, workspace, proposal=None):
    args = [workspace.slug] + ([proposal.pk] if proposal is not None else [])
    return reverse(f"evals:{name}", args=args)


def test_a_setter_sees_proposals_and_history_but_cannot_act(client, workspace, setter, proposal):
    client.force_login(setter)
    listing = client.get(url("proposals", workspace))
    assert listing.status_code == 200 and b"Offer two times" in listing.content
    detail = client.get(url("proposal", workspace, proposal))
    assert detail.status_code == 200 and b"Approve" not in detail.content
    assert client.get(url("history", workspace)).status_code == 200
    for name in ACTIONS:
        assert client.post(url(name, workspace, proposal), {"note": "x"}).status_code == 403, name
    revision = prompt_text_current(workspace=workspace)[1]
    assert client.post(reverse("evals:history_restore", args=[workspace.slug, "prompt", revision.pk])).status_code == 403
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.PROPOSED and not AuditEvent.objects.filter(verb__startswith="proposals.")


def test_another_workspace_gets_404(client, workspace, other_workspace, proposal):
    outsider = AdminMembershipFactory(workspace=other_workspace).user
    client.force_login(outsider)
    assert client.get(url("proposal", workspace, proposal)).status_code == 404
    # Their own workspace's URL with this proposal's id: not found either (scoped by workspace).
    assert client.get(url("proposal", other_workspace, proposal)).status_code == 404
    assert client.post(url("proposal_approve", other_workspace, proposal)).status_code == 404
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.PROPOSED


def test_an_admin_approves_applies_and_rolls_back_from_the_page(client, workspace, admin, proposal):
    client.force_login(admin)
    detail = client.get(url("proposal", workspace, proposal))
    body = detail.content.decode()
    # The diff: lines as text, escaped (a prompt holding markup is shown, never rendered).
    assert '<span class="diff-add">+Offer two times &lt;b&gt;now&lt;/b&gt;.</span>' in body
    assert "case 7 · not_booked · overall 2/5" in body and "1234" in body

    response = client.post(url("proposal_approve", workspace, proposal), {"note": "Worth a try"}, follow=True)
    assert b"Approved." in response.content
    response = client.post(url("proposal_apply", workspace, proposal), follow=True)
    assert b"Applied as a new revision." in response.content
    assert prompt_text_current(workspace=workspace)[0] == "Be brief.\nOffer two times <b>now</b>."
    history = client.get(url("history", workspace) + "?kind=prompt").content.decode()
    assert f"Proposal {proposal.pk}</a>: Offer two times" in history
    response = client.post(url("proposal_apply", workspace, proposal), follow=True)
    assert b"already applied" in response.content  # shown, not a crash
    client.post(url("proposal_rollback", workspace, proposal))
    assert prompt_text_current(workspace=workspace)[0] == "Be brief."
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.ROLLED_BACK


def test_reject_needs_a_note_on_the_page(client, workspace, admin, proposal):
    client.force_login(admin)
    response = client.post(url("proposal_reject", workspace, proposal), {"note": ""}, follow=True)
    assert b"Say why it is rejected" in response.content
    client.post(url("proposal_reject", workspace, proposal), {"note": "Too pushy"})
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.REJECTED and proposal.decision_note == "Too pushy"


def test_history_filters_by_kind_and_restores_the_earliest(client, workspace, admin, proposal):
    from knowledge import services as knowledge_services

    knowledge_services.faq_create(workspace=workspace, question="Parking?", answer="Yes.", actor=admin)
    first = prompt_text_current(workspace=workspace)[1]
    conversation_services.prompt_revision_create(workspace=workspace, text="Second.", actor=admin)
    client.force_login(admin)
    faqs = client.get(url("history", workspace) + "?kind=faq", HTTP_HX_REQUEST="true").content.decode()
    assert "Parking?" in faqs and "System prompt" not in faqs and "<html" not in faqs  # the fragment only
    everything = client.get(url("history", workspace)).content.decode()
    assert "Parking?" in everything and "System prompt" in everything
    response = client.post(reverse("evals:history_restore", args=[workspace.slug, "prompt", first.pk]), follow=True)
    assert b"Prompt revision 1 restored as revision 3." in response.content
    assert prompt_text_current(workspace=workspace)[0] == "Be brief."
    assert client.post(reverse("evals:history_restore", args=[workspace.slug, "nope", first.pk])).status_code == 404
    other = WorkspaceFactory()
    foreign = conversation_services.prompt_revision_create(
        workspace=other, text="Theirs", actor=AdminMembershipFactory(workspace=other).user)
    restore_foreign = reverse("evals:history_restore", args=[workspace.slug, "prompt", foreign.pk])
    assert client.post(restore_foreign).status_code == 404  # another workspace's revision is not found
    assert prompt_text_current(workspace=other)[0] == "Theirs"


@override_settings(SUPERADMIN_EMAILS=[SUPER])
def test_a_super_admin_fans_out_from_the_page_and_an_admin_cannot(client, workspace, admin, proposal):
    proposal_approve(proposal=proposal, actor=admin)
    target = WorkspaceFactory(name="Second studio")
    client.force_login(admin)
    assert b"Fan out" not in client.get(url("proposal", workspace, proposal)).content
    assert client.post(url("proposal_fan_out", workspace, proposal), {"workspaces": [target.pk]}).status_code == 403
    root = UserFactory(email=SUPER)
    client.force_login(root)
    page = client.get(url("proposal", workspace, proposal))
    assert b"Second studio" in page.content
    response = client.post(url("proposal_fan_out", workspace, proposal), {"workspaces": [target.pk]}, follow=True)
    assert b"Second studio: applied." in response.content
    copy = Proposal.objects.get(workspace=target)
    assert copy.status == ProposalStatus.APPLIED and copy.origin_id == proposal.pk
    assert AuditEvent.objects.filter(verb="proposals.fanned_out", workspace=workspace, actor=root).exists()
    assert AuditEvent.objects.filter(verb="proposals.applied", workspace=target, actor=root).exists()
    # The target's own admin sees the copy, not who it came from.
    client.force_login(AdminMembershipFactory(workspace=target).user)
    page = client.get(url("proposal", target, copy)).content.decode()
    assert f"proposal {proposal.pk} of another workspace" in page
    assert workspace.name not in page and workspace.slug not in page
