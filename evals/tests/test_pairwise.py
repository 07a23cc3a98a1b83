"""Pairwise comparisons with a scripted fake LLM at the HTTP boundary: held-out cases re-drafted by the
real drafting pipeline in dry-run mode (current vs candidate), judged in both orders."""

from __future__ import annotations

import pytest

from conftest import queued_tasks
from contacts.models import Contact, LeadMemory
from conversations.models import Escalation, Message, ReplyDraft, SidekickActionLog, Thread
from conversations.tests.factories import InboundMessageFactory
from conversations.tests.pipeline_fixtures import draft_reply, review
from evals.models import CandidateKind, EvalCase, EvalStatus, PairResult, PairwiseCase, Split, StopReason
from evals.pairwise import pair_result, pairwise_run_execute, pairwise_run_prepare
from evals.services import EvalInputError, eval_run_prepare
from evals.stats import BETTER, NO_CLEAR_DIFFERENCE, pairwise_summary
from insights import services as insights
from insights.tests.scenario import DAY, T0, Scene
from integrations.llm.models import LLMQuotaPolicy
from integrations.models import SandboxSend
from knowledge.models import FaqEntry

pytestmark = pytest.mark.django_db(transaction=True)

CASES = 6
CANDIDATE_PROMPT = "Always offer two concrete time slots. MARK-CANDIDATE"
FAQ_QUESTION, FAQ_ANSWER = "Do you open on Sundays?", "Yes, Sundays 10:00 to 14:00. MARK-FAQ"


@pytest.fixture
def cases(workspace, fake_llm, sandbox_graph):
    """An eval run whose cases are all held out: each a customer's question, then the message sent."""
    fake_llm.provider(workspace, kind="openai")
    scene = Scene(workspace)
    for i in range(CASES):
        contact = scene.contact()
        contact.display_name = f"Zelda{i} Reyes"
        contact.save(update_fields=["display_name"])
        thread = scene.thread(contact)
        InboundMessageFactory(thread=thread, sent_at=T0 + DAY - DAY / 4,
                              text=f"Hi, I'm Zelda{i}. Can I book a visit on Friday afternoon?")
        scene.out(contact, T0 + DAY)
        if i % 2 == 0:
            scene.booking(contact, T0 + 2 * DAY)
    report = insights.report_run(workspace=workspace, start=T0, end=T0 + 7 * DAY, as_of=T0 + 30 * DAY)
    run = eval_run_prepare(workspace=workspace, report=report, budget_tokens=100_000)
    EvalCase.objects.filter(run=run).update(split=Split.HELD_OUT)  # the split itself is tested in test_evals
    return run


def drafting(request):
    """The drafting model and the reviewer: the reply says which version drafted it."""
    if request.schema_name == "respond":
        marked = "MARK-CANDIDATE" in request.system or "MARK-FAQ" in request.system
        return draft_reply(reply=("Candidate" if marked else "Current") + " reply: yes, we have slots on Friday "
                           "afternoon. Would 3pm suit you?",
                           memory_writes=[{"kind": "preference", "text": "Prefers Friday afternoons"}])
    if request.schema_name == "review":
        return review()
    return None


def judge_with(pick):
    """A fake LLM whose pairwise judge answers pick(reply_a, reply_b)."""
    def handler(request):
        if request.schema_name == "compare_replies":
            text = request.last_user_text
            a = text.split("<reply_a>")[1].split("</reply_a>")[0]
            b = text.split("<reply_b>")[1].split("</reply_b>")[0]
            return {"better": pick(a, b), "reason": "scripted"}
        return drafting(request)
    return handler


def always_first(a, b):
    return "A"


def prefers_candidate(a, b):
    return "A" if "Candidate" in a else "B"


def comparisons(fake_llm):
    return [r for r in fake_llm.requests if r.schema_name == "compare_replies"]


def test_a_judge_that_always_prefers_the_first_position_yields_only_ties(cases, fake_llm):
    fake_llm.handler = judge_with(always_first)
    run = pairwise_run_prepare(workspace=cases.workspace, kind=CandidateKind.PROMPT, candidate_prompt=CANDIDATE_PROMPT)
    run = pairwise_run_execute(run=run)
    assert run.status == EvalStatus.DONE
    assert run.metrics["n"] == CASES and run.metrics["ties"] == CASES
    assert run.metrics["wins"] == run.metrics["losses"] == 0
    assert run.metrics["position_consistency"]["value"] == 0.0
    assert run.metrics["verdict"] == "not enough data"
    assert len(comparisons(fake_llm)) == 2 * CASES  # both orders of every case
    pair = PairwiseCase.objects.filter(run=run).first()
    assert (pair.first_order, pair.second_order, pair.consistent) == ("current", "candidate", False)


def test_a_candidate_preferred_in_both_orders_wins_with_its_interval(cases, fake_llm):
    fake_llm.handler = judge_with(prefers_candidate)
    run = pairwise_run_execute(run=pairwise_run_prepare(workspace=cases.workspace, kind=CandidateKind.PROMPT,
                                                        candidate_prompt=CANDIDATE_PROMPT))
    assert (run.metrics["wins"], run.metrics["ties"], run.metrics["losses"]) == (CASES, 0, 0)
    assert run.metrics["position_consistency"]["value"] == 1.0
    share = run.metrics["win_share"]
    assert share["value"] == 1.0 and 0.5 < share["low"] < 1.0 and share["high"] == 1.0
    assert run.metrics["verdict"] == BETTER
    pair = PairwiseCase.objects.filter(run=run).first()
    # Stored redacted, as the cases are: the contact's name never appears.
    assert pair.candidate_text.startswith("Candidate reply") and pair.current_text.startswith("Current reply")
    # The judge saw the conversation redacted.
    assert all("Zelda" not in r.last_user_text for r in comparisons(fake_llm))


def test_a_knowledge_candidate_is_among_the_sources_of_the_candidate_draft_only(cases, fake_llm):
    stored = FaqEntry.objects.create(workspace=cases.workspace, question="Sundays?", answer="Closed on Sundays.")
    fake_llm.handler = judge_with(prefers_candidate)
    run = pairwise_run_prepare(workspace=cases.workspace, kind=CandidateKind.KNOWLEDGE,
                               candidate_question=FAQ_QUESTION, candidate_answer=FAQ_ANSWER,
                               replaces_faq_id=stored.pk)
    run = pairwise_run_execute(run=run)
    drafts = [r for r in fake_llm.requests if r.schema_name == "respond"]
    with_faq = [r for r in drafts if "MARK-FAQ" in r.system]
    assert len(drafts) == 2 * CASES and len(with_faq) == CASES
    assert all(f"Q: {FAQ_QUESTION}" in r.system for r in with_faq)
    assert run.metrics["wins"] == CASES
    assert not FaqEntry.objects.filter(question=FAQ_QUESTION).exists()  # nothing written to the knowledge base


def test_the_losing_candidate_loses(cases, fake_llm):
    fake_llm.handler = judge_with(lambda a, b: "A" if "Current" in a else "B")
    run = pairwise_run_execute(run=pairwise_run_prepare(workspace=cases.workspace, kind=CandidateKind.PROMPT,
                                                        candidate_prompt=CANDIDATE_PROMPT))
    assert run.metrics["losses"] == CASES and run.metrics["verdict"] == "candidate worse"
    assert set(PairwiseCase.objects.filter(run=run).values_list("result", flat=True)) == {PairResult.LOSS}


def _visible_rows(workspace) -> dict:
    """Every row a user could see, with the fields a write would change."""
    return {
        "messages": list(Message.objects.filter(workspace=workspace).order_by("pk").values()),
        "drafts": ReplyDraft.objects.count(),
        "escalations": Escalation.objects.count(),
        "lead_memory": LeadMemory.objects.count(),
        "contacts": list(Contact.objects.filter(workspace=workspace).order_by("pk").values()),
        "threads": list(Thread.objects.filter(workspace=workspace).order_by("pk").values()),
        "action_log": SidekickActionLog.objects.count(),
        "sandbox_sends": SandboxSend.objects.count(),
    }


def test_dry_run_drafting_changes_no_row_a_user_could_see_and_sends_nothing(cases, fake_llm):
    # The drafting model asks for a memory write and is confident enough to auto-send: the real pipeline
    # would store the memory, the draft, a log entry, and send.
    fake_llm.handler = judge_with(prefers_candidate)
    before = _visible_rows(cases.workspace)
    run = pairwise_run_execute(run=pairwise_run_prepare(workspace=cases.workspace, kind=CandidateKind.PROMPT,
                                                        candidate_prompt=CANDIDATE_PROMPT))
    assert run.metrics["wins"] == CASES  # the drafts really were made
    assert _visible_rows(cases.workspace) == before


def test_a_version_that_drafts_nothing_leaves_the_case_out(cases, fake_llm):
    def handler(request):
        if request.schema_name == "review" and "Candidate reply" in request.last_user_text:
            return review(verdict="veto", reasons=["Pushy."])
        return judge_with(prefers_candidate)(request)

    fake_llm.handler = handler
    run = pairwise_run_execute(run=pairwise_run_prepare(workspace=cases.workspace, kind=CandidateKind.PROMPT,
                                                        candidate_prompt=CANDIDATE_PROMPT))
    assert run.metrics["n"] == 0 and run.metrics["failed"] == CASES
    assert "candidate: reviewer_veto" in PairwiseCase.objects.filter(run=run).first().error
    assert not comparisons(fake_llm)


def test_the_budget_stops_the_run_and_keeps_what_was_compared(cases, fake_llm):
    fake_llm.handler = judge_with(prefers_candidate)
    run = pairwise_run_prepare(workspace=cases.workspace, kind=CandidateKind.PROMPT, candidate_prompt=CANDIDATE_PROMPT,
                               budget_tokens=30_000)  # one case's reservation fits, not two
    run = pairwise_run_execute(run=run, workers=1)
    assert run.status == EvalStatus.STOPPED and run.stop_reason == StopReason.BUDGET
    assert run.metrics["n"] == 1 and run.metrics["wins"] == 1 and 0 < run.tokens_used <= 30_000


def test_the_quota_stops_the_run(cases, fake_llm):
    fake_llm.handler = judge_with(prefers_candidate)
    LLMQuotaPolicy.objects.create(workspace=cases.workspace, workspace_daily=0)
    run = pairwise_run_execute(run=pairwise_run_prepare(workspace=cases.workspace, kind=CandidateKind.PROMPT,
                                                        candidate_prompt=CANDIDATE_PROMPT))
    assert run.status == EvalStatus.STOPPED and run.stop_reason == StopReason.QUOTA


def test_prepare_refuses_an_empty_candidate_or_another_workspaces_faq(cases, other_workspace):
    with pytest.raises(EvalInputError):
        pairwise_run_prepare(workspace=cases.workspace, kind=CandidateKind.PROMPT, candidate_prompt="  ")
    with pytest.raises(EvalInputError):
        pairwise_run_prepare(workspace=cases.workspace, kind=CandidateKind.KNOWLEDGE, candidate_question="Q?",
                             candidate_answer="")
    theirs = FaqEntry.objects.create(workspace=other_workspace, question="Sundays?", answer="Closed.")
    with pytest.raises(EvalInputError):
        pairwise_run_prepare(workspace=cases.workspace, kind=CandidateKind.KNOWLEDGE, candidate_question="Q?",
                             candidate_answer="A.", replaces_faq_id=theirs.pk)
    with pytest.raises(EvalInputError):  # the other workspace has no eval run
        pairwise_run_prepare(workspace=other_workspace, kind=CandidateKind.PROMPT, candidate_prompt="Hi")


def test_pair_results_and_summary():
    assert pair_result("candidate", "candidate") == (PairResult.WIN, True)
    assert pair_result("current", "current") == (PairResult.LOSS, True)
    assert pair_result("tie", "tie") == (PairResult.TIE, True)
    assert pair_result("current", "candidate") == (PairResult.TIE, False)
    summary = pairwise_summary(wins=6, ties=2, losses=4, consistent=10, judged=12)
    assert summary["verdict"] == NO_CLEAR_DIFFERENCE and summary["win_share"]["value"] == 0.6
    assert summary["position_consistency"]["value"] == round(10 / 12, 4)


def test_a_requested_comparison_is_queued_on_commit_and_the_task_runs_it(cases, fake_llm):
    from evals import pairwise, tasks

    run = pairwise.pairwise_run_request(workspace=cases.workspace, kind=CandidateKind.PROMPT,
                                        candidate_prompt=CANDIDATE_PROMPT)
    assert ("evals.tasks.pairwise_run_execute", f"({run.pk},)") in queued_tasks("llm")
    assert not fake_llm.requests
    fake_llm.handler = judge_with(prefers_candidate)
    tasks.pairwise_run_execute(run.pk)
    run.refresh_from_db()
    assert run.status == EvalStatus.DONE and run.metrics["wins"] == CASES
    tasks.pairwise_run_execute(run.pk)  # a duplicate copy finds it done and does nothing
    assert len(comparisons(fake_llm)) == 2 * CASES


def test_the_command_compares_a_prompt_file(cases, fake_llm, tmp_path):
    from io import StringIO

    from django.core.management import CommandError, call_command

    fake_llm.handler = judge_with(always_first)
    prompt = tmp_path / "candidate.txt"
    prompt.write_text(CANDIDATE_PROMPT)
    out = StringIO()
    call_command("evals_pairwise", "--workspace", cases.workspace.slug, "--prompt-file", str(prompt), stdout=out)
    text = out.getvalue()
    assert f"Wins 0, ties {CASES}, losses 0" in text and "No decided pair" in text
    assert f"Position consistency: 0.00 (0 of {CASES} pairs)" in text
    with pytest.raises(CommandError):
        call_command("evals_pairwise", "--workspace", cases.workspace.slug)  # no candidate
