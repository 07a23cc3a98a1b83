"""Meta channels and the durable webhook inbox.

A `Channel` is one connected Instagram professional account or Facebook Page. Its access token is
encrypted at rest and never rendered in full (see `Channel.token_masked`).

A `WebhookEvent` is one POST from Meta, stored byte for byte before we answer 200, so losing Redis
or a worker delays normalisation but never loses a delivery.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from integrations.crypto import EncryptedTextField, mask
from integrations.llm.models import LLMProvider, LLMQuotaPolicy, LLMUsage  # noqa: F401


class Platform(models.TextChoices):
    INSTAGRAM = "instagram", "Instagram"
    MESSENGER = "messenger", "Messenger"


class ChannelStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    RECONNECT_NEEDED = "reconnect_needed", "Reconnect needed"
    DISABLED = "disabled", "Disabled"


class Channel(models.Model):
    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="channels")
    platform = models.CharField(max_length=16, choices=Platform.choices)
    # Instagram: the professional account's IG user id (entry.id of its webhooks); Messenger: the Page id.
    account_id = models.CharField(max_length=64)
    name = models.CharField(max_length=200, blank=True)
    access_token = EncryptedTextField(blank=True)
    token_expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty for tokens that do not expire.")
    token_refreshed_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=ChannelStatus.choices, default=ChannelStatus.ACTIVE)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    # Messenger only: the Page has the Human Agent permission, so setters may answer 24 h - 7 d late.
    human_agent_enabled = models.BooleanField(default=False)
    # Set from the Business Use Case rate-limit headers; sends wait until then.
    rate_limited_until = models.DateTimeField(null=True, blank=True)
    connected_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["workspace", "platform", "name"]
        constraints = [
            # Webhooks are routed by (object, entry.id): one account belongs to one workspace at a time.
            models.UniqueConstraint(fields=["platform", "account_id"], name="channel_platform_account_unique"),
        ]
        indexes = [models.Index(fields=["platform", "status", "token_expires_at"])]

    def __str__(self):
        return f"{self.get_platform_display()} {self.name or self.account_id}"

    def __repr__(self):
        return f"<Channel {self.pk} {self.platform}:{self.account_id} {self.status}>"

    @property
    def token_masked(self) -> str:
        return mask(self.access_token)

    @property
    def can_send(self) -> bool:
        return self.status == ChannelStatus.ACTIVE and bool(self.access_token)


class WebhookEventStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class WebhookEvent(models.Model):
    """One signed POST from Meta. Not tenant-scoped: a batch may carry entries for several channels."""

    body = models.BinaryField()
    # Which configured app secret verified the signature: "meta" (Facebook Login) or "instagram".
    signed_by = models.CharField(max_length=16, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=16, choices=WebhookEventStatus.choices, default=WebhookEventStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    items_total = models.PositiveIntegerField(default=0)
    items_ignored = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            # The sweeper's scans; a partial index stays small because done rows dominate.
            models.Index(fields=["status", "received_at"], name="webhookevent_open_idx",
                         condition=models.Q(status__in=["pending", "processing"])),
        ]

    def __str__(self):
        return f"webhook event {self.pk} ({self.status})"


class SandboxSend(models.Model):
    """A call the built-in Graph stand-in answered (META_SANDBOX=1): what Sidekick would have sent."""

    channel = models.ForeignKey(Channel, null=True, blank=True, on_delete=models.CASCADE, related_name="sandbox_sends")
    account_id = models.CharField(max_length=64)
    recipient_id = models.CharField(max_length=64, blank=True)
    kind = models.CharField(max_length=32)  # message, sender_action, profile, token_refresh
    payload = models.JSONField(default=dict)
    message_id = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"sandbox {self.kind} to {self.recipient_id}"

    @property
    def summary(self) -> str:
        """What was sent, for the channels page: the text of a message, or the sender action."""
        payload = self.payload if isinstance(self.payload, dict) else {}
        message = payload.get("message") if isinstance(payload.get("message"), dict) else {}
        return str(message.get("text") or payload.get("sender_action") or "")
