"""How well the judge's overall score separates booked from not booked: the AUC (the probability that a
booked case scores above a not-booked one, ties counting half) with a bootstrap interval.

The AUC is scipy's Mann–Whitney U over n_booked × n_not_booked (`scipy.stats.mannwhitneyu`, ties
handled by mid-ranks). The interval is a percentile bootstrap (`scipy.stats.bootstrap`, the two
outcome groups resampled independently, a fixed seed so the same scores give the same interval):
unlike Hanley–McNeil it assumes no score distribution, and on the coarse 1–5 scale ties are common.
A judge whose interval includes 0.5 "does not separate": nobody should trust its scores.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import bootstrap, mannwhitneyu

MIN_PER_OUTCOME = 5  # fewer booked or not-booked scored cases: not enough data for a verdict
RESAMPLES = 2000
SEED = 15
DIGITS = 4

SEPARATES = "separates"
DOES_NOT_SEPARATE = "does not separate"
INVERTED = "inverted"  # the judge scores what did not book higher
NOT_ENOUGH_DATA = "not enough data"


def _auc(booked, not_booked, axis=-1):
    n1, n2 = np.shape(booked)[axis], np.shape(not_booked)[axis]
    return mannwhitneyu(booked, not_booked, axis=axis).statistic / (n1 * n2)


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
