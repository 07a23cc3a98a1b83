"""Usage recording and role-based token quotas."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection

from accounts.models import Role
from accounts.tests.factories import MembershipFactory, UserFactory
from conftest import run_concurrently
from integrations.llm.errors import LLMGatewayError, QuotaExceeded
from integrations.llm.models import LLMQuotaPolicy, LLMUsage
from integrations.llm.pricing import estimate_cost, price_for
from integrations.llm.quotas import quota_check, quota_periods, usage_totals
from integrations.tests.llm.quota_helpers import llm_call, usage_row
from testing.fake_llm import Reply

pytestmark = pytest.mark.django_db


# --- Recording -----------------------------------------------------------------------------------

def test_success_records_tokens_cost_latency_and_outcome(fake_llm, llm_workspace):
    fake_llm.provider(llm_workspace, kind="anthropic", model="claude-sonnet-4-6")
    fake_llm.queue(Reply.text("Hello!", input_tokens=1000, output_tokens=200, delay=0.05))

    result = llm_call(llm_workspace, user=llm_workspace.setter_user, purpose="draft_reply")

    usage = LLMUsage.objects.get()
    assert usage.pk == result.usage_id
    assert (usage.workspace, usage.user, usage.purpose) == (llm_workspace, llm_workspace.setter_user, "draft_reply")
    assert (usage.provider_kind, usage.model, usage.outcome, usage.attempts) == (
        "anthropic", "claude-sonnet-4-6", "ok", 1)
    assert (usage.input_tokens, usage.output_tokens) == (1000, 200)
    # 1000 × $3/M + 200 × $15/M
    assert usage.cost_usd == Decimal("0.006000") == result.cost_usd
    assert usage.latency_ms >= 50 and result.latency_ms == usage.latency_ms
    assert usage.provider is not None and usage.error_message == ""


def test_failure_records_the_error_kind_and_no_tokens(fake_llm, llm_workspace, settings):
    settings.LLM_MAX_RETRIES = 1
    fake_llm.provider(llm_workspace, kind="openai")
    fake_llm.handler = lambda request: Reply.server_error()

    with pytest.raises(LLMGatewayError):
        llm_call(llm_workspace)

    usage = LLMUsage.objects.get()
    assert (usage.outcome, usage.attempts, usage.input_tokens, usage.output_tokens, usage.cost_usd) == (
        "server", 2, 0, 0, 0)
    assert "500" in usage.error_message and usage.user is None


def test_pricing_table_prefixes_and_fallback(settings):
    assert price_for(kind="anthropic", model="claude-haiku-4-5-20251001") == (Decimal(1), Decimal(5))
    assert price_for(kind="anthropic", model="claude-opus-4-1-20250805") == (Decimal(15), Decimal(75))
    assert price_for(kind="openai", model="gpt-4o-mini-2024-07-18") == (Decimal("0.15"), Decimal("0.60"))
    assert price_for(kind="ollama", model="gpt-4o") == (Decimal(0), Decimal(0))
    settings.LLM_FALLBACK_INPUT_USD_PER_MTOK, settings.LLM_FALLBACK_OUTPUT_USD_PER_MTOK = 2.0, 6.0
    assert price_for(kind="openai_compatible", model="mistral-large") == (Decimal(2), Decimal(6))
    assert estimate_cost(kind="openai", model="gpt-4o", input_tokens=1_000_000, output_tokens=500_000) == Decimal(
        "7.500000")


# --- Quotas --------------------------------------------------------------------------------------

def test_setter_over_daily_limit_is_refused_without_a_call(fake_llm, llm_workspace, policy):
    fake_llm.provider(llm_workspace, kind="openai")
    usage_row(llm_workspace, 1000, user=llm_workspace.setter_user)

    with pytest.raises(QuotaExceeded) as caught:
        llm_call(llm_workspace, user=llm_workspace.setter_user)

    error = caught.value
    assert (error.scope, error.period, error.limit, error.used, error.role) == ("user", "day", 1000, 1000, "setter")
    assert "daily" in str(error) and "setter" in str(error) and "1,000 of 1,000" in str(error)
    assert fake_llm.requests == []
    refused = LLMUsage.objects.get(outcome="quota_exceeded")
    assert refused.input_tokens == refused.output_tokens == 0


def test_admin_has_a_higher_limit_than_a_setter(fake_llm, llm_workspace, policy):
    fake_llm.provider(llm_workspace, kind="openai")
    usage_row(llm_workspace, 1500, user=llm_workspace.admin_user)
    usage_row(llm_workspace, 1500, user=llm_workspace.setter_user)

    llm_call(llm_workspace, user=llm_workspace.admin_user)  # 1500 < 3000
    with pytest.raises(QuotaExceeded):
        llm_call(llm_workspace, user=llm_workspace.setter_user)  # 1500 ≥ 1000
    assert len(fake_llm.requests) == 1


def test_limits_are_per_user_not_per_role(fake_llm, llm_workspace, policy):
    fake_llm.provider(llm_workspace, kind="openai")
    other_setter = MembershipFactory(workspace=llm_workspace, role=Role.SETTER).user
    usage_row(llm_workspace, 1000, user=llm_workspace.setter_user)

    llm_call(llm_workspace, user=other_setter)
    assert len(fake_llm.requests) == 1


def test_monthly_limit_applies_across_days(llm_workspace, policy):
    now = datetime(2026, 3, 20, 12, tzinfo=UTC)
    for day in (2, 9, 16):  # 3 × 1700 = 5100 ≥ 5000 monthly; none of it today
        usage_row(llm_workspace, 1700, user=llm_workspace.setter_user, at=now.replace(day=day))

    error = quota_check(workspace=llm_workspace, user=llm_workspace.setter_user, now=now)

    assert (error.scope, error.period, error.used, error.limit) == ("user", "month", 5100, 5000)
    assert error.resets_at == datetime(2026, 4, 1, tzinfo=UTC)


def test_day_boundary_follows_the_workspace_time_zone(llm_workspace, policy):
    llm_workspace.timezone = "Europe/Paris"  # UTC+1 in January
    llm_workspace.save()
    setter = llm_workspace.setter_user
    usage_row(llm_workspace, 1000, user=setter, at=datetime(2026, 1, 14, 22, 59, tzinfo=UTC))  # 23:59 Paris, 14th

    # 23:00 UTC is midnight in Paris: yesterday's usage no longer counts for the day.
    assert quota_check(workspace=llm_workspace, user=setter, now=datetime(2026, 1, 14, 23, 0, tzinfo=UTC)) is None
    error = quota_check(workspace=llm_workspace, user=setter, now=datetime(2026, 1, 14, 22, 59, 59, tzinfo=UTC))
    assert error.period == "day"
    assert error.resets_at == datetime(2026, 1, 14, 23, 0, tzinfo=UTC)


def test_month_boundary(llm_workspace, policy):
    setter = llm_workspace.setter_user
    usage_row(llm_workspace, 900, user=setter, at=datetime(2026, 1, 31, 23, 59, 59, tzinfo=UTC))
    for day in range(24, 31):
        usage_row(llm_workspace, 600, user=setter, at=datetime(2026, 1, day, tzinfo=UTC))

    assert quota_check(workspace=llm_workspace, user=setter, now=datetime(2026, 1, 31, 23, 59, 59, tzinfo=UTC))
    assert quota_check(workspace=llm_workspace, user=setter, now=datetime(2026, 2, 1, 0, 0, tzinfo=UTC)) is None
    totals = usage_totals(workspace=llm_workspace, user=setter, now=datetime(2026, 2, 1, tzinfo=UTC))
    assert totals == {"workspace_month": 0, "workspace_day": 0, "user_month": 0, "user_day": 0}


def test_periods_handle_dst_and_december():
    class W:
        timezone = "Europe/Paris"

    periods = quota_periods(workspace=W, now=datetime(2026, 3, 29, 12, tzinfo=UTC))  # spring forward
    assert periods.day_end.astimezone(UTC) - periods.day_start.astimezone(UTC) == timedelta(hours=23)
    december = quota_periods(workspace=W, now=datetime(2026, 12, 15, tzinfo=UTC))
    assert december.month_end == datetime(2026, 12, 31, 23, tzinfo=UTC)  # 1 January, Paris midnight


def test_system_work_counts_against_the_workspace_only(fake_llm, llm_workspace, policy):
    fake_llm.provider(llm_workspace, kind="anthropic")
    usage_row(llm_workspace, 5000)  # system work: more than any per-user limit
    llm_call(llm_workspace)  # no user: only the workspace limit (10 000/day) applies
    llm_call(llm_workspace, user=llm_workspace.admin_user)  # the admin's own usage is still 0
    assert len(fake_llm.requests) == 2

    usage_row(llm_workspace, 10_000)
    with pytest.raises(QuotaExceeded) as caught:
        llm_call(llm_workspace)
    assert (caught.value.scope, caught.value.period) == ("workspace", "day")
    with pytest.raises(QuotaExceeded):  # the workspace total binds users too
        llm_call(llm_workspace, user=llm_workspace.admin_user)
    assert len(fake_llm.requests) == 2


def test_user_usage_counts_against_the_workspace_total(llm_workspace, policy):
    policy.workspace_daily = 2500
    policy.save()
    usage_row(llm_workspace, 900, user=llm_workspace.setter_user)
    usage_row(llm_workspace, 1600, user=llm_workspace.admin_user)

    error = quota_check(workspace=llm_workspace, user=None)
    assert (error.scope, error.used) == ("workspace", 2500)


def test_null_limits_are_unlimited(llm_workspace):
    LLMQuotaPolicy.objects.create(workspace=llm_workspace, setter_daily=None, setter_monthly=None,
                                  workspace_daily=None, workspace_monthly=None)
    usage_row(llm_workspace, 10**9, user=llm_workspace.setter_user)
    assert quota_check(workspace=llm_workspace, user=llm_workspace.setter_user) is None


def test_without_a_policy_row_the_settings_defaults_apply(llm_workspace, settings):
    settings.LLM_QUOTA_DEFAULTS = {**settings.LLM_QUOTA_DEFAULTS, "setter_daily": 100}
    usage_row(llm_workspace, 100, user=llm_workspace.setter_user)
    assert quota_check(workspace=llm_workspace, user=llm_workspace.setter_user).limit == 100
    assert quota_check(workspace=llm_workspace, user=llm_workspace.admin_user) is None


def test_a_non_member_cannot_spend_the_workspace_budget(fake_llm, llm_workspace):
    fake_llm.provider(llm_workspace, kind="openai")
    with pytest.raises(LLMGatewayError, match="not a member"):
        llm_call(llm_workspace, user=UserFactory())
    assert fake_llm.requests == []


@pytest.mark.django_db(transaction=True)
def test_in_flight_calls_reserve_budget(fake_llm, llm_workspace, policy):
    """A pending row counts at its reservation size, so a concurrent check already sees it."""
    fake_llm.provider(llm_workspace, kind="openai", max_tokens=1500)
    seen = {}

    def handler(request):
        seen["totals"] = usage_totals(workspace=llm_workspace, user=llm_workspace.setter_user)
        seen["check"] = quota_check(workspace=llm_workspace, user=llm_workspace.setter_user)
        connection.close()  # the handler runs in a server thread with its own connection
        return Reply.text("ok", input_tokens=10, output_tokens=5)

    fake_llm.handler = handler
    llm_call(llm_workspace, user=llm_workspace.setter_user)

    assert seen["totals"]["user_day"] >= 1500  # estimated input + max_tokens
    assert seen["check"] is not None and seen["check"].scope == "user"
    assert usage_totals(workspace=llm_workspace, user=llm_workspace.setter_user)["user_day"] == 15


@pytest.mark.django_db(transaction=True)
def test_concurrent_callers_cannot_all_slip_under_the_limit(fake_llm, llm_workspace):
    """Eight threads race for a budget that fits about two calls: the advisory lock serialises the
    check-and-reserve, so most are refused before calling the provider."""
    LLMQuotaPolicy.objects.create(workspace=llm_workspace, workspace_daily=2500)
    fake_llm.provider(llm_workspace, kind="openai", max_tokens=1000)
    fake_llm.handler = lambda request: Reply.text("ok", input_tokens=10, output_tokens=990, delay=0.3)
    outcomes = []

    def worker():
        try:
            llm_call(llm_workspace)
            outcomes.append("ok")
        except QuotaExceeded:
            outcomes.append("quota")
        finally:
            connection.close()

    run_concurrently(*[worker] * 8)

    assert outcomes.count("ok") == 3  # 0, ~1020, ~2040 reserved < 2500; the 4th sees ≥ 2500
    assert outcomes.count("quota") == 5
    assert len(fake_llm.requests) == 3
