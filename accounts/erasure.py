"""Erasing a data subject from the audit log (GDPR) without losing the log itself.

An audit entry keeps who did what and when; its `data` may quote the subject (a booking note, a memory
label, a change set's operation labels), so entries about the subject's rows keep their verb, actor and
time and lose their data.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q, TextField
from django.db.models.functions import Cast

from accounts.models import AuditEvent

REDACTED = {"redacted": "the data subject was erased"}


def audit_events_redact(*, workspace, targets: list[str], needles: list[str]) -> int:
    """Clear the data of the workspace's entries aimed at one of `targets` ("app.model:id") or whose data
    mentions one of `needles` (identifiers). Precondition: inside the erasure's transaction."""
    assert transaction.get_connection().in_atomic_block, "runs inside the erasure's transaction"
    about = Q(target__in=targets)
    for needle in needles:
        about |= Q(data_text__icontains=needle)
    return (AuditEvent.objects.filter(workspace=workspace).annotate(data_text=Cast("data", TextField()))
            .filter(about).exclude(data=REDACTED).update(data=REDACTED))
