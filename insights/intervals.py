"""Confidence intervals for booked and reply rates, from statsmodels (a maintained implementation
rather than a hand-written formula)."""

from __future__ import annotations

from statsmodels.stats.proportion import proportion_confint


def wilson_interval(successes: int, n: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of successes/n. Unlike the normal (Wald) interval it stays inside
    [0, 1] and keeps its coverage for small n and rates near 0 or 1, which booked rates are."""
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError("need 0 <= successes <= n and n > 0")
    low, high = proportion_confint(successes, n, alpha=1 - confidence, method="wilson")
    return float(low), float(high)
