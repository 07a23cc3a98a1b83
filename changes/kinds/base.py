"""The registry of operation kinds: what a change set can do, and how each thing is read, checked,
applied and undone.

A kind is a small class; it never writes a table itself: ``apply`` and ``undo`` call the owning
app's service (conversations, knowledge, contacts), which validates again, locks and audits as it
does for the dashboard. The change mechanism (``changes.services``) compares JSON snapshots that
``read`` returns, so ``read`` must return plain JSON (see ``jsonable``) and the same shape at
preview, apply and undo.
"""

from __future__ import annotations

import contextvars
from datetime import UTC, date, datetime, time

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.utils import timezone

_REGISTRY: dict[str, OperationKind] = {}
# During a preview (one moment, nothing written) a target is fetched once for resolve, read and describe;
# `change_set_preview` sets a dict here. Apply and undo never do: they read the locked rows afresh.
PREVIEW_CACHE: contextvars.ContextVar[dict | None] = contextvars.ContextVar("changes_preview_cache", default=None)


def jsonable(value):
    """Dates and times as ISO strings, so that snapshots compare equal after a JSON round trip."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return value


def parse_datetime_value(value) -> datetime | None:
    """The inverse of `jsonable` for a datetime (None stays None); a naive time is read as UTC."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            raise ValidationError(f"{value!r} is not a date and time.") from None
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)


class OperationKind:
    """Base class. Subclasses set ``name``, ``label``, ``admin_only`` and ``model`` (the target's
    model, or None for a workspace-wide target named by ``target_key``) and implement the hooks."""

    name: str = ""
    label: str = ""
    admin_only: bool = True  # False: setters of the workspace may apply and undo it too
    model = None
    target_key: str = ""
    target_optional: bool = False  # True: no target id means "create one" (the id is set on apply)

    # --- preview -----------------------------------------------------------------------------

    def resolve(self, *, workspace, op, target_id) -> None:
        """Point ``op`` at its target, which must belong to ``workspace`` (else ValidationError)."""
        if self.model is None:
            if target_id is not None:
                raise ValidationError(f"{self.label} takes no target id.")
            op.target_key = self.target_key
            return
        op.target_type = ContentType.objects.get_for_model(self.model)
        if target_id is None:
            if not self.target_optional:
                raise ValidationError(f"{self.label} needs a target.")
            op.target_key = "new"
            return
        op.target_id = int(target_id)
        if self._target(workspace, op) is None:
            raise ValidationError(f"No such {self.model._meta.verbose_name} in this workspace.")

    def clean(self, *, workspace, op, after: dict) -> dict:
        """The validated, normalised ``after`` (JSON). Raise ValidationError with a reason a person reads."""
        raise NotImplementedError

    def read(self, *, workspace, op) -> dict:
        """The target's current value, in the shape ``before`` and ``applied`` are kept in."""
        raise NotImplementedError

    def unchanged(self, op) -> bool:
        """True when applying would change nothing (refused at preview)."""
        return bool(op.before) and all(op.before.get(name) == value for name, value in op.after.items())

    def footprint(self, op) -> set:
        """What the operation writes; two operations of one set may not overlap (each is checked
        against its own ``before``, which another operation of the set would have moved)."""
        return {(self.name, op.target_key, op.target_id)}

    def describe(self, *, workspace, op) -> str:
        return self.label

    # --- apply and undo (called inside the change set's transaction, targets locked) -----------

    def lock(self, *, workspace, op) -> None:
        """SELECT … FOR UPDATE the target so nothing moves it between the check and the write."""
        if self.model is not None and op.target_id is not None:
            list(self._queryset(workspace).select_for_update().filter(pk=op.target_id).values_list("pk"))

    def apply(self, *, workspace, op, actor) -> dict:
        """Write ``op.after`` through the owning service; return what it produced (ids) as JSON."""
        raise NotImplementedError

    def changed_since_apply(self, *, workspace, op) -> bool:
        return self.read(workspace=workspace, op=op) != op.applied

    def undo(self, *, workspace, op, actor) -> None:
        """Bring back ``op.before`` through the owning service (a new revision where there are revisions)."""
        raise NotImplementedError

    # --- many at once (a kind sets ``batched`` and overrides these; see ContactStateKind) ---------
    # The defaults are the one-by-one hooks; `changes.services` calls them for a batched kind with
    # every operation of that kind in the set, in position order.

    batched: bool = False

    def lock_many(self, *, workspace, ops) -> None:
        for op in ops:
            self.lock(workspace=workspace, op=op)

    def read_many(self, *, workspace, ops) -> list[dict]:
        return [self.read(workspace=workspace, op=op) for op in ops]

    def apply_many(self, *, workspace, ops, actor) -> list[dict]:
        return [self.apply(workspace=workspace, op=op, actor=actor) or {} for op in ops]

    def undo_many(self, *, workspace, ops, actor) -> None:
        for op in reversed(ops):
            self.undo(workspace=workspace, op=op, actor=actor)

    # --- helpers -------------------------------------------------------------------------------

    def _queryset(self, workspace):
        return self.model.objects.filter(workspace=workspace)

    def _target(self, workspace, op):
        if op.target_id is None:
            return None
        cache = PREVIEW_CACHE.get()
        if cache is None:
            return self._queryset(workspace).filter(pk=op.target_id).first()
        key = (self.model, workspace.pk, op.target_id)
        if key not in cache:
            cache[key] = self._queryset(workspace).filter(pk=op.target_id).first()
        return cache[key]

    @staticmethod
    def _only(after: dict, allowed) -> dict:
        if not isinstance(after, dict) or not after:
            raise ValidationError("Say what to change.")
        unknown = set(after) - set(allowed)
        if unknown:
            raise ValidationError(f"Cannot change {', '.join(sorted(unknown))} here.")
        return after


def register(cls):
    kind = cls()
    if not kind.name or kind.name in _REGISTRY:
        raise RuntimeError(f"operation kind {kind.name!r} is unnamed or registered twice")
    _REGISTRY[kind.name] = kind
    return cls


def kind_get(name: str) -> OperationKind:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValidationError(f"Unknown kind of change {name!r}.") from None


def kinds_all() -> dict[str, OperationKind]:
    return dict(_REGISTRY)
