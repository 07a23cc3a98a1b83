from datetime import UTC, datetime

import pytest

from integrations.meta import parser
from integrations.meta.limits import fit_text, send_window


@pytest.mark.parametrize("value,expected", [
    (1750000000123, datetime(2025, 6, 15, 15, 6, 40, 123000, tzinfo=UTC)),
    ("1750000000123", datetime(2025, 6, 15, 15, 6, 40, 123000, tzinfo=UTC)),
    (1750000000, datetime(2025, 6, 15, 15, 6, 40, tzinfo=UTC)),
    (" 1750000000 ", datetime(2025, 6, 15, 15, 6, 40, tzinfo=UTC)),
    (1750000000.5, datetime(2025, 6, 15, 15, 6, 40, 500000, tzinfo=UTC)),
    (True, None), (None, None), ("soon", None), (float("nan"), None), (float("inf"), None), (-5, None),
    (10**30, None), ("1e400", None), ([], None),
])
def test_parse_timestamp(value, expected):
    assert parser.parse_timestamp(value) == expected


@pytest.mark.parametrize("value,expected", [
    (17841400000001, "17841400000001"), ("17841400000001", "17841400000001"), (1.7841400000001e13, "17841400000001"),
    (1.5, None), (1e64, None), (True, None), ("", None), ("  ", None), ("x" * 300, None), (None, None), ({"id": 1}, None),
])
def test_parse_id(value, expected):
    assert parser.parse_id(value, parser.MAX_ACCOUNT_ID) == expected


def test_echo_swaps_sender_and_recipient():
    [item] = parser.parse_payload({"object": "page", "entry": [{"id": "PAGE", "messaging": [
        {"sender": {"id": "PAGE"}, "recipient": {"id": "USER"}, "timestamp": 1,
         "message": {"mid": "m", "text": "hi", "is_echo": True, "app_id": 263902037430900}}]}]})
    assert (item.kind, item.contact_id, item.account_id, item.platform, item.app_id) == (
        parser.ECHO, "USER", "PAGE", "messenger", "263902037430900")


@pytest.mark.parametrize("body,reason", [
    ([], "body is not a JSON object"),
    ({"object": "instagram"}, "no entry list"),
    ({"object": "instagram", "entry": [1]}, "entry is not an object"),
    ({"object": "instagram", "entry": [{"id": "1"}]}, "entry without messaging"),
])
def test_shapes_that_are_not_messages_become_unknown(body, reason):
    [item] = parser.parse_payload(body)
    assert item.kind == parser.UNKNOWN and item.reason == reason


def test_unknown_item_kind_is_named():
    [item] = parser.parse_payload({"object": "page", "entry": [{"id": "1", "messaging": [
        {"sender": {"id": "2"}, "recipient": {"id": "1"}, "timestamp": 1, "optin": {"ref": "x"}}]}]})
    assert item.kind == parser.UNKNOWN and "optin" in item.reason


def test_fit_text_limits_and_sentence_boundary():
    text = "First sentence is here. " * 200
    cut = fit_text(text, "messenger")
    assert len(cut) <= 1999 and cut.endswith("here.")
    ig = fit_text("¿Qué tal? 😀 " * 300, "instagram")
    assert len(ig.encode()) <= 1000 and ig.endswith("?")
    one_word = fit_text("a" * 5000, "instagram")
    assert len(one_word.encode()) <= 1000 and one_word.endswith("…")
    assert fit_text("  short  ", "instagram") == "short"
    assert fit_text("x" * 1999, "messenger") == "x" * 1999


def test_send_window_boundaries():
    from datetime import timedelta

    now = datetime(2025, 1, 10, tzinfo=UTC)
    def window(age, **kw):
        defaults = {"platform": "messenger", "human": False, "human_agent_enabled": True}
        return send_window(last_inbound_at=now - age, now=now, **{**defaults, **kw})
    assert window(timedelta(hours=24)).allowed
    assert not window(timedelta(hours=24, seconds=1)).allowed
    assert window(timedelta(days=7), human=True).tag == "HUMAN_AGENT"
    assert not window(timedelta(days=7, seconds=1), human=True).allowed
    assert not send_window(platform="instagram", last_inbound_at=None, now=now, human=True,
                           human_agent_enabled=True).allowed
