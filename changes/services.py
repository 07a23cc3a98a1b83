"""Preview, apply and undo change sets (see `changes.models` and `changes.kinds`).

Each function re-checks the actor's role for every kind in the set (prompt, knowledge, settings and
lead memory removal: workspace admins; stage, score, bookings and new memories: setters too), so a
view or a task calling it cannot widen what a person may do. Apply and undo are one transaction
each: the targets are locked, every snapshot is checked first, and only then is anything written,
through the owning apps' services.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Membership, Role
from accounts.services import audit_event_record
from changes.kinds import kind_get
from changes.kinds.base import PREVIEW_CACHE
from changes.models import ChangeSet, Operation, Source, Status


@dataclass(frozen=True)
class OperationSpec:
    """One requested change: a kind, its target's id (None for workspace-wide state or a new row),
    and the values to set, as JSON."""

    kind: str
    after: dict = field(default_factory=dict)
    target_id: int | None = None


class ChangeConflict(ValidationError):
    """The targets moved: a stale preview on apply, or a later change on undo. Nothing was written.
    ``operations`` are the operations concerned (their ``label`` names them for a person)."""

    def __init__(self, message: str, *, operations: list[Operation]):
        super().__init__(message)
        self.operations = operations


class ChangeSetStateError(ValidationError):
    """Applying a set that is not previewed, or undoing one that is not applied."""


def _role(*, workspace, actor) -> str:
    if actor is not None and getattr(actor, "is_superadmin", False):
        return Role.ADMIN  # as `accounts.tenancy.workspace_access`: an admin in every workspace
    role = Membership.objects.filter(workspace=workspace, user=actor).values_list("role", flat=True).first()
    if role is None:
        raise PermissionDenied("Not a member of this workspace.")
    return role


def _require_roles(*, workspace, actor, kinds) -> None:
    role = _role(workspace=workspace, actor=actor)
    refused = sorted({kind.label for kind in kinds if kind.admin_only and role != Role.ADMIN})
    if refused:
        raise PermissionDenied(f"Only workspace admins can change: {', '.join(refused)}.")


def _as_spec(item) -> OperationSpec:
    if isinstance(item, OperationSpec):
        return item
    if isinstance(item, dict):
        return OperationSpec(kind=item.get("kind", ""), after=item.get("after") or {}, target_id=item.get("target_id"))
    raise ValidationError("An operation is an OperationSpec or a dict with kind, target_id and after.")


def change_set_preview(*, workspace, actor, operations, source: str = Source.MANUAL, title: str = "") -> ChangeSet:
    """Validate each operation, record its target's current value (``before``) beside ``after``, and
    keep the set as previewed. Nothing is applied. Raises ValidationError naming every step that is
    refused (all of them, so a plan can be corrected at once), PermissionDenied for a role."""
    if source not in Source.values:
        raise ValidationError(f"Unknown source {source!r}.")
    specs = [_as_spec(item) for item in operations or []]
    if not specs:
        raise ValidationError("A change set needs at least one operation.")
    kinds = [kind_get(spec.kind) for spec in specs]
    _require_roles(workspace=workspace, actor=actor, kinds=kinds)
    ops, errors, written = [], [], {}
    cache_token = PREVIEW_CACHE.set({})
    try:
        _preview_operations(workspace, specs, kinds, ops, errors, written)
    finally:
        PREVIEW_CACHE.reset(cache_token)
    if errors:
        raise ValidationError(errors)
    # No savepoint: inside a caller's transaction (AutoCRM's chat turn) the two INSERTs need none.
    with transaction.atomic(savepoint=False):
        change_set = ChangeSet.objects.create(workspace=workspace, created_by=actor, source=source, title=title[:200])
        for op in ops:
            op.change_set = change_set
        Operation.objects.bulk_create(ops)
    return change_set


def _preview_operations(workspace, specs, kinds, ops, errors, written) -> None:
    for position, (spec, kind) in enumerate(zip(specs, kinds, strict=True)):
        op = Operation(position=position, kind=kind.name, result={})
        try:
            kind.resolve(workspace=workspace, op=op, target_id=spec.target_id)
            op.after = kind.clean(workspace=workspace, op=op, after=spec.after)
            op.before = kind.read(workspace=workspace, op=op)
            op.label = kind.describe(workspace=workspace, op=op)[:200]
            if kind.unchanged(op):
                raise ValidationError("This is already the current value.")
            for mark in kind.footprint(op):
                if mark in written:
                    raise ValidationError(f"Step {written[mark] + 1} already changes this; combine them.")
                written[mark] = position
        except ValidationError as exc:
            errors.append(f"Step {position + 1} ({kind.label}): {' '.join(exc.messages)}")
        ops.append(op)


def _locked(change_set: ChangeSet, expected: str) -> tuple[ChangeSet, list[Operation]]:
    locked = ChangeSet.objects.select_for_update().select_related("workspace").get(pk=change_set.pk)
    if locked.status != expected:
        raise ChangeSetStateError(f"This change set is {locked.get_status_display().lower()}, not {expected}.")
    ops = list(locked.operations.order_by("position"))
    for op in ops:
        op.change_set = locked
    # Lock in one fixed order (kind, then target) so two sets touching the same rows cannot deadlock.
    for name, group in sorted(_by_kind(ops).items()):
        kind_get(name).lock_many(workspace=locked.workspace, ops=sorted(group, key=lambda o: (o.target_key,
                                                                                        o.target_id or 0)))
    return locked, ops


def _operations_save(ops: list[Operation]) -> None:
    """Write back what apply or undo set on the operations (target, result, applied, state) in one
    statement: an UPDATE … FROM unnest(arrays) costs the same for 1 or 100 steps, where bulk_update
    compiles a CASE per row and field."""
    if not ops:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE changes_operation AS o SET target_id = v.target_id, result = v.result::jsonb, "
            "applied = v.applied::jsonb, state = v.state "
            "FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::text[]) "
            "AS v(id, target_id, result, applied, state) WHERE o.id = v.id",
            [[op.pk for op in ops], [op.target_id for op in ops], [json.dumps(op.result) for op in ops],
             [json.dumps(op.applied) for op in ops], [op.state for op in ops]])


def _by_kind(ops: list[Operation]) -> dict[str, list[Operation]]:
    groups: dict[str, list[Operation]] = {}
    for op in ops:
        groups.setdefault(op.kind, []).append(op)
    return groups


def _reads(workspace, ops: list[Operation]) -> dict[int, dict]:
    """Each operation's target's current value (by position), one `read_many` per kind."""
    values = {}
    for name, group in _by_kind(ops).items():
        values.update(zip([op.position for op in group], kind_get(name).read_many(workspace=workspace, ops=group),
                          strict=True))
    return values


def _in_batches(ops: list[Operation]) -> list[list[Operation]]:
    """The operations in order, a batched kind's all together at its first position (their footprints
    never overlap another step's, so only the order within a kind matters)."""
    batches, seen = [], {}
    for op in ops:
        if kind_get(op.kind).batched:
            if op.kind in seen:
                seen[op.kind].append(op)
                continue
            seen[op.kind] = [op]
            batches.append(seen[op.kind])
        else:
            batches.append([op])
    return batches


def _names(ops: list[Operation]) -> str:
    return "; ".join(f"step {op.position + 1}: {op.label}" for op in ops)


def change_set_apply(*, change_set: ChangeSet, actor) -> ChangeSet:
    """Apply every operation in one transaction, or none.

    Refused as a whole (ChangeConflict, nothing written, the set marked failed) when any target no
    longer holds the value the preview showed; a refusal by an owning service (ValidationError) also
    rolls everything back and marks the set failed. PermissionDenied and ChangeSetStateError leave
    the set as it was.
    """
    try:
        with transaction.atomic():
            locked, ops = _locked(change_set, Status.PREVIEWED)
            workspace = locked.workspace
            _require_roles(workspace=workspace, actor=actor, kinds=[kind_get(op.kind) for op in ops])
            current = _reads(workspace, ops)
            stale = [op for op in ops if current[op.position] != op.before]
            if stale:
                raise ChangeConflict(f"Changed since the preview, so nothing was applied ({_names(stale)}). "
                                     "Preview again.", operations=stale)
            for batch in _in_batches(ops):
                kind = kind_get(batch[0].kind)
                try:
                    if len(batch) == 1 and not kind.batched:
                        batch[0].result = kind.apply(workspace=workspace, op=batch[0], actor=actor) or {}
                    else:
                        for op, result in zip(batch, kind.apply_many(workspace=workspace, ops=batch, actor=actor),
                                              strict=True):
                            op.result = result or {}
                except (ValidationError, ValueError) as exc:  # refused by the owning service's own checks
                    reason = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
                    what = f"Step {batch[0].position + 1} ({batch[0].label})" if len(batch) == 1 else \
                        f"Steps {', '.join(str(op.position + 1) for op in batch)}"
                    raise ValidationError(f"{what}: {reason} Nothing was applied.") from exc
            applied = _reads(workspace, ops)
            for op in ops:
                op.applied = applied[op.position]
                op.state = Status.APPLIED
            _operations_save(ops)
            locked.status, locked.applied_by, locked.applied_at, locked.error = Status.APPLIED, actor, timezone.now(), ""
            locked.save(update_fields=["status", "applied_by", "applied_at", "error", "updated_at"])
            audit_event_record(verb="changes.applied", workspace=workspace, actor=actor, target=locked,
                               data=_audit_data(locked, ops))
    except (ChangeSetStateError, PermissionDenied):
        raise
    except ValidationError as exc:
        ChangeSet.objects.filter(pk=change_set.pk, status=Status.PREVIEWED).update(
            status=Status.FAILED, error=" ".join(exc.messages)[:2000], updated_at=timezone.now())
        Operation.objects.filter(change_set_id=change_set.pk).update(state=Status.FAILED)
        change_set.refresh_from_db()
        raise
    change_set.refresh_from_db()
    return change_set


def change_set_undo(*, change_set: ChangeSet, actor, positions: list[int] | None = None,
                    overwrite: bool = False) -> ChangeSet:
    """Undo every operation, last first, in one transaction: a new revision with the previous text
    where the target keeps revisions, the before values otherwise.

    Refused as a whole (ChangeConflict naming each target, nothing written, the set stays applied)
    when any target changed since the apply, unless ``overwrite`` (a person saw the conflict and chose
    to put the before values back anyway). ``positions`` undoes only those steps (0-based); the set
    is undone once every step is, and an undone step is skipped. An undo is recorded (audit,
    ``undone_by``); redoing is a new change set previewed from the current values.
    """
    with transaction.atomic():
        locked, ops = _locked(change_set, Status.APPLIED)
        workspace = locked.workspace
        _require_roles(workspace=workspace, actor=actor, kinds=[kind_get(op.kind) for op in ops])
        chosen = [op for op in ops if op.state == Status.APPLIED and (positions is None or op.position in positions)]
        if not chosen:
            raise ChangeSetStateError("These steps are already undone.")
        batched = [op for op in chosen if kind_get(op.kind).batched]
        current = _reads(workspace, batched)
        moved = [op for op in chosen if (current[op.position] != op.applied if kind_get(op.kind).batched
                                         else kind_get(op.kind).changed_since_apply(workspace=workspace, op=op))]
        if moved and not overwrite:
            raise ChangeConflict(f"Changed since this change set was applied, so nothing was undone "
                                 f"({_names(moved)}).", operations=moved)
        for batch in reversed(_in_batches(chosen)):
            op = batch[0]
            try:
                if len(batch) == 1 and not kind_get(op.kind).batched:
                    kind_get(op.kind).undo(workspace=workspace, op=op, actor=actor)
                else:
                    kind_get(op.kind).undo_many(workspace=workspace, ops=batch, actor=actor)
            except ObjectDoesNotExist as exc:  # only reachable with overwrite: the record is gone
                raise ValidationError(f"Step {op.position + 1} ({op.label}) cannot be undone: the record it "
                                      "changed no longer exists. Nothing was undone.") from exc
            except ValueError as exc:
                raise ValidationError(f"Step {op.position + 1} ({op.label}): {exc} Nothing was undone.") from exc
            for undone in batch:
                undone.state = Status.UNDONE
        _operations_save(chosen)
        if all(op.state == Status.UNDONE for op in ops):
            locked.status, locked.undone_by, locked.undone_at = Status.UNDONE, actor, timezone.now()
            locked.save(update_fields=["status", "undone_by", "undone_at", "updated_at"])
        audit_event_record(verb="changes.undone", workspace=workspace, actor=actor, target=locked,
                           data={**_audit_data(locked, chosen), "overwrite": bool(moved and overwrite),
                                 "partial": len(chosen) < len(ops) or locked.status != Status.UNDONE})
    change_set.refresh_from_db()
    return change_set


def _audit_data(change_set: ChangeSet, ops: list[Operation]) -> dict:
    return {"title": change_set.title[:200], "source": change_set.source,
            "operations": [{"kind": op.kind, "label": op.label, "target_id": op.target_id} for op in ops]}
