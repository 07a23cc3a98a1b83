"""Data-subject requests (GDPR): exports and erasures, each a row that a Celery task works through.

A request names its subject: a user (their own AI data in one workspace) or a contact. The contact link
is cleared by the erasure itself (SET_NULL), so `subject_contact_ref` keeps the bare id for the list
("contact #123"): an id, never a name. Rows are written only by `privacy.services`.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

DEADLINE = timedelta(hours=72)  # GDPR asks for "without undue delay"; this project promises 72 hours.
EXPORT_LIFETIME = timedelta(days=7)  # a download link should not outlive its purpose


def due_in_72_hours():
    return timezone.now() + DEADLINE


class Kind(models.TextChoices):
    EXPORT = "export", "Export"
    ERASURE = "erasure", "Erasure"


class Subject(models.TextChoices):
    USER_AI = "user_ai", "A user's AI data"
    CONTACT = "contact", "A contact"


class Status(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


def export_path(instance, filename):
    return f"privacy/{instance.workspace_id}/{filename}"


class PrivacyRequest(models.Model):
    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    subject = models.CharField(max_length=16, choices=Subject.choices)
    subject_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                                     related_name="+")
    subject_contact = models.ForeignKey("contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")
    subject_contact_ref = models.BigIntegerField(null=True, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # Why it failed, without personal data (an exception's class and our own messages only).
    error = models.CharField(max_length=300, blank=True)
    # What was exported or erased: {"messages": 12, ...}, counts only.
    rows = models.JSONField(default=dict, blank=True)
    file = models.FileField(upload_to=export_path, blank=True, max_length=300)
    file_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField(default=due_in_72_hours)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(subject="user_ai", subject_user__isnull=False)
                           | Q(subject="contact", subject_contact_ref__isnull=False)),
                name="privacy_request_has_subject"),
        ]
        indexes = [
            models.Index(fields=["workspace", "-created_at"], name="privacy_ws_recent_idx"),
            models.Index(fields=["status", "created_at"], name="privacy_open_idx",
                         condition=Q(status__in=["pending", "running"])),
        ]

    def __str__(self):
        return f"{self.kind} of {self.subject_label} ({self.status})"

    @property
    def subject_label(self) -> str:
        if self.subject == Subject.CONTACT:
            return f"contact #{self.subject_contact_ref}"
        return f"AI data of {self.subject_user}" if self.subject_user_id else "AI data"

    @property
    def rows_total(self) -> int:
        return sum(v for v in (self.rows or {}).values() if isinstance(v, int))

    @property
    def overdue(self) -> bool:
        return self.completed_at is None and timezone.now() > self.due_at

    @property
    def downloadable(self) -> bool:
        return (self.kind == Kind.EXPORT and self.status == Status.DONE and bool(self.file)
                and self.file_expires_at is not None and self.file_expires_at > timezone.now())
