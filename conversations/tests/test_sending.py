"""Sending through the real Graph client, with Meta faked at the HTTP boundary (`responses`)."""

import json
from datetime import timedelta

import pytest
import requests
import responses
from django.core import mail
from django.utils import timezone

from accounts.models import AuditEvent
from accounts.tests.factories import AdminMembershipFactory
from contacts.models import Contact
from conversations import sending
from conversations.intake import webhook_event_process
from conversations.models import Direction, Message, SenderKind, SendStatus, Thread
from integrations.models import ChannelStatus, WebhookEvent
from integrations.tests import payloads as p

pytestmark = pytest.mark.django_db

IG_URL = "https://graph.instagram.com/v23.0/{}/messages"
FB_URL = "https://graph.facebook.com/v23.0/{}/messages"


def url_for(channel):
    return (IG_URL if channel.platform == "instagram" else FB_URL).format(channel.account_id)


def make_thread(channel, *, inbound_ago=timedelta(minutes=5), contact_id="5001") -> Thread:
    contact = Contact.objects.create(workspace=channel.workspace, channel=channel, external_id=contact_id,
                                     last_inbound_at=timezone.now() - inbound_ago)
    return Thread.objects.create(workspace=channel.workspace, channel=channel, contact=contact,
                                 last_inbound_at=contact.last_inbound_at, last_message_at=contact.last_inbound_at)


def create(thread, text="Thanks! Friday at 3pm works.", sender_kind=SenderKind.AI, **kwargs) -> Message:
    return sending.outbound_message_create(thread=thread, text=text, sender_kind=sender_kind, **kwargs)


def ok(mid="m_sent_1", recipient="5001"):
    return {"json": {"recipient_id": recipient, "message_id": mid}, "status": 200}


def error(code, subcode=None, status=400, headers=None):
    body = {"error": {"message": f"error {code}", "type": "OAuthException", "code": code, "fbtrace_id": "AbC"}}
    if subcode:
        body["error"]["error_subcode"] = subcode
    return {"json": body, "status": status, "headers": headers or {}}


def deliver(payload):
    event = WebhookEvent.objects.create(body=json.dumps(payload).encode(), signed_by="instagram")
    webhook_event_process(event_id=event.pk)
    event.refresh_from_db()
    assert event.status == "done" and not event.error, event.error


@responses.activate
def test_send_success_records_mid_and_request_shape(channel):
    thread = make_thread(channel)
    message = create(thread)
    responses.post(url_for(channel), **ok())
    sent = sending.message_send(message_id=message.pk)
    assert sent.send_status == SendStatus.SENT and sent.mid == "m_sent_1" and sent.attempts == 1
    request = responses.calls[0].request
    assert request.headers["Authorization"] == f"Bearer {channel.access_token}"
    assert json.loads(request.body) == {"recipient": {"id": "5001"}, "message": {"text": message.text}}
    assert Thread.objects.get().last_outbound_at is not None


@responses.activate
def test_messenger_send_uses_response_messaging_type(messenger_channel):
    thread = make_thread(messenger_channel)
    message = create(thread)
    responses.post(url_for(messenger_channel), **ok())
    sending.message_send(message_id=message.pk)
    body = json.loads(responses.calls[0].request.body)
    assert body["messaging_type"] == "RESPONSE" and "tag" not in body


def test_creation_is_idempotent_by_key(channel, django_capture_on_commit_callbacks):
    thread = make_thread(channel)
    with django_capture_on_commit_callbacks() as callbacks:
        first = create(thread, idempotency_key="reply:42")
        second = create(thread, text="something else", idempotency_key="reply:42")
    assert first.pk == second.pk and Message.objects.count() == 1
    assert len(callbacks) == 1  # one enqueue


@responses.activate
def test_duplicate_task_sends_once(channel):
    message = create(make_thread(channel))
    responses.post(url_for(channel), **ok())
    assert sending.message_send(message_id=message.pk) is not None
    assert sending.message_send(message_id=message.pk) is None
    assert len(responses.calls) == 1


class WorkerKilled(BaseException):
    """Stands in for SIGKILL between the claim and the HTTP call."""


@responses.activate
def test_crash_between_claim_and_send_never_double_sends(channel, monkeypatch, settings):
    thread = make_thread(channel)
    message = create(thread)
    responses.post(url_for(channel), **ok(mid="m_late"))

    def killed(self, **kwargs):
        raise WorkerKilled

    with monkeypatch.context() as m:
        m.setattr("integrations.meta.client.GraphClient.send_text", killed)
        with pytest.raises(WorkerKilled):
            sending.message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.send_status == SendStatus.SENDING

    # The task is redelivered (acks_late): the claim holds, nothing is sent.
    assert sending.message_send(message_id=message.pk) is None
    # The sweeper, before and after the stuck threshold: never re-sends, marks unknown.
    sending.outbound_messages_sweep()
    message.refresh_from_db()
    assert message.send_status == SendStatus.SENDING
    Message.objects.filter(pk=message.pk).update(claimed_at=timezone.now() - timedelta(
        seconds=settings.META_SEND_STUCK_SECONDS + 1))
    result = sending.outbound_messages_sweep()
    assert result["unknown"] == 1
    message.refresh_from_db()
    assert message.send_status == SendStatus.UNKNOWN
    assert Thread.objects.get().needs_human_reason == "send_unknown"
    assert sending.message_send(message_id=message.pk) is None
    assert len(responses.calls) == 0


@responses.activate
def test_unknown_send_is_settled_by_its_echo(channel):
    thread = make_thread(channel)
    message = create(thread, text="See you Friday!")
    # The request reached Meta, but the connection dropped before the answer.
    responses.post(url_for(channel), body=requests.ConnectionError("Connection aborted: RemoteDisconnected"))
    sending.message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.send_status == SendStatus.UNKNOWN
    assert len(responses.calls) == 1  # an ambiguous send is not retried by the client
    deliver(p.envelope(channel, p.echo(channel, "5001", "See you Friday!", mid="m_echo")))
    message.refresh_from_db()
    assert message.send_status == SendStatus.SENT and message.mid == "m_echo"
    assert Message.objects.filter(direction=Direction.OUT).count() == 1
    assert Thread.objects.get().needs_human is False


@responses.activate
def test_read_timeout_on_send_is_unknown_not_retried(channel):
    message = create(make_thread(channel))
    responses.post(url_for(channel), body=requests.ReadTimeout("read timed out"))
    sending.message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.send_status == SendStatus.UNKNOWN and len(responses.calls) == 1


@responses.activate
def test_connection_refused_is_retried_because_nothing_was_sent(channel, no_backoff_sleep):
    from urllib3.exceptions import NewConnectionError

    message = create(make_thread(channel))
    refused = requests.ConnectionError(NewConnectionError(None, "Connection refused"))
    responses.post(url_for(channel), body=refused)
    responses.post(url_for(channel), **ok())
    sending.message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.send_status == SendStatus.SENT and len(responses.calls) == 2
    assert len(no_backoff_sleep) == 1


@responses.activate
def test_echo_of_our_send_is_not_duplicated(channel):
    message = create(make_thread(channel))
    responses.post(url_for(channel), **ok(mid="m_ours"))
    sending.message_send(message_id=message.pk)
    for _ in range(3):
        deliver(p.envelope(channel, p.echo(channel, "5001", message.text, mid="m_ours", app_id="222")))
    assert Message.objects.filter(direction=Direction.OUT).count() == 1
    message.refresh_from_db()
    assert message.echo_received_at is not None and message.sender_kind == SenderKind.AI


@responses.activate
def test_echo_arriving_before_the_send_answer(channel):
    message = create(make_thread(channel), text="Booked!")

    def meta(request):
        # Meta's webhook for the echo is processed while our HTTP call is still waiting.
        deliver(p.envelope(channel, p.echo(channel, "5001", "Booked!", mid="m_race")))
        return 200, {}, json.dumps({"recipient_id": "5001", "message_id": "m_race"})

    responses.add_callback(responses.POST, url_for(channel), callback=meta)
    sending.message_send(message_id=message.pk)
    assert Message.objects.filter(direction=Direction.OUT).count() == 1
    message.refresh_from_db()
    assert (message.mid, message.send_status) == ("m_race", SendStatus.SENT)


@responses.activate
def test_echo_before_answer_with_different_text_is_folded_in(channel):
    message = create(make_thread(channel), text="Booked!")

    def meta(request):
        deliver(p.envelope(channel, p.echo(channel, "5001", "Booked! ", mid="m_race2")))  # Meta reformatted
        return 200, {}, json.dumps({"recipient_id": "5001", "message_id": "m_race2"})

    responses.add_callback(responses.POST, url_for(channel), callback=meta)
    sending.message_send(message_id=message.pk)
    assert list(Message.objects.filter(direction=Direction.OUT).values_list("pk", "mid")) == [(message.pk, "m_race2")]


@responses.activate
def test_token_error_marks_channel_and_alerts_admins(channel):
    admin = AdminMembershipFactory(workspace=channel.workspace)
    thread = make_thread(channel)
    first, second = create(thread), create(thread, text="second")
    responses.post(url_for(channel), **error(190, 460, status=401))
    sending.message_send(message_id=first.pk)
    first.refresh_from_db()
    channel.refresh_from_db()
    assert first.send_status == SendStatus.FAILED and first.error_code == "190/460"
    assert channel.status == ChannelStatus.RECONNECT_NEEDED
    event = AuditEvent.objects.get(verb="channel.reconnect_needed")
    assert event.workspace == channel.workspace
    assert channel.access_token not in json.dumps(event.data)
    # Nothing else is sent with a dead token: the next message fails before any HTTP.
    sending.message_send(message_id=second.pk)
    second.refresh_from_db()
    assert second.send_status == SendStatus.FAILED and second.error_code == "channel_inactive"
    assert len(responses.calls) == 1
    assert AuditEvent.objects.filter(verb="channel.reconnect_needed").count() == 1  # alerted once
    assert admin.user.email


@responses.activate
def test_token_error_emails_admins_after_commit(channel, django_capture_on_commit_callbacks):
    admin = AdminMembershipFactory(workspace=channel.workspace)
    message = create(make_thread(channel))
    responses.post(url_for(channel), **error(190, status=401))
    with django_capture_on_commit_callbacks(execute=True):
        sending.message_send(message_id=message.pk)
    assert [m.to for m in mail.outbox] == [[admin.user.email]]
    assert channel.access_token not in mail.outbox[0].body


@pytest.mark.parametrize("code,subcode", [(10, 2018278), (10, 2534022)])
@responses.activate
def test_window_errors_fail_and_escalate(channel, code, subcode, django_capture_on_commit_callbacks, monkeypatch):
    # The in-app signal became a direct call on commit (conversations.escalations.escalation_open_after_send).
    from conversations import escalations

    seen = []
    escalate = escalations.escalation_open_after_send

    def receiver(*, thread_id, reason, message_id):
        seen.append((thread_id, reason, message_id))
        escalate(thread_id=thread_id, reason=reason, message_id=message_id)

    monkeypatch.setattr(escalations, "escalation_open_after_send", receiver)
    message = create(make_thread(channel))
    responses.post(url_for(channel), **error(code, subcode))
    with django_capture_on_commit_callbacks(execute=True):
        sending.message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.send_status == SendStatus.FAILED
    thread = Thread.objects.get()
    assert thread.needs_human and thread.needs_human_reason == "window_closed"
    assert seen == [(thread.pk, "window_closed", message.pk)]
    assert len(responses.calls) == 1  # permanent: not retried


@responses.activate
def test_thread_control_error_records_loss_of_control(messenger_channel):
    message = create(make_thread(messenger_channel))
    responses.post(url_for(messenger_channel), **error(10, 2018300))
    sending.message_send(message_id=message.pk)
    assert Thread.objects.get().app_has_control is False
    message.refresh_from_db()
    assert message.send_status == SendStatus.FAILED


@pytest.mark.parametrize("code,subcode", [(10, 2018108), (551, None), (200, 1545041), (100, 2018001),
                                          (100, 2534001), (230, None)])
@responses.activate
def test_cannot_receive_is_permanent(channel, code, subcode):
    message = create(make_thread(channel))
    responses.post(url_for(channel), **error(code, subcode))
    sending.message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.send_status == SendStatus.FAILED and len(responses.calls) == 1
    assert channel.__class__.objects.get(pk=channel.pk).status == ChannelStatus.ACTIVE


@responses.activate
def test_abusive_block_alerts_admins(channel):
    message = create(make_thread(channel))
    responses.post(url_for(channel), **error(368))
    sending.message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.send_status == SendStatus.FAILED
    assert AuditEvent.objects.filter(verb="channel.blocked_abusive", workspace=channel.workspace).exists()


@pytest.mark.parametrize("code", [1, 2, 1200])
@responses.activate
def test_temporary_errors_are_retried_with_backoff(channel, code, no_backoff_sleep):
    message = create(make_thread(channel))
    responses.post(url_for(channel), **error(code, status=500))
    responses.post(url_for(channel), **error(code, status=500))
    responses.post(url_for(channel), **ok())
    sending.message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.send_status == SendStatus.SENT and len(responses.calls) == 3
    assert len(no_backoff_sleep) == 2 and all(0 <= w <= 1.0 for w in no_backoff_sleep)


@responses.activate
def test_server_errors_defer_then_give_up(channel, settings):
    settings.META_SEND_MAX_ATTEMPTS = 2
    message = create(make_thread(channel))
    responses.post(url_for(channel), status=503, body="upstream down")
    sending.message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.send_status == SendStatus.PENDING and message.next_attempt_at > timezone.now()
    assert len(responses.calls) == settings.META_HTTP_MAX_ATTEMPTS
    # Not due yet: a stray task does nothing.
    assert sending.message_send(message_id=message.pk) is None
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
    sending.message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.send_status == SendStatus.FAILED and message.attempts == 2


@pytest.mark.parametrize("code", [4, 17, 32, 613])
@responses.activate
def test_rate_limit_defers_using_business_usage_header(channel, code):
    thread = make_thread(channel)
    message, other = create(thread), create(thread, text="another")
    usage = {channel.account_id: [{"type": "instagram", "call_count": 100, "total_cputime": 10, "total_time": 10,
                                   "estimated_time_to_regain_access": 5}]}
    responses.post(url_for(channel), **error(code, headers={"X-Business-Use-Case-Usage": json.dumps(usage)}))
    sending.message_send(message_id=message.pk)
    message.refresh_from_db()
    channel.refresh_from_db()
    assert message.send_status == SendStatus.PENDING
    assert timedelta(minutes=4) < message.next_attempt_at - timezone.now() <= timedelta(minutes=5)
    assert channel.rate_limited_until is not None
    # Another send on the throttled channel waits without calling Meta.
    sending.message_send(message_id=other.pk)
    other.refresh_from_db()
    assert other.send_status == SendStatus.PENDING and other.attempts == 0
    assert len(responses.calls) == 1
    # When the wait is over, the sweeper re-enqueues and the send goes through.
    channel.__class__.objects.filter(pk=channel.pk).update(rate_limited_until=None)
    Message.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    responses.post(url_for(channel), **ok(mid="after-wait"))
    assert sending.outbound_messages_sweep()["enqueued"] == 2
    sending.message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.send_status == SendStatus.SENT


@responses.activate
def test_short_rate_limit_is_waited_in_process(channel, no_backoff_sleep):
    message = create(make_thread(channel))
    responses.post(url_for(channel), **error(613, status=429, headers={"Retry-After": "2"}))
    responses.post(url_for(channel), **ok())
    sending.message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.send_status == SendStatus.SENT and no_backoff_sleep == [2.0]


@responses.activate
def test_automatic_reply_outside_24h_is_refused_before_http(channel):
    message = create(make_thread(channel, inbound_ago=timedelta(hours=25)))
    sending.message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.send_status == SendStatus.FAILED and message.error_code == "window_closed"
    assert Thread.objects.get().needs_human_reason == "window_closed"
    assert len(responses.calls) == 0


@responses.activate
def test_human_reply_after_24h_on_messenger_uses_human_agent_tag(messenger_channel, user):
    messenger_channel.human_agent_enabled = True
    messenger_channel.save()
    message = create(make_thread(messenger_channel, inbound_ago=timedelta(days=3)), sender_kind=SenderKind.SETTER,
                     sent_by=user)
    responses.post(url_for(messenger_channel), **ok())
    sending.message_send(message_id=message.pk)
    body = json.loads(responses.calls[0].request.body)
    assert body["messaging_type"] == "MESSAGE_TAG" and body["tag"] == "HUMAN_AGENT"
    message.refresh_from_db()
    assert message.send_status == SendStatus.SENT and message.messaging_type == "MESSAGE_TAG:HUMAN_AGENT"


@pytest.mark.parametrize("setup", ["no_permission", "approved_ai_draft", "instagram", "after_7_days", "ai"])
@responses.activate
def test_late_replies_refused_when_tag_not_allowed(messenger_channel, channel, user, setup):
    target = channel if setup == "instagram" else messenger_channel
    target.human_agent_enabled = setup != "no_permission"
    target.save()
    ago = timedelta(days=8) if setup == "after_7_days" else timedelta(days=2)
    kwargs = {"sender_kind": SenderKind.SETTER, "sent_by": user}
    if setup == "approved_ai_draft":
        kwargs["disposition"] = "approved"
    if setup == "ai":
        kwargs = {"sender_kind": SenderKind.AI}
    message = create(make_thread(target, inbound_ago=ago), **kwargs)
    sending.message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.send_status == SendStatus.FAILED and message.error_code == "window_closed"
    assert len(responses.calls) == 0


@responses.activate
def test_edited_ai_draft_by_setter_may_use_the_tag(messenger_channel, user):
    messenger_channel.human_agent_enabled = True
    messenger_channel.save()
    message = create(make_thread(messenger_channel, inbound_ago=timedelta(days=2)), sender_kind=SenderKind.SETTER,
                     sent_by=user, disposition="edited")
    responses.post(url_for(messenger_channel), **ok())
    sending.message_send(message_id=message.pk)
    assert json.loads(responses.calls[0].request.body)["tag"] == "HUMAN_AGENT"


@responses.activate
def test_ai_does_not_send_to_opted_out_or_paused_threads(channel):
    thread = make_thread(channel)
    Contact.objects.filter(pk=thread.contact_id).update(opted_out=True)
    message = create(thread)
    sending.message_send(message_id=message.pk)
    message.refresh_from_db()
    assert (message.send_status, message.error_code) == (SendStatus.FAILED, "opted_out")
    assert len(responses.calls) == 0


def test_text_is_cut_to_platform_limits(channel, messenger_channel):
    sentence = "This sentence is about eighty characters long, give or take a few characters. "
    long_text = sentence * 60
    ig = create(make_thread(channel), text="😀 " + long_text)
    fb = create(make_thread(messenger_channel), text=long_text)
    assert len(ig.text.encode()) <= 1000 and ig.text.endswith(".")
    assert len(fb.text) < 2000 and fb.text.endswith(".")


def test_sender_kind_and_disposition_are_validated(channel):
    thread = make_thread(channel)
    with pytest.raises(sending.SendRefused):
        create(thread, sender_kind=SenderKind.CONTACT)
    with pytest.raises(sending.SendRefused):
        create(thread, sender_kind=SenderKind.AI, disposition="approved")
    with pytest.raises(sending.SendRefused):
        create(thread, text="   ")


def test_human_retry_of_unknown_send(channel, user):
    message = create(make_thread(channel))
    Message.objects.filter(pk=message.pk).update(send_status=SendStatus.UNKNOWN)
    assert sending.outbound_message_retry(message=message, actor=user)
    message.refresh_from_db()
    assert message.send_status == SendStatus.PENDING


@responses.activate
def test_recording_a_send_updates_message_thread_and_its_own_log_rows(channel):
    """The usual case is one statement: the message, the thread's activity (a setter's send also marks it
    read) and the send's action log rows; other rows are left alone."""
    from conversations.action_log import action_log_add
    from conversations.models import ActionKind, SidekickActionLog

    thread = make_thread(channel)
    Thread.objects.filter(pk=thread.pk).update(unread_count=3)
    other_thread = make_thread(channel, contact_id="5002")
    Thread.objects.filter(pk=other_thread.pk).update(unread_count=2)
    message = create(thread, sender_kind=SenderKind.SETTER)
    follow_up = action_log_add(thread=thread, action=ActionKind.FOLLOW_UP_SENT, message=message, result="queued")
    escalated = action_log_add(thread=thread, action=ActionKind.ESCALATED, message=message, result="queued")
    responses.post(url_for(channel), **ok(mid="m_at_once"))
    before = timezone.now()
    sent = sending.message_send(message_id=message.pk)
    stored = Message.objects.get(pk=message.pk)
    assert (sent.mid, stored.mid, stored.send_status, stored.messaging_type) == (
        "m_at_once", "m_at_once", SendStatus.SENT, "RESPONSE")
    assert stored.sent_at >= before and stored.sent_at == sent.sent_at
    thread.refresh_from_db()
    assert thread.unread_count == 0 and thread.last_outbound_at == thread.last_message_at == stored.sent_at
    assert Thread.objects.get(pk=other_thread.pk).unread_count == 2
    follow_up.refresh_from_db(), escalated.refresh_from_db()
    assert (follow_up.result, follow_up.graph_message_id) == ("sent", "m_at_once")
    assert (escalated.result, escalated.graph_message_id) == ("queued", "")
    assert SidekickActionLog.objects.filter(graph_message_id="m_at_once").count() == 1


@responses.activate
def test_an_ai_send_leaves_the_unread_count(channel):
    thread = make_thread(channel)
    Thread.objects.filter(pk=thread.pk).update(unread_count=3)
    responses.post(url_for(channel), **ok())
    sending.message_send(message_id=create(thread).pk)
    thread.refresh_from_db()
    assert thread.unread_count == 3 and thread.last_outbound_at is not None
