"""Pattern features: what each message is detected to contain, and the Holm-corrected verdicts."""

from datetime import timedelta

import pytest
from statsmodels.stats.proportion import proportions_ztest

from insights.patterns import patterns_shape
from insights.report import _rate
from insights.tests.scenario import DAY, T0, Scene

pytestmark = pytest.mark.django_db
HOUR = timedelta(hours=1)


def _entry(metrics, feature, value="yes", group="all"):
    found = [e for e in metrics["patterns"]["entries"]
             if (e["group"], e["feature"], e["value"]) == (group, feature, value)]
    assert len(found) == 1, f"no single entry {group}/{feature}/{value}"
    return found[0]


def test_each_feature_is_detected(workspace):
    s = Scene(workspace)
    maria = s.contact()
    maria.display_name = "María López"
    maria.save(update_fields=["display_name"])
    s.inbound(maria, T0 + 10 * HOUR)
    texts = [
        (T0 + 10 * HOUR + timedelta(minutes=3), "Hi maría, want a call? https://calendly.com/studio/30min"),
        (T0 + 20 * HOUR, "The price is 200€ 🙂"),
        (T0 + DAY + 2 * HOUR, "see www.example.com/menu"),
        (T0 + 2 * DAY + 3 * HOUR, "x" * 241),
    ]
    for at, text in texts:
        message = s.out(maria, at, sender="setter")
        message.text = text
        message.save(update_fields=["text"])
    metrics = s.report(min_people=1)

    def with_(feature, value="yes"):
        return _entry(metrics, feature, value)["with"]["messages"]

    assert (with_("question"), with_("link"), with_("booking_link"), with_("contact_name")) == (1, 2, 1, 1)
    assert (with_("price"), with_("emoji")) == (1, 1)
    assert (with_("length", "short"), with_("length", "medium"), with_("length", "long")) == (3, 0, 1)
    # Only the first message answers the contact (3 minutes after her); the others are follow-ups.
    assert with_("response_delay", "under_5m") == 1
    assert _entry(metrics, "response_delay", "under_5m")["without"]["messages"] == 0
    assert (with_("purpose", "reply"), with_("purpose", "follow_up")) == (1, 3)
    # Hours in the workspace's time zone (UTC here): 19:03, 05:00, 11:00 and 12:00.
    assert [with_("hour", band) for band in ("night", "morning", "afternoon", "evening")] == [1, 1, 1, 1]
    workspace.timezone = "America/New_York"  # UTC-5 in March: 14:03, 00:00, 06:00 and 07:00
    workspace.save(update_fields=["timezone"])
    metrics = s.report(min_people=1)
    assert [with_("hour", band) for band in ("night", "morning", "afternoon", "evening")] == [1, 2, 1, 0]


def test_pending_messages_are_not_in_the_patterns(workspace):
    s = Scene(workspace)
    s.out(s.contact(), T0 + DAY)
    s.out(s.contact(), T0 + 6 * DAY)
    entry = _entry(s.report(as_of=T0 + 9 * DAY, min_people=1), "purpose", "reply")  # AI drafts are replies
    assert entry["with"]["messages"] == 1


def test_a_clear_effect_in_the_data_is_called_works(workspace):
    s = Scene(workspace)
    for i in range(12):
        contact = s.contact()
        message = s.out(contact, T0 + DAY, sender="ai_auto" if i % 2 else "setter")
        if i < 6:
            message.text = "Pick a time: https://calendly.com/studio"
            message.save(update_fields=["text"])
            s.booking(contact, T0 + 2 * DAY)
    metrics = s.report(min_people=5)
    entry = _entry(metrics, "booking_link")
    assert entry["with"]["booked_rate"]["value"] == 1.0 and entry["without"]["booked_rate"]["value"] == 0.0
    assert entry["verdict"] == "works" and entry["p_adjusted"] < 0.05
    assert _entry(metrics, "booking_link", group="ai")["verdict"] == "not_enough_data"  # 3 people each side
    assert _entry(metrics, "emoji")["verdict"] == "not_enough_data"  # nobody used one


def _rows(feature, with_, without):
    return [{"g": 1, "side": None, "feature": feature, "value": "yes", "has": has, "messages": n, "booked": b,
             "people": n} for has, (b, n) in ((True, with_), (False, without))]


def test_the_holm_correction_withholds_a_claim_the_raw_p_value_would_make():
    rows = (_rows("booking_link", (30, 40), (5, 40)) + _rows("price", (5, 40), (30, 40))
            + _rows("question", (22, 40), (12, 40)) + _rows("link", (21, 40), (12, 40))
            + _rows("emoji", (13, 40), (12, 40)) + _rows("contact_name", (3, 5), (10, 75)))
    result = patterns_shape(rows, min_people=30, rate=lambda s, n: _rate(s, n, confidence=0.95))
    by_feature = {e["feature"]: e for e in result["entries"]}
    assert result["comparisons"] == 5  # contact_name had 5 people: not compared, not in the family
    raw = {f: proportions_ztest([w[0], wo[0]], [w[1], wo[1]])[1] for f, w, wo in [
        ("booking_link", (30, 40), (5, 40)), ("price", (5, 40), (30, 40)), ("question", (22, 40), (12, 40)),
        ("link", (21, 40), (12, 40)), ("emoji", (13, 40), (12, 40))]}
    # Holm by hand: sorted p-values times (m - rank), kept non-decreasing.
    expected, running = {}, 0.0
    for rank, feature in enumerate(sorted(raw, key=raw.get)):
        running = max(running, min(1.0, (5 - rank) * raw[feature]))
        expected[feature] = running
    for feature, p_adj in expected.items():
        assert by_feature[feature]["p_adjusted"] == pytest.approx(p_adj, abs=1e-4)
    assert raw["question"] < 0.05 < expected["question"]
    assert {f: e["verdict"] for f, e in by_feature.items()} == {
        "booking_link": "works", "price": "doesnt", "question": "no_difference_shown",
        "link": "no_difference_shown", "emoji": "no_difference_shown", "contact_name": "not_enough_data"}
