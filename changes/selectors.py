"""Reads of change sets, always scoped to the workspace."""

from __future__ import annotations

from django.db.models import QuerySet

from changes.models import ChangeSet


def change_sets_for(*, workspace) -> QuerySet[ChangeSet]:
    return ChangeSet.objects.filter(workspace=workspace).select_related("created_by", "applied_by", "undone_by")


def change_set_for_workspace(*, workspace, change_set_id: int) -> ChangeSet:
    """The change set with its operations in order; ChangeSet.DoesNotExist for another workspace's."""
    return change_sets_for(workspace=workspace).prefetch_related("operations").get(pk=change_set_id)
