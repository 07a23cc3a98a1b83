"""Stored message-performance reports (see insights.services.report_run and docs/insights.md)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class ReportStatus(models.TextChoices):
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Report(models.Model):
    """One run of the report for a workspace, a window [window_start, window_end) and an `as_of` time.

    A report has metrics only when it is done, and a done report always has them: a check constraint
    holds it, so a crash mid-run can leave a running or failed row, never one that looks complete.
    """

    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="+")
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    as_of = models.DateTimeField()
    parameters = models.JSONField(default=dict)
    status = models.CharField(max_length=8, choices=ReportStatus.choices, default=ReportStatus.RUNNING)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent, for the progress bar.")
    metrics = models.JSONField(null=True, blank=True)
    # The optional written synthesis (insights.synthesis), written after the metrics in its own update:
    # {"status": "done" | "failed" | "skipped", "reason", "model", "prompt_version", "parameters",
    # "output"}. Null: none was asked for. Whatever it holds, the numbers stand on their own.
    synthesis = models.JSONField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    # Empty: the system (the weekly run) asked for it.
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    duration = models.DurationField(null=True, blank=True)
    rows_considered = models.PositiveIntegerField(default=0)
    rows_dropped = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(window_start__lt=models.F("window_end")), name="report_window_order"),
            models.CheckConstraint(
                condition=(Q(status=ReportStatus.DONE, metrics__isnull=False, finished_at__isnull=False, progress=100)
                           | (~Q(status=ReportStatus.DONE) & Q(metrics__isnull=True))),
                name="report_metrics_only_when_done"),
        ]
        indexes = [models.Index(fields=["workspace", "-created_at"], name="report_ws_recent_idx"),
                   models.Index(fields=["created_at"], name="report_running_idx",
                                condition=Q(status=ReportStatus.RUNNING))]

    def __str__(self):
        return f"report {self.pk} ({self.status})"


class InsightsSettings(models.Model):
    """Per-workspace insights options; a workspace without a row has the defaults (weekly report off).

    Written only by `insights.services.insights_settings_update` (admins, audited).
    """

    workspace = models.OneToOneField("accounts.Workspace", on_delete=models.CASCADE, related_name="insights_settings")
    # Opt-in: the Monday run (insights.weekly) reports on this workspace only when it is on.
    weekly_report = models.BooleanField(default=False)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "insights settings"

    def __str__(self):
        return f"insights settings of workspace {self.workspace_id}"
