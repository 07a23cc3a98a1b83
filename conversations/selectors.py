"""Reads for conversations and the reply engine. Every function takes the workspace (or an object
that belongs to one) and never crosses it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from contacts.models import CLOSED_STAGES
from conversations.models import (
    Escalation,
    EscalationStatus,
    Message,
    PromptRevision,
    ReplyDraft,
    SidekickActionLog,
    SidekickSettings,
    Thread,
)
from conversations.pipeline.prompt import DEFAULT_PROMPT
from conversations.pipeline.rules import MESSAGING_WINDOW, BusinessHours
from integrations.meta.limits import HUMAN_AGENT_WINDOW
from integrations.models import Platform


def sidekick_settings_for(*, workspace) -> SidekickSettings:
    """The workspace's settings, created with the defaults on first use."""
    found, _ = SidekickSettings.objects.get_or_create(workspace=workspace)
    return found


def business_hours_of(cfg: SidekickSettings) -> BusinessHours:
    return BusinessHours(policy=cfg.business_hours_policy, days=tuple(cfg.business_days or ()),
                         opens=cfg.opens_at, closes=cfg.closes_at)


def prompt_revisions(*, workspace) -> QuerySet[PromptRevision]:
    return PromptRevision.objects.filter(workspace=workspace).select_related("author")


def prompt_current(*, workspace) -> PromptRevision | None:
    """The newest revision, or None while the workspace uses the default prompt."""
    return prompt_revisions(workspace=workspace).first()


def prompt_text_current(*, workspace) -> tuple[str, PromptRevision | None]:
    revision = prompt_current(workspace=workspace)
    return (revision.text if revision else DEFAULT_PROMPT), revision


def thread_history(*, thread: Thread, until: Message | None = None, limit: int = 10) -> list[Message]:
    """The last ``limit`` messages with text, oldest first (up to and including ``until``)."""
    messages = Message.objects.filter(thread=thread, is_deleted=False).exclude(text="")
    if until is not None:
        messages = messages.filter(Q(sent_at__lt=until.sent_at) | Q(sent_at=until.sent_at, pk__lte=until.pk))
    return list(reversed(messages.order_by("-sent_at", "-pk")[:limit]))


def thread_for_workspace(*, workspace, thread_id: int) -> Thread:
    return Thread.objects.select_related("contact", "channel").get(workspace=workspace, pk=thread_id)


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
    return ReplyDraft.objects.select_related("thread__contact", "thread__channel").get(workspace=workspace, pk=draft_id)


def open_escalations(*, workspace) -> QuerySet[Escalation]:
    """Open and claimed escalations, oldest first (the queue a setter works through)."""
    return (Escalation.objects.filter(workspace=workspace, status__in=[EscalationStatus.OPEN, EscalationStatus.CLAIMED])
            .select_related("thread__contact", "draft", "claimed_by").order_by("created_at", "pk"))


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
    recent_action = SidekickActionLog.objects.filter(thread=OuterRef("pk"), created_at__gt=now - timedelta(hours=24))
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
