import json

import pytest

from conversations.intake import webhook_event_process
from conversations.models import Message
from integrations.models import WebhookEvent, WebhookEventStatus
from integrations.tests import payloads as p
from integrations.tests.fixtures import META_SECRET, VERIFY_TOKEN

pytestmark = pytest.mark.django_db


def test_verification_echoes_the_challenge(client):
    response = client.get("/webhooks/meta/", {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN,
                                              "hub.challenge": "1158201444"})
    assert response.status_code == 200
    assert response.content == b"1158201444"


@pytest.mark.parametrize("params", [
    {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "x"},
    {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "x"},
    {},
])
def test_verification_refuses_wrong_token_or_mode(client, params):
    assert client.get("/webhooks/meta/", params).status_code == 403


def test_verification_refused_when_no_token_configured(client, settings):
    settings.META_VERIFY_TOKEN = ""
    response = client.get("/webhooks/meta/", {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "x"})
    assert response.status_code == 403


def test_valid_post_is_stored_and_processed(post_webhook, channel, django_capture_on_commit_callbacks):
    payload = p.envelope(channel, p.text(channel, "5001", "hello"))
    with django_capture_on_commit_callbacks() as callbacks:
        response = post_webhook(payload)
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert json.loads(bytes(event.body)) == payload
    assert event.status == WebhookEventStatus.PENDING
    assert event.signed_by == "instagram"
    assert len(callbacks) == 1  # the enqueue, after commit
    webhook_event_process(event_id=event.pk)
    assert Message.objects.get().text == "hello"


def test_both_app_secrets_are_accepted_and_path_without_slash(post_webhook, messenger_channel):
    payload = p.envelope(messenger_channel, p.text(messenger_channel, "6001", "hi"))
    response = post_webhook(payload, secret=META_SECRET, path="/webhooks/meta")
    assert response.status_code == 200  # no redirect
    assert WebhookEvent.objects.get().signed_by == "meta"


@pytest.mark.parametrize("signature", [
    False,  # missing header
    "sha256=" + "0" * 64,
    "sha1=abcdef",
    "sha256=not-hex",
    "",
])
def test_bad_or_missing_signature_is_403_and_nothing_stored(post_webhook, channel, signature):
    response = post_webhook(p.envelope(channel, p.text(channel, "1", "x")), signature=signature)
    assert response.status_code == 403
    assert not WebhookEvent.objects.exists()


def test_signature_by_an_unknown_secret_is_refused(post_webhook, channel):
    response = post_webhook(p.envelope(channel, p.text(channel, "1", "x")), secret="someone-else")
    assert response.status_code == 403
    assert not WebhookEvent.objects.exists()


def test_signature_covers_the_raw_bytes(client, channel):
    """A re-serialised body (different whitespace) no longer matches the signature."""
    from integrations.meta.signature import sign
    from integrations.tests.fixtures import INSTAGRAM_SECRET

    payload = p.envelope(channel, p.text(channel, "1", "x"))
    signature = sign(json.dumps(payload).encode(), INSTAGRAM_SECRET)
    body = json.dumps(payload, indent=2).encode()
    response = client.post("/webhooks/meta/", data=body, content_type="application/json",
                           HTTP_X_HUB_SIGNATURE_256=signature)
    assert response.status_code == 403


def test_malformed_json_with_valid_signature_is_kept_as_failed(post_webhook):
    response = post_webhook(None, raw=b'{"object": "instagram", "entry": [')
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.status == WebhookEventStatus.FAILED
    assert "malformed JSON" in event.error


def test_non_utf8_body_with_valid_signature_is_kept_as_failed(post_webhook):
    response = post_webhook(None, raw=b"\xff\xfe\x00garbage")
    assert response.status_code == 200
    assert WebhookEvent.objects.get().status == WebhookEventStatus.FAILED


@pytest.mark.parametrize("raw, why", [
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),  # RecursionError: a 500 before issue 12
    (b'{"entry": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
    (b'{"object": "instagram", "entry": [{"id": "\xc3\x28"}]}', "malformed JSON"),  # invalid UTF-8 inside
    (b"[]", "not an object"), (b'"text"', "not an object"), (b"42", "not an object"), (b"null", "not an object"),
    (b'{"object": "instagram", "entry": {"id": "1"}}', "no entry list"), (b'{"object": "page"}', "no entry list"),
])
def test_signed_body_that_is_no_usable_json_object_is_kept_as_failed_and_answered_200(post_webhook, raw, why):
    response = post_webhook(None, raw=raw)
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.status == WebhookEventStatus.FAILED and why in event.error
    assert bytes(event.body) == raw


def test_oversized_body_is_refused_before_reading(post_webhook, settings):
    settings.META_WEBHOOK_MAX_BYTES = 2048
    response = post_webhook(None, raw=b'{"object": "page", "entry": []' + b" " * 4096 + b"}")
    assert response.status_code == 413
    assert not WebhookEvent.objects.exists()


def test_other_methods_are_405(client):
    assert client.put("/webhooks/meta/").status_code == 405


def test_webhook_takes_the_short_middleware_path(post_webhook, channel):
    """Answered right after SecurityMiddleware: no session or CSRF work, still a sized plain answer."""
    response = post_webhook(p.envelope(channel, p.text(channel, "5001", "short path")))
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(b"EVENT_RECEIVED"))
    assert "X-Frame-Options" not in response  # the clickjacking middleware (after the shortcut) did not run
    assert "Cookie" not in response.get("Vary", "")
    assert WebhookEvent.objects.count() == 1
