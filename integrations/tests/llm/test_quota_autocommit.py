"""The gateway's reservation outside a transaction (how workers call it): lock, quota check and insert
in one round trip, the lock released by the commit. The tests in test_usage_and_quotas.py run inside
a test transaction and so take the other path (session lock, savepoint)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from accounts.tests.factories import MembershipFactory
from integrations.llm.errors import QuotaExceeded
from integrations.llm.models import LLMQuotaPolicy, LLMUsage
from integrations.tests.llm.quota_helpers import llm_call, usage_row
from testing.fake_llm import Reply

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _sql_and_python_agree(caplog):
    """The insert's own quota verdict must be the one quota_evaluate reaches (else the gateway logs it)."""
    yield
    assert not [r for r in caplog.get_records("call") if "mismatch" in r.getMessage()]


def test_a_call_reserves_and_completes_in_two_statements(fake_llm, llm_workspace, policy):
    fake_llm.provider(llm_workspace, kind="openai", max_tokens=700)
    seen = {}

    def handler(request):
        seen["row"] = LLMUsage.objects.values_list("outcome", "output_tokens").get()
        connection.close()  # the handler runs in a server thread with its own connection
        return Reply.text("ok", input_tokens=10, output_tokens=5)

    fake_llm.handler = handler
    with CaptureQueriesContext(connection) as queries:
        llm_call(llm_workspace, user=llm_workspace.setter_user)

    table = LLMUsage._meta.db_table
    sql = [q["sql"] for q in queries.captured_queries if table in q["sql"] or "advisory" in q["sql"]]
    assert len(sql) == 2, sql  # the reservation (lock, check, insert) and the usage update
    assert "pg_advisory_xact_lock" in sql[0] and "INSERT" in sql[0]
    assert not any("pg_advisory_unlock" in s for s in sql)
    assert seen["row"] == ("pending", 700)  # committed, at its reservation size, before the HTTP call
    assert LLMUsage.objects.values_list("outcome", "input_tokens", "output_tokens").get() == ("ok", 10, 5)
    # The transaction-level lock went with the commit: another session takes it at once.
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
        assert cursor.fetchone()[0] == 0


def test_a_setter_over_the_daily_limit_is_refused_and_recorded_without_tokens(fake_llm, llm_workspace, policy):
    fake_llm.provider(llm_workspace, kind="openai")
    usage_row(llm_workspace, 1000, user=llm_workspace.setter_user)

    with pytest.raises(QuotaExceeded) as caught:
        llm_call(llm_workspace, user=llm_workspace.setter_user)

    error = caught.value
    assert (error.scope, error.period, error.limit, error.used, error.role) == ("user", "day", 1000, 1000, "setter")
    assert fake_llm.requests == []
    refused = LLMUsage.objects.get(outcome="quota_exceeded")
    assert (refused.input_tokens, refused.output_tokens) == (0, 0)
    assert refused.error_message == str(error)[:300]
    # The admin's own limit is higher; another setter has their own budget.
    llm_call(llm_workspace, user=llm_workspace.admin_user)
    llm_call(llm_workspace, user=MembershipFactory(workspace=llm_workspace, role=Role.SETTER).user)
    assert len(fake_llm.requests) == 2


def test_monthly_and_workspace_limits(fake_llm, llm_workspace, policy):
    fake_llm.provider(llm_workspace, kind="anthropic")
    policy.setter_daily = None
    policy.save()
    usage_row(llm_workspace, 5000, user=llm_workspace.setter_user)
    with pytest.raises(QuotaExceeded) as caught:
        llm_call(llm_workspace, user=llm_workspace.setter_user)
    assert (caught.value.scope, caught.value.period, caught.value.limit) == ("user", "month", 5000)

    llm_call(llm_workspace)  # system work: the workspace's 10 000 a day only
    usage_row(llm_workspace, 10_000)
    with pytest.raises(QuotaExceeded) as caught:
        llm_call(llm_workspace)
    assert (caught.value.scope, caught.value.period) == ("workspace", "day")
    with pytest.raises(QuotaExceeded):
        llm_call(llm_workspace, user=llm_workspace.admin_user)  # the workspace total binds users too
    usage_row(llm_workspace, 10**6, purpose="embedding")  # embeddings never count
    assert len(fake_llm.requests) == 1
    assert LLMUsage.objects.filter(outcome="quota_exceeded", input_tokens=0, output_tokens=0).count() == 3


def test_without_a_policy_row_the_settings_defaults_apply(fake_llm, llm_workspace, settings):
    settings.LLM_QUOTA_DEFAULTS = {**settings.LLM_QUOTA_DEFAULTS, "setter_daily": 100, "workspace_daily": None,
                                   "workspace_monthly": None}
    fake_llm.provider(llm_workspace, kind="openai")
    usage_row(llm_workspace, 100, user=llm_workspace.setter_user)
    with pytest.raises(QuotaExceeded) as caught:
        llm_call(llm_workspace, user=llm_workspace.setter_user)
    assert caught.value.limit == 100
    usage_row(llm_workspace, 10**9)
    llm_call(llm_workspace)  # no workspace limit in these defaults
    assert len(fake_llm.requests) == 1


def test_null_limits_are_unlimited(fake_llm, llm_workspace):
    LLMQuotaPolicy.objects.create(workspace=llm_workspace, setter_daily=None, setter_monthly=None,
                                  workspace_daily=None, workspace_monthly=None)
    fake_llm.provider(llm_workspace, kind="openai")
    usage_row(llm_workspace, 10**9, user=llm_workspace.setter_user)
    llm_call(llm_workspace, user=llm_workspace.setter_user)
    assert LLMUsage.objects.filter(outcome="ok", purpose="draft_reply").count() == 1


def test_with_autocommit_off_the_session_lock_path_is_taken(fake_llm, llm_workspace, policy):
    """A transaction-level lock would then be held until the caller commits, across the HTTP call."""
    fake_llm.provider(llm_workspace, kind="openai")
    connection.set_autocommit(False)
    try:
        with CaptureQueriesContext(connection) as queries:
            llm_call(llm_workspace, user=llm_workspace.setter_user)
        connection.commit()
    finally:
        connection.set_autocommit(True)
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert "pg_advisory_lock" in sql and "pg_advisory_unlock" in sql and "pg_advisory_xact_lock" not in sql
    assert LLMUsage.objects.values_list("outcome", flat=True).get() == "ok"


def test_with_server_side_binding_the_session_lock_path_is_taken(fake_llm, llm_workspace, policy, monkeypatch):
    """Two statements in one query string need the simple query protocol (client-side binding)."""
    fake_llm.provider(llm_workspace, kind="openai")
    connection.close()
    options = {**connection.settings_dict.get("OPTIONS", {}), "server_side_binding": True}
    monkeypatch.setitem(connection.settings_dict, "OPTIONS", options)
    try:
        with CaptureQueriesContext(connection) as queries:
            llm_call(llm_workspace, user=llm_workspace.setter_user)
    finally:
        connection.close()  # the next test connects with the settings as they were
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert "pg_advisory_lock" in sql and "pg_advisory_unlock" in sql and "pg_advisory_xact_lock" not in sql
    assert LLMUsage.objects.values_list("outcome", flat=True).get() == "ok"
