"""Webhook payload → contacts, threads, messages, through the real worker service."""

import json
import random
from datetime import UTC, datetime

import pytest

from contacts.models import Contact
from conversations.intake import webhook_event_process
from conversations.models import Direction, Message, MessageKind, SenderKind, Thread
from integrations.models import WebhookEvent, WebhookEventStatus
from integrations.tests import payloads as p
from integrations.tests.factories import ChannelFactory

pytestmark = pytest.mark.django_db


def deliver(payload) -> WebhookEvent:
    event = WebhookEvent.objects.create(body=json.dumps(payload).encode(), signed_by="instagram")
    webhook_event_process(event_id=event.pk)
    event.refresh_from_db()
    assert event.status == WebhookEventStatus.DONE, event.error
    assert event.error == ""
    return event


def test_text_message_creates_contact_thread_and_message(channel):
    ts = 1_750_000_000_123
    deliver(p.envelope(channel, p.text(channel, "17841", "Hi! Do you have slots on Friday? 🙂", mid="mid.1", ts=ts)))
    contact = Contact.objects.get()
    assert (contact.channel, contact.external_id, contact.workspace) == (channel, "17841", channel.workspace)
    thread = Thread.objects.get()
    message = Message.objects.get()
    assert message.thread == thread and message.mid == "mid.1"
    assert message.direction == Direction.IN and message.sender_kind == SenderKind.CONTACT
    assert message.text == "Hi! Do you have slots on Friday? 🙂"
    expected = datetime.fromtimestamp(ts / 1000, tz=UTC)
    assert message.sent_at == expected
    assert thread.last_message_at == expected and thread.last_inbound_at == expected
    assert thread.unread_count == 1
    assert contact.last_inbound_at == expected


@pytest.mark.parametrize("ts", ["1750000000123", 1750000000, "1750000000", 1750000000123.0])
def test_timestamps_as_strings_seconds_or_floats(channel, ts):
    deliver(p.envelope(channel, p.text(channel, "1", "x", ts=ts)))
    assert Message.objects.get().sent_at.replace(microsecond=0) == datetime(2025, 6, 15, 15, 6, 40, tzinfo=UTC)


def test_numeric_ids_are_accepted(channel):
    payload = p.envelope(channel, p.text(channel, "1", "x"))
    payload["entry"][0]["id"] = int(channel.account_id)
    payload["entry"][0]["messaging"][0]["sender"]["id"] = 17841400000001
    deliver(payload)
    assert Contact.objects.get().external_id == "17841400000001"


@pytest.mark.parametrize("kind", ["image", "video", "audio", "file", "share", "story_mention", "ig_reel", "reel",
                                  "sticker", "fallback"])
def test_attachments(channel, kind):
    deliver(p.envelope(channel, p.attachment(channel, "1", kind)))
    message = Message.objects.get()
    assert message.attachments[0]["type"] == kind
    assert message.attachments[0]["url"].startswith("https://lookaside")


def test_quick_reply_reply_to_and_referral(channel):
    item = p.text(channel, "1", "Yes please", quick_reply={"payload": "BOOK_YES"}, reply_to={"mid": "mid.0"},
                  referral={"ref": "ad-42", "source": "ADS", "type": "OPEN_THREAD"})
    deliver(p.envelope(channel, item))
    message = Message.objects.get()
    assert message.payload == "BOOK_YES" and message.reply_to_mid == "mid.0"
    assert message.extra["referral"]["ref"] == "ad-42"


def test_postback(messenger_channel):
    deliver(p.envelope(messenger_channel, p.postback(messenger_channel, "9", "Book a call", "BOOK", mid="pb.1")))
    message = Message.objects.get()
    assert (message.kind, message.text, message.payload, message.mid) == (MessageKind.POSTBACK, "Book a call", "BOOK", "pb.1")


def test_postback_without_mid_still_deduplicates(messenger_channel):
    item = p.postback(messenger_channel, "9", "Book", "BOOK")
    del item["postback"]["mid"]
    for _ in range(3):
        deliver(p.envelope(messenger_channel, item))
    assert Message.objects.count() == 1


def test_unsupported_message_is_kept(channel):
    deliver(p.envelope(channel, p.unsupported(channel, "1", mid="u.1")))
    assert Message.objects.get().kind == MessageKind.UNSUPPORTED


def test_duplicate_deliveries_shuffled_make_one_message_each(channel):
    items = [p.text(channel, "1", f"message {i}", mid=f"mid.{i}") for i in range(5)]
    deliveries = [p.envelope(channel, item) for item in items] * 3
    random.Random(7).shuffle(deliveries)
    for payload in deliveries:
        deliver(payload)
    assert sorted(Message.objects.values_list("mid", flat=True)) == [f"mid.{i}" for i in range(5)]
    thread = Thread.objects.get()
    assert thread.unread_count == 5  # counted once per message, not per delivery


def test_batch_of_many_entries_and_channels(channel):
    other = ChannelFactory(workspace=channel.workspace)
    envelopes = []
    for n in range(40):
        target = channel if n % 2 else other
        envelopes.append(p.envelope(target, *[p.text(target, f"c{n % 7}", f"{n}-{k} ✨", mid=f"b.{n}.{k}")
                                              for k in range(5)]))
    event = deliver(p.batch(*envelopes))
    assert event.items_total == 200 and event.items_ignored == 0
    assert Message.objects.count() == 200
    assert Message.objects.filter(channel=channel).count() == 100
    assert Contact.objects.filter(channel=channel).count() == 7
    assert Thread.objects.count() == 14


def test_unicode_and_emoji_round_trip(channel):
    body = "Привет 👋🏽 — مرحبا — 你好 — 👨‍👩‍👧‍👦 — e\u0301"
    deliver(p.envelope(channel, p.text(channel, "1", body)))
    assert Message.objects.get().text == body


def test_nul_and_lone_surrogate_do_not_break_storage(channel):
    account = channel.account_id
    raw = ('{"object":"instagram","entry":[{"id":"' + account + '","time":1,"messaging":[{"sender":{"id":"1"},'
           '"recipient":{"id":"' + account + '"},"timestamp":1750000000000,'
           '"message":{"mid":"m.nul","text":"a\\u0000b\\ud800c"}}]}]}')
    event = WebhookEvent.objects.create(body=raw.encode(), signed_by="instagram")
    webhook_event_process(event_id=event.pk)
    assert Message.objects.get().text == "a bc"  # issue 12: was "ab?c"


def test_unknown_items_and_unknown_accounts_are_ignored_not_errors(channel):
    payload = p.envelope(channel, {"sender": {"id": "1"}, "recipient": {"id": channel.account_id},
                                   "timestamp": 1, "optin": {"ref": "x"}})
    payload["entry"].append({"id": "999999", "time": 1, "messaging": [p.text(channel, "1", "x")]})
    payload["entry"].append({"id": channel.account_id, "time": 1, "changes": [{"field": "comments", "value": {}}]})
    event = deliver(payload)
    assert event.items_total == 3 and event.items_ignored == 3
    assert not Message.objects.exists()


def test_echo_from_page_inbox_is_recorded_as_business_message(channel):
    deliver(p.envelope(channel, p.text(channel, "1", "hi")))
    deliver(p.envelope(channel, p.echo(channel, "1", "Hello from the phone", mid="e.1")))
    echo = Message.objects.get(mid="e.1")
    assert echo.direction == Direction.OUT and echo.sender_kind == SenderKind.META_INBOX
    assert echo.thread.contact.external_id == "1"
    # An echo does not reopen the window: the last inbound time is the contact's message.
    thread = Thread.objects.get()
    assert thread.last_inbound_at < thread.last_message_at or thread.last_inbound_at == thread.last_message_at
    assert thread.last_outbound_at is not None
    deliver(p.envelope(channel, p.echo(channel, "1", "Hello from the phone", mid="e.1")))
    assert Message.objects.filter(mid="e.1").count() == 1


def test_edit_updates_text_and_keeps_history(channel):
    deliver(p.envelope(channel, p.text(channel, "1", "see you at 5", mid="m.e")))
    deliver(p.envelope(channel, p.edit(channel, "1", "m.e", "see you at 6", num_edit=1)))
    deliver(p.envelope(channel, p.edit(channel, "1", "m.e", "see you at 6", num_edit=1)))  # duplicate
    message = Message.objects.get()
    assert message.text == "see you at 6" and message.num_edit == 1
    assert [h["text"] for h in message.edit_history] == ["see you at 5"]


def test_edit_before_original_keeps_the_edit(channel):
    deliver(p.envelope(channel, p.edit(channel, "1", "m.x", "new text", num_edit=1)))
    deliver(p.envelope(channel, p.text(channel, "1", "old text", mid="m.x")))
    message = Message.objects.get()
    assert message.text == "new text"
    assert [h["text"] for h in message.edit_history] == ["old text"]
    assert "placeholder" not in message.extra
    assert Thread.objects.get().unread_count == 1


def test_delete_removes_content(channel):
    deliver(p.envelope(channel, p.text(channel, "1", "oops, my address is ...", mid="m.d")))
    deliver(p.envelope(channel, p.deleted(channel, "1", "m.d")))
    message = Message.objects.get()
    assert message.is_deleted and message.text == "" and message.deleted_at is not None
    assert Thread.objects.get().unread_count == 0


def test_delete_before_original_never_stores_the_content(channel):
    deliver(p.envelope(channel, p.deleted(channel, "1", "m.d2")))
    deliver(p.envelope(channel, p.text(channel, "1", "secret", mid="m.d2")))
    message = Message.objects.get()
    assert message.is_deleted and message.text == ""


def test_reactions_react_and_unreact(channel):
    deliver(p.envelope(channel, p.text(channel, "1", "hi", mid="m.r")))
    deliver(p.envelope(channel, p.reaction(channel, "1", "m.r", "😂")))
    assert Message.objects.get().reactions == {"1": "😂"}
    deliver(p.envelope(channel, p.reaction(channel, "1", "m.r", action="unreact")))
    assert Message.objects.get().reactions == {}


def _outbound(channel, contact_id="1", text="Our answer", mid="out.1", sent_at=None):
    from contacts.models import Contact as C

    contact = C.objects.get(channel=channel, external_id=contact_id)
    thread = Thread.objects.get(contact=contact)
    return Message.objects.create(workspace=channel.workspace, thread=thread, channel=channel, mid=mid,
                                  direction=Direction.OUT, sender_kind=SenderKind.AI, text=text,
                                  send_status="sent", idempotency_key=f"k-{mid}",
                                  **({"sent_at": sent_at} if sent_at else {}))


def test_read_watermark_marks_outbound_read(messenger_channel):
    ch = messenger_channel
    deliver(p.envelope(ch, p.text(ch, "1", "hi", ts=1_750_000_000_000)))
    out = _outbound(ch, sent_at=datetime(2025, 6, 15, 15, 6, 50, tzinfo=UTC))
    deliver(p.envelope(ch, p.read(ch, "1", watermark=1_750_000_020_000)))
    out.refresh_from_db()
    assert out.read_at is not None and out.delivered_at is not None
    assert Thread.objects.get().contact_read_at == datetime(2025, 6, 15, 15, 7, 0, tzinfo=UTC)


def test_read_by_mid_on_instagram(channel):
    deliver(p.envelope(channel, p.text(channel, "1", "hi")))
    out = _outbound(channel, mid="out.ig")
    deliver(p.envelope(channel, p.read(channel, "1", mid="out.ig")))
    out.refresh_from_db()
    assert out.read_at is not None


def test_delivery_by_mids(messenger_channel):
    ch = messenger_channel
    deliver(p.envelope(ch, p.text(ch, "1", "hi")))
    out = _outbound(ch, mid="out.d")
    deliver(p.envelope(ch, p.delivery(ch, "1", mids=["out.d"], watermark=p.now_ms())))
    out.refresh_from_db()
    assert out.delivered_at is not None and out.read_at is None


def test_standby_messages_are_recorded_and_mark_thread_not_ours(messenger_channel):
    ch = messenger_channel
    deliver(p.envelope(ch, standby_items=[p.text(ch, "1", "talking to a human", mid="s.1")]))
    message = Message.objects.get()
    assert message.standby
    assert Thread.objects.get().app_has_control is False
    deliver(p.envelope(ch, p.text(ch, "1", "back", mid="s.2")))
    assert Thread.objects.get().app_has_control is True


@pytest.mark.parametrize("kind,expected_control,needs_human", [
    ("pass_thread_control", True, False),
    ("take_thread_control", False, False),
    ("request_thread_control", True, True),
])
def test_handover_events(messenger_channel, kind, expected_control, needs_human):
    deliver(p.envelope(messenger_channel, p.handover(messenger_channel, "1", kind)))
    thread = Thread.objects.get()
    assert thread.app_has_control is expected_control
    assert thread.needs_human is needs_human


def test_inbound_signal_fires_once_after_commit(channel, django_capture_on_commit_callbacks, monkeypatch):
    # The in-app signal became a direct call on commit (conversations.replies.reply_enqueue).
    from conversations import replies

    received = []

    def receiver(*, message_id, **kwargs):
        received.append(message_id)

    monkeypatch.setattr(replies, "reply_enqueue", receiver)
    item = p.text(channel, "1", "hi", mid="sig.1")
    with django_capture_on_commit_callbacks(execute=True):
        deliver(p.envelope(channel, item))
        deliver(p.envelope(channel, item))
    assert received == [Message.objects.get().pk]


def test_event_is_claimed_once(channel):
    event = WebhookEvent.objects.create(body=json.dumps(p.envelope(channel, p.text(channel, "1", "x"))).encode())
    assert webhook_event_process(event_id=event.pk) is not None
    assert webhook_event_process(event_id=event.pk) is None  # already done: no-op
    event.refresh_from_db()
    assert event.attempts == 1


def test_disabled_channel_receives_nothing(channel):
    channel.status = "disabled"
    channel.save()
    event = deliver(p.envelope(channel, p.text(channel, "1", "x")))
    assert event.items_ignored == 1 and not Message.objects.exists()
