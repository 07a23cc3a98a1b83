"""Small database helpers shared by the hot paths."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

from django.db import connection, transaction


def savepoint_if_in_transaction() -> AbstractContextManager:
    """`transaction.atomic()` inside a caller's transaction, nothing in autocommit.

    For a single statement that may fail with an IntegrityError the caller handles: inside a
    transaction the savepoint keeps the failure from aborting it; in autocommit the statement is its
    own transaction already, and `atomic()` would only add a BEGIN and a COMMIT round trip.
    """
    return transaction.atomic() if connection.in_atomic_block else nullcontext()


def in_autocommit() -> bool:
    """True when each statement commits on its own: autocommit on and no atomic block open.

    Only then may work move to another connection (it would not see this one's uncommitted rows) or
    a lock be tied to the statement's own implicit transaction.
    """
    return connection.get_autocommit() and not connection.in_atomic_block


def first_unordered(queryset):
    """The first row of a query that matches at most one (a key lookup), or None.

    `QuerySet.first()` adds an ORDER BY (the model's Meta.ordering, or the primary key), which costs
    query building and planning for nothing when only one row can match.
    """
    return next(iter(queryset.order_by()[:1]), None)
