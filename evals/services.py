"""Eval runs: build the cases of a done report, show the estimated cost, score them with the judge
concurrently within a token budget, then measure the judge against the outcomes.

    run = eval_run_prepare(workspace=ws, report=report, budget_tokens=100_000)   # cases + estimate
    eval_run_score(run=run)                                                      # judge, AUC

Call outside a transaction: the run's progress is committed as it goes, and the gateway's quota
reservations must commit before each slow call. The judge calls run in a thread pool sized for the
provider (`workers_for`), each thread with its own database connection for the run (`pool_completed`);
every row of this app is written by the calling thread, results in batches.

Budget: before each call, the tokens already used plus those reserved by calls in flight plus this
call's estimate (`judge.judge_estimate`, an upper bound) must fit the budget, else the run stops
(stop_reason "budget"). The gateway's QuotaExceeded stops it the same way ("quota"). Cases scored
before the stop keep their scores and count in the metrics.

Quota: the run reserves its whole estimate (capped at the budget) with the gateway once
(`llm_batch_reserve`); the calls draw from it in memory and their usage rows are written with the
results, so a call does no database write of its own. When the quota cannot hold the whole run, the
calls reserve one by one as usual and the run stops when the quota runs out.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from evals import judge
from evals.cases import cases_build, cases_collect
from evals.models import EvalCase, EvalRun, EvalStatus, PairwiseRun, Split, StopReason
from evals.stats import auc_with_interval
from insights.models import Report, ReportStatus
from integrations.llm.batch import LLMBatch, llm_batch_reserve
from integrations.llm.errors import LLMError, NoProviderConfigured, QuotaExceeded
from integrations.llm.gateway import llm_complete
from integrations.llm.models import ProviderKind
from integrations.llm.pricing import estimate_cost
from integrations.llm.selectors import llm_provider_for

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 0.5  # results are written in one transaction at most this often (see pool_completed)
STAGGER_SECONDS = 0.02  # the pool's first calls start this far apart (see pool_completed)
WORKERS = 8  # concurrent judge calls on a hosted API
# Concurrent calls per provider kind. Hosted APIs take 8 at once well within their lowest paid tiers
# (about 500 requests a minute at a few seconds a call); a 429 beyond that is retried by the gateway
# with the provider's Retry-After. A self-hosted server (Ollama, a compatible one) usually runs one
# model on one GPU: more than two calls in flight only queue there and hit the client's timeout.
CONCURRENCY = {ProviderKind.OLLAMA: 2, ProviderKind.OPENAI_COMPATIBLE: 2}


def workers_for(provider) -> int:
    return CONCURRENCY.get(provider.kind, WORKERS) if provider is not None else 1
STALE_AFTER = timedelta(hours=2)  # the scoring task's time limit is one hour
BATCH_TTL = timedelta(hours=1)  # the scoring task's time limit: a dead run's reservation lapses after it
DEFAULT_BUDGET_TOKENS = 200_000


class EvalInputError(ValueError):
    pass


def _estimate(*, provider, cases: list[EvalCase]) -> tuple[int, Decimal]:
    """(tokens, USD) if every case is judged: input estimates plus the full output allowance."""
    inputs = sum(judge.judge_estimate(context=c.context, sent_text=c.sent_text) - judge.MAX_TOKENS for c in cases)
    outputs = judge.MAX_TOKENS * len(cases)
    cost = (estimate_cost(kind=provider.kind, model=provider.model, input_tokens=inputs, output_tokens=outputs)
            if provider else Decimal(0))
    return inputs + outputs, cost


def _report_to_evaluate(*, workspace, report: Report | None) -> Report:
    if report is None:
        report = Report.objects.filter(workspace=workspace, status=ReportStatus.DONE).first()
        if report is None:
            raise EvalInputError("this workspace has no done report to evaluate")
    elif report.workspace_id != workspace.pk or report.status != ReportStatus.DONE:
        raise EvalInputError("the report is not a done report of this workspace")
    return report


def eval_run_estimate(*, workspace, report: Report | None = None) -> dict:
    """What a run would cost at most, before anything is stored or judged: {"report", "cases", "tokens",
    "cost_usd", "judge_model"} (the page shows it before an admin starts a run)."""
    report = _report_to_evaluate(workspace=workspace, report=report)
    provider = llm_provider_for(workspace=workspace)
    cases = cases_collect(workspace=workspace, report=report)
    tokens, cost = _estimate(provider=provider, cases=cases)
    return {"report": report, "cases": len(cases), "tokens": tokens, "cost_usd": cost,
            "judge_model": provider.model if provider else ""}


def eval_run_prepare(*, workspace, report: Report | None = None, budget_tokens: int = DEFAULT_BUDGET_TOKENS,
                     requested_by=None) -> EvalRun:
    """Create a running EvalRun with its cases and its estimated tokens and cost (nothing is judged yet).
    `report`: a done report of this workspace, by default the latest one."""
    if budget_tokens <= 0:
        raise EvalInputError("the token budget must be positive")
    report = _report_to_evaluate(workspace=workspace, report=report)
    provider = llm_provider_for(workspace=workspace)
    temperature = None if provider is None or provider.kind == ProviderKind.ANTHROPIC else judge.TEMPERATURE
    run = EvalRun.objects.create(
        workspace=workspace, report=report, budget_tokens=budget_tokens, requested_by=requested_by,
        judge_model=provider.model if provider else "", judge_prompt_version=judge.PROMPT_VERSION,
        # Anthropic's current API takes no sampling parameters: no temperature is sent there.
        judge_parameters={"temperature": temperature, "max_tokens": judge.MAX_TOKENS,
                          "workers": workers_for(provider)})
    cases = cases_build(run=run, report=report)
    tokens, cost = _estimate(provider=provider, cases=cases)
    EvalRun.objects.filter(pk=run.pk).update(estimated_tokens=tokens, estimated_cost_usd=cost)
    run.estimated_tokens, run.estimated_cost_usd = tokens, cost
    return run


class TokenBudget:
    """Tokens used and reserved by calls in flight, shared by the pool's threads."""

    def __init__(self, limit: int):
        self.limit, self.used, self.reserved = limit, 0, 0
        self.stop_reason = ""
        self._lock = threading.Lock()

    def reserve(self, estimate: int) -> bool:
        with self._lock:
            if self.stop_reason:
                return False
            if self.used + self.reserved + estimate > self.limit:
                self.stop_reason = StopReason.BUDGET
                return False
            self.reserved += estimate
            return True

    def settle(self, estimate: int, spent: int) -> None:
        with self._lock:
            self.reserved -= estimate
            self.used += spent

    def stop(self, reason: str) -> None:
        with self._lock:
            self.stop_reason = self.stop_reason or reason


def _judge_one(*, run: EvalRun, case: EvalCase, provider, budget: TokenBudget,
               batch: LLMBatch | None = None) -> dict | None:
    """In a pool thread: one judgement, or None when the run stopped before it."""
    estimate = judge.judge_estimate(context=case.context, sent_text=case.sent_text)
    if not budget.reserve(estimate):
        return None
    spent = 0
    try:
        result = llm_complete(workspace=run.workspace, purpose=judge.PURPOSE, system=judge.SYSTEM,
                              messages=judge.judge_messages(context=case.context, sent_text=case.sent_text),
                              schema=judge.SCHEMA, schema_name="grade_message", provider=provider,
                              max_tokens=judge.MAX_TOKENS, temperature=run.judge_parameters.get("temperature"),
                              batch=batch)
        spent = result.input_tokens + result.output_tokens
        return {"score": result.parsed, "tokens": spent, "error": ""}
    except QuotaExceeded:
        budget.stop(StopReason.QUOTA)
        return None
    except LLMError as exc:  # this case failed (bad output, provider error): the others go on
        result = getattr(exc, "result", None)
        spent = (result.input_tokens + result.output_tokens) if result is not None else 0
        return {"score": None, "tokens": spent, "error": f"{exc.kind}: {exc.message}"[:300]}
    finally:
        budget.settle(estimate, spent)


def _batch_reserve(*, run: EvalRun, provider, cases: list[EvalCase], limit: int) -> LLMBatch | None:
    """The run's quota reservation for every case it may judge (at most the budget), or None when the
    quota cannot hold it whole (then each call reserves on its own and the run stops at the quota)."""
    tokens = min(sum(judge.judge_estimate(context=c.context, sent_text=c.sent_text) for c in cases), limit)
    if tokens <= 0:
        return None
    try:
        return llm_batch_reserve(workspace=run.workspace, purpose=judge.PURPOSE, tokens=tokens, ttl=BATCH_TTL,
                                 provider=provider)
    except QuotaExceeded:
        return None


def pool_completed(*, items: list, call, workers: int, name: str, flush_seconds: float = FLUSH_SECONDS,
                   stagger: float = STAGGER_SECONDS):
    """Run `call(item)` for each item in a pool of `workers` threads and yield, in the calling thread,
    batches of (item, result) as they complete: at most one batch per `flush_seconds` (and the rest
    at the end), so the caller writes many results in one transaction, not one commit per case.

    Each pool thread keeps its own database connection for the whole run (opening one per call cost
    more than the call's own queries); they are closed at the end, one closing task per thread (each
    waits at a barrier until all have started, so no thread takes two).

    The first `workers` calls start `stagger` seconds apart. Started together, calls that take about
    the same time (one model, similar prompts) stay in step: every round their answers arrive at once
    and their Python work (SDK, parsing, the gateway) queues for the one interpreter lock, the last of
    them waiting for all the others. A few milliseconds apart they do not collide. Measured with
    bench/evals.py on a quiet machine (1 s judge, 8 workers, 3 runs each): overhead per case in its
    thread p95 12-17 ms instead of 22-37 ms, amortised 16.7-17.8 ms instead of 18.7-42.7 ms, the
    ramp's (workers - 1) x stagger = 0.14 s included; 10 ms apart was not enough."""
    futures: dict = {}

    def staggered(call, item, wait):
        time.sleep(wait)
        return call(item)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name) as pool:
        try:
            futures = {(pool.submit(staggered, call, item, i * stagger) if 0 < i < workers else pool.submit(call, item)):
                       item for i, item in enumerate(items)}
            batch, flushed = [], time.monotonic()
            for future in as_completed(futures):
                batch.append((futures[future], future.result()))
                if time.monotonic() - flushed >= flush_seconds:
                    yield batch
                    batch, flushed = [], time.monotonic()
            if batch:
                yield batch
        finally:
            for future in futures:
                future.cancel()
            barrier = threading.Barrier(workers)

            def close():
                try:
                    barrier.wait(timeout=30)
                except threading.BrokenBarrierError:  # a thread still busy: its connection closes with it
                    pass
                connection.close()

            for future in [pool.submit(close) for _ in range(workers)]:
                future.result()


def eval_run_metrics(*, run: EvalRun) -> dict:
    """Counts, the judge's AUC against the outcomes (all scored cases, and each split apart: a proposal
    is judged on the held-out people) and the mean of each criterion by outcome."""
    rows = list(EvalCase.objects.filter(run=run).values_list("outcome", "split", "overall", "score", "error"))
    scored = [(outcome, split, overall, score) for outcome, split, overall, score, _error in rows
              if overall is not None]

    def auc(cases):
        return auc_with_interval(booked=[c[2] for c in cases if c[0] == "booked"],
                                 not_booked=[c[2] for c in cases if c[0] == "not_booked"])

    def means(outcome):
        scores = [c[3] for c in scored if c[0] == outcome]
        return {name: round(sum(s[name] for s in scores) / len(scores), 2) if scores else None
                for name in [*judge.CRITERIA, "overall"]}

    overall = auc(scored)
    return {"cases": len(rows), "scored": len(scored), "failed": sum(1 for row in rows if row[4]),
            "auc": overall, "verdict": overall["verdict"],
            "by_split": {split: auc([c for c in scored if c[1] == split]) for split in Split.values},
            "criteria_means": {"booked": means("booked"), "not_booked": means("not_booked")}}


def eval_run_score(*, run: EvalRun, workers: int | None = None) -> EvalRun:
    """Judge the run's unscored cases, then store the metrics and finish the run (done, or stopped with
    its reason). Any unexpected error marks the run failed and is raised again."""
    try:
        provider = llm_provider_for(workspace=run.workspace)
        if provider is None:
            raise NoProviderConfigured(run.workspace)
        workers = workers or workers_for(provider)
        run.workspace  # noqa: B018 (loaded here: the pool's threads only read it)
        cases = list(EvalCase.objects.filter(run=run, overall__isnull=True, error=""))
        budget = TokenBudget(run.budget_tokens - run.tokens_used)
        total, done = len(cases), 0
        reservation = _batch_reserve(run=run, provider=provider, cases=cases, limit=budget.limit)

        def call(case):
            return _judge_one(run=run, case=case, provider=provider, budget=budget, batch=reservation)

        try:
            for batch in pool_completed(items=cases, call=call, workers=workers, name=f"eval-{run.pk}"):
                with transaction.atomic():
                    for case, outcome in batch:
                        if outcome is None:  # skipped after the stop
                            continue
                        done += 1
                        score = outcome["score"]
                        EvalCase.objects.filter(pk=case.pk).update(
                            score=score, overall=score["overall"] if score else None, tokens=outcome["tokens"],
                            error=outcome["error"])
                    EvalRun.objects.filter(pk=run.pk).update(tokens_used=run.tokens_used + budget.used,
                                                             progress=done * 100 // max(total, 1))
                if reservation is not None:
                    reservation.flush()  # the calls' usage rows, as often as the results
        finally:
            if reservation is not None:  # also on a crash or a cancel: the rest of the rows, the unused part
                reservation.release()
        stop_reason = budget.stop_reason
        status = EvalStatus.STOPPED if stop_reason else EvalStatus.DONE
        run.tokens_used += budget.used
        run.progress = done * 100 // max(total, 1)
        _finish(run, status=status, stop_reason=stop_reason)
    except NoProviderConfigured:
        _finish(run, status=EvalStatus.STOPPED, stop_reason=StopReason.NO_PROVIDER)
    except Exception as exc:
        logger.exception("eval run %s failed", run.pk)
        # What the loop stored so far (tokens, progress) stands: re-read it before finishing.
        run.tokens_used, run.progress = EvalRun.objects.filter(pk=run.pk).values_list(
            "tokens_used", "progress").get()
        _finish(run, status=EvalStatus.FAILED, stop_reason=StopReason.ERROR,
               error=f"{type(exc).__name__}: {exc}"[:500])
        raise
    return run


def _finish(run: EvalRun, *, status: str, stop_reason: str, error: str = "") -> None:
    run.metrics = eval_run_metrics(run=run)
    run.status, run.stop_reason, run.error, run.finished_at = status, stop_reason, error, timezone.now()
    if status == EvalStatus.DONE:
        run.progress = 100
    run.save(update_fields=["metrics", "status", "stop_reason", "error", "finished_at", "tokens_used", "progress"])


def eval_run(*, workspace, report: Report | None = None, budget_tokens: int = DEFAULT_BUDGET_TOKENS,
             requested_by=None, workers: int | None = None) -> EvalRun:
    run = eval_run_prepare(workspace=workspace, report=report, budget_tokens=budget_tokens,
                           requested_by=requested_by)
    return eval_run_score(run=run, workers=workers)


def eval_run_request(*, workspace, report: Report | None = None, budget_tokens: int = DEFAULT_BUDGET_TOKENS,
                     requested_by=None) -> EvalRun:
    """Prepare a run (cases, estimate) and queue its scoring on the `llm` queue (evals.tasks)."""
    from evals import tasks  # the task calls back into this module

    run = eval_run_prepare(workspace=workspace, report=report, budget_tokens=budget_tokens,
                           requested_by=requested_by)
    transaction.on_commit(lambda: tasks.eval_run_score.delay(run.pk))
    return run


def eval_runs_fail_stale(*, now=None) -> int:
    """Mark failed the runs (eval and pairwise) still running long after any run ends (their worker
    died); their finished cases stay. Returns the count."""
    now = now or timezone.now()
    return sum(model.objects.filter(status=EvalStatus.RUNNING, created_at__lt=now - STALE_AFTER).update(
        status=EvalStatus.FAILED, stop_reason=StopReason.ERROR, finished_at=now,
        error="The run stopped before it finished (worker lost).") for model in (EvalRun, PairwiseRun))
