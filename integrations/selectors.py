"""Reads for channels. Every read of tenant data takes the workspace."""

from django.db.models import QuerySet

from accounts.models import Workspace
from integrations.models import Channel, SandboxSend


def workspace_channels(*, workspace: Workspace) -> QuerySet[Channel]:
    return Channel.objects.filter(workspace=workspace).order_by("platform", "name")


def workspace_sandbox_sends(*, workspace: Workspace, limit: int = 50) -> QuerySet[SandboxSend]:
    return SandboxSend.objects.filter(channel__workspace=workspace).select_related("channel")[:limit]


def sandbox_thread(*, workspace: Workspace, channel_id: int | None, sender_id: str):
    """The thread of a sandbox contact, if it has written yet."""
    from conversations.models import Thread

    if channel_id is None or not sender_id:
        return None
    thread = (Thread.objects.select_related("contact", "channel").defer("search_vector")
              .filter(workspace=workspace, channel_id=channel_id, contact__external_id=sender_id).first())
    if thread is not None:
        thread.workspace = workspace
    return thread
