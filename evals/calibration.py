"""Human calibration of the judge: admins label a sample of scored messages good or bad, one at a time,
and the page reports Cohen's κ between those labels and the judge's verdict (overall ≥ GOOD_AT is
"good") with the number labelled, beside the judge's position consistency from the pairwise runs.

The sample is the run's scored cases in the order of a salted hash of the message id: the same
messages come first in every run over the same cohort, so labels made on one run (they are keyed by
message) count again in the next.
"""

from __future__ import annotations

import hashlib

from django.db import transaction

from accounts.tenancy import require_workspace_admin
from evals.models import CalibrationLabel, EvalCase, EvalRun, HumanLabel, PairwiseRun
from evals.stats import kappa

SAMPLE_SIZE = 40
GOOD_AT = 4  # the judge's overall score (1–5) from which it calls a message good
SAMPLE_SALT = "sidekick-evals-calibration-v1"  # not a secret: it only keeps the order stable


def _order(message_id: int) -> bytes:
    return hashlib.sha256(f"{SAMPLE_SALT}:{message_id}".encode()).digest()


def calibration_run(*, workspace) -> EvalRun | None:
    """The workspace's latest run with scored cases (the one the page samples from)."""
    return EvalRun.objects.filter(workspace=workspace, cases__overall__isnull=False).distinct().first()


def calibration_sample(*, run: EvalRun, size: int = SAMPLE_SIZE) -> list[EvalCase]:
    """The first `size` scored cases of `run` in the stable hash order."""
    cases = list(EvalCase.objects.filter(run=run, overall__isnull=False))
    return sorted(cases, key=lambda case: _order(case.message_id))[:size]


def calibration_labels(*, workspace, message_ids: list[int]) -> dict[int, str]:
    return dict(CalibrationLabel.objects.filter(workspace=workspace, message_id__in=message_ids)
                .values_list("message_id", "label"))


@transaction.atomic
def calibration_label_set(*, workspace, case: EvalCase, label: str, actor) -> CalibrationLabel:
    """Record an admin's label of the case's message (replacing an earlier one).
    Precondition: `case` belongs to a run of `workspace` (the view finds it through the workspace)."""
    require_workspace_admin(workspace_id=workspace.pk, actor=actor, message="Only workspace admins can label cases.")
    if label not in HumanLabel.values:
        raise ValueError(f"unknown label {label!r}")
    found, _ = CalibrationLabel.objects.update_or_create(workspace=workspace, message_id=case.message_id,
                                                         defaults={"label": label, "labelled_by": actor})
    return found


def calibration_agreement(*, workspace, run: EvalRun | None) -> dict:
    """Cohen's κ between the judge (the run's overall scores) and the admins' labels of the same
    messages, the number labelled, and the latest done pairwise run's position consistency."""
    result = {"kappa": kappa(judge=[], human=[]), "good_at": GOOD_AT, "position_consistency": None}
    pairwise = (PairwiseRun.objects.filter(workspace=workspace, metrics__isnull=False)
                .exclude(metrics__position_consistency__judged=0).first())
    if pairwise is not None:
        result["position_consistency"] = pairwise.metrics["position_consistency"]
    if run is None:
        return result
    scored = dict(EvalCase.objects.filter(run=run, overall__isnull=False).values_list("message_id", "overall"))
    labels = calibration_labels(workspace=workspace, message_ids=list(scored))
    pairs = [(scored[m] >= GOOD_AT, label == HumanLabel.GOOD) for m, label in sorted(labels.items())]
    result["kappa"] = kappa(judge=[j for j, _ in pairs], human=[h for _, h in pairs])
    return result
