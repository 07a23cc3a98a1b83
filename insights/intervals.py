"""Confidence intervals for booked and reply rates and the time-to-book curve, from statsmodels (a
maintained implementation rather than a hand-written formula)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm
from statsmodels.duration.survfunc import SurvfuncRight
from statsmodels.stats.proportion import proportion_confint


def wilson_interval(successes: int, n: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of successes/n. Unlike the normal (Wald) interval it stays inside
    [0, 1] and keeps its coverage for small n and rates near 0 or 1, which booked rates are."""
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError("need 0 <= successes <= n and n > 0")
    low, high = proportion_confint(successes, n, alpha=1 - confidence, method="wilson")
    return float(low), float(high)


@dataclass(frozen=True)
class SurvivalPoint:
    """1 - S(t) at one time (the share booked by then) and its pointwise confidence band; the band is
    None where it is undefined (every person still at risk had booked: S = 0)."""

    booked: float
    low: float | None
    high: float | None


@dataclass(frozen=True)
class TimeToEvent:
    median: float | None  # same unit as the times; None when fewer than half are known to have booked
    points: list[SurvivalPoint]  # at each of the requested times
    n: int
    events: int
    censored: int


def time_to_event(counts: list[tuple[float, bool, int]], *, at: list[float], confidence: float = 0.95) -> TimeToEvent:
    """Kaplan–Meier estimate from right-censored durations given as (time, event, count) groups.

    The estimator, Greenwood's standard error and the median are statsmodels' (`SurvfuncRight`,
    `quantile(0.5)`: the first time the survival curve drops strictly below one half, as SAS does).
    The groups are expanded to one entry per person before the estimate: statsmodels'
    `freq_weights` path reports the standard error on another scale (Tsiatis', of the cumulative
    hazard), and the expanded arrays are bounded by people, not messages. The pointwise band uses
    the log-log transform (the one statsmodels' `quantile_ci` defaults to): it stays inside [0, 1].
    """
    times = np.repeat(np.array([t for t, _, _ in counts], dtype=float), [c for _, _, c in counts])
    status = np.repeat(np.array([1 if e else 0 for _, e, _ in counts], dtype=int), [c for _, _, c in counts])
    n, events = int(times.size), int(status.sum())
    if n == 0:
        return TimeToEvent(median=None, points=[], n=0, events=0, censored=0)
    fit = SurvfuncRight(times, status)
    z = float(norm.ppf(0.5 + confidence / 2))
    points = []
    for t in at:
        i = int(np.searchsorted(fit.surv_times, t, side="right")) - 1
        if i < 0:  # no event yet: nobody booked, with certainty
            points.append(SurvivalPoint(booked=0.0, low=0.0, high=0.0))
            continue
        s, se = float(fit.surv_prob[i]), float(fit.surv_prob_se[i])
        if s <= 0 or not math.isfinite(se):
            points.append(SurvivalPoint(booked=1.0 - s, low=None, high=None))
            continue
        # log(-log S) is about normal with standard error se / (S |log S|); back-transformed, the
        # bounds of S are S ** exp(±z se_theta) (the upper bound of S is the lower bound of 1 - S).
        spread = math.exp(z * se / (s * abs(math.log(s)))) if s < 1 else 1.0
        points.append(SurvivalPoint(booked=1.0 - s, low=1.0 - s ** (1 / spread), high=1.0 - s ** spread))
    median = fit.quantile(0.5)
    return TimeToEvent(median=None if math.isnan(median) else float(median), points=points, n=n, events=events,
                       censored=n - events)
