"""A proposal compared against the current version on held-out cases (evals.pairwise), its result shown
with the proposal's evidence."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import AuditEvent
from accounts.tests.factories import MembershipFactory
from conftest import queued_tasks
from evals import proposals
from evals.models import CandidateKind, EvalStatus, PairwiseRun, ProposalKind
from evals.pairwise import pairwise_run_execute
from evals.tests.test_pairwise import CANDIDATE_PROMPT, cases, judge_with, prefers_candidate  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def admin(cases):  # noqa: F811 (the fixture imported above)
    return MembershipFactory(workspace=cases.workspace, role="admin").user


def _proposal(workspace, kind=ProposalKind.PROMPT, **payload):
    payload = payload or {"text": CANDIDATE_PROMPT}
    return proposals.proposal_create(workspace=workspace, kind=kind, title="Offer two slots", payload=payload)


def test_compare_queues_the_proposal_text_and_the_detail_shows_the_result(cases, admin, fake_llm, client):  # noqa: F811
    proposal = _proposal(cases.workspace)
    run = proposals.proposal_compare(proposal=proposal, actor=admin)
    assert (run.kind, run.candidate_prompt, run.eval_run_id) == (CandidateKind.PROMPT, CANDIDATE_PROMPT, cases.pk)
    assert ("evals.tasks.pairwise_run_execute", f"({run.pk},)") in queued_tasks("llm")
    proposal.refresh_from_db()
    assert proposal.evidence["pairwise"] == {"run_id": run.pk}
    assert AuditEvent.objects.filter(verb="proposals.compared", workspace=cases.workspace).count() == 1

    fake_llm.handler = judge_with(prefers_candidate)
    pairwise_run_execute(run=run)
    client.force_login(admin)
    page = client.get(reverse("evals:proposal", args=[cases.workspace.slug, proposal.pk])).content.decode()
    assert "wins / ties / losses 6 / 0 / 0" in page
    assert "candidate better" in page


def test_an_faq_proposal_is_compared_as_a_knowledge_candidate(cases, admin):  # noqa: F811
    proposal = _proposal(cases.workspace, kind=ProposalKind.FAQ, question="Open on Sundays?", answer="Yes, 10-14.")
    run = proposals.proposal_compare(proposal=proposal, actor=admin)
    assert (run.kind, run.candidate_question, run.candidate_answer) == (CandidateKind.KNOWLEDGE, "Open on Sundays?",
                                                                        "Yes, 10-14.")
    assert run.status == EvalStatus.RUNNING


def test_compare_is_refused_with_the_reason(cases, admin):  # noqa: F811
    document = _proposal(cases.workspace, kind=ProposalKind.DOCUMENT, title="Hours", text="Open daily.")
    with pytest.raises(proposals.ProposalError, match="text document"):
        proposals.proposal_compare(proposal=document, actor=admin)
    rejected = _proposal(cases.workspace)
    proposals.proposal_reject(proposal=rejected, actor=admin, note="No")
    with pytest.raises(proposals.ProposalStateError, match="rejected"):
        proposals.proposal_compare(proposal=rejected, actor=admin)
    setter = MembershipFactory(workspace=cases.workspace, role="setter").user
    with pytest.raises(Exception, match="admins"):
        proposals.proposal_compare(proposal=_proposal(cases.workspace), actor=setter)
    assert PairwiseRun.objects.count() == 0


def test_no_eval_run_with_held_out_cases_says_so(admin, cases):  # noqa: F811
    cases.cases.all().delete()
    with pytest.raises(proposals.ProposalError, match="held-out"):
        proposals.proposal_compare(proposal=_proposal(cases.workspace), actor=admin)
    assert PairwiseRun.objects.count() == 0
