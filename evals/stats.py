"""How well the judge's overall score separates booked from not booked: the AUC (the probability that a
booked case scores above a not-booked one, ties counting half) with a bootstrap interval.

The AUC is the Mann–Whitney U over n_booked × n_not_booked (ties counting half: what
`scipy.stats.mannwhitneyu` computes with mid-ranks, counted directly, see `_auc`). The interval is a percentile bootstrap (`scipy.stats.bootstrap`, the two
outcome groups resampled independently, a fixed seed so the same scores give the same interval):
unlike Hanley–McNeil it assumes no score distribution, and on the coarse 1–5 scale ties are common.
A judge whose interval includes 0.5 "does not separate": nobody should trust its scores.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import bootstrap
from statsmodels.stats.inter_rater import cohens_kappa

from insights.intervals import wilson_interval

MIN_PER_OUTCOME = 5  # fewer booked or not-booked scored cases: not enough data for a verdict
RESAMPLES = 2000
SEED = 15
DIGITS = 4

SEPARATES = "separates"
DOES_NOT_SEPARATE = "does not separate"
INVERTED = "inverted"  # the judge scores what did not book higher
NOT_ENOUGH_DATA = "not enough data"


def _auc(booked, not_booked, axis=-1):
    """Mann–Whitney U ÷ (n_booked × n_not_booked), along `axis` (the bootstrap passes its resamples stacked).

    U counted, not ranked: for each booked score, the not-booked scores below it plus half those equal.
    Every score is one of the few distinct values of the data (1–5 for the judge), so each resample
    reduces to counts per value. The same exact half-integer U as `scipy.stats.mannwhitneyu` (which
    also computes a p-value nobody reads here), hence the same floats; about 3× faster on the
    bootstrap's 2000 resamples (`test_auc_counting_matches_mannwhitneyu`)."""
    x, y = np.moveaxis(np.asarray(booked), axis, -1), np.moveaxis(np.asarray(not_booked), axis, -1)
    n1, n2 = x.shape[-1], y.shape[-1]
    values = np.unique(np.concatenate([x.ravel(), y.ravel()]))

    def counts(scores):  # (..., n) scores -> (..., len(values)) how many of each value, per resample
        rows = scores.reshape(-1, scores.shape[-1])
        slots = np.searchsorted(values, rows) + (np.arange(len(rows)) * len(values))[:, None]
        return np.bincount(slots.ravel(), minlength=len(rows) * len(values)).reshape(*scores.shape[:-1], len(values))

    booked_counts, not_booked_counts = counts(x), counts(y)
    below = np.cumsum(not_booked_counts, axis=-1) - not_booked_counts
    twice_u = (booked_counts * (2 * below + not_booked_counts)).sum(axis=-1)
    return twice_u / 2 / (n1 * n2)


def auc_with_interval(*, booked: list[float], not_booked: list[float], confidence: float = 0.95) -> dict:
    result = {"value": None, "low": None, "high": None, "n_booked": len(booked), "n_not_booked": len(not_booked),
              "confidence": confidence, "method": "mann-whitney U; percentile bootstrap, outcomes resampled apart"}
    if len(booked) < MIN_PER_OUTCOME or len(not_booked) < MIN_PER_OUTCOME:
        return {**result, "verdict": NOT_ENOUGH_DATA}
    x, y = np.asarray(booked, dtype=float), np.asarray(not_booked, dtype=float)
    value = float(_auc(x, y))
    if np.ptp(np.concatenate([x, y])) == 0:  # every score equal: no ordering at all, nothing to resample
        low = high = value
    else:
        ci = bootstrap((x, y), _auc, paired=False, vectorized=True, n_resamples=RESAMPLES,
                       confidence_level=confidence, method="percentile", rng=np.random.default_rng(SEED)
                       ).confidence_interval
        low, high = float(ci.low), float(ci.high)
    verdict = DOES_NOT_SEPARATE if low <= 0.5 <= high else SEPARATES if low > 0.5 else INVERTED
    return {**result, "value": round(value, DIGITS), "low": round(low, DIGITS), "high": round(high, DIGITS),
            "verdict": verdict}


# --- Pairwise and human calibration ---------------------------------------------------------------------

BETTER = "candidate better"
WORSE = "candidate worse"
NO_CLEAR_DIFFERENCE = "no clear difference"


def pairwise_summary(*, wins: int, ties: int, losses: int, consistent: int, judged: int,
                     confidence: float = 0.95) -> dict:
    """Wins / ties / losses of a candidate against the current version, and how far to trust them.

    `win_share` is the share of the decided pairs (wins + losses; a tie decides nothing) the candidate
    won, with its Wilson interval (insights.intervals): an interval above one half says "better", below
    "worse", across it "no clear difference". `position_consistency` is the share of judged pairs in
    which swapping the order did not change the judge's pick, with its Wilson interval too."""
    decided = wins + losses
    share = {"value": None, "low": None, "high": None, "decided": decided, "confidence": confidence,
             "method": "wilson"}
    verdict = NOT_ENOUGH_DATA
    if decided:
        low, high = wilson_interval(wins, decided, confidence=confidence)
        share.update(value=round(wins / decided, DIGITS), low=round(low, DIGITS), high=round(high, DIGITS))
        verdict = BETTER if low > 0.5 else WORSE if high < 0.5 else NO_CLEAR_DIFFERENCE
    consistency = {"value": None, "low": None, "high": None, "consistent": consistent, "judged": judged}
    if judged:
        low, high = wilson_interval(consistent, judged, confidence=confidence)
        consistency.update(value=round(consistent / judged, DIGITS), low=round(low, DIGITS), high=round(high, DIGITS))
    return {"n": wins + ties + losses, "wins": wins, "ties": ties, "losses": losses, "win_share": share,
            "verdict": verdict, "position_consistency": consistency}


def kappa(*, judge: list[bool], human: list[bool]) -> dict:
    """Cohen's κ between the judge's good / bad verdicts and the human labels of the same cases
    (statsmodels' `cohens_kappa` on the 2×2 table), with the number labelled and the raw agreement.
    None when nothing is labelled, or when the chance agreement is 1 (both raters gave one label only:
    κ is undefined)."""
    n = len(human)
    result = {"value": None, "n": n, "agreement": None}
    if n == 0:
        return result
    table = np.zeros((2, 2), dtype=int)
    for j, h in zip(judge, human, strict=True):
        table[int(j), int(h)] += 1
    agreement = float(np.trace(table)) / n
    result["agreement"] = round(agreement, DIGITS)
    expected = float(table.sum(axis=0) @ table.sum(axis=1)) / (n * n)
    if expected >= 1:
        return result
    result["value"] = round(float(cohens_kappa(table, return_results=False)), DIGITS)
    return result
