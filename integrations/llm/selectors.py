from __future__ import annotations

from django.db.models import QuerySet

from integrations.llm.models import LLMProvider, LLMUsage


def llm_provider_for(*, workspace, user=None) -> LLMProvider | None:
    """The provider a call uses: the user's override in this workspace, else the workspace default."""
    providers = LLMProvider.objects.filter(workspace=workspace)
    if user is not None:
        override = providers.filter(user=user).first()
        if override is not None:
            return override
    return providers.filter(is_default=True, user__isnull=True).first()


def llm_providers_for_workspace(*, workspace) -> QuerySet[LLMProvider]:
    return LLMProvider.objects.filter(workspace=workspace).select_related("user")


def llm_usage_for_workspace(*, workspace) -> QuerySet[LLMUsage]:
    return LLMUsage.objects.filter(workspace=workspace).select_related("user")
