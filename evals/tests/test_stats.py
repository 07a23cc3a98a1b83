"""The AUC counted (evals.stats._auc) against scipy's Mann–Whitney U, which it replaced for speed: the
same floats, so the same intervals and metrics for the same scores."""

import numpy as np
import pytest
from scipy.stats import bootstrap, mannwhitneyu

from evals import stats


def _auc_by_ranks(booked, not_booked, axis=-1):
    """The previous statistic, kept here as the reference."""
    n1, n2 = np.shape(booked)[axis], np.shape(not_booked)[axis]
    return mannwhitneyu(booked, not_booked, axis=axis).statistic / (n1 * n2)


def _datasets():
    rng = np.random.default_rng(7)
    for trial in range(60):
        n1, n2 = int(rng.integers(1, 50)), int(rng.integers(1, 50))
        if trial % 3 == 0:  # the judge's 1-5 scale, many ties
            yield rng.integers(1, 6, (9, n1)).astype(float), rng.integers(1, 6, (9, n2)).astype(float)
        elif trial % 3 == 1:  # floats with some ties
            yield rng.normal(size=(9, n1)).round(1), rng.normal(size=(9, n2)).round(1)
        else:  # all distinct
            yield rng.normal(size=(9, n1)), rng.normal(size=(9, n2))


def test_auc_counting_matches_mannwhitneyu():
    for booked, not_booked in _datasets():
        assert np.array_equal(stats._auc(booked, not_booked), _auc_by_ranks(booked, not_booked))
        assert stats._auc(booked[0], not_booked[0]) == _auc_by_ranks(booked[0], not_booked[0])
        # along another axis, as scipy's bootstrap may pass it
        assert np.array_equal(stats._auc(booked.T, not_booked.T, axis=0), _auc_by_ranks(booked.T, not_booked.T, axis=0))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_interval_is_the_one_the_ranks_gave(seed):
    rng = np.random.default_rng(seed)
    booked, not_booked = rng.integers(1, 6, 67).astype(float), rng.integers(1, 6, 133).astype(float)
    result = stats.auc_with_interval(booked=list(booked), not_booked=list(not_booked))
    reference = bootstrap((booked, not_booked), _auc_by_ranks, paired=False, vectorized=True,
                          n_resamples=stats.RESAMPLES, confidence_level=0.95, method="percentile",
                          rng=np.random.default_rng(stats.SEED)).confidence_interval
    assert (result["low"], result["high"]) == (round(float(reference.low), 4), round(float(reference.high), 4))
    assert result["value"] == round(float(_auc_by_ranks(booked, not_booked)), 4)
