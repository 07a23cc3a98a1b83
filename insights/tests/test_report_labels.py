"""The report's labels, boundary by boundary (docs/insights.md, "Definitions")."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from insights.report import metrics_json
from insights.tests.scenario import DAY, T0, Scene, cell

pytestmark = pytest.mark.django_db
US = timedelta(microseconds=1)


@pytest.fixture
def scene(workspace):
    return Scene(workspace)


# --- booked, attribution window, last touch ------------------------------------------------------

def test_exactly_fourteen_days_before_the_booking_is_credited_one_microsecond_more_is_not(scene):
    a, b = scene.contact(), scene.contact()
    booked_at = T0 + 15 * DAY
    inside = scene.out(a, booked_at - 14 * DAY)  # T0 + 1 d
    outside = scene.out(b, booked_at - 14 * DAY - US)
    scene.booking(a, booked_at)
    scene.booking(b, booked_at)
    labels = scene.labels()
    assert labels[inside.pk]["outcome"] == "booked" and labels[inside.pk]["last_touch"]
    assert labels[outside.pk]["outcome"] == "not_booked" and not labels[outside.pk]["last_touch"]


def test_a_message_at_or_after_the_booking_is_not_credited(scene):
    a = scene.contact()
    before = scene.out(a, T0 + DAY)
    same_time = scene.out(a, T0 + 2 * DAY)
    after = scene.out(a, T0 + 3 * DAY)
    scene.booking(a, T0 + 2 * DAY)
    labels = scene.labels()
    assert labels[before.pk]["outcome"] == "booked"
    assert labels[same_time.pk]["outcome"] == "not_booked"
    assert labels[after.pk]["outcome"] == "not_booked"


def test_last_touch_is_the_last_outbound_before_the_booking_any_touch_is_every_one(scene):
    a = scene.contact()
    first = scene.out(a, T0 + DAY)
    scene.inbound(a, T0 + DAY + timedelta(hours=1))
    last = scene.out(a, T0 + 2 * DAY, sender="setter")
    scene.booking(a, T0 + 3 * DAY)
    labels = scene.labels()
    assert (labels[first.pk]["outcome"], labels[first.pk]["last_touch"]) == ("booked", False)
    assert (labels[last.pk]["outcome"], labels[last.pk]["last_touch"]) == ("booked", True)
    metrics = scene.report()
    assert cell(metrics)["last_touch_bookings"] == 1 and cell(metrics)["bookings_credited"] == 1
    assert cell(metrics, sender="setter")["last_touch_bookings"] == 1
    assert cell(metrics, sender="ai_auto")["last_touch_bookings"] == 0
    assert cell(metrics, sender="ai_auto")["bookings_credited"] == 1
    assert cell(metrics)["messages_per_booking"] == 2.0


def test_a_touch_before_the_window_can_be_the_last_touch(scene):
    a = scene.contact()
    in_window = scene.out(a, T0 + DAY)
    scene.booking(a, T0 + 10 * DAY)
    # The booking is after the window; a later message (outside the window) is its last touch.
    scene.out(a, T0 + 8 * DAY)
    labels = scene.labels()
    assert labels[in_window.pk]["outcome"] == "booked" and not labels[in_window.pk]["last_touch"]
    assert cell(scene.report())["last_touch_bookings"] == 0


def test_a_canceled_booking_does_not_count_and_a_rebooking_counts_again(scene):
    a, b = scene.contact(), scene.contact()
    ma = scene.out(a, T0 + DAY)
    mb = scene.out(b, T0 + DAY)
    scene.booking(a, T0 + 2 * DAY)
    scene.booking(a, T0 + 3 * DAY, kind="canceled")
    scene.booking(b, T0 + 2 * DAY)
    scene.booking(b, T0 + 3 * DAY, kind="canceled")
    scene.booking(b, T0 + 4 * DAY)  # rebooked: credits what came in the 14 days before it
    labels = scene.labels()
    assert labels[ma.pk]["outcome"] == "not_booked"
    assert labels[mb.pk]["outcome"] == "booked"
    bookings = scene.report()["bookings"]
    assert (bookings["booked"], bookings["canceled"], bookings["attributed"]) == (1, 2, 1)


def test_a_cancel_after_as_of_is_not_known_yet(scene):
    a = scene.contact()
    m = scene.out(a, T0 + DAY)
    scene.booking(a, T0 + 2 * DAY)
    scene.booking(a, T0 + 20 * DAY, kind="canceled")
    assert scene.labels(as_of=T0 + 19 * DAY)[m.pk]["outcome"] == "booked"
    assert scene.labels(as_of=T0 + 20 * DAY)[m.pk]["outcome"] == "not_booked"


def test_a_booking_with_no_outbound_in_the_window_is_unattributed(scene):
    a, b = scene.contact(), scene.contact()
    scene.out(b, T0 + DAY)
    scene.booking(b, T0 + 2 * DAY)
    scene.out(a, T0 - 20 * DAY)  # too early to be credited
    scene.booking(a, T0 + 3 * DAY)
    scene.booking(scene.contact(), T0 + 4 * DAY)  # never written to
    bookings = scene.report()["bookings"]
    assert (bookings["booked"], bookings["attributed"], bookings["unattributed"]) == (3, 1, 2)
    # Unattributed bookings are never in a cell.
    assert cell(scene.report())["bookings_credited"] == 1


# --- pending and not booked: the maturity buffer -------------------------------------------------

def test_pending_until_exactly_seven_days_then_not_booked(scene):
    a = scene.contact()
    m = scene.out(a, T0 + DAY)
    assert scene.labels(as_of=T0 + 8 * DAY - US)[m.pk]["outcome"] == "pending"
    assert scene.labels(as_of=T0 + 8 * DAY)[m.pk]["outcome"] == "not_booked"
    # A booking inside the attribution window turns it into booked in a later report.
    scene.booking(a, T0 + 10 * DAY)
    assert scene.labels(as_of=T0 + 9 * DAY)[m.pk]["outcome"] == "not_booked"
    assert scene.labels(as_of=T0 + 10 * DAY)[m.pk]["outcome"] == "booked"


def test_only_rows_up_to_as_of_count(scene):
    a = scene.contact()
    scene.out(a, T0 + DAY)
    late = scene.out(a, T0 + 3 * DAY)
    metrics = scene.report(as_of=T0 + 2 * DAY)
    assert late.pk not in scene.labels(as_of=T0 + 2 * DAY)
    assert metrics["counts"]["outbound_considered"] == 1 and metrics["as_of"] == "2026-03-04T09:00:00Z"


def test_undelivered_and_deleted_messages_are_dropped(scene):
    a = scene.contact()
    scene.out(a, T0 + DAY)
    scene.out(a, T0 + DAY, status="failed")
    scene.out(a, T0 + DAY, status="unknown")
    scene.out(a, T0 + DAY, deleted=True)
    counts = scene.report()["counts"]
    assert counts == {"outbound_considered": 4, "outbound_dropped": 3, "cohort_messages": 1}


# --- senders, replies and follow-ups -----------------------------------------------------------

def test_each_sender_kind_is_classified(scene):
    a = scene.contact()
    scene.inbound(a, T0)
    ids = {kind: scene.out(a, T0 + i * timedelta(hours=1), sender=kind).pk
           for i, kind in enumerate(["ai_auto", "ai_approved", "ai_edited", "setter", "business_outside"], 1)}
    labels = scene.labels()
    assert {kind: labels[pk]["sender"] for kind, pk in ids.items()} == {k: k for k in ids}
    assert {kind: labels[pk]["side"] for kind, pk in ids.items()} == {
        "ai_auto": "ai", "ai_approved": "ai", "ai_edited": None, "setter": "setter", "business_outside": None}


def test_replies_and_follow_ups(scene):
    a = scene.contact()
    opener = scene.out(a, T0 + timedelta(minutes=1), sender="setter")  # nobody wrote yet
    scene.inbound(a, T0 + timedelta(hours=1))
    answer = scene.out(a, T0 + timedelta(hours=2), sender="setter")  # the contact wrote last
    nudge = scene.out(a, T0 + 2 * DAY, sender="business_outside")  # the business wrote last
    ai_follow_up = scene.out(a, T0 + 3 * DAY, draft="follow_up")  # as its draft says
    scene.inbound(a, T0 + 4 * DAY)
    ai_reply = scene.out(a, T0 + 4 * DAY + timedelta(minutes=1))
    labels = scene.labels()
    assert [labels[m.pk]["purpose"] for m in (opener, answer, nudge, ai_follow_up, ai_reply)] == [
        "follow_up", "reply", "follow_up", "follow_up", "reply"]
    assert cell(scene.report(), purpose="follow_up")["messages"]["total"] == 3


def test_a_failed_send_does_not_make_the_next_message_a_follow_up(scene):
    a = scene.contact()
    scene.inbound(a, T0)
    scene.out(a, T0 + timedelta(minutes=1), sender="setter", status="failed")
    retry = scene.out(a, T0 + timedelta(minutes=2), sender="setter")
    assert scene.labels()[retry.pk]["purpose"] == "reply"


def test_reply_within_24_hours_on_any_channel_of_the_person(scene):
    ig, fb = scene.person("instagram", "messenger")
    answered = scene.out(ig, T0)
    scene.inbound(fb, T0 + 24 * timedelta(hours=1))  # exactly 24 h later, on Messenger: a reply
    unanswered = scene.out(fb, T0 + 2 * DAY)
    scene.inbound(ig, T0 + 3 * DAY + US)  # one microsecond too late
    recent = scene.out(ig, T0 + 6 * DAY)
    labels = scene.labels(as_of=T0 + 6 * DAY + timedelta(hours=1))
    assert labels[answered.pk]["replied"] is True
    assert labels[unanswered.pk]["replied"] is False
    assert labels[recent.pk]["replied"] is None  # the 24 h have not passed by as_of
    rate = cell(scene.report(as_of=T0 + 6 * DAY + timedelta(hours=1)))["reply_rate_24h"]
    assert (rate["successes"], rate["n"]) == (1, 2)


def test_stage_at_send_time_comes_from_the_history(scene):
    a = scene.contact()
    early = scene.out(a, T0 + DAY)
    scene.stage(a, T0 + 2 * DAY, "qualified")
    exactly = scene.out(a, T0 + 2 * DAY)
    scene.stage(a, T0 + 3 * DAY, "booked")
    labels = scene.labels()
    assert (labels[early.pk]["stage"], labels[exactly.pk]["stage"]) == ("new", "qualified")


# --- people and channels ---------------------------------------------------------------------

def test_a_booking_on_messenger_credits_the_instagram_messages_of_the_same_person(scene):
    ig, fb = scene.person("instagram", "messenger")
    lone = scene.contact("instagram")  # same channel, another person: not credited
    on_ig = scene.out(ig, T0 + DAY)
    other = scene.out(lone, T0 + DAY)
    scene.booking(fb, T0 + 2 * DAY)
    labels = scene.labels()
    assert labels[on_ig.pk]["outcome"] == "booked" and labels[on_ig.pk]["last_touch"]
    assert labels[other.pk]["outcome"] == "not_booked"
    metrics = scene.report()
    assert cell(metrics, channel="instagram")["people"]["booked"] == 1
    assert metrics["bookings"]["attributed"] == 1


def test_a_person_reached_on_both_channels_counts_once_across_channels(scene):
    ig, fb = scene.person("instagram", "messenger")
    scene.out(ig, T0 + DAY)
    scene.out(fb, T0 + DAY)
    scene.out(scene.contact("messenger"), T0 + DAY)
    metrics = scene.report()
    assert cell(metrics, channel="instagram")["people"]["total"] == 1
    assert cell(metrics, channel="messenger")["people"]["total"] == 2
    assert cell(metrics)["people"]["total"] == 2
    assert cell(metrics)["messages"]["total"] == 3


def test_unlinked_contacts_are_separate_people(scene):
    ig, fb = scene.contact("instagram"), scene.contact("messenger")
    m = scene.out(ig, T0 + DAY)
    scene.booking(fb, T0 + 2 * DAY)
    assert scene.labels()[m.pk]["outcome"] == "not_booked"


# --- tenants, determinism, cost ------------------------------------------------------------

def test_another_workspace_never_counts(scene, other_workspace):
    a = scene.contact()
    mine = scene.out(a, T0 + DAY)
    there = Scene(other_workspace)
    b = there.contact()
    theirs = there.out(b, T0 + DAY)
    there.booking(b, T0 + 2 * DAY)
    # Even a booking event filed under the wrong workspace for one of our contacts is ignored.
    there.booking(a, T0 + 2 * DAY)
    labels = scene.labels()
    assert set(labels) == {mine.pk} and labels[mine.pk]["outcome"] == "not_booked"
    metrics = scene.report()
    assert metrics["bookings"]["booked"] == 0 and cell(metrics)["messages"]["total"] == 1
    assert set(there.labels()) == {theirs.pk} and there.report()["bookings"]["booked"] == 1


def _busy(scene, n: int):
    for i in range(n):
        ig, fb = scene.person("instagram", "messenger")
        scene.inbound(ig, T0 + i * timedelta(hours=3))
        scene.out(ig, T0 + i * timedelta(hours=3) + timedelta(minutes=2), sender=["ai_auto", "setter"][i % 2])
        scene.out(fb, T0 + i * timedelta(hours=5), sender="ai_approved")
        scene.stage(ig, T0 - DAY, ["new", "qualified"][i % 2])
        if i % 3 == 0:
            scene.booking(fb, T0 + i * timedelta(hours=3) + DAY)


def test_the_same_inputs_give_byte_identical_json(scene):
    _busy(scene, 12)
    first, second = metrics_json(scene.report()), metrics_json(scene.report())
    assert first == second and '"schema": 2' in first


def test_the_query_count_does_not_grow_with_rows(scene):
    _busy(scene, 3)
    with CaptureQueriesContext(connection) as few:
        scene.report()
    _busy(scene, 30)
    with CaptureQueriesContext(connection) as many:
        metrics = scene.report()
    def statements(captured):  # the test's transaction adds a savepoint around the report's own
        return [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]

    # work_mem, the shared tables (threads, analyse, threads with stale facts, analyse, bookings, analyse, pairs,
    # analyse, labeled cohort, analyse), cells (with the weekly trend), summary, patterns, time to book, the
    # tables dropped
    assert len(statements(few)) == len(statements(many)) == 16
    assert cell(metrics)["messages"]["total"] == 66
