import pytest

from sidekick_project.backoff import backoff_delay


@pytest.mark.parametrize("attempt, ceiling", [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (9, 8.0)])
def test_full_jitter_draws_from_the_whole_doubling_window(attempt, ceiling):
    delays = [backoff_delay(attempt, base=0.5, cap=8.0) for _ in range(400)]
    assert all(0 <= d <= ceiling for d in delays)
    assert min(delays) < ceiling * 0.25 and max(delays) > ceiling * 0.75


def test_equal_jitter_keeps_the_upper_half():
    delays = [backoff_delay(attempt, base=30, cap=900, jitter="equal") for attempt in (0, 1, 6, 12) for _ in range(100)]
    assert all(15 <= d <= 900 for d in delays)
    assert all(450 <= backoff_delay(12, base=30, cap=900, jitter="equal") <= 900 for _ in range(100))
