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


# --- Message facts: the cohort's labels kept as messages arrive (insights.facts) ---------------------
# What a report needs of each outbound message that does not depend on its window, `as_of` or the
# bookings (who sent it, reply or follow-up, stage at send time, the person's next inbound message, ...),
# computed once and read by every report instead of being recomputed from every message each time.
# Written only by `insights.facts` (and by the database triggers of migration 0004, which log changes);
# docs/insights.md, "Message facts".


class FactsState(models.Model):
    """A workspace whose message facts are kept: changes to its messages are logged from `enabled_at` on,
    and the facts are usable once `built_at` is set (the first full build is done)."""

    workspace = models.OneToOneField("accounts.Workspace", on_delete=models.CASCADE, related_name="+")
    enabled_at = models.DateTimeField(auto_now_add=True)
    # Every transaction with an id below this one was running when logging started (it may have written
    # without logging): the first build waits until they have all ended, so it sees what they wrote.
    enabled_before_xid = models.BigIntegerField()
    built_at = models.DateTimeField(null=True, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"message facts of workspace {self.workspace_id}"


class MessageFact(models.Model):
    """One outbound message with the labels that do not depend on a report's window (insights.report_sql,
    `fact_rows`). `sender` is empty for a message that did not reach the contact (it still counts as
    considered). No text: only ids, times and small labels."""

    message = models.OneToOneField("conversations.Message", primary_key=True, on_delete=models.CASCADE,
                                   related_name="+")
    # Indexed by fact_ws_sent_idx (its first column).
    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="+", db_index=False)
    thread_id = models.BigIntegerField()
    sent_at = models.DateTimeField()
    sender = models.CharField(max_length=16, null=True)  # noqa: DJ001
    purpose = models.CharField(max_length=16, null=True)  # noqa: DJ001
    stage = models.CharField(max_length=16, null=True)  # noqa: DJ001
    # The person's next inbound message after it, on any channel (whether it was answered in time).
    next_in = models.DateTimeField(null=True)
    # For a reply: when the contact last wrote in the thread (the response delay).
    last_in = models.DateTimeField(null=True)
    contact_name = models.BooleanField(null=True)
    text_features = models.SmallIntegerField(null=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "sent_at"], name="fact_ws_sent_idx"),
                   models.Index(fields=["thread_id"], name="fact_thread_idx"),
                   # The few that did not reach the contact: a report counts them as considered.
                   models.Index(fields=["workspace", "sent_at"], name="fact_undelivered_idx",
                                condition=models.Q(sender__isnull=True))]

    def __str__(self):
        return f"facts of message {self.message_id}"


class FactThread(models.Model):
    """Each thread the facts cover, with its contact and person key when they were built: when a contact
    moves between people, the person it left is rebuilt too. Plain ids, no foreign keys: a row outlives
    its thread until the next refresh, so the person it belonged to is found."""

    thread_id = models.BigIntegerField(primary_key=True)
    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="+", db_index=False)
    contact_id = models.BigIntegerField()
    person_key = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["workspace", "contact_id"], name="factthread_contact_idx"),
                   models.Index(fields=["workspace", "person_key"], name="factthread_person_idx")]

    def __str__(self):
        return f"facts of thread {self.thread_id}"


class FactChange(models.Model):
    """A change that may make a workspace's facts stale: a thread or a contact, logged by the triggers of
    migration 0004 in the writer's own transaction (so no change is ever missed, whatever code wrote it)
    and deleted by the refresh that takes it into account. The workspace is a plain id: while a workspace is
    deleted, its messages' triggers may still log after Django deleted the log's rows (a foreign key would
    fail the deletion); the periodic refresh drops rows of workspaces whose facts are no longer kept."""

    workspace_id = models.BigIntegerField()
    thread_id = models.BigIntegerField(null=True)
    contact_id = models.BigIntegerField(null=True)

    class Meta:
        indexes = [models.Index(fields=["workspace_id"], name="factchange_ws_idx")]

    def __str__(self):
        return f"change of thread {self.thread_id} / contact {self.contact_id}"
