"""Reads for conversations and the reply engine. Every function takes the workspace (or an object
that belongs to one) and never crosses it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.contrib.postgres.search import SearchQuery
from django.db import connection
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from contacts.models import CLOSED_STAGES
from conversations.models import (
    ActionKind,
    Direction,
    DraftKind,
    Escalation,
    EscalationStatus,
    FollowUpOutcome,
    FollowUpStep,
    FollowUpStepRun,
    Message,
    PromptRevision,
    ReplyDraft,
    SidekickActionLog,
    SidekickSettings,
    Thread,
    ThreadStatus,
)
from conversations.pipeline import prompt as P
from conversations.pipeline.prompt import DEFAULT_PROMPT
from conversations.pipeline.rules import MESSAGING_WINDOW, BusinessHours, blacklisted_phrase
from conversations.settings_rows import DEFAULT_FOLLOW_UP_STEPS
from integrations.meta.limits import HUMAN_AGENT_WINDOW, send_window
from integrations.models import Channel, Platform
from sidekick_project.db import first_unordered


def sidekick_settings_for(*, workspace) -> SidekickSettings:
    """The workspace's settings, or an unsaved instance with the defaults (a read never writes; the row
    is created by `settings_rows.sidekick_settings_ensure`, on the first reply or the first change)."""
    return first_unordered(SidekickSettings.objects.filter(workspace=workspace)) or SidekickSettings(
        workspace=workspace)


def business_hours_of(cfg: SidekickSettings) -> BusinessHours:
    return BusinessHours(policy=cfg.business_hours_policy, days=tuple(cfg.business_days or ()),
                         opens=cfg.opens_at, closes=cfg.closes_at)


def prompt_revisions(*, workspace) -> QuerySet[PromptRevision]:
    return PromptRevision.objects.filter(workspace=workspace).select_related("author")


def prompt_current(*, workspace) -> PromptRevision | None:
    """The newest revision, or None while the workspace uses the default prompt."""
    return prompt_revisions(workspace=workspace).first()


def prompt_text_current(*, workspace) -> tuple[str, PromptRevision | None]:
    """The prompt text drafting uses, and its revision (the default prompt: None). Without the author."""
    revision = PromptRevision.objects.filter(workspace=workspace).first()
    return (revision.text if revision else DEFAULT_PROMPT), revision


def thread_history(*, thread: Thread, until: Message | None = None, limit: int = 10) -> list[Message]:
    """The last ``limit`` messages with text or attachments, oldest first (up to and including ``until``).

    For prompts and the inbound screen (which reads attachment captions too): only the direction,
    text, attachments and time are loaded (a reply's hot path; other fields load on access, one
    query each)."""
    messages = (Message.objects.filter(thread=thread, is_deleted=False).exclude(text="", attachments=[])
                .only("thread_id", "direction", "text", "attachments", "sent_at"))
    if until is not None:
        messages = messages.filter(Q(sent_at__lt=until.sent_at) | Q(sent_at=until.sent_at, pk__lte=until.pk))
    return list(reversed(messages.order_by("-sent_at", "-pk")[:limit]))


def thread_for_workspace(*, workspace, thread_id: int) -> Thread:
    """Raises Thread.DoesNotExist for a thread of another workspace."""
    thread = Thread.objects.select_related("contact", "channel", "ai_paused_by", "assigned_to").defer("search_vector").get(
        workspace=workspace, pk=thread_id)
    thread.workspace = workspace  # already loaded by the tenancy check; saves a query per use
    return thread


def contact_latest_thread(*, workspace, contact_id: int) -> Thread:
    """The contact's most recent thread in this workspace (a follow-up goes there); Thread.DoesNotExist
    for another workspace's contact or one without a thread."""
    thread = (Thread.objects.select_related("contact", "channel").defer("search_vector")
              .filter(workspace=workspace, contact_id=contact_id)
              .order_by(F("last_message_at").desc(nulls_last=True), "-pk").first())
    if thread is None:
        raise Thread.DoesNotExist("No conversation with this contact in this workspace.")
    return thread


def thread_drafts(*, workspace, thread: Thread | None = None, decision: str | None = None) -> QuerySet[ReplyDraft]:
    """Drafts of the workspace, newest first; optionally of one thread or with one decision."""
    drafts = ReplyDraft.objects.filter(workspace=workspace).select_related("prompt_revision", "outbound_message",
                                                                           "disposition_by")
    if thread is not None:
        drafts = drafts.filter(thread=thread)
    if decision is not None:
        drafts = drafts.filter(decision=decision)
    return drafts


def draft_for_workspace(*, workspace, draft_id: int) -> ReplyDraft:
    draft = ReplyDraft.objects.select_related("thread__contact", "thread__channel").get(workspace=workspace, pk=draft_id)
    draft.thread.workspace = workspace  # already loaded by the tenancy check; saves a query per use
    return draft


def open_escalations(*, workspace) -> QuerySet[Escalation]:
    """Open and claimed escalations, urgent ones (a crisis, a threat) first, then oldest first (the queue a
    setter works through)."""
    return (Escalation.objects.filter(workspace=workspace, status__in=[EscalationStatus.OPEN, EscalationStatus.CLAIMED])
            .select_related("thread__contact", "draft", "claimed_by").order_by("-urgent", "created_at", "pk"))


def escalation_for_workspace(*, workspace, escalation_id: int) -> Escalation:
    return Escalation.objects.select_related("thread").get(workspace=workspace, pk=escalation_id)


def workspace_recent_actions(*, workspace, limit: int = 10) -> list[SidekickActionLog]:
    return list(SidekickActionLog.objects.filter(workspace=workspace).select_related("contact", "draft")
                .order_by("-created_at", "-pk")[:limit])


@dataclass(frozen=True)
class FollowUpCandidate:
    thread: Thread
    contact: object
    # "inside_window" (Sidekick may send) or "human_agent_tag" (a setter may send, tagged HUMAN_AGENT).
    why: str
    last_message_at: datetime
    quiet_hours: float


# A thread Sidekick acted on (a follow-up included) more recently is not followed up again.
SIDEKICK_ACTIONS = (ActionKind.SENT_REPLY, ActionKind.FOLLOW_UP_SENT, ActionKind.ESCALATED, ActionKind.DRAFT_SAVED)
FOLLOW_UP_REPEAT_AFTER = timedelta(hours=24)


def contacts_needing_follow_up(*, workspace, now: datetime | None = None, limit: int = 200) -> list[FollowUpCandidate]:
    """Threads that have gone quiet and may still be followed up, each with why it is listed.

    Listed when: the last message (either side) is more than ``follow_up_after_hours`` (default 24)
    old; the contact has not opted out and its stage is not closed (customer, lost, ghosted); the AI
    is not paused on the thread; Sidekick took no action on it in the last 24 h; and a message can
    still be sent: inside the 24 h window (``inside_window``, only possible when the setting is
    below 24 h) or, on a Messenger Page with the Human Agent permission and the workspace's
    ``use_human_agent_tag``, within 7 days of the contact's last message (``human_agent_tag``, a
    setter must send it: automated content may not use the tag). Exact boundaries: a thread quiet
    for exactly the threshold is not listed yet; an action exactly 24 h ago no longer counts.
    """
    now = now or timezone.now()
    cfg = sidekick_settings_for(workspace=workspace)
    quiet_since = now - timedelta(hours=cfg.follow_up_after_hours)
    # What Sidekick did, not a member's triage (assigning or snoozing a thread is no reason to skip it).
    recent_action = SidekickActionLog.objects.filter(thread=OuterRef("pk"), action__in=SIDEKICK_ACTIONS,
                                                     created_at__gt=now - FOLLOW_UP_REPEAT_AFTER)
    window_open = Q(last_inbound_at__gt=now - MESSAGING_WINDOW)
    reachable = window_open
    if cfg.use_human_agent_tag:
        reachable |= Q(channel__platform=Platform.MESSENGER, channel__human_agent_enabled=True,
                       last_inbound_at__gt=now - HUMAN_AGENT_WINDOW)
    threads = (
        Thread.objects.filter(workspace=workspace, last_message_at__lt=quiet_since, ai_paused=False,
                              contact__opted_out=False)
        .exclude(contact__stage__in=list(CLOSED_STAGES))
        .filter(reachable)
        .exclude(Exists(recent_action))
        .select_related("contact", "channel")
        .order_by("last_message_at")[:limit]
    )
    return [
        FollowUpCandidate(thread=t, contact=t.contact, last_message_at=t.last_message_at,
                          why="inside_window" if t.last_inbound_at > now - MESSAGING_WINDOW else "human_agent_tag",
                          quiet_hours=round((now - t.last_message_at).total_seconds() / 3600, 1))
        for t in threads
    ]


# --- Follow-up sequences -------------------------------------------------------------------------------
# A sequence follows up on the business's last message the contact has not answered (its anchor): step
# N is due `delay_hours` after the anchor. The nudges themselves never move the anchor; any other
# message from the business (a reply, a setter's message) starts a new sequence from step 1.

def follow_up_steps(*, workspace) -> list[FollowUpStep]:
    """The workspace's steps in order. A workspace whose settings row does not exist yet shows the
    defaults it will get (unsaved), so the editor starts from what Sidekick would do."""
    steps = list(FollowUpStep.objects.filter(workspace=workspace).order_by("position"))
    if steps or SidekickSettings.objects.filter(workspace=workspace).exists():
        return steps
    return [FollowUpStep(workspace=workspace, position=n, delay_hours=hours, use_human_agent_tag=tag, enabled=not tag)
            for n, (hours, tag) in enumerate(DEFAULT_FOLLOW_UP_STEPS, start=1)]


# Why a sequence stops (shown on the thread page and stored on the step run that met it).
FOLLOW_UP_STOPS = {
    "replied": "The contact replied.",
    "automation_off": "Sidekick is switched off in this workspace.",
    "opted_out": "The contact opted out of messages.",
    "booked": "The contact booked.",
    "closed": "The contact is a customer, lost or ghosted.",
    "taken_over": "A person has the conversation (the AI is paused).",
    "other_app_in_control": "Another app controls the conversation.",
    "blacklist": "The conversation touches a blacklisted topic.",
    "channel_inactive": "The channel needs reconnecting.",
}


@dataclass(frozen=True)
class FollowUpPlan:
    """Where a thread's sequence stands. status: `none` (nothing to follow up), `waiting` (the next
    step is due at `due_at`), `due`, `stopped` (`reason`), `finished` (every step ran)."""

    status: str
    reason: str = ""
    anchor: Message | None = None
    step: FollowUpStep | None = None
    due_at: datetime | None = None
    # Steps due before `step` that are overtaken by it (a worker or the sweeper was down meanwhile).
    overtaken: tuple[FollowUpStep, ...] = ()

    @property
    def reason_text(self) -> str:
        return FOLLOW_UP_STOPS.get(self.reason, "")


def follow_up_anchor(*, thread: Thread) -> Message | None:
    """The business's newest message that reached the contact (or was seen as an echo), not itself a
    follow-up; None when the contact wrote after it (the contact is waiting for us, not us for them)."""
    nudges = ReplyDraft.objects.filter(thread=thread, kind=DraftKind.FOLLOW_UP, outbound_message__isnull=False)
    anchor = (Message.objects.filter(thread=thread, direction=Direction.OUT, is_deleted=False)
              .filter(Q(send_status__isnull=True) | Q(send_status="sent"))
              .exclude(pk__in=nudges.values("outbound_message_id"))
              .only("pk", "thread_id", "sent_at").order_by("-sent_at", "-pk").first())
    if anchor is None or (thread.last_inbound_at is not None and thread.last_inbound_at >= anchor.sent_at):
        return None
    return anchor


def _contact_booked(contact) -> bool:
    return contact.booked_at is not None and not (
        contact.booking_canceled_at is not None and contact.booking_canceled_at >= contact.booked_at)


def follow_up_stop_reason(*, thread: Thread, cfg: SidekickSettings) -> str:
    """Why no follow-up may go out on the thread now ('' when nothing forbids it). Reads the thread,
    its contact and channel as given (the sweeper passes them as read under the thread's lock)."""
    contact = thread.contact
    if not cfg.enabled:
        return "automation_off"
    if contact.opted_out:
        return "opted_out"
    if _contact_booked(contact):
        return "booked"
    if contact.stage in CLOSED_STAGES:
        return "closed"
    if thread.ai_paused:
        return "taken_over"
    if not thread.app_has_control:
        return "other_app_in_control"
    if not thread.channel.can_send:
        return "channel_inactive"
    last_words = (Message.objects.filter(thread=thread, direction=Direction.IN, is_deleted=False)
                  .order_by("-sent_at", "-pk").values_list("text", flat=True)[:3])
    if cfg.blacklist and any(blacklisted_phrase(text or "", cfg.blacklist) for text in last_words):
        return "blacklist"
    return ""


def thread_follow_up_plan(*, thread: Thread, now: datetime | None = None,
                          cfg: SidekickSettings | None = None) -> FollowUpPlan:
    """Where the thread's follow-up sequence stands (see `FollowUpPlan`); the sweeper acts on `due`.

    Stops: the contact replied (no anchor any more), a step run recorded a stop for this anchor, or a
    stop condition holds now (`follow_up_stop_reason`). When several steps are due at once, the latest
    is the one to run; the earlier ones are `overtaken` (never two nudges in a row).
    """
    now = now or timezone.now()
    cfg = cfg or sidekick_settings_for(workspace=thread.workspace)
    steps = [s for s in follow_up_steps(workspace=thread.workspace) if s.enabled and s.pk]
    anchor = follow_up_anchor(thread=thread)
    if anchor is None:
        # The contact wrote last: a sequence that was running is over (a new one starts from step 1 once
        # the business answers and the contact goes quiet again).
        ran = FollowUpStepRun.objects.filter(thread=thread).exists()
        return FollowUpPlan("stopped" if ran else "none", reason="replied" if ran else "")
    if not steps:
        return FollowUpPlan("none", anchor=anchor)
    runs = list(FollowUpStepRun.objects.filter(anchor_message=anchor).only("position", "outcome", "reason_code"))
    stopped = next((r for r in runs if r.outcome == FollowUpOutcome.STOPPED), None)
    if stopped is not None:
        return FollowUpPlan("stopped", reason=stopped.reason_code, anchor=anchor)
    done = max((r.position for r in runs), default=0)
    remaining = [s for s in steps if s.position > done]
    if not remaining:
        return FollowUpPlan("finished", anchor=anchor)
    due = [s for s in remaining if anchor.sent_at + timedelta(hours=s.delay_hours) <= now]
    step = due[-1] if due else remaining[0]
    due_at = anchor.sent_at + timedelta(hours=step.delay_hours)
    # The step a stop would be recorded on (by the sweeper, once it is due).
    reason = follow_up_stop_reason(thread=thread, cfg=cfg)
    if reason:
        return FollowUpPlan("stopped", reason=reason, anchor=anchor, step=step, due_at=due_at)
    if not due:
        return FollowUpPlan("waiting", anchor=anchor, step=step, due_at=due_at)
    return FollowUpPlan("due", anchor=anchor, step=step, due_at=due_at, overtaken=tuple(due[:-1]))


def follow_up_drafts_waiting(*, workspace, limit: int = 100) -> list[ReplyDraft]:
    """Follow-up drafts a sequence step left for a setter, oldest first (the Follow-ups page)."""
    return list(ReplyDraft.objects.filter(workspace=workspace, kind=DraftKind.FOLLOW_UP, disposition="",
                                          decision__in=PENDING_DECISIONS, follow_up_run__isnull=False)
                .select_related("thread__contact", "thread__channel", "follow_up_run")
                .order_by("created_at", "pk")[:limit])


# --- The inbox and the thread view -------------------------------------------------------------------
# The inbox pages with a keyset cursor over (last_message_at, id) descending, served by
# `thread_inbox_idx`; it never counts rows or uses OFFSET, so page N costs what page 1 costs.

INBOX_PAGE_SIZE = 25
THREAD_PAGE_SIZE = 50
_WORD = re.compile(r"\w+", re.UNICODE)


# The status tabs. "needs_human" is the open threads with the needs-human flag; a snoozed thread whose
# time has passed counts as open (decided here, at query time, so no periodic job has to wake it).
TAB_OPEN, TAB_NEEDS_HUMAN, TAB_SNOOZED, TAB_RESOLVED = "open", "needs_human", "snoozed", "resolved"
INBOX_TABS = (TAB_OPEN, TAB_NEEDS_HUMAN, TAB_SNOOZED, TAB_RESOLVED)
# Whose threads: "" (everyone's), "mine", "unassigned".
OWNER_MINE, OWNER_UNASSIGNED = "mine", "unassigned"


@dataclass(frozen=True)
class InboxFilters:
    platform: str = ""
    stage: str = ""
    needs_human: bool = False
    ai_paused: bool = False
    q: str = ""
    tab: str = TAB_OPEN  # "" lists every status
    owner: str = ""
    user_id: int | None = None  # whose "mine"


def _woken(now: datetime) -> Q:
    return Q(status=ThreadStatus.SNOOZED, snoozed_until__lte=now)


def _tab_q(tab: str, now: datetime) -> Q:
    open_ = Q(status=ThreadStatus.OPEN) | _woken(now)
    if tab == TAB_OPEN:
        return open_
    if tab == TAB_NEEDS_HUMAN:
        return open_ & Q(needs_human=True)
    if tab == TAB_SNOOZED:
        return Q(status=ThreadStatus.SNOOZED, snoozed_until__gt=now)
    if tab == TAB_RESOLVED:
        return Q(status=ThreadStatus.RESOLVED)
    return Q()


def _owner_q(filters: InboxFilters) -> Q:
    if filters.owner == OWNER_MINE:
        return Q(assigned_to_id=filters.user_id)
    if filters.owner == OWNER_UNASSIGNED:
        return Q(assigned_to__isnull=True)
    return Q()


# Tab counts stop past this ("1,000+"): each count is an index walk that stops at the cap, so a workspace with
# 50k resolved threads counts as fast as one with 50 (an exact COUNT read every row: ≈50 ms at 50k).
INBOX_COUNT_CAP = 1000


def inbox_tab_counts(*, workspace, filters: InboxFilters, now: datetime | None = None) -> dict[str, int]:
    """How many threads each status tab holds (INBOX_COUNT_CAP + 1 meaning "more"), under the owner filter; the other
    filters and the search narrow the list, not the tabs. One query of capped sub-counts."""
    now = now or timezone.now()
    rows = Thread.objects.filter(_owner_q(filters), workspace=workspace, last_message_at__isnull=False)
    parts = {
        "open_": rows.filter(status=ThreadStatus.OPEN),
        "woken": rows.filter(_woken(now)),
        "needs_open": rows.filter(status=ThreadStatus.OPEN, needs_human=True),
        "needs_woken": rows.filter(_woken(now), needs_human=True),
        "snoozed": rows.filter(status=ThreadStatus.SNOOZED, snoozed_until__gt=now),
        "resolved": rows.filter(status=ThreadStatus.RESOLVED),
    }
    selects, params = [], []
    for name, part in parts.items():
        sql, part_params = part.order_by().values("pk")[:INBOX_COUNT_CAP + 1].query.sql_with_params()
        # ORM-compiled SQL with its parameters kept apart; the names are the constants above.
        selects.append(f"(SELECT COUNT(*) FROM ({sql}) AS {name}_rows) AS {name}")  # noqa: S608
        params.extend(part_params)
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(selects), params)
        n = dict(zip(parts, cursor.fetchone(), strict=True))
    cap = INBOX_COUNT_CAP + 1  # more than the cap: shown as "1,000+"
    return {TAB_OPEN: min(cap, n["open_"] + n["woken"]), TAB_NEEDS_HUMAN: min(cap, n["needs_open"] + n["needs_woken"]),
            TAB_SNOOZED: n["snoozed"], TAB_RESOLVED: n["resolved"]}


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
    now = timezone.now()
    threads = Thread.objects.filter(_owner_q(filters), workspace=workspace, last_message_at__isnull=False)
    if filters.platform:
        # The channel ids, not a join: the planner then estimates the filter from the thread's own column
        # statistics; through the join it guessed ~30x too few rows and sorted every open thread (≈50 ms).
        channels = list(Channel.objects.filter(workspace=workspace, platform=filters.platform).values_list("pk", flat=True))
        threads = threads.filter(channel_id__in=channels)
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
        for plan in _search_plans(workspace, threads.filter(_tab_q(filters.tab, now), search_vector=query), cursor):
            rows = _page_rows(plan, limit)
            if len(rows) > limit:
                break
    elif filters.tab in (TAB_OPEN, TAB_NEEDS_HUMAN):
        # Open means status "open" or a snooze that has run out. An OR would lose the index order (and
        # sort every open thread), so each part walks its index in order and the two pages merge.
        if filters.tab == TAB_NEEDS_HUMAN:
            threads = threads.filter(needs_human=True)
        ordered = ("-last_message_at", "-pk")
        rows = _page_rows(threads.filter(status=ThreadStatus.OPEN).order_by(*ordered), limit)
        # Woken snoozes can be many (nobody touched them since): pick the page's ids first, so the joins
        # and previews run for those rows only.
        woken = threads.filter(_woken(now)).order_by(*ordered).values("pk")[: limit + 1]
        rows += _page_rows(Thread.objects.filter(pk__in=Subquery(woken)).order_by(*ordered), limit)
        rows.sort(key=lambda t: (t.last_message_at, t.pk), reverse=True)
    else:
        rows = _page_rows(threads.filter(_tab_q(filters.tab, now)).order_by("-last_message_at", "-pk"), limit)
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
    pending = ReplyDraft.objects.filter(thread=OuterRef("pk"), disposition="", decision__in=PENDING_DECISIONS)
    return list(
        threads.select_related("contact", "channel", "assigned_to")
        .only("pk", "last_message_at", "unread_count", "ai_paused", "needs_human", "needs_human_reason",
              "status", "snoozed_until", "assigned_to__email", "assigned_to__full_name",
              "contact__display_name", "contact__username", "contact__external_id", "contact__stage",
              "contact__lead_score", "contact__opted_out", "channel__platform", "channel__name")
        .annotate(preview=Subquery(last.values("text")[:1]), preview_direction=Subquery(last.values("direction")[:1]),
                  preview_sender=Subquery(last.values("sender_kind")[:1]), has_pending_draft=Exists(pending))[: limit + 1]
    )


def thread_messages(*, thread: Thread, before_id: int | None = None, limit: int = THREAD_PAGE_SIZE) -> tuple[list[Message], bool]:
    """The latest `limit` messages (older than `before_id` when given), oldest first; and whether more exist."""
    # `last_error` stays: the thread page shows it on every outbound message not sent yet.
    messages = Message.objects.filter(thread=thread).select_related("sent_by").defer("extra", "edit_history")
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


OWN_WORDS_NEEDED = ("Past the 24-hour window only a person's own words may go out (Meta's Human Agent tag): "
                    "Sidekick's text cannot be sent as is. Use \"Edit and send\" and write it in your own words.")


def draft_approve_state(*, thread: Thread, now: datetime | None = None) -> ReplyState:
    """May a setter send the AI's draft unchanged now? As `thread_reply_state`, except where only the
    Human Agent tag allows a message: the tag is for a person's own words and automated content may never
    carry it (META.md), and an AI draft approved as is stays automated content (`sending._is_human`).
    Refused here, before anything is claimed or queued, rather than failing at send time."""
    state = thread_reply_state(thread=thread, now=now)
    if state.allowed and state.human_agent:
        return ReplyState(False, OWN_WORDS_NEEDED, human_agent=True)
    return state



# --- The Sidekick panel, drafts and the prompt editor -----------------------------------------------

PENDING_DECISIONS = ("draft_saved", "escalated", "blocked")


def thread_pending_draft(*, thread: Thread) -> ReplyDraft | None:
    """The newest AI draft on the thread still waiting for a setter (approve / edit / discard)."""
    return (ReplyDraft.objects.filter(workspace_id=thread.workspace_id, thread=thread, disposition="",
                                      decision__in=PENDING_DECISIONS)
            .order_by("-created_at", "-pk").first())


def latest_scored_draft(*, workspace, thread: Thread | None = None) -> ReplyDraft | None:
    """The newest draft with a confidence figure (the panel's confidence meter)."""
    drafts = ReplyDraft.objects.filter(workspace=workspace, confidence__isnull=False)
    if thread is not None:
        drafts = drafts.filter(thread=thread)
    return drafts.only("pk", "thread_id", "confidence", "decision", "created_at").order_by("-created_at", "-pk").first()


def thread_recent_actions(*, thread: Thread, limit: int = 10) -> list[SidekickActionLog]:
    return list(SidekickActionLog.objects.filter(workspace_id=thread.workspace_id, thread=thread)
                .select_related("actor").order_by("-created_at", "-pk")[:limit])


def message_drafts(*, thread: Thread, message_ids: list[int]) -> dict[int, ReplyDraft]:
    """The draft behind each outbound message shown (one query), by message id."""
    rows = ReplyDraft.objects.filter(workspace_id=thread.workspace_id, thread=thread,
                                     outbound_message_id__in=message_ids).only(
        "pk", "outbound_message_id", "confidence", "decision")
    return {d.outbound_message_id: d for d in rows}


def prompt_revision_for_workspace(*, workspace, revision_id: int) -> PromptRevision:
    return prompt_revisions(workspace=workspace).get(pk=revision_id)


def prompt_revision_previous(*, revision: PromptRevision) -> PromptRevision | None:
    return (PromptRevision.objects.filter(workspace_id=revision.workspace_id, number__lt=revision.number)
            .order_by("-number").first())


def prompt_preview(*, workspace, text: str, now: datetime | None = None) -> str:
    """The system prompt exactly as the drafting model receives it, for ``text`` as the business prompt.

    Sources and lead memory depend on each message; the preview shows where they go with a sample.
    """
    cfg = sidekick_settings_for(workspace=workspace)
    hours = ("always open" if cfg.business_hours_policy == "always" else
             f"days {cfg.business_days} {cfg.opens_at:%H:%M}-{cfg.closes_at:%H:%M}")
    sample_sources = [{"id": "12", "title": "(example) Pricing, Coaching",
                       "text": "(the knowledge passages retrieved for the customer's message appear here)"}]
    sample_memory = [{"kind": "fact", "text": "(what this lead told us before appears here)"}]
    return P.system_prompt(prompt=text or DEFAULT_PROMPT, business=workspace.name, tz=workspace.timezone,
                           now=now or timezone.now(), hours_text=hours, sources=sample_sources, memory=sample_memory)


def sandbox_thread(*, workspace, channel_id: int | None, sender_id: str) -> Thread | None:
    """The thread of a sandbox contact, if it has written yet."""
    if channel_id is None or not sender_id:
        return None
    thread = (Thread.objects.select_related("contact", "channel").defer("search_vector")
              .filter(workspace=workspace, channel_id=channel_id, contact__external_id=sender_id).first())
    if thread is not None:
        thread.workspace = workspace
    return thread


def threads_for_workspace(*, workspace, thread_ids: list[int]) -> list[Thread]:
    """The threads of the workspace among ``thread_ids`` (ids of other workspaces are simply not found)."""
    threads = list(Thread.objects.filter(workspace=workspace, pk__in=thread_ids[:200]).defer("search_vector"))
    for thread in threads:
        thread.workspace = workspace
    return threads
