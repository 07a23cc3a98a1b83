"""Change sets: typed operations previewed (before → after), applied together, undone together.

A ``ChangeSet`` is what a person confirms: a proposal's revision, the assistant's one-click apply,
an AutoCRM plan. Its ``Operation`` rows are ordered; each names a kind from ``changes.kinds`` and a
target (a row by content type and id, or a typed key such as ``prompt`` for workspace-wide state),
and keeps three JSON snapshots: ``before`` (read at preview), ``after`` (what the operation sets)
and ``applied`` (read right after applying). Apply requires the target to still equal ``before``;
undo requires it to still equal ``applied``. Rows here are written only by ``changes.services``;
the targets are written only by their owning apps' services.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models


class Source(models.TextChoices):
    MANUAL = "manual", "Manual"
    PROPOSAL = "proposal", "Proposal"
    ASSISTANT = "assistant", "Assistant"
    AUTOCRM = "autocrm", "AutoCRM"


class Status(models.TextChoices):
    PREVIEWED = "previewed", "Previewed"
    APPLIED = "applied", "Applied"
    UNDONE = "undone", "Undone"
    FAILED = "failed", "Failed"


class ChangeSet(models.Model):
    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="change_sets")
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.MANUAL)
    title = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PREVIEWED)
    # Why the set failed (stale preview, refused by the owning service); empty otherwise.
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    applied_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    applied_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    undone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workspace", "-created_at"], name="changeset_workspace_idx")]

    def __str__(self):
        return f"change set {self.pk} ({self.status}): {self.title}"


class Operation(models.Model):
    change_set = models.ForeignKey(ChangeSet, on_delete=models.CASCADE, related_name="operations")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=48)
    # The target: a row (content type + id), or a typed key for workspace-wide state ("prompt",
    # "sidekick_settings"). An operation that creates its row (a new FAQ entry) gets the id on apply.
    target_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    target_id = models.BigIntegerField(null=True, blank=True)
    target_key = models.CharField(max_length=64, blank=True)
    # How a person recognises the target ("contact Sarah (stage, lead_score)"), kept from the preview.
    label = models.CharField(max_length=200, blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    applied = models.JSONField(default=dict, blank=True)
    # What applying produced (ids of new revisions, events, rows), for links and for undo.
    result = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=16, choices=Status.choices, default=Status.PREVIEWED)

    class Meta:
        ordering = ["change_set", "position"]
        constraints = [models.UniqueConstraint(fields=["change_set", "position"], name="operation_position_unique")]
        indexes = [models.Index(fields=["target_type", "target_id"], name="operation_target_idx")]

    def __str__(self):
        return f"{self.kind} #{self.position} of change set {self.change_set_id}"
