"""The registry of operation kinds: what a change set can do, and how each thing is read, checked,
applied and undone.

A kind is a small class; it never writes a table itself: ``apply`` and ``undo`` call the owning
app's service (conversations, knowledge, contacts), which validates again, locks and audits as it
does for the dashboard. The change mechanism (``changes.services``) compares JSON snapshots that
``read`` returns, so ``read`` must return plain JSON (see ``jsonable``) and the same shape at
preview, apply and undo.
"""

from changes.kinds import autocrm, contacts, conversations, knowledge  # noqa: F401 - importing registers the kinds
from changes.kinds.base import OperationKind, jsonable, kind_get, kinds_all, parse_datetime_value, register

__all__ = ["OperationKind", "jsonable", "kind_get", "kinds_all", "parse_datetime_value", "register"]
