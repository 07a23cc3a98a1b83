"""Pairwise comparison of a candidate against the current version, on the held-out cases of an eval run.

    run = pairwise_run_prepare(workspace=ws, kind="prompt", candidate_prompt="...", budget_tokens=300_000)
    pairwise_run_execute(run=run)

For each held-out case (people the proposal was not built from, `evals.cases.split_for`), the real
drafting pipeline re-drafts a reply to the customer's last message before the message actually sent,
in dry-run mode (`conversations.pipeline.draft.reply_draft_compute`: no row written, nothing sent, no
memory, contact or escalation change), once with the current prompt and knowledge and once with the
candidate: a prompt text in place of the current revision, or an FAQ entry (new, or an edit of a
stored one) put among the retrieved sources. Auto-send is off for the dry run: it only changes the
decision, not the draft, and spares the screening model's call.

The drafts are redacted the way the cases are (only redacted text is stored or shown to the judge).
The judge compares them in both orders (current first, then candidate first); the candidate wins a
case only when both orders prefer it, loses only when both prefer the current version, and ties
otherwise. A case where either version drafts nothing (the rules or the reviewer stopped it) has no
pair to compare: it is kept with its reason and counts in neither.

Call outside a transaction (as `evals.services.eval_run_score`): the cases run in a thread pool
(`services.pool_completed`, sized by `services.workers_for` the provider); every row is written by the
calling thread.
The budget covers drafting and judging (`_case_estimate`, an upper bound, reserved before each case).
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from conversations.models import Decision, Direction, Message
from conversations.pipeline.draft import reply_draft_compute
from conversations.selectors import sidekick_settings_for
from evals import judge
from evals.cases import redacted
from evals.models import (
    CandidateKind,
    EvalCase,
    EvalRun,
    EvalStatus,
    PairResult,
    PairwiseCase,
    PairwiseRun,
    Split,
    StopReason,
)
from evals.services import EvalInputError, TokenBudget, pool_completed, workers_for
from evals.stats import pairwise_summary
from integrations.llm.errors import LLMError, NoProviderConfigured, QuotaExceeded
from integrations.llm.gateway import llm_complete
from integrations.llm.selectors import llm_provider_for
from knowledge.chunking import faq_chunk
from knowledge.models import FaqEntry
from knowledge.selectors import RetrievedChunk

logger = logging.getLogger(__name__)

DEFAULT_BUDGET_TOKENS = 400_000
# Tokens one dry-run draft may take at most: the drafting call and the reviewer's (with one repair
# each), the workspace's prompt and five sources included. Generous on purpose: it only reserves.
DRAFT_TOKENS_ESTIMATE = 12_000
REPLY_CHARS = 2000  # the longest reply a channel takes (Messenger); the judge's estimate assumes it
CURRENT, CANDIDATE, TIE = "current", "candidate", "tie"


class _QuotaStop(Exception):
    pass


def pairwise_run_prepare(*, workspace, kind: str, candidate_prompt: str = "", candidate_question: str = "",
                         candidate_answer: str = "", replaces_faq_id: int | None = None,
                         eval_run: EvalRun | None = None, budget_tokens: int = DEFAULT_BUDGET_TOKENS,
                         requested_by=None) -> PairwiseRun:
    """A running PairwiseRun with one case per held-out case of `eval_run` (by default the workspace's
    latest run that has cases). Raises EvalInputError for an empty candidate, an FAQ entry of another
    workspace, or no eval run with held-out cases."""
    if budget_tokens <= 0:
        raise EvalInputError("the token budget must be positive")
    if kind == CandidateKind.PROMPT:
        if not candidate_prompt.strip():
            raise EvalInputError("the candidate prompt is empty")
        candidate_question = candidate_answer = ""
        replaces_faq_id = None
    elif kind == CandidateKind.KNOWLEDGE:
        if not candidate_question.strip() or not candidate_answer.strip():
            raise EvalInputError("the candidate FAQ entry needs a question and an answer")
        if replaces_faq_id is not None and not FaqEntry.objects.filter(workspace=workspace,
                                                                        pk=replaces_faq_id).exists():
            raise EvalInputError("the FAQ entry to replace is not one of this workspace's")
        candidate_prompt = ""
    else:
        raise EvalInputError(f"unknown candidate kind {kind!r}")
    if eval_run is None:
        eval_run = EvalRun.objects.filter(workspace=workspace, cases__split=Split.HELD_OUT).distinct().first()
    if eval_run is None or eval_run.workspace_id != workspace.pk:
        raise EvalInputError("this workspace has no eval run with held-out cases")
    held_out = list(EvalCase.objects.filter(run=eval_run, split=Split.HELD_OUT).values_list("pk", flat=True))
    if not held_out:
        raise EvalInputError("the eval run has no held-out cases")
    provider = llm_provider_for(workspace=workspace)
    run = PairwiseRun.objects.create(
        workspace=workspace, eval_run=eval_run, kind=kind, candidate_prompt=candidate_prompt,
        candidate_question=candidate_question, candidate_answer=candidate_answer, replaces_faq_id=replaces_faq_id,
        budget_tokens=budget_tokens, requested_by=requested_by, judge_model=provider.model if provider else "",
        judge_prompt_version=judge.PAIRWISE_PROMPT_VERSION)
    PairwiseCase.objects.bulk_create([PairwiseCase(run=run, case_id=pk) for pk in held_out])
    return run


def candidate_chunk(run: PairwiseRun) -> RetrievedChunk:
    """The candidate FAQ entry as an unsaved retrieved chunk, formatted as stored FAQ chunks are.
    Chunk id 0 is never a stored chunk's, so a citation of it cannot be taken for another chunk's."""
    text = faq_chunk(question=run.candidate_question, answer=run.candidate_answer).text
    return RetrievedChunk(chunk_id=0, text=text, score=1.0, lexical_rank=None, lexical_score=None, vector_rank=None,
                          vector_distance=None, source="faq", document_id=None, document_title="FAQ (candidate)",
                          revision_number=None, page=None, section="", faq_id=run.replaces_faq_id)


def _inbound_before(*, workspace_id: int, message_id: int) -> Message | None:
    """The customer's last message before the outbound message `message_id` (what the reply answered)."""
    sent = Message.objects.filter(workspace_id=workspace_id, pk=message_id).only("thread_id", "sent_at").first()
    if sent is None:
        return None
    earlier = (Message.objects.filter(workspace_id=workspace_id, thread_id=sent.thread_id, direction=Direction.IN,
                                      is_deleted=False, sent_at__lte=sent.sent_at)
               .exclude(pk=sent.pk).select_related("thread__workspace", "thread__contact", "thread__channel"))
    return earlier.order_by("-sent_at", "-pk").first()


def _dry_draft(*, message: Message, run: PairwiseRun, candidate: bool) -> tuple[str, str, int]:
    """(final text or "", why there is none, tokens) of one dry-run draft."""
    cfg = sidekick_settings_for(workspace=message.thread.workspace)
    cfg.auto_send = False  # never saved: the dry run only drafts (see the module doc)
    kwargs = {}
    if candidate and run.kind == CandidateKind.PROMPT:
        kwargs["prompt_text"] = run.candidate_prompt
    elif candidate:
        kwargs["extra_sources"] = [candidate_chunk(run)]
    result = reply_draft_compute(message=message, cfg=cfg, at=message.sent_at, **kwargs)
    tokens = result.run.input_tokens + result.run.output_tokens
    if result.reason == "quota_exceeded":
        raise _QuotaStop(tokens)
    text = result.draft.final_text if result.decision not in (Decision.ESCALATED, Decision.BLOCKED) else ""
    return text or "", "" if text else (result.reason or result.decision), tokens


def _compare(*, run: PairwiseRun, case: EvalCase, provider, first: str, second: str) -> tuple[str, int]:
    """The judge on (A=first, B=second): "A", "B" or "tie", and the tokens spent."""
    result = llm_complete(workspace=run.workspace, purpose=judge.PAIRWISE_PURPOSE, system=judge.PAIRWISE_SYSTEM,
                          messages=judge.pairwise_messages(context=case.context, reply_a=first, reply_b=second),
                          schema=judge.PAIRWISE_SCHEMA, schema_name="compare_replies", provider=provider,
                          max_tokens=judge.PAIRWISE_MAX_TOKENS, temperature=judge.pairwise_temperature(provider))
    return result.parsed["better"], result.input_tokens + result.output_tokens


def _case_estimate(case: EvalCase) -> int:
    pad = " " * REPLY_CHARS
    return 2 * DRAFT_TOKENS_ESTIMATE + 2 * judge.pairwise_estimate(context=case.context, reply_a=pad, reply_b=pad)


def pair_result(first_order: str, second_order: str) -> tuple[str, bool]:
    """(result, consistent) from the version each order preferred."""
    consistent = first_order == second_order
    if consistent and first_order == CANDIDATE:
        return PairResult.WIN, True
    if consistent and first_order == CURRENT:
        return PairResult.LOSS, True
    return PairResult.TIE, consistent


def _pair_one(*, run: PairwiseRun, pair: PairwiseCase, provider, budget: TokenBudget) -> dict | None:
    """In a pool thread: re-draft one case both ways and compare; None when the run stopped before it."""
    case = pair.case
    estimate = _case_estimate(case)
    if not budget.reserve(estimate):
        return None
    spent = 0
    out = {"current_text": "", "candidate_text": "", "first_order": "", "second_order": "", "result": "",
           "consistent": None, "error": ""}
    try:
        message = _inbound_before(workspace_id=run.workspace_id, message_id=case.message_id)
        if message is None:
            out["error"] = "no customer message before the sent one (or it was erased)"
            return out
        name = message.thread.contact.display_name
        current, why_current, tokens = _dry_draft(message=message, run=run, candidate=False)
        spent += tokens
        candidate, why_candidate, tokens = _dry_draft(message=message, run=run, candidate=True)
        spent += tokens
        out["current_text"], out["candidate_text"] = redacted(current, name), redacted(candidate, name)
        if not current or not candidate:
            out["error"] = (f"no draft to compare (current: {why_current or 'drafted'}; "
                            f"candidate: {why_candidate or 'drafted'})")[:300]
            return out
        verdict, tokens = _compare(run=run, case=case, provider=provider, first=out["current_text"],
                                   second=out["candidate_text"])
        spent += tokens
        first = {"A": CURRENT, "B": CANDIDATE}.get(verdict, TIE)
        verdict, tokens = _compare(run=run, case=case, provider=provider, first=out["candidate_text"],
                                   second=out["current_text"])
        spent += tokens
        second = {"A": CANDIDATE, "B": CURRENT}.get(verdict, TIE)
        out["result"], out["consistent"] = pair_result(first, second)
        out["first_order"], out["second_order"] = first, second
        return out
    except (QuotaExceeded, _QuotaStop) as exc:
        if isinstance(exc, _QuotaStop):
            spent += exc.args[0]
        budget.stop(StopReason.QUOTA)
        return None
    except LLMError as exc:  # this case failed (bad output, provider error): the others go on
        result = getattr(exc, "result", None)
        spent += (result.input_tokens + result.output_tokens) if result is not None else 0
        out["error"] = f"{exc.kind}: {exc.message}"[:300]
        return out
    finally:
        out["tokens"] = spent
        budget.settle(estimate, spent)


def pairwise_run_metrics(*, run: PairwiseRun) -> dict:
    rows = list(PairwiseCase.objects.filter(run=run).values_list("result", "consistent", "error"))
    counts = {r: sum(1 for row in rows if row[0] == r) for r in PairResult.values}
    judged = [row for row in rows if row[0]]
    summary = pairwise_summary(wins=counts[PairResult.WIN], ties=counts[PairResult.TIE],
                               losses=counts[PairResult.LOSS], consistent=sum(1 for row in judged if row[1]),
                               judged=len(judged))
    return {**summary, "cases": len(rows), "failed": sum(1 for row in rows if row[2])}


def pairwise_run_execute(*, run: PairwiseRun, workers: int | None = None) -> PairwiseRun:
    """Re-draft and compare the run's pending cases, then store the metrics and finish the run (done, or
    stopped with its reason; the cases finished before a stop keep their results). An unexpected error
    marks the run failed and is raised again."""
    try:
        provider = llm_provider_for(workspace=run.workspace)
        if provider is None:
            raise NoProviderConfigured(run.workspace)
        workers = workers or workers_for(provider)
        pending = list(PairwiseCase.objects.filter(run=run, result="", error="").select_related("case"))
        budget = TokenBudget(run.budget_tokens - run.tokens_used)
        def call(pair):
            return _pair_one(run=run, pair=pair, provider=provider, budget=budget)

        for batch in pool_completed(items=pending, call=call, workers=workers, name=f"pairwise-{run.pk}"):
            with transaction.atomic():
                for pair, outcome in batch:
                    if outcome is not None:  # None: skipped after the stop
                        PairwiseCase.objects.filter(pk=pair.pk).update(**outcome)
                PairwiseRun.objects.filter(pk=run.pk).update(tokens_used=run.tokens_used + budget.used)
        run.tokens_used += budget.used
        _finish(run, status=EvalStatus.STOPPED if budget.stop_reason else EvalStatus.DONE,
                stop_reason=budget.stop_reason)
    except NoProviderConfigured:
        _finish(run, status=EvalStatus.STOPPED, stop_reason=StopReason.NO_PROVIDER)
    except Exception as exc:
        logger.exception("pairwise run %s failed", run.pk)
        run.tokens_used = PairwiseRun.objects.filter(pk=run.pk).values_list("tokens_used", flat=True).get()
        _finish(run, status=EvalStatus.FAILED, stop_reason=StopReason.ERROR, error=f"{type(exc).__name__}: {exc}"[:500])
        raise
    return run


def _finish(run: PairwiseRun, *, status: str, stop_reason: str, error: str = "") -> None:
    run.metrics = pairwise_run_metrics(run=run)
    run.status, run.stop_reason, run.error, run.finished_at = status, stop_reason, error, timezone.now()
    run.save(update_fields=["metrics", "status", "stop_reason", "error", "finished_at", "tokens_used"])


def pairwise_run_request(**kwargs) -> PairwiseRun:
    """`pairwise_run_prepare(**kwargs)`, then queue the comparison on the `llm` queue once committed
    (evals.tasks.pairwise_run_execute). For proposals and the page."""
    from evals import tasks  # the task calls back into this module

    run = pairwise_run_prepare(**kwargs)
    transaction.on_commit(lambda: tasks.pairwise_run_execute.delay(run.pk))
    return run
