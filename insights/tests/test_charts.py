"""The server-drawn charts: what they draw from a report's metrics."""

import re

from insights import charts


def rate(value, low, high, n):
    return {"value": value, "low": low, "high": high, "n": n, "successes": round(value * n) if n else 0}


def cell(sender, channel, r, enough, purpose="all"):
    return {"sender": sender, "purpose": purpose, "channel": channel, "booked_rate": r, "enough_data": enough}


def test_the_rate_chart_draws_a_whisker_per_cell_with_decided_people_and_fades_thin_ones():
    metrics = {"cells": [
        cell("all", "all", rate(0.25, 0.15, 0.38, 40), True),
        cell("setter", "instagram", rate(0.5, 0.2, 0.8, 10), False),
        cell("setter", "messenger", rate(None, None, None, 0) | {"value": None}, False),
        cell("setter", "all", rate(0.3, 0.2, 0.4, 50), True, purpose="reply"),  # a purpose: not in this chart
    ]}
    svg = str(charts.rate_chart(metrics))
    assert svg.count('class="whisker') == 2 and svg.count('class="whisker faded"') == 1
    assert "25.0%" in svg and "few (n 10)" in svg and "Messenger" not in svg
    # The axis goes to the largest interval end rounded up to a tenth: 80 %.
    assert ">80%<" in svg
    # The point sits at its value on the axis: x0 + value / top * width.
    whisker = re.search(r'<circle cx="([\d.]+)"', svg)
    assert abs(float(whisker.group(1)) - (92 + 0.25 / 0.8 * (330 - 92))) < 0.1


def test_no_decided_people_draws_nothing():
    assert str(charts.rate_chart({"cells": [cell("all", "all", rate(None, None, None, 0), False)]})) == ""
    assert str(charts.weekly_chart({"all": [], "ai": [], "setter": []})) == ""
    assert str(charts.time_to_book_chart({"all": {"curve": []}})) == ""


def test_the_weekly_chart_breaks_nothing_on_a_week_without_decided_people():
    weekly = {"all": [{"week_start": "2026-03-02", "messages": 4, "booked_rate": rate(0.2, 0.1, 0.4, 20)},
                      {"week_start": "2026-03-09", "messages": 0, "booked_rate": rate(None, None, None, 0)}],
              "ai": [{"week_start": "2026-03-02", "messages": 4, "booked_rate": rate(0.3, 0.1, 0.5, 10)}],
              "setter": []}
    svg = str(charts.weekly_chart(weekly))
    assert 'class="series-all"' in svg and 'class="series-ai"' in svg and 'class="series-setter"' not in svg
    assert ">03-02<" in svg
