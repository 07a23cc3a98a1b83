"""Reads for the inbox and the thread view. Every read of tenant data takes the workspace.

The inbox pages with a keyset cursor over (last_message_at, id) descending, served by
`thread_inbox_idx`; it never counts rows or uses OFFSET, so page N costs what page 1 costs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.contrib.postgres.search import SearchQuery
from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from conversations.models import Message, Thread
from integrations.meta.limits import send_window

INBOX_PAGE_SIZE = 25
THREAD_PAGE_SIZE = 50
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class InboxFilters:
    platform: str = ""
    stage: str = ""
    needs_human: bool = False
    ai_paused: bool = False
    q: str = ""


@dataclass(frozen=True)
class Cursor:
    """Position after the last row shown: (last_message_at, id) of that row."""

    at: datetime
    pk: int

    def encode(self) -> str:
        return f"{int(self.at.timestamp() * 1_000_000)}.{self.pk}"

    @classmethod
    def decode(cls, value: str | None) -> Cursor | None:
        try:
            micros, pk = (value or "").split(".", 1)
            return cls(datetime.fromtimestamp(int(micros) / 1_000_000, tz=UTC), int(pk))
        except (ValueError, OverflowError, OSError):
            return None


@dataclass
class InboxPage:
    threads: list[Thread]
    next_cursor: Cursor | None


def _text_query(q: str) -> SearchQuery | None:
    """Every word of `q` as a prefix (`pric` finds "price"), all required; None when there is none."""
    words = _WORD.findall(q.lower())[:8]
    if not words:
        return None
    return SearchQuery(" & ".join(f"{w}:*" for w in words), config="simple", search_type="raw")


def inbox_threads(*, workspace, filters: InboxFilters, cursor: Cursor | None = None,
                  limit: int = INBOX_PAGE_SIZE) -> InboxPage:
    """One page of the inbox, newest activity first, with contact, channel and a last-message preview.

    A search is answered in one of two ways (see `_search_plans`); everything else is one walk of
    `thread_inbox_idx` (or a filter's partial index) that stops after `limit + 1` rows.
    """
    threads = Thread.objects.filter(workspace=workspace, last_message_at__isnull=False)
    if filters.platform:
        threads = threads.filter(channel__platform=filters.platform)
    if filters.stage:
        threads = threads.filter(contact__stage=filters.stage)
    if filters.needs_human:
        threads = threads.filter(needs_human=True)
    if filters.ai_paused:
        threads = threads.filter(ai_paused=True)
    if cursor is not None:
        threads = threads.filter(Q(last_message_at__lt=cursor.at) | Q(last_message_at=cursor.at, pk__lt=cursor.pk))
    if filters.q.strip():
        query = _text_query(filters.q)
        if query is None:
            return InboxPage([], None)
        rows = []
        for plan in _search_plans(workspace, threads.filter(search_vector=query), cursor):
            rows = _page_rows(plan, limit)
            if len(rows) > limit:
                break
    else:
        rows = _page_rows(threads.order_by("-last_message_at", "-pk"), limit)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = Cursor(rows[-1].last_message_at, rows[-1].pk)
    return InboxPage(rows, next_cursor)


SEARCH_RECENT_WINDOW = 1000


def _search_plans(workspace, matching: QuerySet[Thread], cursor: Cursor | None):
    """Two orders of work for a search, cheapest first for the common case.

    Postgres cannot estimate prefix queries (`pric:*`), so left alone it may walk the whole inbox
    index testing every thread's document (≈400 ms at 50k threads for a word nobody wrote). So:
    1. test only the newest SEARCH_RECENT_WINDOW threads (after the cursor) in index order: a few
       ms, and enough whenever the word is common;
    2. otherwise fetch every match through the GIN index and sort them (ordering by an expression
       keeps the planner off the inbox index): fast because, having failed step 1, the word is rare.
    """
    recent = Thread.objects.filter(workspace=workspace, last_message_at__isnull=False)
    if cursor is not None:
        recent = recent.filter(Q(last_message_at__lt=cursor.at) | Q(last_message_at=cursor.at, pk__lt=cursor.pk))
    edge = recent.order_by("-last_message_at", "-pk").values("last_message_at")[
        SEARCH_RECENT_WINDOW:SEARCH_RECENT_WINDOW + 1]
    yield matching.filter(last_message_at__gte=Subquery(edge)).order_by("-last_message_at", "-pk")
    yield matching.order_by((F("last_message_at") + timedelta(0)).desc(), "-pk")


def _page_rows(threads: QuerySet[Thread], limit: int) -> list[Thread]:
    last = Message.objects.filter(thread=OuterRef("pk")).order_by("-sent_at", "-id")
    return list(
        threads.select_related("contact", "channel")
        .only("pk", "last_message_at", "unread_count", "ai_paused", "needs_human", "needs_human_reason",
              "contact__display_name", "contact__username", "contact__external_id", "contact__stage",
              "contact__lead_score", "contact__opted_out", "channel__platform", "channel__name")
        .annotate(preview=Subquery(last.values("text")[:1]), preview_direction=Subquery(last.values("direction")[:1]),
                  preview_sender=Subquery(last.values("sender_kind")[:1]))[: limit + 1]
    )


def thread_for_workspace(*, workspace, thread_id: int) -> Thread:
    """Raises Thread.DoesNotExist for a thread of another workspace."""
    thread = Thread.objects.select_related("contact", "channel").defer("search_vector").get(
        workspace=workspace, pk=thread_id)
    thread.workspace = workspace  # already loaded by the tenancy check; saves a query per use
    return thread


def thread_messages(*, thread: Thread, before_id: int | None = None, limit: int = THREAD_PAGE_SIZE) -> tuple[list[Message], bool]:
    """The latest `limit` messages (older than `before_id` when given), oldest first; and whether more exist."""
    messages = Message.objects.filter(thread=thread).select_related("sent_by").defer(
        "extra", "edit_history", "last_error")
    if before_id is not None:
        anchor = Message.objects.filter(thread=thread, pk=before_id).values_list("sent_at", flat=True).first()
        if anchor is not None:
            messages = messages.filter(Q(sent_at__lt=anchor) | Q(sent_at=anchor, pk__lt=before_id))
    rows = list(messages.order_by("-sent_at", "-id")[: limit + 1])
    more = len(rows) > limit
    return list(reversed(rows[:limit])), more


@dataclass(frozen=True)
class ReplyState:
    """Whether a setter can reply now, and how (shown above the composer)."""

    allowed: bool
    reason: str = ""
    human_agent: bool = False


def thread_reply_state(*, thread: Thread, now: datetime | None = None) -> ReplyState:
    channel, contact = thread.channel, thread.contact
    if not channel.can_send:
        return ReplyState(False, f"The {channel.get_platform_display()} channel is "
                                 f"{channel.get_status_display().lower()}; an admin must reconnect it.")
    if contact.opted_out:
        return ReplyState(False, "This contact opted out of messages.")
    window = send_window(platform=channel.platform, last_inbound_at=thread.last_inbound_at,
                         now=now or timezone.now(), human=True, human_agent_enabled=channel.human_agent_enabled)
    if not window.allowed:
        return ReplyState(False, window.reason[:1].upper() + window.reason[1:] + ".")
    return ReplyState(True, human_agent=window.tag == "HUMAN_AGENT")

