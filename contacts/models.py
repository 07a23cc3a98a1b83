"""A contact is one person on one channel, identified by Meta's platform-scoped id (PSID / IGSID)."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class Stage(models.TextChoices):
    NEW = "new", "New"
    ENGAGED = "engaged", "Engaged"
    QUALIFIED = "qualified", "Qualified"
    BOOKED = "booked", "Booked"
    CUSTOMER = "customer", "Customer"
    LOST = "lost", "Lost"
    # Stopped answering: no follow-ups are suggested for ghosted (or lost, or customer) contacts.
    GHOSTED = "ghosted", "Ghosted"


# A conversation in one of these stages is over: follow-ups are not suggested.
CLOSED_STAGES = frozenset({Stage.CUSTOMER, Stage.LOST, Stage.GHOSTED})


class Sentiment(models.TextChoices):
    UNKNOWN = "unknown", "Unknown"
    POSITIVE = "positive", "Positive"
    NEUTRAL = "neutral", "Neutral"
    NEGATIVE = "negative", "Negative"


class Person(models.Model):
    """One human reached on several channels: the contacts an admin linked as the same person.

    Contacts are per channel (a PSID or IGSID means nothing elsewhere), so Meta cannot tell us that
    the Instagram lead and the Messenger lead are one person; an admin can. A contact with no person
    is its own person. Written only by `contacts.services.contact_link_as_person` / `contact_unlink_person`;
    a person always has two or more contacts (unlinking the second-to-last one dissolves it).
    """

    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"person {self.pk}"


class Contact(models.Model):
    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="contacts")
    channel = models.ForeignKey("integrations.Channel", on_delete=models.CASCADE, related_name="contacts")
    # Page-scoped (Messenger PSID) or Instagram-scoped (IGSID) id: only meaningful with its channel.
    external_id = models.CharField(max_length=64)
    display_name = models.CharField(max_length=200, blank=True)
    username = models.CharField(max_length=100, blank=True)
    profile_fetched_at = models.DateTimeField(null=True, blank=True)
    # Written by the reply engine.
    stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.NEW)
    sentiment = models.CharField(max_length=16, choices=Sentiment.choices, default=Sentiment.UNKNOWN)
    lead_score = models.PositiveSmallIntegerField(default=0, validators=[MinValueValidator(0), MaxValueValidator(100)])
    opted_out = models.BooleanField(default=False)
    opted_out_at = models.DateTimeField(null=True, blank=True)
    # The last message the contact sent: opens the 24 h messaging window (an echo never does).
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    booked_at = models.DateTimeField(null=True, blank=True)
    booking_canceled_at = models.DateTimeField(null=True, blank=True)
    # The same human on another channel (see Person); empty: this contact is its own person.
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-last_inbound_at"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "external_id"], name="contact_channel_external_unique"),
            models.CheckConstraint(condition=models.Q(lead_score__lte=100), name="contact_lead_score_max_100"),
        ]
        indexes = [
            models.Index(fields=["workspace", "stage"]),
            models.Index(fields=["workspace", "-last_inbound_at"]),
            models.Index(fields=["workspace", "-lead_score", "-id"], name="contact_score_idx"),
        ]

    def __str__(self):
        return self.display_name or (f"@{self.username}" if self.username else self.external_id)


class BookingEvent(models.Model):
    """History of booking outcomes; `Contact.booked_at` / `booking_canceled_at` hold the current state."""

    class Kind(models.TextChoices):
        BOOKED = "booked", "Booked"
        CANCELED = "canceled", "Canceled"
        ATTENDED = "attended", "Attended"
        NO_SHOW = "no_show", "No-show"

    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="booking_events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    occurred_at = models.DateTimeField()
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at"]

    def __str__(self):
        return f"{self.contact} {self.kind}"


class MemoryKind(models.TextChoices):
    FACT = "fact", "Fact"
    PREFERENCE = "preference", "Preference"
    AVAILABILITY = "availability", "Availability"
    OBJECTION = "objection", "Objection"


def memory_expiry():
    from datetime import timedelta

    from django.utils import timezone

    return timezone.now() + timedelta(days=LEAD_MEMORY_RETENTION_DAYS)


LEAD_MEMORY_RETENTION_DAYS = 90


class LeadMemory(models.Model):
    """Something the contact told us, kept for 90 days and given to the drafting model.

    Written by the reply pipeline from the model's `memory_writes` (what the contact stated), or by
    an admin. Setters read it through `contacts.selectors.lead_memory_for`, which redacts contact
    details. A daily beat job deletes rows past `expires_at`.
    """

    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="memories")
    kind = models.CharField(max_length=16, choices=MemoryKind.choices)
    text = models.CharField(max_length=500)
    source_message = models.ForeignKey("conversations.Message", null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="+")
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", help_text="Empty when the reply pipeline wrote it.")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(default=memory_expiry)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["contact", "expires_at"], name="leadmemory_contact_idx"),
            models.Index(fields=["expires_at"], name="leadmemory_expiry_idx"),
        ]
        verbose_name_plural = "lead memories"

    def __str__(self):
        return f"{self.kind}: {self.text[:60]}"


class ContactStateChange(models.Model):
    """One change of a contact's stage, sentiment or lead score: the history the dashboard charts."""

    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="state_changes")
    stage = models.CharField(max_length=16, choices=Stage.choices)
    sentiment = models.CharField(max_length=16, choices=Sentiment.choices)
    lead_score = models.PositiveSmallIntegerField()
    # The draft whose assessment caused the change; empty for a change made by hand.
    source_draft = models.ForeignKey("conversations.ReplyDraft", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    changed_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["contact", "-created_at"], name="contactstate_contact_idx")]

    def __str__(self):
        return f"{self.contact_id}: {self.stage}/{self.sentiment}/{self.lead_score}"


class FollowUpStrategy(models.Model):
    """A plan for following up with one contact: a checklist of timed steps ("after 24 h: ask which day
    suits her"), counted from when the plan was saved. One per contact; a new plan replaces it.
    Written only by `contacts.services.follow_up_strategy_set` / `follow_up_strategy_clear` (the
    assistant's suggestions reach it through a change set)."""

    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="+")
    contact = models.OneToOneField(Contact, on_delete=models.CASCADE, related_name="follow_up_strategy")
    title = models.CharField(max_length=200, blank=True)
    # [{"after_hours": 24, "action": "Ask which evening suits her"}, ...], in order.
    steps = models.JSONField(default=list)
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "follow-up strategies"

    def __str__(self):
        return f"follow-up strategy of contact {self.contact_id}"
