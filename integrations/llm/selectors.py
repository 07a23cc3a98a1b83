from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import Membership
from integrations.llm.models import LLMProvider, LLMUsage
from integrations.llm.quotas import counted, quota_periods, quota_policy_for
from sidekick_project.db import first_unordered


def llm_provider_for(*, workspace, user=None) -> LLMProvider | None:
    """The provider a call uses: the user's override in this workspace, else the workspace default."""
    if user is None:  # system work (auto-replies): the default, at most one (a unique constraint)
        return first_unordered(LLMProvider.objects.filter(workspace=workspace, is_default=True))
    wanted = Q(is_default=True, user__isnull=True) | Q(user=user)
    # One query: an override (user set) sorts before the default (user null).
    return LLMProvider.objects.filter(wanted, workspace=workspace).order_by(F("user").asc(nulls_last=True)).first()


def llm_providers_for_workspace(*, workspace) -> QuerySet[LLMProvider]:
    return LLMProvider.objects.filter(workspace=workspace).select_related("user")


def llm_provider_for_workspace(*, workspace, provider_id: int) -> LLMProvider | None:
    provider = llm_providers_for_workspace(workspace=workspace).filter(pk=provider_id).first()
    if provider is not None:
        provider.workspace = workspace  # already loaded by the tenancy check
    return provider


def llm_usage_for_workspace(*, workspace) -> QuerySet[LLMUsage]:
    return LLMUsage.objects.filter(workspace=workspace).select_related("user")


# --- usage page ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class QuotaRow:
    label: str
    role: str
    day_used: int
    day_limit: int | None
    month_used: int
    month_limit: int | None
    month_cost: Decimal = Decimal(0)
    user_id: int | None = None

    @property
    def month_share(self) -> float | None:
        """The month's use as a share of the limit (None when unlimited), for the bar on the usage page."""
        return None if not self.month_limit else min(1.0, self.month_used / self.month_limit)

    @property
    def day_remaining(self) -> int | None:
        return None if self.day_limit is None else max(0, self.day_limit - self.day_used)

    @property
    def month_remaining(self) -> int | None:
        return None if self.month_limit is None else max(0, self.month_limit - self.month_used)


def llm_usage_daily(*, workspace, days: int = 30, now=None, user=None) -> list[dict]:
    """Tokens, cost and calls per (day, user) over the last `days` days (workspace time zone), newest first.

    One grouped query over the `llm_usage_ws_created` range; `user_id` None is system work. With
    `user`, that user's rows only (what a setter sees).
    """
    now = now or timezone.now()
    periods = quota_periods(workspace=workspace, now=now)
    start = periods.day_start - timedelta(days=days - 1)
    tz = periods.day_start.tzinfo
    return list(
        LLMUsage.objects.filter(counted(now), workspace=workspace, created_at__gte=start,
                                **({"user": user} if user else {}))
        .annotate(day=TruncDate("created_at", tzinfo=tz))
        .values("day", "user_id", "user__email")
        .annotate(tokens=Sum(F("input_tokens") + F("output_tokens")), cost=Sum("cost_usd"), calls=Count("id"))
        .order_by("-day", "user__email")
    )


def llm_quota_status(*, workspace, now=None, user=None) -> list[QuotaRow]:
    """Used and remaining tokens today and this month, and the month's estimated cost: the workspace
    total, then each member. With `user` (a setter's view), only that member's row.

    Three queries whatever the number of members: policy, members, one grouped sum.
    """
    policy = quota_policy_for(workspace=workspace)
    now = now or timezone.now()
    periods = quota_periods(workspace=workspace, now=now)
    tokens = F("input_tokens") + F("output_tokens")
    in_day = Q(created_at__gte=periods.day_start)
    per_user = {
        row["user_id"]: row for row in
        LLMUsage.objects.filter(counted(now), workspace=workspace, created_at__gte=periods.month_start,
                                created_at__lt=periods.month_end)
        .values("user_id").annotate(day=Sum(tokens, filter=in_day), month=Sum(tokens), cost=Sum("cost_usd")).order_by()
    }
    rows = []
    if user is None:
        day_total = sum(int(r["day"] or 0) for r in per_user.values())
        month_total = sum(int(r["month"] or 0) for r in per_user.values())
        month_cost = sum((r["cost"] or Decimal(0) for r in per_user.values()), Decimal(0))
        rows.append(QuotaRow("Whole workspace", "", day_total, policy.workspace_daily, month_total,
                             policy.workspace_monthly, month_cost))
    members = Membership.objects.filter(workspace=workspace).select_related("user").order_by("user__email")
    if user is not None:
        members = members.filter(user=user)
    for membership in members:
        used = per_user.get(membership.user_id, {})
        daily, monthly = policy.role_limits(membership.role)
        if membership.user.is_superadmin:
            daily = monthly = None  # the gateway applies no per-user limit to super-admins
        rows.append(QuotaRow(membership.user.email, membership.get_role_display(), int(used.get("day") or 0), daily,
                             int(used.get("month") or 0), monthly, used.get("cost") or Decimal(0), membership.user_id))
    return rows


def llm_top_users(*, rows: list[QuotaRow], limit: int = 5) -> list[QuotaRow]:
    """The members who used the most tokens this month (from llm_quota_status rows), most first."""
    members = [row for row in rows if row.user_id is not None and row.month_used]
    return sorted(members, key=lambda row: (-row.month_used, row.label))[:limit]


def llm_usage_chart(*, rows: list[dict], days: int, workspace, now=None) -> dict:
    """Chart.js data: one stacked bar series of tokens per user over the days, oldest first."""
    periods = quota_periods(workspace=workspace, now=now)
    first = periods.day_start.date() - timedelta(days=days - 1)
    labels = [first + timedelta(days=i) for i in range(days)]
    series: dict[str, dict] = {}
    for row in rows:
        name = row["user__email"] or "System (auto-replies)"
        series.setdefault(name, {})[row["day"]] = int(row["tokens"] or 0)
    return {
        "labels": [d.isoformat() for d in labels],
        "datasets": [{"label": name, "data": [by_day.get(d, 0) for d in labels]} for name, by_day in sorted(series.items())],
    }
