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


# --- Proposals (issue 15, the changing half) ------------------------------------------------------
# A proposal is a concrete change to the prompt or the knowledge base with its evidence. It is never
# applied without a person: proposed → approved or rejected (a workspace admin, with a note) →
# applied (through `changes`, a new revision) → rolled back (the previous revision restored, as a
# new revision). Written only by evals.proposals.


class ProposalKind(models.TextChoices):
    PROMPT = "prompt", "Prompt change"
    FAQ = "faq", "FAQ entry"
    DOCUMENT = "document", "Text document"


class ProposalStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    APPLIED = "applied", "Applied"
    ROLLED_BACK = "rolled_back", "Rolled back"


class ProposalSource(models.TextChoices):
    LOOP = "loop", "Eval loop"  # drafted by the judge-side model from an eval run
    SETTER = "setter", "Setter's answer"  # an escalated question a setter answered
    FAN_OUT = "fan_out", "Fan-out"  # a super-admin's copy of another workspace's proposal
    MANUAL = "manual", "Manual"


class Proposal(models.Model):
    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=ProposalKind.choices)
    source = models.CharField(max_length=16, choices=ProposalSource.choices, default=ProposalSource.MANUAL)
    status = models.CharField(max_length=16, choices=ProposalStatus.choices, default=ProposalStatus.PROPOSED)
    title = models.CharField(max_length=200)
    rationale = models.TextField(blank=True)
    # What it sets: {"text"} (prompt), {"question", "answer"} (FAQ), {"title", "text"} (document).
    payload = models.JSONField(default=dict)
    # The FAQ entry or document it edits; empty for the prompt and for a new entry or document.
    target_id = models.BigIntegerField(null=True, blank=True)
    # What the change was built against: {"revision": id or number or None, "text": ...}. Applying is
    # refused once the target moved on, so a proposal never silently undoes someone's later edit.
    base = models.JSONField(default=dict)
    # {"report_id", "run_id", "case_ids", "scores", "patterns", "pairwise", "tokens", "escalation_id", ...}
    evidence = models.JSONField(default=dict)
    # Deduplicates proposals from one origin ("escalation:<id>"); empty when there is nothing to dedupe.
    source_key = models.CharField(max_length=64, blank=True)
    origin = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="fanned_out")
    change_set = models.ForeignKey("changes.ChangeSet", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    # What applying produced (the operation's result: the new revision's id or number).
    result = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=1000, blank=True)  # why the last apply or rollback was refused
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=500, blank=True)
    applied_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    applied_at = models.DateTimeField(null=True, blank=True)
    rolled_back_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="+")
    rolled_back_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workspace", "status", "-created_at"], name="proposal_ws_status_idx")]
        constraints = [models.UniqueConstraint(fields=["workspace", "source_key"], condition=~models.Q(source_key=""),
                                               name="proposal_source_key_unique")]

    def __str__(self):
        return f"proposal {self.pk} ({self.kind}, {self.status})"
# --- Pairwise comparisons, human calibration, weekly opt-in (issue 15, brief B) --------------------------

class CandidateKind(models.TextChoices):
    PROMPT = "prompt", "Prompt change"
    KNOWLEDGE = "knowledge", "Knowledge change (FAQ entry)"


class PairResult(models.TextChoices):
    WIN = "win", "Candidate better"  # both orders preferred the candidate
    TIE = "tie", "Tie"  # the orders disagree, or both said tie
    LOSS = "loss", "Current better"  # both orders preferred the current version


class PairwiseRun(models.Model):
    """A candidate (a prompt text, or an FAQ entry given as text) against the current version, on the
    held-out cases of an eval run: each case re-drafted both ways in dry-run mode and compared by the
    judge in both orders. See evals.pairwise."""

    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="+")
    eval_run = models.ForeignKey(EvalRun, on_delete=models.CASCADE, related_name="pairwise_runs")
    kind = models.CharField(max_length=16, choices=CandidateKind.choices)
    candidate_prompt = models.TextField(blank=True)  # kind "prompt": the candidate prompt text
    candidate_question = models.TextField(blank=True)  # kind "knowledge": the candidate FAQ entry
    candidate_answer = models.TextField(blank=True)
    # kind "knowledge", an edited entry: the stored entry it replaces (not a foreign key: kept if deleted).
    replaces_faq_id = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=EvalStatus.choices, default=EvalStatus.RUNNING)
    stop_reason = models.CharField(max_length=16, choices=StopReason.choices, blank=True, default="")
    error = models.CharField(max_length=500, blank=True)
    budget_tokens = models.PositiveIntegerField()
    tokens_used = models.PositiveIntegerField(default=0)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    judge_model = models.CharField(max_length=200, blank=True)
    judge_prompt_version = models.CharField(max_length=64)
    # {"n", "wins", "ties", "losses", "failed", "win_share": {...Wilson}, "position_consistency": {...}}
    metrics = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workspace", "-created_at"], name="pairwise_ws_recent_idx")]

    def __str__(self):
        return f"pairwise run {self.pk} ({self.status})"


class PairwiseCase(models.Model):
    """One held-out case re-drafted with the current and the candidate version (redacted text only),
    and the judge's two verdicts: A = current, B = candidate, then the order swapped."""

    run = models.ForeignKey(PairwiseRun, on_delete=models.CASCADE, related_name="cases")
    case = models.ForeignKey(EvalCase, on_delete=models.CASCADE, related_name="+")
    current_text = models.TextField(blank=True)
    candidate_text = models.TextField(blank=True)
    # Which reply each order preferred, by version ("current" | "candidate" | "tie"), not by position.
    first_order = models.CharField(max_length=10, blank=True)  # current shown first
    second_order = models.CharField(max_length=10, blank=True)  # candidate shown first
    result = models.CharField(max_length=4, choices=PairResult.choices, blank=True)
    consistent = models.BooleanField(null=True)  # both orders chose the same version (or both a tie)
    tokens = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["run", "case"], name="pairwisecase_run_case_unique")]

    def __str__(self):
        return f"pairwise case {self.pk} of run {self.run_id}"


class HumanLabel(models.TextChoices):
    GOOD = "good", "Good"
    BAD = "bad", "Bad"


class CalibrationLabel(models.Model):
    """An admin's good / bad verdict on a message actually sent, to measure the judge against (Cohen's
    κ). Keyed by the message, not by a run's case: the verdict holds for every later run that scores
    the same message. One label per message: labelling it again replaces the label. Holds no text;
    erasure deletes it with the message's cases (evals.erasure)."""

    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="+")
    message_id = models.BigIntegerField()  # not a foreign key, as EvalCase.message_id
    label = models.CharField(max_length=4, choices=HumanLabel.choices)
    labelled_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    labelled_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "message_id"], name="calib_ws_message_unique")]

    def __str__(self):
        return f"{self.label} label on message {self.message_id}"


class EvalsSettings(models.Model):
    """Per-workspace eval options; a workspace without a row has the defaults (weekly evals off).
    Separate from the insights report's opt-in: a workspace can want reports without spending tokens
    on a judge. Written only by `evals.weekly.evals_settings_update` (admins, audited)."""

    workspace = models.OneToOneField("accounts.Workspace", on_delete=models.CASCADE, related_name="evals_settings")
    weekly_evals = models.BooleanField(default=False)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "evals settings"

    def __str__(self):
        return f"evals settings of workspace {self.workspace_id}"
