"""The one door to language models: every LLM call in Sidekick goes through `llm_complete` (or
`llm_stream`, the same for a text answer streamed as it is written).

Order of work for one call:
1. resolve the provider (the user's override, else the workspace default) or raise NoProviderConfigured;
2. under a per-workspace advisory lock, check quotas and insert a `pending` LLMUsage row reserving
   estimated input + max_tokens, or record `quota_exceeded` and raise QuotaExceeded (no call made);
3. call the provider with a timeout, retrying only transient errors (bounded, backoff with jitter);
4. validate structured output against the caller's schema when one is given;
5. complete the usage row: real tokens, estimated cost, latency, attempts, outcome.

With a `batch` (`integrations.llm.batch`, for runs of many calls such as an eval run), step 2 draws the
call's reservation from the batch, in memory, and step 5 hands the row to the batch, which writes the
rows of many calls at once: no database round trip on the call's own path.

Call it outside `transaction.atomic()`: the reservation must commit before the slow HTTP call so
that concurrent callers see it, and no database transaction should stay open during the call.
(Inside one it still works, but concurrent callers only see the reservation once it commits.)
Thread-safe: SDK clients are cached per provider configuration and shared; each thread uses its
own database connection, which a thread pool should close when it is done.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.utils import timezone

from integrations.llm import adapters
from integrations.llm.base import CallParams, Completion, LLMResult, Message, ProviderConfig
from integrations.llm.errors import (
    ErrorKind,
    LLMError,
    LLMGatewayError,
    LLMOutputError,
    NoProviderConfigured,
    QuotaExceeded,
    scrub,
)
from integrations.llm.models import LLMProvider, LLMQuotaPolicy, LLMUsage, Outcome
from integrations.llm.pricing import estimate_cost
from integrations.llm.quotas import EMBEDDING_PURPOSE, Periods, member_role, quota_evaluate, quota_periods
from integrations.llm.schema import SchemaViolation
from integrations.llm.selectors import llm_provider_for
from sidekick_project.backoff import backoff_delay
from sidekick_project.db import in_autocommit, savepoint_if_in_transaction

log = logging.getLogger("integrations.llm")

_QUOTA_LOCK_CLASS = 0x5EC1  # advisory lock namespace for "LLM quota of workspace N"


def llm_complete(
    *,
    workspace,
    purpose: str,
    system: str,
    messages: list[Message],
    user=None,
    schema: dict | None = None,
    schema_name: str = "respond",
    timeout: float | None = None,
    max_tokens: int | None = None,
    provider: LLMProvider | None = None,
    max_retries: int | None = None,
    temperature: float | None = None,
    batch=None,
) -> LLMResult:
    """Ask the workspace's model for one answer.

    `user=None` is system work (auto-replies): it counts against the workspace quota only. With a
    `schema` (JSON Schema of an object) the answer is structured: `result.parsed` is a dict that
    passed the schema, else LLMOutputError (repairable) is raised. `provider` forces a specific
    provider (the connection test); `max_tokens` and `max_retries` override the provider's and the
    settings' values; `temperature` overrides the provider's (an adapter whose API takes none, Anthropic's,
    sends none). `batch`: an `LLMBatch` of this workspace and user to draw the reservation from (when it
    cannot cover the call, the call reserves on its own as without one); its row is then written by the
    batch, so `result.usage_id` is None. Raises NoProviderConfigured, QuotaExceeded or LLMError.
    """
    provider, config, params = _prepare(workspace=workspace, user=user, provider=provider, system=system,
                                        messages=messages, schema=schema, schema_name=schema_name, timeout=timeout,
                                        max_tokens=max_tokens, temperature=temperature)
    max_retries = settings.LLM_MAX_RETRIES if max_retries is None else max_retries
    usage = usage_row_for(workspace=workspace, user=user, provider=provider, purpose=purpose, params=params)
    drawn = batch.draw(usage, within=_call_bound(params, max_retries)) if batch is not None else 0
    if not drawn:
        usage_reservation_insert(row=usage, workspace=workspace, user=user)
    finish = functools.partial(_finish, usage, batch=batch if drawn else None, drawn=drawn)

    started = time.monotonic()
    attempts = 0
    try:
        completion, attempts = _call_with_retries(config, params, max_retries)
    except LLMError as exc:
        attempts = getattr(exc, "attempts", attempts)
        finish(outcome=exc.kind, attempts=attempts, started=started, error=exc.message)
        raise
    except BaseException as exc:
        # A bug or an interrupt must not leave the reservation pending forever.
        finish(outcome=Outcome.BAD_RESPONSE, attempts=attempts, started=started,
               error=scrub(f"{type(exc).__name__}: {exc}", config.api_key))
        raise

    parsed = None
    violation = None
    if schema is not None:
        try:
            parsed = adapters.structured_output(completion, schema)
        except SchemaViolation as exc:
            violation = str(exc)
    outcome = Outcome.INVALID_OUTPUT if violation else Outcome.OK
    latency_ms, cost = finish(outcome=outcome, attempts=attempts, started=started, completion=completion,
                              error=violation or "")
    result = LLMResult(
        text=completion.text if schema is None else (completion.raw_structured or completion.text),
        parsed=parsed,
        input_tokens=completion.input_tokens,
        output_tokens=completion.output_tokens,
        model=completion.model,
        latency_ms=latency_ms,
        stop_reason=completion.stop_reason,
        provider_kind=config.kind,
        attempts=attempts,
        cost_usd=cost,
        usage_id=usage.pk,
    )
    if violation:
        raise LLMOutputError(f"structured output is unusable: {violation}", raw=completion.raw_structured or
                             completion.text, result=result)
    return result


def _prepare(*, workspace, user, provider, system, messages, schema, schema_name, timeout, max_tokens,
             temperature=None):
    """Checks the arguments, resolves the provider (or raises NoProviderConfigured), builds the call."""
    if not messages:
        raise ValueError("a model call needs at least one message")
    if any(m.get("role") not in ("user", "assistant") for m in messages):
        raise ValueError("messages take the roles 'user' and 'assistant'; pass the system prompt as `system`")
    provider = provider or llm_provider_for(workspace=workspace, user=user)
    if provider is None:
        raise NoProviderConfigured(workspace, user)
    if provider.workspace_id != workspace.pk:
        raise ValueError("the provider belongs to another workspace")
    config = ProviderConfig.from_provider(provider)
    params = CallParams(
        system=system,
        messages=list(messages),
        max_tokens=max_tokens or provider.max_tokens,
        temperature=provider.temperature if temperature is None else temperature,
        schema=schema,
        schema_name=schema_name,
        timeout=timeout or settings.LLM_TIMEOUT_SECONDS,
    )
    return provider, config, params


def llm_stream(
    *,
    workspace,
    purpose: str,
    system: str,
    messages: list[Message],
    on_delta: Callable[[str], bool],
    user=None,
    timeout: float | None = None,
    max_tokens: int | None = None,
    provider: LLMProvider | None = None,
    max_retries: int | None = None,
) -> LLMResult:
    """`llm_complete` for a text answer streamed as it is written: `on_delta(text)` receives each piece.

    Quotas, reservation, usage row and errors are those of llm_complete. `on_delta` returning False
    stops the answer: the result then holds what arrived, `stop_reason` "stopped", output tokens
    estimated. Transient errors are retried only before the first piece arrived (a retry would repeat
    what the reader already has); after it, the error is raised as `adapters.StreamBroken` carrying the
    text so far, and its usage row counts the tokens estimated for that text (the provider bills them).
    """
    provider, config, params = _prepare(workspace=workspace, user=user, provider=provider, system=system,
                                        messages=messages, schema=None, schema_name="respond", timeout=timeout,
                                        max_tokens=max_tokens)
    usage = _reserve(workspace=workspace, user=user, provider=provider, purpose=purpose, params=params)
    delivered = False

    def relay(text: str) -> bool:
        nonlocal delivered
        delivered = True
        return on_delta(text)

    def call(config, params):
        try:
            return adapters.stream(config, params, relay)
        except LLMError as exc:
            if delivered:
                exc.permanent = True
            raise

    started = time.monotonic()
    attempts = 0
    try:
        completion, attempts = _call_with_retries(config, params, settings.LLM_MAX_RETRIES
                                                  if max_retries is None else max_retries, call=call)
    except adapters.StreamBroken as exc:
        # What arrived is billed by the provider, so it counts: the tokens it reported before failing,
        # else estimates (the input at the reservation's generous size), and the row says which.
        reported_input, reported_output = exc.input_tokens is not None, exc.output_tokens is not None
        exc.input_tokens = exc.input_tokens if reported_input else usage.input_tokens
        exc.output_tokens = max(exc.output_tokens or 0, adapters.estimated_tokens(exc.text))
        exc.tokens_estimated = not (reported_input and reported_output)
        note = ("tokens as reported" if not exc.tokens_estimated else
                "input tokens as reported, output tokens estimated" if reported_input else "tokens estimated")
        partial = Completion(text=exc.text, parsed=None, input_tokens=exc.input_tokens,
                             output_tokens=exc.output_tokens, model=config.model, stop_reason=None)
        _finish(usage, outcome=exc.kind, attempts=getattr(exc, "attempts", attempts), started=started,
                completion=partial, error=f"{exc.message[:250]} ({note})")
        raise
    except LLMError as exc:
        _finish(usage, outcome=exc.kind, attempts=getattr(exc, "attempts", attempts), started=started,
                error=exc.message)
        raise
    except BaseException as exc:
        _finish(usage, outcome=Outcome.BAD_RESPONSE, attempts=attempts, started=started,
                error=scrub(f"{type(exc).__name__}: {exc}", config.api_key))
        raise
    latency_ms, cost = _finish(usage, outcome=Outcome.OK, attempts=attempts, started=started, completion=completion,
                               error="stopped by the reader" if completion.stop_reason == adapters.STOPPED else "")
    return LLMResult(text=completion.text, parsed=None, input_tokens=completion.input_tokens,
                     output_tokens=completion.output_tokens, model=completion.model, latency_ms=latency_ms,
                     stop_reason=completion.stop_reason, provider_kind=config.kind, attempts=attempts,
                     cost_usd=cost, usage_id=usage.pk)


def estimate_input_tokens(system: str, messages: list[Message], schema: dict | None) -> int:
    """A deliberately generous estimate (about 4 characters per token) for the quota reservation."""
    chars = len(system) + sum(len(m["content"]) + 8 for m in messages)
    if schema is not None:
        chars += len(json.dumps(schema))
    return chars // 4 + 16


def _reserve(*, workspace, user, provider, purpose, params: CallParams) -> LLMUsage:
    row = usage_row_for(workspace=workspace, user=user, provider=provider, purpose=purpose, params=params)
    return usage_reservation_insert(row=row, workspace=workspace, user=user)


def usage_row_for(*, workspace, user, provider, purpose, params: CallParams) -> LLMUsage:
    """The unsaved usage row of one call, at its reservation size (estimated input + max_tokens)."""
    return LLMUsage(
        workspace=workspace, user=user, provider=provider, purpose=purpose[:64],
        provider_kind=provider.kind, model=provider.model, created_at=timezone.now(),
        input_tokens=estimate_input_tokens(params.system, params.messages, params.schema),
        output_tokens=params.max_tokens,
    )


def _call_bound(params: CallParams, max_retries: int) -> float:
    """The longest a call can take, in seconds: every attempt timing out, the longest wait between them."""
    return params.timeout * (max_retries + 1) + settings.LLM_RETRY_MAX_DELAY * max_retries


def usage_reservation_insert(*, row: LLMUsage, workspace, user, need: int = 1) -> LLMUsage:
    """Check the quotas and insert `row` as a pending reservation, or record it as `quota_exceeded` and
    raise QuotaExceeded. `need`: the tokens that must still fit under every limit (`quota_evaluate`): 1
    for a call, its whole size for a batch. Gateway-internal (`llm_complete`, `batch`)."""
    # Super-admins have no per-user limit (the row still names them; the workspace totals still apply):
    # for the checks they count like system work.
    limited = None if user is None or getattr(user, "is_superadmin", False) else user
    role = member_role(workspace=workspace, user=limited) if limited is not None else None
    # In autocommit (the workers): one round trip, see _reserve_autocommit.
    # Inside a caller's transaction (or with autocommit off): a session-level lock, released as soon as
    # the reservation is written (a transaction-level one would be held until the caller's transaction
    # ends, i.e. across the slow HTTP call). Under the lock, one statement reads the policy and the
    # period's usage and inserts the pending row; the rare refusal turns that row into a
    # `quota_exceeded` record before the lock is released, so no other caller ever counts it.
    lock_key = [_QUOTA_LOCK_CLASS, workspace.pk % 2**31]
    if _one_round_trip_possible():
        exceeded = _reserve_autocommit(row, lock_key, workspace=workspace, user=user, role=role, need=need)
    else:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", lock_key)
            try:
                # Inside a caller's transaction a savepoint keeps a failure from poisoning it (and the unlock).
                with savepoint_if_in_transaction():
                    policy, periods, totals = _insert_reservation(cursor, row, workspace=workspace, user=user)
                    exceeded = quota_evaluate(workspace=workspace, user=limited, role=role, policy=policy,
                                              periods=periods, totals=totals, need=need)
                    if exceeded is not None:
                        _mark_exceeded(row, exceeded)
            finally:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", lock_key)
    if exceeded is not None:
        log.info("llm quota exceeded workspace=%s user=%s purpose=%s: %s", workspace.pk,
                 getattr(user, "pk", None), row.purpose, exceeded)
        raise exceeded
    return row


_POLICY_LIMITS = ("setter_daily", "setter_monthly", "admin_daily", "admin_monthly", "workspace_daily",
                  "workspace_monthly")


def _totals_sql(usage_table: str) -> str:
    """The period's usage as `quota_check` counts it (`usage_totals`), for a reservation's CTE.

    Parameters: day, month, month_end, workspace, user, embedding, now (a batch reservation past its
    `expires_at` no longer counts).
    """
    tokens = "input_tokens + output_tokens"
    return f"""
            SELECT COALESCE(SUM({tokens}), 0) AS workspace_month,
                   COALESCE(SUM({tokens}) FILTER (WHERE created_at >= %(day)s), 0) AS workspace_day,
                   COALESCE(SUM({tokens}) FILTER (WHERE user_id = %(user)s), 0) AS user_month,
                   COALESCE(SUM({tokens}) FILTER (WHERE user_id = %(user)s AND created_at >= %(day)s), 0)
                       AS user_day
            FROM {usage_table}
            WHERE workspace_id = %(workspace)s AND created_at >= %(month)s AND created_at < %(month_end)s
              AND NOT (purpose = %(embedding)s) AND (expires_at IS NULL OR expires_at > %(now)s)
        """  # noqa: S608 - table name from the model, values bound


def _insert_reservation(cursor, row: LLMUsage, *, workspace, user) -> tuple[LLMQuotaPolicy, Periods, dict[str, int]]:
    """Insert `row` (pending); return the quota policy, periods and usage totals to check it against.

    One statement: the totals are those of `quota_check` (`usage_totals`) taken in the same snapshot as
    the insert, so they do not include the new row; the policy is the workspace's row or, without one,
    the LLM_QUOTA_DEFAULTS settings (`quota_policy_for`).
    """
    qn = connection.ops.quote_name
    usage_table, policy_table = qn(LLMUsage._meta.db_table), qn(LLMQuotaPolicy._meta.db_table)
    periods = quota_periods(workspace=workspace)
    row.created_at = timezone.now()
    sql = f"""
        WITH totals AS ({_totals_sql(usage_table)}), reserved AS (
            INSERT INTO {usage_table} (workspace_id, user_id, provider_id, purpose, provider_kind, model,
                input_tokens, output_tokens, cost_usd, latency_ms, attempts, outcome, error_message, created_at,
                expires_at)
            VALUES (%(workspace)s, %(user)s, %(provider)s, %(purpose)s, %(kind)s, %(model)s, %(input)s,
                    %(output)s, 0, 0, 0, %(outcome)s, '', %(now)s, %(expires)s)
            RETURNING id
        )
        SELECT reserved.id, totals.workspace_month, totals.workspace_day, totals.user_month, totals.user_day,
               policy.id, {", ".join(f"policy.{name}" for name in _POLICY_LIMITS)}
        FROM reserved CROSS JOIN totals LEFT JOIN {policy_table} policy ON policy.workspace_id = %(workspace)s
    """  # noqa: S608 - table and column names from the models, values bound
    cursor.execute(sql, {
        "day": periods.day_start, "month": periods.month_start, "month_end": periods.month_end,
        "workspace": workspace.pk, "user": getattr(user, "pk", None), "embedding": EMBEDDING_PURPOSE,
        "provider": row.provider_id, "purpose": row.purpose, "kind": row.provider_kind, "model": row.model,
        "input": row.input_tokens, "output": row.output_tokens, "outcome": row.outcome, "now": row.created_at,
        "expires": row.expires_at,
    })
    values = cursor.fetchone()
    row.pk = values[0]
    row._state.adding, row._state.db = False, connection.alias
    totals = dict(zip(("workspace_month", "workspace_day", "user_month", "user_day"), map(int, values[1:5]), strict=True))
    if values[5] is None:
        policy = LLMQuotaPolicy(workspace=workspace)
    else:
        policy = LLMQuotaPolicy(id=values[5], workspace=workspace, **dict(zip(_POLICY_LIMITS, values[6:], strict=True)))
    return policy, periods, totals


def _mark_exceeded(row: LLMUsage, exceeded: QuotaExceeded,
                   write: tuple[str, ...] = ("input_tokens", "output_tokens", "outcome", "error_message")) -> None:
    """Record the refusal on the reserved row: no tokens (nobody counts it), the reason. `write`: the
    columns not already stored that way."""
    row.input_tokens = row.output_tokens = 0
    row.outcome = Outcome.QUOTA_EXCEEDED
    row.error_message = str(exceeded)[:300]
    row.save(update_fields=list(write))


def _one_round_trip_possible() -> bool:
    """True outside any transaction, with Django's default client-side parameter binding.

    `_reserve_autocommit` sends two statements in one query string, which only the simple query
    protocol accepts: with DATABASES OPTIONS `server_side_binding` the extended protocol refuses it
    ("cannot insert multiple commands into a prepared statement"), so that setting takes the
    session-lock path instead.
    """
    return in_autocommit() and not connection.settings_dict.get("OPTIONS", {}).get("server_side_binding")


def _reserve_autocommit(row: LLMUsage, lock_key: list[int], *, workspace, user, role,
                        need: int = 1) -> QuotaExceeded | None:
    """The reservation in one round trip, outside any transaction; returns the refusal or None.

    Two statements in one simple query, which Postgres runs as one implicit transaction: a
    transaction-level advisory lock, then (a new statement, so a snapshot taken after the lock was
    granted: every reservation committed before it is counted) the policy, the period's usage and the
    insert. The insert applies the quota itself: a refused call's row is written as `quota_exceeded`
    with no tokens, so no other caller ever counts it. The commit at the end of the query releases
    the lock, right after the row is visible; a failure rolls both back. Was lock, insert, unlock
    (3 statements). Python evaluates the same totals (`quota_evaluate`) for the QuotaExceeded to raise.
    """
    qn = connection.ops.quote_name
    usage_table, policy_table = qn(LLMUsage._meta.db_table), qn(LLMQuotaPolicy._meta.db_table)
    periods = quota_periods(workspace=workspace)
    row.created_at = timezone.now()
    defaults = LLMQuotaPolicy(workspace=workspace)  # the LLM_QUOTA_DEFAULTS settings, without a policy row
    # The limits that apply to this caller, as in quota_evaluate: the role's per-user limits, then the
    # workspace's. A NULL limit is unlimited.
    checks = [("workspace_day", "workspace_daily"), ("workspace_month", "workspace_monthly")]
    if role is not None:  # None: system work, or a super-admin (no per-user limit)
        if f"{role}_daily" not in _POLICY_LIMITS:
            raise ValueError(f"unknown role {role!r}")
        checks = [("user_day", f"{role}_daily"), ("user_month", f"{role}_monthly"), *checks]
    exceeded_sql = " OR ".join(f"COALESCE(totals.{used} + %(need)s > limits.{limit}, false)" for used, limit in checks)
    sql = f"""
        SELECT pg_advisory_xact_lock(%(lock_class)s, %(lock_key)s);
        WITH totals AS ({_totals_sql(usage_table)}), limits AS (
            SELECT policy.id AS policy_id,
                   {", ".join(f"CASE WHEN policy.id IS NULL THEN %(default_{name})s::bigint ELSE policy.{name} END AS {name}"
                              for name in _POLICY_LIMITS)}
            FROM (SELECT 1) AS one LEFT JOIN {policy_table} policy ON policy.workspace_id = %(workspace)s
        ), verdict AS (
            SELECT ({exceeded_sql}) AS exceeded FROM totals CROSS JOIN limits
        ), reserved AS (
            INSERT INTO {usage_table} (workspace_id, user_id, provider_id, purpose, provider_kind, model,
                input_tokens, output_tokens, cost_usd, latency_ms, attempts, outcome, error_message, created_at,
                expires_at)
            SELECT %(workspace)s, %(user)s, %(provider)s, %(purpose)s, %(kind)s, %(model)s,
                   CASE WHEN verdict.exceeded THEN 0 ELSE %(input)s END,
                   CASE WHEN verdict.exceeded THEN 0 ELSE %(output)s END,
                   0, 0, 0, CASE WHEN verdict.exceeded THEN %(refused)s ELSE %(outcome)s END, '', %(now)s,
                   %(expires)s
            FROM verdict
            RETURNING id, outcome
        )
        SELECT reserved.id, reserved.outcome, totals.workspace_month, totals.workspace_day, totals.user_month,
               totals.user_day, limits.policy_id, {", ".join(f"limits.{name}" for name in _POLICY_LIMITS)}
        FROM reserved CROSS JOIN totals CROSS JOIN limits
    """  # noqa: S608 - table and column names from the models, values bound
    params = {
        "lock_class": lock_key[0], "lock_key": lock_key[1],
        "day": periods.day_start, "month": periods.month_start, "month_end": periods.month_end,
        "workspace": workspace.pk, "user": getattr(user, "pk", None), "embedding": EMBEDDING_PURPOSE,
        "provider": row.provider_id, "purpose": row.purpose, "kind": row.provider_kind, "model": row.model,
        "input": row.input_tokens, "output": row.output_tokens, "outcome": row.outcome, "now": row.created_at,
        "refused": Outcome.QUOTA_EXCEEDED, "need": need, "expires": row.expires_at,
        **{f"default_{name}": getattr(defaults, name) for name in _POLICY_LIMITS},
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        cursor.nextset()  # past the lock's result
        values = cursor.fetchone()
    row.pk, outcome = values[0], values[1]
    row._state.adding, row._state.db = False, connection.alias
    totals = dict(zip(("workspace_month", "workspace_day", "user_month", "user_day"), map(int, values[2:6]), strict=True))
    policy = LLMQuotaPolicy(id=values[6], workspace=workspace, **dict(zip(_POLICY_LIMITS, values[7:], strict=True)))
    exceeded = quota_evaluate(workspace=workspace, user=user if role is not None else None, role=role, policy=policy,
                              periods=periods, totals=totals, need=need)
    if exceeded is not None:
        if outcome == Outcome.QUOTA_EXCEEDED:
            _mark_exceeded(row, exceeded, write=("error_message",))  # the SQL wrote the rest
        else:  # cannot happen (the SQL and quota_evaluate apply the same limits); refuse all the same
            log.error("llm quota check mismatch on usage row %s: allowed in SQL, refused by quota_evaluate", row.pk)
            _mark_exceeded(row, exceeded)
    elif outcome == Outcome.QUOTA_EXCEEDED:  # cannot happen either; the row records a refusal, no tokens
        raise LLMGatewayError(f"quota check mismatch on usage row {row.pk}: refused in SQL, not by quota_evaluate")
    return exceeded


def _call_with_retries(config: ProviderConfig, params: CallParams, max_retries: int, call=None):
    call = call or adapters.complete
    attempt = 0
    while True:
        attempt += 1
        try:
            return call(config, params), attempt
        except LLMError as exc:
            exc.attempts = attempt
            delay = None if exc.permanent or attempt > max_retries else _backoff(attempt, exc.retry_after)
            if delay is None:
                raise
            log.warning("llm %s error (attempt %d, retrying in %.2fs): %s", exc.kind, attempt, delay, exc.message)
            time.sleep(delay)


def _backoff(attempt: int, retry_after: float | None) -> float | None:
    """Seconds to wait before the next attempt, or None to give up now.

    Full jitter over an exponential window; a provider's Retry-After wins when it is longer, and one
    longer than LLM_RETRY_MAX_DELAY means "not soon": a worker should not sleep on it.
    """
    cap = settings.LLM_RETRY_MAX_DELAY
    delay = backoff_delay(attempt, base=settings.LLM_RETRY_BASE_DELAY, cap=cap)
    if retry_after is not None:
        if retry_after > cap:
            return None
        delay = max(delay, retry_after)
    return delay


def _finish(usage: LLMUsage, *, outcome: str, attempts: int, started: float, completion=None, error: str = "",
            batch=None, drawn: int = 0):
    """Complete the call's usage row: in place, or, for a call drawn from `batch`, handed to the batch
    (which writes it with others and settles the `drawn` tokens)."""
    usage.latency_ms = int((time.monotonic() - started) * 1000)
    usage.attempts = attempts
    usage.outcome = outcome
    usage.error_message = error[:300]
    if completion is not None:
        usage.input_tokens, usage.output_tokens = completion.input_tokens, completion.output_tokens
        usage.cost_usd = estimate_cost(kind=usage.provider_kind, model=usage.model,
                                       input_tokens=usage.input_tokens, output_tokens=usage.output_tokens)
    else:
        usage.input_tokens = usage.output_tokens = 0  # failed calls are not billed by providers
    if batch is not None:
        batch.settle(usage, drawn=drawn)
    else:
        # A queryset update, not save(update_fields=...): the same statement, a third less work to build.
        LLMUsage.objects.filter(pk=usage.pk).update(
            latency_ms=usage.latency_ms, attempts=attempts, outcome=outcome, error_message=usage.error_message,
            input_tokens=usage.input_tokens, output_tokens=usage.output_tokens, cost_usd=usage.cost_usd)
    log.info(
        "llm call workspace=%s purpose=%s kind=%s model=%s outcome=%s tokens=%d+%d cost=%s latency_ms=%d attempts=%d",
        usage.workspace_id, usage.purpose, usage.provider_kind, usage.model, outcome, usage.input_tokens,
        usage.output_tokens, usage.cost_usd, usage.latency_ms, attempts,
    )
    return usage.latency_ms, usage.cost_usd


__all__ = ["llm_complete", "llm_stream", "LLMResult", "LLMError", "LLMOutputError", "NoProviderConfigured", "QuotaExceeded",
           "ErrorKind"]
