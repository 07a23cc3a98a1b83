"""Erasing a contact from the change sets (GDPR): operations keep before/after snapshots and labels
("contact Maria (stage)", a memory's text), so an operation that touched the contact goes entirely.

A change set is what a person confirmed as one unit; when every operation of it touched the contact the
set goes too. A set that also changed other things keeps those operations, and its title is replaced
when it names the contact (a title is free text).
"""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q

from changes.models import ChangeSet, Operation
from contacts.models import Contact

ERASED_TITLE = "(title removed: it named an erased contact)"


def contact_operations(*, workspace, contact_id: int, row_targets: dict[type, list[int]]):
    """Operations of the workspace that touched the contact: aimed at it or at one of its rows
    (`row_targets`: model → ids, such as its lead memories), or holding its id in a snapshot (a removed
    memory's `before` keeps `contact_id`). Not by name: another contact may share a first name."""
    aimed = Q(target_type=ContentType.objects.get_for_model(Contact), target_id=contact_id)
    for model, ids in row_targets.items():
        if ids:
            aimed |= Q(target_type=ContentType.objects.get_for_model(model), target_id__in=ids)
    aimed |= Q(before__contact_id=contact_id) | Q(after__contact_id=contact_id) | Q(result__contact_id=contact_id)
    return Operation.objects.filter(aimed, change_set__workspace=workspace)


def contact_change_sets_erase(*, workspace, contact_id: int, row_targets: dict[type, list[int]],
                              needles: list[str]) -> tuple[dict[str, int], list[int]]:
    """Precondition: inside the erasure's transaction. Returns row counts and the ids of the change sets
    that had such operations (their audit entries quote the operations' labels)."""
    assert transaction.get_connection().in_atomic_block, "runs inside the erasure's transaction"
    operations = contact_operations(workspace=workspace, contact_id=contact_id, row_targets=row_targets)
    set_ids = set(operations.values_list("change_set_id", flat=True))
    deleted_ops = operations.delete()[0]
    emptied = ChangeSet.objects.filter(pk__in=set_ids, operations__isnull=True)
    deleted_sets = emptied.delete()[0]
    named = Q()
    for needle in needles:
        named |= Q(title__icontains=needle) | Q(error__icontains=needle)
    # Only the sets that touched the contact: a title elsewhere naming someone alike is not about them.
    retitled = (ChangeSet.objects.filter(named, workspace=workspace, pk__in=set_ids)
                .update(title=ERASED_TITLE, error="") if needles else 0)
    counts = {"change_operations": deleted_ops, "change_sets": deleted_sets, "change_sets_retitled": retitled}
    return counts, sorted(set_ids)
