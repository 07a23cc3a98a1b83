"""Time to book (Kaplan–Meier, pending people censored) and the weekly trend (docs/insights.md)."""

from datetime import UTC, datetime, timedelta

import pytest

from insights.intervals import time_to_event
from insights.report import metrics_json
from insights.tests.scenario import DAY, T0, Scene

pytestmark = pytest.mark.django_db
US = timedelta(microseconds=1)


@pytest.fixture
def scene(workspace):
    return Scene(workspace)


def test_the_estimator_matches_published_kaplan_meier_values():
    # Gehan's 6-MP arm (Freireich et al. 1963), as in Klein & Moeschberger, table 4.1A; the band is the
    # log-log one R's survfit(conf.type = "log-log") gives: S(6) = 0.857 [0.620, 0.952].
    data = [(6, True, 3), (6, False, 1), (7, True, 1), (9, False, 1), (10, True, 1), (10, False, 1),
            (11, False, 1), (13, True, 1), (16, True, 1), (17, False, 1), (19, False, 1), (20, False, 1),
            (22, True, 1), (23, True, 1), (25, False, 1), (32, False, 2), (34, False, 1), (35, False, 1)]
    fit = time_to_event(data, at=[5, 6, 13, 23])
    assert [round(1 - p.booked, 4) for p in fit.points] == [1.0, 0.8571, 0.6902, 0.4482]
    assert (round(1 - fit.points[1].high, 3), round(1 - fit.points[1].low, 3)) == (0.620, 0.952)
    assert fit.median == 23 and (fit.n, fit.events, fit.censored) == (21, 9, 12)
    assert fit.points[0].low == fit.points[0].high == 0.0


def test_a_pending_person_is_censored_not_counted_as_a_failure(scene):
    """Five people; two book (after 1 and 3 days), two are pending (written 2 days before as_of), one
    is still waiting after 8 days. Counting the pending as failures, only 2 of 5 ever book and there
    is no median; Kaplan–Meier takes them out of the risk set when they stop being observed."""
    p1, p2, p3, p4, p5 = (scene.contact() for _ in range(5))
    for person in (p1, p2, p5):
        scene.out(person, T0)
    scene.booking(p1, T0 + DAY)
    scene.booking(p2, T0 + 3 * DAY)
    scene.out(p3, T0 + 6 * DAY, sender="setter")
    scene.out(p4, T0 + 6 * DAY, sender="setter")
    metrics = scene.report(as_of=T0 + 8 * DAY)
    ttb = metrics["time_to_book"]["all"]
    assert (ttb["n"], ttb["events"], ttb["censored"]) == (5, 2, 3)
    # Naively: 2 of 5 booked by day 3 (0.4), never half: no median. Censored properly: S(1) = 4/5,
    # then two leave the risk set at 2 days, S(3) = 4/5 * 1/2: 60 % booked, the median is 3 days.
    assert ttb["median_days"] == 3.0
    assert [point["booked"] for point in ttb["curve"][:5]] == [0.0, 0.2, 0.2, 0.6, 0.6]
    assert ttb["curve"][-1]["day"] == 14 and len(ttb["curve"]) == 15
    day3 = ttb["curve"][3]
    assert day3["low"] < 0.6 < day3["high"] <= 1
    # The booked rate counts decided people only: the two pending ones are in neither.
    assert metrics["cells"][0]["booked_rate"]["n"] == 3
    # The AI side: p1, p2, p5 (one censored); the setter side: the two pending, no event, no median.
    assert metrics["time_to_book"]["ai"]["median_days"] == 3.0
    setter = metrics["time_to_book"]["setter"]
    assert (setter["n"], setter["events"], setter["median_days"]) == (2, 0, None)
    assert {point["booked"] for point in setter["curve"]} == {0.0}


def test_the_curve_at_the_attribution_boundary(scene):
    a, b, c = scene.contact(), scene.contact(), scene.contact()
    for person in (a, b, c):
        scene.out(person, T0)
    scene.booking(a, T0 + 14 * DAY)  # exactly 14 days: credits the message, an event at day 14
    scene.booking(b, T0 + 14 * DAY + US)  # too late: censored at the window's end (day 14)
    scene.booking(c, T0 + 13 * DAY + timedelta(hours=23, minutes=30))  # booked within 14 days, not 13
    ttb = scene.report()["time_to_book"]["all"]
    assert (ttb["n"], ttb["events"], ttb["censored"]) == (3, 2, 1)
    assert ttb["curve"][13]["booked"] == 0.0
    # At day 14 the censored person is still at risk (censored at that very time): 2 events of 3.
    assert ttb["curve"][14] == {"day": 14, "booked": 0.6667, "low": ttb["curve"][14]["low"],
                                "high": ttb["curve"][14]["high"]}
    assert 0 < ttb["curve"][14]["low"] < 0.6667 < ttb["curve"][14]["high"] < 1
    assert ttb["median_days"] == 14.0


def test_time_to_book_starts_at_the_first_message_of_the_group(scene):
    """The AI side counts from the person's first AI message; everyone from the first message at all."""
    a = scene.contact()
    scene.out(a, T0, sender="setter")
    scene.out(a, T0 + 2 * DAY, sender="ai_auto")
    scene.booking(a, T0 + 3 * DAY)
    scene.out(scene.contact(), T0, sender="ai_edited")  # edited drafts: only in "all"
    ttb = scene.report()["time_to_book"]
    assert (ttb["all"]["n"], ttb["ai"]["n"], ttb["setter"]["n"]) == (2, 1, 1)
    assert ttb["ai"]["median_days"] == 1.0 and ttb["setter"]["median_days"] == 3.0
    assert ttb["all"]["curve"][3]["booked"] == 0.5


def test_weeks_are_mondays_in_the_workspace_time_zone(scene):
    scene.workspace.timezone = "Pacific/Auckland"  # UTC+13 in March 2026
    scene.workspace.save(update_fields=["timezone"])
    start = datetime(2026, 3, 1, 11, tzinfo=UTC)  # Monday 2 March 00:00 in Auckland
    end = datetime(2026, 3, 17, 11, tzinfo=UTC)  # Wednesday 18 March 00:00 in Auckland
    sunday, monday = scene.contact(), scene.contact()
    # Sunday 8 March 23:30 in Auckland (10:30 UTC): the week of 2 March.
    scene.out(sunday, datetime(2026, 3, 8, 10, 30, tzinfo=UTC))
    scene.booking(sunday, datetime(2026, 3, 9, tzinfo=UTC))
    # Monday 9 March 00:30 in Auckland: still Sunday in UTC, but the week of 9 March here.
    scene.out(monday, datetime(2026, 3, 8, 11, 30, tzinfo=UTC), sender="setter")
    scene.out(monday, datetime(2026, 3, 10, 11, 30, tzinfo=UTC), sender="setter")
    weekly = scene.report(start=start, end=end, as_of=datetime(2026, 3, 30, tzinfo=UTC))["weekly"]
    assert [w["week_start"] for w in weekly["all"]] == ["2026-03-02", "2026-03-09", "2026-03-16"]
    assert [w["messages"] for w in weekly["all"]] == [1, 2, 0]
    assert weekly["all"][0]["booked_rate"] == {"value": 1.0, "low": 0.2065, "high": 1.0, "n": 1, "successes": 1}
    # Two messages to one person in a week: one person decided.
    assert (weekly["all"][1]["booked_rate"]["n"], weekly["all"][1]["booked_rate"]["value"]) == (1, 0.0)
    assert weekly["all"][2]["booked_rate"] == {"value": None, "low": None, "high": None, "n": 0, "successes": 0}
    assert [w["messages"] for w in weekly["ai"]] == [1, 0, 0]
    assert [w["messages"] for w in weekly["setter"]] == [0, 2, 0]


def test_a_window_starting_mid_week_shows_that_whole_week(scene):
    wednesday = T0 + 2 * DAY  # T0 is Monday 2 March, UTC workspace
    scene.out(scene.contact(), wednesday + DAY)
    weekly = scene.report(start=wednesday, end=wednesday + 7 * DAY)["weekly"]
    assert [(w["week_start"], w["messages"]) for w in weekly["all"]] == [("2026-03-02", 1), ("2026-03-09", 0)]


def test_an_empty_cohort(scene):
    scene.booking(scene.contact(), T0 + DAY)  # a booking with nobody written to
    metrics = scene.report()
    for group in ("all", "ai", "setter"):
        assert metrics["time_to_book"][group] == {"median_days": None, "curve": [], "n": 0, "events": 0,
                                                  "censored": 0}
        assert [(w["week_start"], w["messages"], w["booked_rate"]["n"]) for w in metrics["weekly"][group]] == [
            ("2026-03-02", 0, 0), ("2026-03-09", 0, 0)]
    assert metrics_json(metrics) == metrics_json(scene.report())


def test_durations_round_to_hours_at_the_microsecond(scene):
    """Events round up and censoring down, one microsecond either side of a whole hour (the statement
    computes hours in float8: exact at this resolution)."""
    from insights import patterns, report

    as_of = T0 + 3 * DAY
    hour = timedelta(hours=1)
    for booked_after in (hour, hour + US, 2 * hour - US):
        person = scene.contact()
        scene.out(person, T0)
        scene.booking(person, T0 + booked_after)
    for last_seen in (5 * hour + US, 5 * hour, 5 * hour - US):  # censored at as_of, this long after the message
        scene.out(scene.contact(), as_of - last_seen)
    args = {**report.sql_args(scene.workspace, T0, T0 + 7 * DAY, as_of, report.ReportParameters()),
            **patterns.pattern_args(workspace=scene.workspace)}
    rows = report._report_rows(args, shards=1)["ttb"]
    assert [(r["event"], r["hours"], r["people"]) for r in rows if r["grp"] == "all"] == [
        (False, 4, 1), (False, 5, 2), (True, 1, 1), (True, 2, 2)]
