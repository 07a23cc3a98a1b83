"""Threads and messages.

A thread is the one conversation between a channel and a contact (Meta has exactly one per pair).
Messages come from webhooks (inbound, echoes) or from Sidekick (outbound rows created before the
Send API call, so the send can be claimed and never repeated; see `conversations.sending`).
"""

from __future__ import annotations

from datetime import time

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.utils import timezone

from conversations.text_features import text_features_expression


class ThreadStatus(models.TextChoices):
    OPEN = "open", "Open"
    # Until `snoozed_until`: after that the thread counts as open again, at query time (no job wakes it).
    SNOOZED = "snoozed", "Snoozed"
    RESOLVED = "resolved", "Resolved"


class Thread(models.Model):
    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="threads")
    channel = models.ForeignKey("integrations.Channel", on_delete=models.CASCADE, related_name="threads")
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="threads")
    last_message_at = models.DateTimeField(null=True, blank=True)
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    last_outbound_at = models.DateTimeField(null=True, blank=True)
    unread_count = models.PositiveIntegerField(default=0)
    # Human takeover: the AI neither drafts nor sends while paused.
    ai_paused = models.BooleanField(default=False)
    ai_paused_at = models.DateTimeField(null=True, blank=True)
    ai_paused_reason = models.CharField(max_length=200, blank=True)
    # Who has the thread: the member who took it over or replied; empty when Sidekick paused itself
    # (an escalation) or someone answered outside Sidekick.
    ai_paused_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    # Handover protocol: False while another app (e.g. the Page inbox) owns the thread (standby).
    app_has_control = models.BooleanField(default=True)
    # Raised when Sidekick could not act (window closed, send in doubt, ...); cleared by a setter.
    needs_human = models.BooleanField(default=False)
    needs_human_reason = models.CharField(max_length=200, blank=True)
    needs_human_at = models.DateTimeField(null=True, blank=True)
    # Who works the thread, and whether it is done (the inbox's filters and tabs). Written only by
    # `conversations.services` (thread_assign / _snooze / _resolve / _reopen); a new inbound message
    # reopens the thread (`ingest._touch_thread`).
    assigned_to = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    assigned_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=ThreadStatus.choices, default=ThreadStatus.OPEN)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    # The contact has read everything we sent up to this moment (read watermark / read mid).
    contact_read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Inbox search document: the contact's names and the words of every message, maintained by
    # database triggers (migration 0002) so every write path keeps it current. Never loaded by
    # the ORM pages (deferred); searched through `thread_search_idx`.
    search_vector = SearchVectorField(null=True, editable=False)

    class Meta:
        ordering = ["-last_message_at"]
        constraints = [models.UniqueConstraint(fields=["channel", "contact"], name="thread_channel_contact_unique")]
        indexes = [
            # The inbox pages by (last_message_at, id) descending (keyset), so the id is in the key.
            models.Index(fields=["workspace", "-last_message_at", "-id"], name="thread_inbox_idx"),
            models.Index(fields=["workspace", "needs_human", "-last_message_at"], name="thread_needs_human_idx"),
            # The reply sweeper's scan of threads with a recent inbound message.
            models.Index(fields=["last_inbound_at"], name="thread_last_inbound_idx"),
            # Paused threads are few: a small partial index keeps the "AI paused" filter from
            # walking the whole inbox.
            models.Index(fields=["workspace", "-last_message_at", "-id"], name="thread_ai_paused_idx",
                         condition=models.Q(ai_paused=True)),
            GinIndex(fields=["search_vector"], name="thread_search_idx"),
            # The status tabs and the "mine" / "unassigned" filters walk these in inbox order (keyset).
            models.Index(fields=["workspace", "status", "-last_message_at", "-id"], name="thread_status_idx"),
            models.Index(fields=["workspace", "assigned_to", "status", "-last_message_at", "-id"],
                         name="thread_assignee_idx"),
            # The tab counts (`selectors.inbox_tab_counts`) read only this index (index-only scans).
            models.Index(fields=["workspace", "status", "needs_human", "snoozed_until"], include=["assigned_to"],
                         condition=models.Q(last_message_at__isnull=False), name="thread_tab_counts_idx"),
        ]

    def __str__(self):
        return f"thread {self.pk} with {self.contact_id}"


class Direction(models.TextChoices):
    IN = "in", "Inbound"
    OUT = "out", "Outbound"


class SenderKind(models.TextChoices):
    CONTACT = "contact", "Contact"
    AI = "ai", "Sidekick (automatic)"
    SETTER = "setter", "Setter in Sidekick"
    # Sent by the business outside Sidekick: Page inbox, Instagram app, another tool (seen as an echo).
    META_INBOX = "meta_inbox", "Business outside Sidekick"


class Disposition(models.TextChoices):
    """For a setter-sent message that started as an AI draft."""

    APPROVED = "approved", "AI draft approved"
    EDITED = "edited", "AI draft edited"


class MessageKind(models.TextChoices):
    MESSAGE = "message", "Message"
    POSTBACK = "postback", "Button tap"
    UNSUPPORTED = "unsupported", "Unsupported by Meta"


class SendStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    # Claimed but the outcome is unknown (worker died or the request timed out after it left):
    # never re-sent automatically; an echo settles it, otherwise a human decides.
    UNKNOWN = "unknown", "Unknown: check before resending"


class Message(models.Model):
    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="messages")
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="messages")
    channel = models.ForeignKey("integrations.Channel", on_delete=models.CASCADE, related_name="messages")
    # Meta's message id; for our own sends it is the Send API's `message_id`, set once sent.
    # NULL (not "") until sent, so any number of unsent rows coexist under the unique constraint.
    mid = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    direction = models.CharField(max_length=3, choices=Direction.choices)
    sender_kind = models.CharField(max_length=16, choices=SenderKind.choices)
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    disposition = models.CharField(max_length=16, choices=Disposition.choices, null=True, blank=True)  # noqa: DJ001
    kind = models.CharField(max_length=16, choices=MessageKind.choices, default=MessageKind.MESSAGE)
    text = models.TextField(blank=True)
    attachments = models.JSONField(default=list, blank=True)
    # Quick-reply or postback payload chosen by the contact.
    payload = models.CharField(max_length=1000, blank=True)
    reply_to_mid = models.CharField(max_length=255, blank=True)
    # Anything else Meta told us that has no column yet (referral, postback title, echo app id, ...).
    extra = models.JSONField(default=dict, blank=True)
    is_deleted = models.BooleanField(default=False)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # Earlier versions of an edited message, oldest first: [{"text": ..., "replaced_at": iso}].
    edit_history = models.JSONField(default=list, blank=True)
    num_edit = models.PositiveSmallIntegerField(default=0)
    # Who reacted with what: {"<sender id>": "❤"}.
    reactions = models.JSONField(default=dict, blank=True)
    # Received while another app owned the thread (standby channel).
    standby = models.BooleanField(default=False)
    sent_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    # --- outbound only -------------------------------------------------------------------------
    # NULL for inbound rows: unique among the outbound ones only.
    idempotency_key = models.CharField(max_length=200, null=True, blank=True, unique=True)  # noqa: DJ001
    # NULL for inbound rows (a check constraint keeps it so); the sweeper's partial index uses it.
    send_status = models.CharField(max_length=16, choices=SendStatus.choices, null=True, blank=True)  # noqa: DJ001
    # "RESPONSE" or "MESSAGE_TAG:HUMAN_AGENT": how the Send API call was framed.
    messaging_type = models.CharField(max_length=40, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    echo_received_at = models.DateTimeField(null=True, blank=True)
    # What the insights report compares (conversations.text_features): computed by Postgres from the text.
    text_features = models.GeneratedField(expression=text_features_expression(), output_field=models.SmallIntegerField(),
                                          db_persist=True)

    class Meta:
        ordering = ["sent_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "mid"], name="message_channel_mid_unique"),
            models.CheckConstraint(
                condition=models.Q(direction="out") | models.Q(send_status__isnull=True),
                name="message_send_status_outbound_only",
            ),
        ]
        indexes = [
            models.Index(fields=["thread", "sent_at"], name="message_thread_sent_idx"),
            # A report's window of a workspace's messages (insights), without reading the others'.
            models.Index(fields=["workspace", "sent_at"], name="message_workspace_sent_idx"),
            models.Index(fields=["send_status", "next_attempt_at"], name="message_send_open_idx",
                         condition=models.Q(send_status__in=["pending", "sending"])),
        ]

    def __str__(self):
        return f"{self.direction} {self.mid or self.pk}"

    @property
    def is_outbound(self) -> bool:
        return self.direction == Direction.OUT


# --- The reply engine ------------------------------------------------------------------------------

class BusinessHoursPolicy(models.TextChoices):
    ALWAYS = "always", "Reply at any time"
    WITHIN = "within", "Auto-send only during business hours"
    OUTSIDE = "outside", "Auto-send only outside business hours"


def _weekdays():
    return [0, 1, 2, 3, 4]


class SidekickSettings(models.Model):
    """How Sidekick behaves in one workspace. Created lazily with these defaults
    (`conversations.settings_rows.sidekick_settings_ensure`)."""

    workspace = models.OneToOneField("accounts.Workspace", on_delete=models.CASCADE, related_name="sidekick_settings")
    # Off: inbound messages are stored but never drafted.
    # Members (by email) told by email when Sidekick opens an escalation. None (the default, until an
    # admin chooses): every admin of the workspace; a list: exactly these members, empty for nobody
    # (the Escalations page lists them all). Checked against the membership when saved and sent.
    escalation_emails = models.JSONField(null=True, blank=True, default=None)
    enabled = models.BooleanField(default=True)
    # Off: drafts are saved for a setter instead of being sent, whatever the confidence.
    auto_send = models.BooleanField(default=True)
    threshold = models.FloatField(default=0.8, help_text="Auto-send at or above this confidence (0.0-1.0).")
    blacklist = models.JSONField(default=list, blank=True, help_text="Phrases and topics never discussed automatically.")
    # Domains a reply may link to besides those the knowledge base or the conversation already holds.
    allowed_domains = models.JSONField(default=list, blank=True,
                                       help_text="Domains replies may link to (the knowledge base's count already).")
    # The screening model's provider (a second opinion from another model); empty: the workspace default.
    screen_provider = models.ForeignKey("integrations.LLMProvider", null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")
    language = models.CharField(max_length=8, default="en", help_text="The workspace language besides English.")
    business_hours_policy = models.CharField(max_length=8, choices=BusinessHoursPolicy.choices,
                                             default=BusinessHoursPolicy.ALWAYS)
    business_days = models.JSONField(default=_weekdays, blank=True, help_text="Weekdays, 0 = Monday.")
    opens_at = models.TimeField(default=time(9, 0))
    closes_at = models.TimeField(default=time(18, 0))
    debounce_seconds = models.PositiveSmallIntegerField(default=4, help_text="Wait this long for more messages.")
    # Follow-ups: suggested once the thread is quiet this long; sent only on demand.
    follow_up_after_hours = models.PositiveSmallIntegerField(default=24)
    # Messenger Pages with the Human Agent permission: setters may follow up 24 h - 7 d late.
    use_human_agent_tag = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        verbose_name_plural = "Sidekick settings"

    def __str__(self):
        return f"Sidekick settings of {self.workspace_id}"


class PromptRevision(models.Model):
    """The workspace's system prompt, never edited in place: the newest revision is the current one."""

    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="prompt_revisions")
    number = models.PositiveIntegerField()
    text = models.TextField()
    note = models.CharField(max_length=300, blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    restored_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["workspace", "number"], name="prompt_revision_number_unique")]

    def __str__(self):
        return f"prompt r{self.number} of {self.workspace_id}"


class Decision(models.TextChoices):
    PENDING = "pending", "In progress"
    SENT = "sent", "Sent automatically"
    ESCALATED = "escalated", "Escalated to a human"
    BLOCKED = "blocked", "Blocked by a rule"
    DRAFT_SAVED = "draft_saved", "Saved for a setter"
    SUPERSEDED = "superseded", "Superseded by a newer message"
    FAQ_ANSWERED = "faq_answered", "Answered from the FAQ (no LLM)"


class DraftDisposition(models.TextChoices):
    APPROVED = "approved", "Approved"
    EDITED = "edited", "Edited and sent"
    DISCARDED = "discarded", "Discarded"


class DraftKind(models.TextChoices):
    REPLY = "reply", "Reply"
    FOLLOW_UP = "follow_up", "Follow-up"


class ReplyDraft(models.Model):
    """One run of the reply pipeline for one inbound message (or one follow-up): everything it
    decided and why. A setter opens it to see the confidence parts, the sources and the verdict."""

    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="+")
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="drafts")
    # The latest message of the burst being answered; unique, so two workers never draft it twice.
    inbound_message = models.OneToOneField(Message, null=True, blank=True, on_delete=models.CASCADE,
                                           related_name="reply_draft")
    kind = models.CharField(max_length=16, choices=DraftKind.choices, default=DraftKind.REPLY)
    text = models.TextField(blank=True, help_text="What the drafting model wrote.")
    final_text = models.TextField(blank=True, help_text="After the reviewer and the finalizer.")
    confidence = models.FloatField(null=True, blank=True)
    confidence_parts = models.JSONField(default=dict, blank=True)
    decision = models.CharField(max_length=16, choices=Decision.choices, default=Decision.PENDING)
    reason_code = models.CharField(max_length=40, blank=True)
    # {"rules": [RuleHit...], "overseer": {"verdict", "reasons"}, "notes": [...]}
    reasons = models.JSONField(default=dict, blank=True)
    model = models.CharField(max_length=200, blank=True)
    provider_kind = models.CharField(max_length=32, blank=True)
    prompt_revision = models.ForeignKey(PromptRevision, null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cited_chunks = models.JSONField(default=list, blank=True)
    intent = models.CharField(max_length=32, blank=True)
    stage = models.CharField(max_length=16, blank=True)
    sentiment = models.CharField(max_length=16, blank=True)
    lead_score = models.PositiveSmallIntegerField(null=True, blank=True)
    human_requested = models.BooleanField(default=False)
    outbound_message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    disposition = models.CharField(max_length=16, choices=DraftDisposition.choices, blank=True)
    disposition_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="+")
    disposition_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["thread", "-created_at"], name="draft_thread_idx"),
            models.Index(fields=["workspace", "decision", "-created_at"], name="draft_ws_decision_idx"),
            # Runs in progress, for the sweeper that settles interrupted ones.
            models.Index(fields=["created_at"], name="draft_pending_idx", condition=models.Q(decision="pending")),
        ]

    def __str__(self):
        return f"draft {self.pk} ({self.decision})"


class EscalationStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLAIMED = "claimed", "Claimed"
    RESOLVED = "resolved", "Resolved"


class Escalation(models.Model):
    """A thread handed to a human, with why. At most one open or claimed escalation per thread."""

    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="+")
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="escalations")
    reason_code = models.CharField(max_length=40)
    reason_text = models.CharField(max_length=500, blank=True)
    draft = models.ForeignKey(ReplyDraft, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The transcript reference: the message that led here.
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=16, choices=EscalationStatus.choices, default=EscalationStatus.OPEN)
    # A crisis or a threat of violence: listed first, and the email says so.
    urgent = models.BooleanField(default=False)
    claimed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    claimed_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["thread"], condition=models.Q(status__in=["open", "claimed"]),
                                    name="escalation_one_open_per_thread"),
        ]
        indexes = [models.Index(fields=["workspace", "status", "-created_at"], name="escalation_ws_status_idx")]

    def __str__(self):
        return f"escalation {self.pk} {self.reason_code} ({self.status})"


class ActionKind(models.TextChoices):
    SENT_REPLY = "sent_reply", "Sent a reply"
    FOLLOW_UP_SENT = "follow_up_sent", "Sent a follow-up"
    ESCALATED = "escalated", "Escalated"
    DRAFT_SAVED = "draft_saved", "Saved a draft"
    # A member working the inbox (actor set): who has the thread and whether it is done.
    ASSIGNED = "assigned", "Assigned"
    SNOOZED = "snoozed", "Snoozed"
    RESOLVED = "resolved", "Resolved"
    REOPENED = "reopened", "Reopened"


class SidekickActionLog(models.Model):
    """What Sidekick did, newest first on the dashboard. `result` and `graph_message_id` are settled
    when the send completes (`conversations.action_log.action_log_settle`)."""

    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="+")
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="actions")
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=16, choices=ActionKind.choices)
    text = models.TextField(blank=True)
    confidence = models.FloatField(null=True, blank=True)
    result = models.CharField(max_length=200, blank=True)
    graph_message_id = models.CharField(max_length=255, blank=True)
    draft = models.ForeignKey(ReplyDraft, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["workspace", "-created_at"], name="actionlog_ws_recent_idx"),
            models.Index(fields=["thread", "-created_at"], name="actionlog_thread_idx"),
        ]

    def __str__(self):
        return f"{self.action} on {self.thread_id}"


# --- Follow-up sequences ------------------------------------------------------------------------------

class FollowUpStep(models.Model):
    """One step of a workspace's follow-up sequence: a nudge `delay_hours` after the business's last
    message the contact has not answered (the sequence's anchor; the nudges themselves never move it).

    `use_human_agent_tag`: past the 24-hour window the step is still drafted, on Messenger Pages with
    the Human Agent permission and the workspace's `use_human_agent_tag`, within 7 days of the
    contact's last message, and always left for a setter (automated content may never use the tag).
    Rows are written by `services.follow_up_steps_replace` only.
    """

    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="follow_up_steps")
    position = models.PositiveSmallIntegerField()
    delay_hours = models.PositiveIntegerField()
    use_human_agent_tag = models.BooleanField(default=False)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["workspace", "position"]
        constraints = [models.UniqueConstraint(fields=["workspace", "position"], name="follow_up_step_position_unique")]

    def __str__(self):
        return f"follow-up step {self.position} of {self.workspace_id} after {self.delay_hours} h"


class FollowUpOutcome(models.TextChoices):
    SENT = "sent", "Sent"
    REVIEW = "review", "Left for review"
    BLOCKED = "blocked", "Blocked by a rule"
    SKIPPED = "skipped", "Skipped"
    STOPPED = "stopped", "Sequence stopped"
    PENDING = "pending", "Drafting"


class FollowUpStepRun(models.Model):
    """What became of one step for one anchor (the business's unanswered message). Unique per
    (anchor, position): the row is the claim, so a step is drafted once however often the sweeper
    runs. A `stopped` row ends the sequence for that anchor. Written by `pipeline.sequence` only."""

    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="+")
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="follow_up_runs")
    anchor_message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField()
    delay_hours = models.PositiveIntegerField()
    human_agent = models.BooleanField(default=False)
    outcome = models.CharField(max_length=16, choices=FollowUpOutcome.choices, default=FollowUpOutcome.PENDING)
    reason_code = models.CharField(max_length=40, blank=True)
    reason_text = models.CharField(max_length=500, blank=True)
    draft = models.OneToOneField(ReplyDraft, null=True, blank=True, on_delete=models.SET_NULL, related_name="follow_up_run")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["thread", "-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["anchor_message", "position"],
                                               name="follow_up_run_once_per_anchor_step")]
        indexes = [models.Index(fields=["thread", "-created_at"], name="follow_up_run_thread_idx")]

    def __str__(self):
        return f"follow-up step {self.position} on {self.thread_id}: {self.outcome}"
class SavedReply(models.Model):
    """A canned answer a setter inserts from the composer ("/"). `body` may hold `{first_name}` and
    `{name}`, replaced by plain string substitution (`conversations.saved_replies.saved_reply_render`)."""

    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="saved_replies")
    title = models.CharField(max_length=100)
    body = models.TextField(max_length=4000)
    # Typed after "/" to find it fast, e.g. "price"; unique in the workspace when set.
    shortcut = models.SlugField(max_length=40, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title", "id"]
        constraints = [models.UniqueConstraint(fields=["workspace", "shortcut"], condition=~models.Q(shortcut=""),
                                               name="saved_reply_shortcut_unique")]

    def __str__(self):
        return self.title
