"""The worked example of docs/insights.md, built and checked: the document cannot drift from the code."""

from datetime import UTC, datetime

import pytest

from insights.tests.scenario import Scene, cell

pytestmark = pytest.mark.django_db


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


START, END = at(2, 0), at(9, 0)


def test_the_worked_example(workspace):
    s = Scene(workspace)
    ana_ig, ana_fb = s.person("instagram", "messenger")
    ben, cara, dan, eve = s.contact("instagram"), s.contact("messenger"), s.contact("instagram"), s.contact()

    s.inbound(ana_ig, at(2, 10))
    m1 = s.out(ana_ig, at(2, 10, 1), sender="ai_auto")
    m2 = s.out(ana_ig, at(3, 9), sender="setter")
    s.inbound(ana_fb, at(4, 12))
    m3 = s.out(ana_fb, at(4, 12, 5), sender="ai_approved")
    s.booking(ana_fb, at(6, 15))
    m4 = s.out(ana_ig, at(7, 10), sender="business_outside")

    s.out(ben, datetime(2026, 2, 20, 9, tzinfo=UTC))  # before the window: not in the cohort
    m5 = s.out(ben, at(5, 14), sender="ai_auto", draft="follow_up")
    s.booking(ben, at(16, 10))

    m6 = s.out(cara, at(8, 18), sender="setter")

    s.booking(dan, at(5, 11))

    s.inbound(eve, at(2, 10, 30))
    m7 = s.out(eve, at(2, 11), sender="ai_edited")
    s.booking(eve, at(3, 16))
    s.booking(eve, at(4, 9), kind="canceled")

    names = {m1.pk: "m1", m2.pk: "m2", m3.pk: "m3", m4.pk: "m4", m5.pk: "m5", m6.pk: "m6", m7.pk: "m7"}

    def table(as_of):
        return {names[pk]: (row["sender"], row["purpose"], row["platform"], row["outcome"], row["last_touch"])
                for pk, row in s.labels(start=START, end=END, as_of=as_of).items()}

    assert table(at(12, 9)) == {
        "m1": ("ai_auto", "reply", "instagram", "booked", False),
        "m2": ("setter", "follow_up", "instagram", "booked", False),
        "m3": ("ai_approved", "reply", "messenger", "booked", True),
        "m4": ("business_outside", "follow_up", "instagram", "pending", False),
        "m5": ("ai_auto", "follow_up", "instagram", "pending", False),
        "m6": ("setter", "follow_up", "messenger", "pending", False),
        "m7": ("ai_edited", "reply", "instagram", "not_booked", False),
    }
    late = table(at(20, 9))
    assert {name: row[3:] for name, row in late.items()} == {
        "m1": ("booked", False), "m2": ("booked", False), "m3": ("booked", True),
        "m4": ("not_booked", False), "m5": ("booked", True), "m6": ("not_booked", False),
        "m7": ("not_booked", False),
    }

    metrics = s.report(start=START, end=END, as_of=at(20, 9))
    assert metrics["bookings"] == {"booked": 2, "attributed": 1, "unattributed": 1, "people": 2, "canceled": 1,
                                   "attended": 0, "no_show": 0}
    assert metrics["counts"] == {"outbound_considered": 7, "outbound_dropped": 0, "cohort_messages": 7}
    everyone = cell(metrics)
    assert everyone["booked_rate"] == {"value": 0.5, "low": 0.15, "high": 0.85, "n": 4, "successes": 2}
    assert everyone["messages"] == {"total": 7, "booked": 4, "not_booked": 3, "pending": 0}
    assert everyone["people"] == {"total": 4, "booked": 2, "not_booked": 2, "pending": 0}
    assert everyone["bookings_credited"] == 2 and everyone["last_touch_bookings"] == 2
    assert everyone["messages_per_booking"] == 3.5
    assert everyone["enough_data"] is False
    instagram = cell(metrics, channel="instagram")
    assert instagram["people"] == {"total": 3, "booked": 2, "not_booked": 1, "pending": 0}
    assert cell(metrics, sender="ai_auto")["booked_rate"]["value"] == 1.0
