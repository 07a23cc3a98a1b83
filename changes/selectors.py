"""Reads of change sets, always scoped to the workspace."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet

from changes.models import ChangeSet, Operation, Status


def change_sets_for(*, workspace) -> QuerySet[ChangeSet]:
    return ChangeSet.objects.filter(workspace=workspace).select_related("created_by", "applied_by", "undone_by")


def change_set_for_workspace(*, workspace, change_set_id: int) -> ChangeSet:
    """The change set with its operations in order; ChangeSet.DoesNotExist for another workspace's."""
    return change_sets_for(workspace=workspace).prefetch_related("operations").get(pk=change_set_id)


def operations_on(*, workspace, targets: dict, limit: int = 20) -> list[Operation]:
    """Everyone's applied (or since undone) operations on the given records of this workspace, newest
    first, with their change set and who applied / undid it: a record's change history.
    `targets` maps a model class to the ids of its records (e.g. a contact, its threads, its memory)."""
    match = Q()
    for model, ids in targets.items():
        ids = [pk for pk in ids if pk is not None]
        if ids:
            match |= Q(target_type=ContentType.objects.get_for_model(model), target_id__in=ids)
    if not match:
        return []
    return list(Operation.objects.filter(match, change_set__workspace=workspace,
                                         state__in=[Status.APPLIED, Status.UNDONE])
                .select_related("change_set__applied_by", "change_set__undone_by")
                .order_by("-change_set__applied_at", "-change_set_id", "position")[:limit])
