"""Eval runs and their cases (issue 15, the measuring half): a judge scores the messages actually sent
in a done report's matured cohort, and the run reports how well those scores separate booked from not
booked. See evals.services.eval_run."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class EvalStatus(models.TextChoices):
    RUNNING = "running", "Running"
    DONE = "done", "Done"  # every case scored
    STOPPED = "stopped", "Stopped"  # the budget or the quota ended it early: partial results kept
    FAILED = "failed", "Failed"


class StopReason(models.TextChoices):
    NONE = "", "—"
    BUDGET = "budget", "Token budget reached"
    QUOTA = "quota", "LLM quota reached"
    NO_PROVIDER = "no_provider", "No LLM provider configured"
    ERROR = "error", "Error"


class Split(models.TextChoices):
    TRAIN = "train", "Train"
    HELD_OUT = "held_out", "Held out"


class EvalRun(models.Model):
    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="+")
    report = models.ForeignKey("insights.Report", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=8, choices=EvalStatus.choices, default=EvalStatus.RUNNING)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent of cases scored.")
    budget_tokens = models.PositiveIntegerField()
    tokens_used = models.PositiveIntegerField(default=0)
    estimated_tokens = models.PositiveIntegerField(default=0)
    estimated_cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    stop_reason = models.CharField(max_length=16, choices=StopReason.choices, blank=True, default="")
    error = models.CharField(max_length=500, blank=True)
    # Empty: the system (a scheduled run) asked for it.
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    judge_model = models.CharField(max_length=200, blank=True)
    judge_prompt_version = models.CharField(max_length=64)
    judge_parameters = models.JSONField(default=dict)
    # {"cases", "scored", "auc": {"value", "low", "high", "n_booked", "n_not_booked", "method"}, "verdict"}
    metrics = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workspace", "-created_at"], name="evalrun_ws_recent_idx")]

    def __str__(self):
        return f"eval run {self.pk} ({self.status})"


class EvalCase(models.Model):
    """One decided outbound message: what came before it and what was sent, redacted (only the redacted
    text is ever stored), its outcome, and the judge's scores once scored."""

    run = models.ForeignKey(EvalRun, on_delete=models.CASCADE, related_name="cases")
    # Not a foreign key: a case keeps its redacted text if the message is erased; erasure deletes the
    # cases by this id (privacy).
    message_id = models.BigIntegerField()
    person_key = models.CharField(max_length=32)
    split = models.CharField(max_length=8, choices=Split.choices)
    outcome = models.CharField(max_length=16)  # booked | not_booked
    sender = models.CharField(max_length=32, blank=True)
    context = models.JSONField(default=list)  # [{"role": "customer" | "business", "text": redacted}]
    sent_text = models.TextField()
    score = models.JSONField(null=True, blank=True)  # the judge's answer (rubric and reason)
    overall = models.PositiveSmallIntegerField(null=True, blank=True)
    tokens = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["run", "message_id"], name="evalcase_run_message_unique")]
        indexes = [models.Index(fields=["message_id"], name="evalcase_message_idx")]

    def __str__(self):
        return f"eval case {self.pk} of run {self.run_id}"
