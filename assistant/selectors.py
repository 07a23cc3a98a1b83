"""Reads for the assistant. Every conversation query is scoped to the workspace AND the user."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet

from accounts.models import Role
from assistant.models import AssistantConversation, AssistantMessage, AssistantSuggestion
from integrations.llm.models import LLMProvider
from integrations.llm.quotas import quota_periods, quota_policy_for, usage_totals
from integrations.llm.selectors import llm_provider_for

WARN_AT = 0.8  # share of the daily limit from which the input shows a warning


def conversations_for_user(*, workspace, user, archived: bool = False, q: str = "") -> QuerySet[AssistantConversation]:
    """The user's conversations in this workspace, newest first; `q` matches the title or any message."""
    rows = AssistantConversation.objects.filter(workspace=workspace, user=user, archived=archived)
    q = (q or "").strip()
    if q:
        in_messages = AssistantMessage.objects.filter(conversation=OuterRef("pk"), content__icontains=q)
        rows = rows.filter(Q(title__icontains=q) | Exists(in_messages))
    return rows


def conversation_for_user(*, workspace, user, conversation_id: int) -> AssistantConversation:
    """Raises DoesNotExist for another user's or another workspace's conversation."""
    return AssistantConversation.objects.get(workspace=workspace, user=user, pk=conversation_id)


def conversation_about(*, workspace, user, context) -> AssistantConversation | None:
    """The user's latest open conversation about this context (the same thread or contact, or the same
    kind of page), which the sidebar reopens on that page."""
    rows = conversations_for_user(workspace=workspace, user=user).filter(context_type=context.context_type)
    for key in ("thread_id", "contact_id"):
        if key in context.snapshot:
            rows = rows.filter(**{f"context__{key}": context.snapshot[key]})
            break
    return rows.first()


def message_for_user(*, workspace, user, message_id: int) -> AssistantMessage:
    """Raises DoesNotExist for a message of someone else's conversation."""
    return AssistantMessage.objects.select_related("conversation").get(
        conversation__workspace=workspace, conversation__user=user, pk=message_id)


def conversation_messages(*, conversation: AssistantConversation, limit: int = 100) -> list[AssistantMessage]:
    """The newest `limit` messages, oldest first."""
    rows = conversation.messages.order_by("-created_at", "-id").prefetch_related("suggestions")[:limit]
    return list(reversed(rows))


def suggestion_for_user(*, workspace, user, suggestion_id: int) -> AssistantSuggestion:
    """Raises DoesNotExist for a suggestion made to someone else or in another workspace."""
    return AssistantSuggestion.objects.select_related("workspace", "change_set").get(
        workspace=workspace, user=user, message__conversation__workspace=workspace, pk=suggestion_id)


def personal_provider_for(*, workspace, user) -> LLMProvider | None:
    """The user's own key in this workspace (an LLMProvider with `user` set), if any."""
    return LLMProvider.objects.filter(workspace=workspace, user=user).first()


def provider_for(*, workspace, user) -> LLMProvider | None:
    """What an answer uses: the user's own key, else the workspace default (the gateway's rule)."""
    return llm_provider_for(workspace=workspace, user=user)


@dataclass(frozen=True)
class TokenBudget:
    """"Tokens used today: X of Y" under the input."""

    used_today: int
    daily_limit: int | None  # None: unlimited
    used_month: int
    monthly_limit: int | None
    day_resets_at: datetime
    month_resets_at: datetime

    @property
    def share(self) -> float:
        shares = [self.used_today / self.daily_limit if self.daily_limit else 0.0,
                  self.used_month / self.monthly_limit if self.monthly_limit else 0.0]
        return max(shares)

    @property
    def warning(self) -> bool:
        return WARN_AT <= self.share < 1

    @property
    def exhausted(self) -> bool:
        return self.share >= 1

    @property
    def line(self) -> str:
        """The line under the input, with thousands separators."""
        limit = f"{self.daily_limit:,}" if self.daily_limit is not None else "unlimited"
        return f"Tokens used today: {self.used_today:,} of {limit}"

    @property
    def resets_at(self) -> datetime:
        """When the limit that is reached resets (the month's when both are)."""
        if self.monthly_limit and self.used_month >= self.monthly_limit:
            return self.month_resets_at
        return self.day_resets_at


def token_budget(*, workspace, user, role: str) -> TokenBudget:
    """The user's role limits (LLMQuotaPolicy) against their usage; super-admins are unlimited.

    Two queries: the policy and one index range sum (integrations.llm.quotas.usage_totals).
    """
    policy = quota_policy_for(workspace=workspace)
    periods = quota_periods(workspace=workspace)
    totals = usage_totals(workspace=workspace, user=user)
    if getattr(user, "is_superadmin", False):
        daily = monthly = None
    else:
        daily, monthly = policy.role_limits(role if role in (Role.ADMIN, Role.SETTER) else Role.SETTER)
    return TokenBudget(used_today=totals["user_day"], daily_limit=daily, used_month=totals["user_month"],
                       monthly_limit=monthly, day_resets_at=periods.day_end, month_resets_at=periods.month_end)
