"""Threads and messages.

A thread is the one conversation between a channel and a contact (Meta has exactly one per pair).
Messages come from webhooks (inbound, echoes) or from Sidekick (outbound rows created before the
Send API call, so the send can be claimed and never repeated; see `conversations.sending`).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.utils import timezone


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
    # Handover protocol: False while another app (e.g. the Page inbox) owns the thread (standby).
    app_has_control = models.BooleanField(default=True)
    # Raised when Sidekick could not act (window closed, send in doubt, ...); cleared by a setter.
    needs_human = models.BooleanField(default=False)
    needs_human_reason = models.CharField(max_length=200, blank=True)
    needs_human_at = models.DateTimeField(null=True, blank=True)
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
            # Paused threads are few: a small partial index keeps the "AI paused" filter from
            # walking the whole inbox.
            models.Index(fields=["workspace", "-last_message_at", "-id"], name="thread_ai_paused_idx",
                         condition=models.Q(ai_paused=True)),
            GinIndex(fields=["search_vector"], name="thread_search_idx"),
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
            models.Index(fields=["send_status", "next_attempt_at"], name="message_send_open_idx",
                         condition=models.Q(send_status__in=["pending", "sending"])),
        ]

    def __str__(self):
        return f"{self.direction} {self.mid or self.pk}"

    @property
    def is_outbound(self) -> bool:
        return self.direction == Direction.OUT
