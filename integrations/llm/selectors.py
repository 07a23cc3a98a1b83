from __future__ import annotations

from django.db.models import F, Q, QuerySet

from integrations.llm.models import LLMProvider, LLMUsage


def llm_provider_for(*, workspace, user=None) -> LLMProvider | None:
    """The provider a call uses: the user's override in this workspace, else the workspace default."""
    wanted = Q(is_default=True, user__isnull=True)
    if user is not None:
        wanted |= Q(user=user)
    # One query: an override (user set) sorts before the default (user null).
    return LLMProvider.objects.filter(wanted, workspace=workspace).order_by(F("user").asc(nulls_last=True)).first()


def llm_providers_for_workspace(*, workspace) -> QuerySet[LLMProvider]:
    return LLMProvider.objects.filter(workspace=workspace).select_related("user")


def llm_usage_for_workspace(*, workspace) -> QuerySet[LLMUsage]:
    return LLMUsage.objects.filter(workspace=workspace).select_related("user")
