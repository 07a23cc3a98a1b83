"""Token quotas: role limits per user and workspace totals, per day and per month.

Counted tokens are input + output of every LLMUsage row in the period (embedding rows excepted: they
are recorded for cost, and a large upload must not use up the replies' budget), in-flight calls included at
their reservation size (estimated input + max_tokens). Days and months follow the workspace's time
zone. A call is allowed while the usage is *below* every applicable limit, so the last allowed call
may overshoot a limit by at most its own size; the check and the reservation happen under a
per-workspace advisory lock (see gateway), so concurrent calls cannot all slip under the same limit.
A batch reservation (`integrations.llm.batch`) must fit whole under every limit, and counts until it
is released or expires (`expires_at`).
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import F, Q, Sum
from django.utils import timezone

from accounts.models import Membership
from integrations.llm.errors import LLMGatewayError, QuotaExceeded
from integrations.llm.models import LLMQuotaPolicy, LLMUsage

EMBEDDING_PURPOSE = "embedding"  # integrations.embeddings.usage.PURPOSE


@dataclass(frozen=True)
class Periods:
    day_start: datetime
    day_end: datetime
    month_start: datetime
    month_end: datetime


def counted(now: datetime) -> Q:
    """The usage rows a quota counts at `now`: all but batch reservations past their expiry."""
    return Q(expires_at__isnull=True) | Q(expires_at__gt=now)


def quota_periods(*, workspace, now: datetime | None = None) -> Periods:
    tz = zoneinfo.ZoneInfo(workspace.timezone or "UTC")
    local = (now or timezone.now()).astimezone(tz)
    day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    # Aware arithmetic in one zone is wall-clock arithmetic: DST days stay 23 or 25 hours long.
    day_end = day_start + timedelta(days=1)
    month_start = day_start.replace(day=1)
    next_month = (month_start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return Periods(day_start, day_end, month_start, next_month)


def quota_policy_for(*, workspace) -> LLMQuotaPolicy:
    """The workspace's policy row, or an unsaved one holding the LLM_QUOTA_DEFAULTS settings."""
    policy = LLMQuotaPolicy.objects.filter(workspace=workspace).first()
    return policy or LLMQuotaPolicy(workspace=workspace)


def member_role(*, workspace, user) -> str:
    roles = Membership.objects.filter(workspace=workspace, user=user).order_by().values_list("role", flat=True)[:1]
    role = next(iter(roles), None)
    if role is None:
        raise LLMGatewayError(f"{user} is not a member of workspace {workspace.slug!r}")
    return role


def usage_totals(*, workspace, user=None, now: datetime | None = None) -> dict[str, int]:
    """Tokens used this day and month by the workspace (and by `user` in it): one index range scan."""
    now = now or timezone.now()
    periods = quota_periods(workspace=workspace, now=now)
    tokens = F("input_tokens") + F("output_tokens")
    in_day = Q(created_at__gte=periods.day_start)
    aggregates = {"workspace_month": Sum(tokens), "workspace_day": Sum(tokens, filter=in_day)}
    if user is not None:
        aggregates["user_month"] = Sum(tokens, filter=Q(user=user))
        aggregates["user_day"] = Sum(tokens, filter=in_day & Q(user=user))
    totals = LLMUsage.objects.filter(
        counted(now), workspace=workspace, created_at__gte=periods.month_start, created_at__lt=periods.month_end
    ).exclude(purpose=EMBEDDING_PURPOSE).aggregate(**aggregates)
    return {name: int(value or 0) for name, value in totals.items()}


def quota_check(*, workspace, user=None, role: str | None = None, now: datetime | None = None) -> QuotaExceeded | None:
    """The first limit already reached by this caller, as an exception to raise, or None.

    `user=None` is system work: only the workspace totals apply. A user counts against their role's
    per-user limits and the workspace totals.
    """
    policy = quota_policy_for(workspace=workspace)
    periods = quota_periods(workspace=workspace, now=now)
    totals = usage_totals(workspace=workspace, user=user, now=now)
    return quota_evaluate(workspace=workspace, user=user, role=role, policy=policy, periods=periods, totals=totals)


def quota_evaluate(*, workspace, user, role: str | None, policy: LLMQuotaPolicy, periods: Periods,
                   totals: dict[str, int], need: int = 1) -> QuotaExceeded | None:
    """`quota_check` on a policy and totals already read (the gateway reads both with its reservation).

    `need`: the tokens that must still fit under each limit. 1 for a call (allowed while the usage is
    below the limit), the whole size for a batch reservation."""
    checks = []
    if user is not None:
        role = role or member_role(workspace=workspace, user=user)
        daily, monthly = policy.role_limits(role)
        checks += [("user", "day", daily, totals["user_day"]), ("user", "month", monthly, totals["user_month"])]
    checks += [
        ("workspace", "day", policy.workspace_daily, totals["workspace_day"]),
        ("workspace", "month", policy.workspace_monthly, totals["workspace_month"]),
    ]
    for scope, period, limit, used in checks:
        if limit is not None and used + need > limit:
            resets_at = periods.day_end if period == "day" else periods.month_end
            return QuotaExceeded(scope=scope, period=period, limit=limit, used=used, resets_at=resets_at,
                                 workspace=workspace, role=role if scope == "user" else None)
    return None
