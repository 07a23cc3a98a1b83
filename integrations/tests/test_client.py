import json

import pytest
import requests
import responses

from integrations.meta import client as graph
from integrations.meta.client import GraphClient, GraphError, classify, usage_wait_seconds
from integrations.models import ChannelStatus
from integrations.services import channel_refresh_instagram_token


@pytest.mark.parametrize("code,subcode,status,kind,permanent", [
    (190, None, 401, graph.TOKEN, True),
    (190, 463, 400, graph.TOKEN, True),
    (10, 2018278, 400, graph.WINDOW, True),
    (10, 2534022, 400, graph.WINDOW, True),
    (10, 2018300, 400, graph.THREAD_CONTROL, True),
    (10, 2018108, 400, graph.CANNOT_RECEIVE, True),
    (551, None, 400, graph.CANNOT_RECEIVE, True),
    (200, 1545041, 403, graph.CANNOT_RECEIVE, True),
    (100, 2018001, 400, graph.CANNOT_RECEIVE, True),
    (100, 2534001, 400, graph.CANNOT_RECEIVE, True),
    (230, None, 400, graph.CANNOT_RECEIVE, True),
    (368, None, 400, graph.ABUSIVE, True),
    (1, None, 500, graph.TEMPORARY, False),
    (2, None, 503, graph.TEMPORARY, False),
    (1200, None, 500, graph.TEMPORARY, False),
    (4, None, 400, graph.RATE_LIMIT, False),
    (17, None, 400, graph.RATE_LIMIT, False),
    (32, None, 400, graph.RATE_LIMIT, False),
    (613, None, 400, graph.RATE_LIMIT, False),
    (None, None, 502, graph.SERVER, False),
    (100, None, 400, graph.OTHER, True),
])
def test_error_table(code, subcode, status, kind, permanent):
    found = classify(code, subcode, status)
    assert found == kind
    assert GraphError("x", kind=found).permanent is permanent


def test_ambiguous_is_not_retryable():
    assert GraphError("x", kind=graph.AMBIGUOUS).permanent


@pytest.mark.parametrize("headers,expected", [
    ({}, None),
    ({"X-App-Usage": json.dumps({"call_count": 40, "total_time": 10, "total_cputime": 5})}, None),
    ({"X-App-Usage": json.dumps({"call_count": 100, "total_time": 10, "total_cputime": 5})}, 60.0),
    ({"X-Business-Use-Case-Usage": json.dumps({"123": [{"type": "messenger", "call_count": 99,
                                                         "estimated_time_to_regain_access": 3}]})}, 180.0),
    ({"X-Business-Use-Case-Usage": "not json"}, None),
    ({"Retry-After": "7"}, 7.0),
])
def test_usage_headers(headers, expected):
    assert usage_wait_seconds(requests.structures.CaseInsensitiveDict(headers)) == expected


@pytest.mark.django_db
@responses.activate
def test_fetch_profile_once(channel):
    from contacts.models import Contact
    from contacts.services import contact_fetch_profile

    contact = Contact.objects.create(workspace=channel.workspace, channel=channel, external_id="777")
    responses.get("https://graph.instagram.com/v23.0/777", json={"name": "Ana Lima", "username": "ana.lima",
                                                                 "id": "777"})
    fetched = contact_fetch_profile(contact_id=contact.pk)
    assert (fetched.display_name, fetched.username) == ("Ana Lima", "ana.lima")
    assert responses.calls[0].request.params == {"fields": "name,username"}
    assert contact_fetch_profile(contact_id=contact.pk) is None  # once per contact
    assert len(responses.calls) == 1


@responses.activate
def test_sender_actions(settings):
    client = GraphClient(platform="messenger", account_id="42", token="t0ken-t0ken-t0ken")
    responses.post("https://graph.facebook.com/v23.0/42/messages", json={"recipient_id": "9"})
    client.sender_action(recipient_id="9", action="typing_on")
    assert json.loads(responses.calls[0].request.body) == {"recipient": {"id": "9"}, "sender_action": "typing_on"}
    with pytest.raises(ValueError):
        client.sender_action(recipient_id="9", action="dance")


@pytest.mark.django_db
@responses.activate
def test_instagram_token_refresh(channel):
    responses.get("https://graph.instagram.com/refresh_access_token",
                  json={"access_token": "IGAAnewtokennewtokennew", "token_type": "bearer", "expires_in": 5183944})
    refreshed = channel_refresh_instagram_token(channel_id=channel.pk)
    channel.refresh_from_db()
    assert channel.access_token == "IGAAnewtokennewtokennew"
    assert refreshed.token_expires_at is not None
    assert responses.calls[0].request.params["grant_type"] == "ig_refresh_token"


@pytest.mark.django_db
@responses.activate
def test_token_never_leaks_into_errors(channel):
    token = channel.access_token
    responses.get("https://graph.instagram.com/refresh_access_token",
                  body=requests.ConnectionError(f"Max retries exceeded with url: /refresh_access_token?access_token={token}"))
    channel_refresh_instagram_token(channel_id=channel.pk)
    channel.refresh_from_db()
    assert channel.last_error and token not in channel.last_error
    assert channel.status == ChannelStatus.ACTIVE


@pytest.mark.django_db
@responses.activate
def test_refresh_with_expired_token_needs_reconnect(channel):
    responses.get("https://graph.instagram.com/refresh_access_token",
                  json={"error": {"message": "Session has expired", "code": 190, "error_subcode": 463}}, status=400)
    channel_refresh_instagram_token(channel_id=channel.pk)
    channel.refresh_from_db()
    assert channel.status == ChannelStatus.RECONNECT_NEEDED


@pytest.mark.django_db
def test_channels_needing_refresh(channel):
    from datetime import timedelta

    from django.utils import timezone

    from integrations.services import channels_needing_token_refresh
    from integrations.tests.factories import ChannelFactory, MessengerChannelFactory

    now = timezone.now()
    due = ChannelFactory(token_expires_at=now + timedelta(days=3), token_refreshed_at=now - timedelta(days=57))
    ChannelFactory(token_expires_at=now + timedelta(days=3), token_refreshed_at=now - timedelta(hours=2))  # too fresh
    ChannelFactory(token_expires_at=now + timedelta(days=40))  # not yet
    ChannelFactory(token_expires_at=now - timedelta(days=1))  # already expired: reconnect, not refresh
    MessengerChannelFactory(token_expires_at=now + timedelta(days=3))  # page tokens are not refreshed
    assert list(channels_needing_token_refresh()) == [due]
