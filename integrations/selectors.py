"""Reads for channels. Every read of tenant data takes the workspace."""

from django.db.models import QuerySet

from accounts.models import Workspace
from integrations.models import Channel, SandboxSend


def workspace_channels(*, workspace: Workspace) -> QuerySet[Channel]:
    return Channel.objects.filter(workspace=workspace).order_by("platform", "name")


def workspace_sandbox_sends(*, workspace: Workspace, limit: int = 50) -> QuerySet[SandboxSend]:
    return SandboxSend.objects.filter(channel__workspace=workspace).select_related("channel")[:limit]
