"""The statistics of a report: Wilson intervals, "not enough data", the stratified AI-vs-setter comparison."""

import pytest

from insights.intervals import wilson_interval
from insights.report import ReportParameters
from insights.tests.scenario import DAY, T0, Scene, cell

pytestmark = pytest.mark.django_db


@pytest.fixture
def scene(workspace):
    return Scene(workspace)


def test_wilson_interval_matches_newcombes_published_values():
    # Newcombe (1998), Statistics in Medicine 17:857, Table I, method 3 (Wilson score, no correction).
    assert wilson_interval(81, 263) == pytest.approx((0.2553, 0.3662), abs=1e-4)
    assert wilson_interval(15, 148) == pytest.approx((0.0624, 0.1605), abs=1e-4)
    low, high = wilson_interval(0, 10)
    assert low == 0 and high == pytest.approx(0.2775, abs=1e-4)
    with pytest.raises(ValueError):
        wilson_interval(3, 0)


def test_a_cells_rate_and_interval_count_people_not_messages(scene):
    booked = [scene.contact() for _ in range(3)]
    for contact in booked:
        scene.out(contact, T0 + DAY)
        scene.out(contact, T0 + DAY + DAY / 24)  # a second message to the same person is not a second trial
        scene.booking(contact, T0 + 2 * DAY)
    for _ in range(5):
        scene.out(scene.contact(), T0 + DAY)
    scene.out(scene.contact(), T0 + 6 * DAY)  # pending on 9 March: out of the denominator
    rate = cell(scene.report(as_of=T0 + 9 * DAY))["booked_rate"]
    assert (rate["successes"], rate["n"], rate["value"]) == (3, 8, 0.375)
    assert (rate["low"], rate["high"]) == tuple(round(x, 4) for x in wilson_interval(3, 8))
    people = cell(scene.report(as_of=T0 + 9 * DAY))["people"]
    assert people == {"total": 9, "booked": 3, "not_booked": 5, "pending": 1}


def test_under_thirty_people_is_not_enough_data(scene):
    for _ in range(29):
        scene.out(scene.contact(), T0 + DAY)
    scene.out(scene.contact(), T0 + DAY, sender="setter")
    metrics = scene.report()
    assert cell(metrics)["people"]["total"] == 30 and cell(metrics)["enough_data"] is True
    assert cell(metrics, sender="ai_auto")["enough_data"] is False
    assert cell(metrics, sender="setter")["enough_data"] is False
    # The rate is still reported (the page shows it greyed); claims use `enough_data`.
    assert cell(metrics, sender="ai_auto")["booked_rate"]["n"] == 29


def test_the_comparison_by_stage_shows_what_the_crude_rate_hides(scene):
    """The AI answers the easy threads: better overall, worse inside every stage (Simpson's paradox)."""
    def people(n, booked, *, sender, stage):
        for i in range(n):
            contact = scene.contact()
            scene.stage(contact, T0 - DAY, stage)
            scene.out(contact, T0 + DAY, sender=sender)
            if i < booked:
                scene.booking(contact, T0 + 2 * DAY)

    people(8, 6, sender="ai_auto", stage="qualified")
    people(2, 2, sender="setter", stage="qualified")
    people(2, 0, sender="ai_approved", stage="new")
    people(8, 1, sender="setter", stage="new")
    scene.out(scene.contact(), T0 + DAY, sender="ai_edited")  # not in the comparison
    comparison = scene.report(min_people=2)["comparison"]
    assert comparison["overall"]["ai"]["booked_rate"]["value"] == 0.6
    assert comparison["overall"]["setter"]["booked_rate"]["value"] == 0.3
    assert comparison["by_stage"]["qualified"]["setter"]["booked_rate"]["value"] == 1.0
    assert comparison["by_stage"]["new"]["ai"]["booked_rate"]["value"] == 0.0
    assert comparison["by_channel"]["instagram"]["ai"]["people"]["total"] == 10
    assert comparison["simpson"] == {"crude_gap": 0.3, "reversed_in": ["stage:new", "stage:qualified"]}
    # With the default 30 people nothing is claimed.
    assert scene.report()["comparison"]["simpson"] == {"crude_gap": None, "reversed_in": []}


def test_parameters_are_checked():
    with pytest.raises(ValueError):
        ReportParameters(attribution_days=0)
    with pytest.raises(ValueError):
        ReportParameters(confidence=1.0)
