"""Batch reservations (integrations.llm.batch): one reservation for many calls, drawn from in memory,
the calls' usage rows written in bulk. The quota guarantees of single calls must hold unchanged."""

import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from conftest import run_concurrently
from integrations.llm.batch import llm_batch_reserve
from integrations.llm.errors import LLMError, QuotaExceeded
from integrations.llm.gateway import estimate_input_tokens
from integrations.llm.models import LLMQuotaPolicy, LLMUsage
from integrations.llm.quotas import usage_totals
from integrations.tests.llm.quota_helpers import llm_call, usage_row
from testing.fake_llm import Reply

pytestmark = pytest.mark.django_db(transaction=True)

MAX_TOKENS = 1000
CALL_SIZE = estimate_input_tokens("s", [{"role": "user", "content": "hi"}], None) + MAX_TOKENS  # llm_call's


@pytest.fixture(autouse=True)
def _sql_and_python_agree(caplog):
    """The insert's own quota verdict must be the one quota_evaluate reaches (else the gateway logs it)."""
    yield
    assert not [r for r in caplog.get_records("call") if "mismatch" in r.getMessage()]


def reserve(workspace, tokens, **kwargs):
    return llm_batch_reserve(workspace=workspace, purpose="evals_judge", tokens=tokens,
                             ttl=kwargs.pop("ttl", timedelta(hours=1)), **kwargs)


def counted(workspace, user=None):
    return usage_totals(workspace=workspace, user=user)["workspace_day"]


@pytest.mark.parametrize("in_transaction", [False, True], ids=["one round trip", "session lock"])
def test_a_batch_that_would_exceed_a_limit_is_refused_up_front(fake_llm, llm_workspace, in_transaction):
    """A call may start while the usage is below the limit; a batch must fit whole."""
    fake_llm.provider(llm_workspace, kind="openai")
    LLMQuotaPolicy.objects.create(workspace=llm_workspace, workspace_daily=10_000)
    usage_row(llm_workspace, 6000)

    def attempt(tokens):
        if not in_transaction:
            return reserve(llm_workspace, tokens)
        with transaction.atomic():
            return reserve(llm_workspace, tokens)

    with pytest.raises(QuotaExceeded) as caught:
        attempt(4001)
    assert (caught.value.scope, caught.value.period, caught.value.limit) == ("workspace", "day", 10_000)
    if not in_transaction:  # (inside one, the caller's rollback takes the record with it, as for a call)
        refused = LLMUsage.objects.get(purpose="evals_judge")
        assert (refused.outcome, refused.input_tokens, refused.output_tokens) == ("quota_exceeded", 0, 0)
    assert counted(llm_workspace) == 6000 and not fake_llm.requests

    batch = attempt(4000)  # exactly fits
    assert counted(llm_workspace) == 10_000
    with pytest.raises(QuotaExceeded):
        llm_call(llm_workspace)  # the batch holds the rest of the day for itself
    batch.release()
    assert counted(llm_workspace) == 6000 and not LLMUsage.objects.filter(outcome="pending").exists()


def test_a_users_batch_counts_against_their_role_limit(fake_llm, llm_workspace, policy):
    fake_llm.provider(llm_workspace, kind="openai")
    setter = llm_workspace.setter_user
    with pytest.raises(QuotaExceeded) as caught:
        reserve(llm_workspace, 1001, user=setter)  # setter_daily is 1000
    assert (caught.value.scope, caught.value.role) == ("user", "setter")
    batch = reserve(llm_workspace, 1000, user=setter)
    with pytest.raises(ValueError, match="its own workspace and user"):
        llm_call(llm_workspace, batch=batch)  # system work cannot draw on a setter's batch
    batch.release()


def test_calls_draw_from_the_batch_and_their_rows_are_written_together(fake_llm, llm_workspace):
    fake_llm.provider(llm_workspace, kind="openai", max_tokens=MAX_TOKENS)
    fake_llm.handler = lambda request: Reply.text("ok", input_tokens=30, output_tokens=7)
    batch = reserve(llm_workspace, 5 * CALL_SIZE)
    table = LLMUsage._meta.db_table

    with CaptureQueriesContext(connection) as queries:
        results = [llm_call(llm_workspace, batch=batch) for _ in range(3)]
    assert not [q for q in queries.captured_queries if table in q["sql"] or "advisory" in q["sql"]]
    assert all(r.text == "ok" and r.usage_id is None for r in results)
    assert counted(llm_workspace) == 5 * CALL_SIZE  # still held whole: nothing settled yet

    with CaptureQueriesContext(connection) as queries:
        assert batch.flush() == 3
    writes = [q["sql"] for q in queries.captured_queries if table in q["sql"]]
    assert len(writes) == 2 and writes[0].startswith("INSERT") and writes[1].startswith("UPDATE")  # bulk, then size
    calls = LLMUsage.objects.filter(expires_at__isnull=True)
    assert [(u.outcome, u.input_tokens, u.output_tokens, u.purpose) for u in calls] == [("ok", 30, 7, "draft_reply")] * 3
    assert all(u.cost_usd > 0 and u.attempts == 1 and u.provider_kind == "openai" for u in calls)
    # The three calls' real tokens, and what the batch has not yet handed out.
    assert counted(llm_workspace) == 3 * 37 + 2 * CALL_SIZE

    llm_call(llm_workspace, batch=batch)
    batch.release()
    assert counted(llm_workspace) == 4 * 37
    assert LLMUsage.objects.count() == 4 and not LLMUsage.objects.filter(outcome="pending").exists()


def test_a_failed_call_leaves_its_row_and_releases_its_draw(fake_llm, llm_workspace, settings):
    settings.LLM_MAX_RETRIES = 0
    fake_llm.provider(llm_workspace, kind="openai", max_tokens=MAX_TOKENS)
    fake_llm.handler = lambda request: Reply.error(400, "bad request")
    batch = reserve(llm_workspace, 2 * CALL_SIZE)
    with pytest.raises(LLMError):
        llm_call(llm_workspace, batch=batch)
    batch.release()
    failed = LLMUsage.objects.get()
    assert (failed.outcome, failed.input_tokens, failed.output_tokens, failed.attempts) == ("bad_request", 0, 0, 1)
    assert counted(llm_workspace) == 0


def test_calls_beyond_the_batch_reserve_on_their_own(fake_llm, llm_workspace):
    fake_llm.provider(llm_workspace, kind="openai", max_tokens=MAX_TOKENS)
    fake_llm.handler = lambda request: Reply.text("ok", input_tokens=30, output_tokens=7)
    batch = reserve(llm_workspace, CALL_SIZE + 10)  # room for one call
    first, second = llm_call(llm_workspace, batch=batch), llm_call(llm_workspace, batch=batch)
    assert first.usage_id is None and second.usage_id is not None  # the second reserved and wrote its own row
    batch.release()
    assert LLMUsage.objects.filter(outcome="ok", input_tokens=30).count() == 2
    assert counted(llm_workspace) == 2 * 37


def test_a_dead_runs_batch_stops_counting_at_its_expiry(fake_llm, llm_workspace):
    """A process that dies never releases: the reservation must not hold the quota beyond `ttl`."""
    fake_llm.provider(llm_workspace, kind="openai", max_tokens=MAX_TOKENS)
    LLMQuotaPolicy.objects.create(workspace=llm_workspace, workspace_daily=50_000)
    batch = reserve(llm_workspace, 50_000, ttl=timedelta(seconds=1.5))
    assert not batch.draw(LLMUsage(workspace=llm_workspace, input_tokens=1, output_tokens=1), within=1)  # too late
    with pytest.raises(QuotaExceeded):
        llm_call(llm_workspace)
    time.sleep(1.6)  # ... and the run is never heard of again
    assert counted(llm_workspace) == 0
    assert llm_call(llm_workspace).text  # the day's quota is free again
    assert LLMUsage.objects.filter(outcome="pending", expires_at__isnull=False).count() == 1  # left, not counted


def test_buffered_rows_are_flushed_by_a_call_when_the_holder_does_not(fake_llm, llm_workspace):
    fake_llm.provider(llm_workspace, kind="openai", max_tokens=MAX_TOKENS)
    fake_llm.handler = lambda request: Reply.text("ok", input_tokens=30, output_tokens=7)
    batch = reserve(llm_workspace, 3 * CALL_SIZE)
    batch.flush_after = 0.0
    llm_call(llm_workspace, batch=batch)
    assert LLMUsage.objects.filter(outcome="ok").count() == 1  # written by the call itself
    batch.release()


def test_concurrent_batch_and_single_calls_never_overspend(fake_llm, llm_workspace):
    """A batch run and single callers race for a day's budget. Every reservation is as large as the
    real use here, so what the ledger ends with is what was reserved: the limit, plus at most one call
    that started just below it (the rule for single calls)."""
    limit = 6000
    LLMQuotaPolicy.objects.create(workspace=llm_workspace, workspace_daily=limit)
    fake_llm.provider(llm_workspace, kind="openai", max_tokens=MAX_TOKENS)
    input_size = CALL_SIZE - MAX_TOKENS
    fake_llm.handler = lambda request: Reply.text("ok", input_tokens=input_size, output_tokens=MAX_TOKENS, delay=0.2)
    outcomes = []

    def single():
        try:
            llm_call(llm_workspace)
            outcomes.append("single ok")
        except QuotaExceeded:
            outcomes.append("single quota")
        finally:
            connection.close()

    def batch_run():
        try:
            batch = reserve(llm_workspace, 2 * CALL_SIZE)
        except QuotaExceeded:
            outcomes.append("batch refused")
            connection.close()
            return
        try:
            def one():
                try:
                    llm_call(llm_workspace, batch=batch)
                    outcomes.append("batch call ok")
                except QuotaExceeded:
                    outcomes.append("batch call quota")
                finally:
                    connection.close()
            run_concurrently(*[one] * 4)
        finally:
            batch.release()
            connection.close()

    run_concurrently(batch_run, *[single] * 6)

    assert not LLMUsage.objects.filter(outcome="pending").exists()
    spent = counted(llm_workspace)
    assert spent == len(fake_llm.requests) * CALL_SIZE
    assert spent < limit + CALL_SIZE, outcomes
    assert len(fake_llm.requests) == outcomes.count("single ok") + outcomes.count("batch call ok")
    assert LLMUsage.objects.filter(outcome="ok").count() == len(fake_llm.requests)
