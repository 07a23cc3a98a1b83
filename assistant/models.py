"""The assistant's conversation store: one user's chats with Sidekick, per workspace.

Built for more than one skill: the chat answers of this app, and later AutoCRM's plans (issue 17)
and suggestions, which keep their intent, entities, plan and result in a message's `metadata` and
their own rows pointing at the message. A conversation belongs to its user alone: every read is
scoped to the workspace and the user (assistant.selectors).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class ContextType(models.TextChoices):
    GENERAL = "general", "General"
    THREAD = "thread", "Conversation"
    CONTACT = "contact", "Contact"
    INSIGHTS = "insights", "Insights"
    KNOWLEDGE = "knowledge", "Knowledge base"
    STRATEGY = "strategy", "Strategy"
    CONTENT = "content", "Content"


class AssistantConversation(models.Model):
    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    title = models.CharField(max_length=200, blank=True)
    # The provider of the last answer (the user's own key or the workspace's); kept when it is deleted.
    provider = models.ForeignKey("integrations.LLMProvider", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    provider_label = models.CharField(max_length=250, blank=True)
    context_type = models.CharField(max_length=16, choices=ContextType.choices, default=ContextType.GENERAL)
    # Ids and a short summary of what the conversation is about (never copies of messages or documents):
    # {"thread_id": 5, "contact_id": 9, "label": "Maria L. on Instagram"}.
    context = models.JSONField(default=dict, blank=True)
    archived = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["workspace", "user", "archived", "-updated_at"], name="assistant_conv_list")]

    def __str__(self):
        return self.title or f"Conversation {self.pk}"


class Role(models.TextChoices):
    USER = "user", "User"
    ASSISTANT = "assistant", "Assistant"


class MessageStatus(models.TextChoices):
    COMPLETE = "complete", "Complete"
    STREAMING = "streaming", "Writing"
    FAILED = "failed", "Failed"
    STOPPED = "stopped", "Stopped"


class AssistantMessage(models.Model):
    """One turn. An assistant answer is created `streaming` (empty) when the question is stored, filled
    as the model writes it (assistant.tasks), and ends complete, failed or stopped with what arrived."""

    conversation = models.ForeignKey(AssistantConversation, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=16, choices=Role.choices)
    content = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=MessageStatus.choices, default=MessageStatus.COMPLETE)
    stop_requested = models.BooleanField(default=False)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    model = models.CharField(max_length=200, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    # The usage ledger row of the call (kept when the ledger is pseudonymised).
    usage_id = models.BigIntegerField(null=True, blank=True)
    # For skills: citations used, and later AutoCRM's intent, entities, plan and execution result.
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["conversation", "created_at"], name="assistant_msg_conv")]
        constraints = [
            models.CheckConstraint(condition=Q(role="assistant") | Q(status="complete"),
                                   name="assistant_user_message_complete"),
        ]

    def __str__(self):
        return f"{self.role} message {self.pk} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status != MessageStatus.STREAMING


class SuggestionType(models.TextChoices):
    REPLY = "reply", "Reply"
    FOLLOW_UP = "follow_up", "Follow-up message"
    FAQ = "faq", "FAQ entry"
    PROMPT = "prompt", "Prompt change"
    STRATEGY = "strategy", "Follow-up strategy"
    SAVED_REPLY = "saved_reply", "Saved reply"


class SuggestionStatus(models.TextChoices):
    PENDING = "pending", "Suggested"
    ACCEPTED = "accepted", "Being applied"  # claimed by one click; applied or back to pending with an error
    REJECTED = "rejected", "Rejected"
    APPLIED = "applied", "Applied"
    UNDONE = "undone", "Undone"


class TargetType(models.TextChoices):
    THREAD = "thread", "Conversation"
    CONTACT = "contact", "Contact"
    KNOWLEDGE = "knowledge", "Knowledge base"
    PROMPT = "prompt", "System prompt"
    SAVED_REPLIES = "saved_replies", "Saved replies"


class AssistantSuggestion(models.Model):
    """Something the assistant proposed at the user's request, applied only by the user's click.

    The target is never the model's choice: it is the conversation's context (the open thread or
    contact, checked against the workspace when the conversation began and again on apply) or
    workspace-wide state. Applying makes a change set (`changes`), whose id is kept for undo.
    """

    message = models.ForeignKey(AssistantMessage, on_delete=models.CASCADE, related_name="suggestions")
    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    type = models.CharField(max_length=16, choices=SuggestionType.choices)
    title = models.CharField(max_length=200)
    content = models.TextField()
    reasoning = models.TextField(blank=True)
    confidence = models.FloatField(null=True, blank=True)
    target_type = models.CharField(max_length=16, choices=TargetType.choices)
    target_id = models.BigIntegerField(null=True, blank=True)
    # Type-specific parts: the FAQ question, the strategy's steps, the saved reply's shortcut.
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=SuggestionStatus.choices, default=SuggestionStatus.PENDING)
    change_set = models.ForeignKey("changes.ChangeSet", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    # What applying produced ({"draft_id": 7, "thread_id": 3}), for the "view" link.
    result = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["workspace", "user", "-created_at"], name="assistant_sugg_user")]

    def __str__(self):
        return f"{self.type} suggestion {self.pk} ({self.status})"
