"""The counts in the navigation and the page title, polled by every workspace page (two small queries).

Kept apart from `selectors` (which the inbox work is reshaping) and cheap on purpose: it runs every
20 seconds on every open tab.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Max, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from conversations.models import Escalation, EscalationStatus, Thread, ThreadStatus


@dataclass(frozen=True)
class NavCounts:
    attention: int  # threads with unread messages or needing a human: the inbox badge and the title
    unread_messages: int  # grows when a new message arrives (a browser notification)
    needs_human: int
    escalations: int  # open or claimed
    latest_escalation_id: int  # grows when a new escalation opens, even if another closed meanwhile
    mine: int = 0  # open threads assigned to the user that need attention: the "mine" badge
    mine_unread_messages: int = 0  # grows when a message arrives on one of them (a notification)


def nav_counts(*, workspace, user) -> NavCounts:
    # "Open" as the inbox's open tab: a snoozed thread whose time has passed is open again.
    mine = Q(assigned_to_id=user.pk) & (
        Q(status=ThreadStatus.OPEN) | Q(status=ThreadStatus.SNOOZED, snoozed_until__lte=timezone.now()))
    threads = Thread.objects.filter(Q(unread_count__gt=0) | Q(needs_human=True), workspace=workspace).aggregate(
        attention=Count("id"), unread_messages=Coalesce(Sum("unread_count"), 0),
        needs_human=Count("id", filter=Q(needs_human=True)),
        mine=Count("id", filter=mine), mine_unread_messages=Coalesce(Sum("unread_count", filter=mine), 0))
    open_escalations = Escalation.objects.filter(
        workspace=workspace, status__in=[EscalationStatus.OPEN, EscalationStatus.CLAIMED]).aggregate(
        n=Count("id"), latest=Coalesce(Max("id"), 0))
    return NavCounts(attention=threads["attention"], unread_messages=threads["unread_messages"],
                     needs_human=threads["needs_human"], escalations=open_escalations["n"],
                     latest_escalation_id=open_escalations["latest"], mine=threads["mine"],
                     mine_unread_messages=threads["mine_unread_messages"])
