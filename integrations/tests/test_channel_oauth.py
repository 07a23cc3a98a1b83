"""OAuth connect flows (Instagram Login, Facebook Login for Messenger), faked at the HTTP boundary."""

from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
import requests
import responses
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import AuditEvent
from accounts.tests.factories import AdminMembershipFactory, MembershipFactory
from integrations.channel_oauth import SESSION_PAGES
from integrations.meta import oauth
from integrations.meta.client import GraphError
from integrations.models import Channel
from integrations.tests.factories import ChannelFactory

pytestmark = pytest.mark.django_db

IG_OAUTH = "https://ig-oauth.test"
IG_GRAPH = "https://ig-graph.test"
FB_DIALOG = "https://fb-dialog.test"
FB_GRAPH = "https://fb-graph.test"
SITE = "https://sidekick.test"
LONG_IG_TOKEN = "IGAAlonglivedtokenSECRET0123456789"
PAGE_TOKEN = "EAAGpagetokenSECRET0123456789"


@pytest.fixture(autouse=True)
def oauth_settings(settings):
    settings.INSTAGRAM_OAUTH_URL = IG_OAUTH
    settings.INSTAGRAM_GRAPH_URL = IG_GRAPH
    settings.FACEBOOK_DIALOG_URL = FB_DIALOG
    settings.META_GRAPH_URL = FB_GRAPH
    settings.SITE_URL = SITE
    return settings


@pytest.fixture
def admin(client):
    membership = AdminMembershipFactory()
    client.force_login(membership.user)
    client.workspace = membership.workspace
    client.user = membership.user
    return client


def channels_url(workspace, suffix=""):
    return f"/w/{workspace.slug}/settings/channels/{suffix}"


def flash(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def start(client, platform):
    """POST connect; returns the query of Meta's dialog URL."""
    response = client.post(channels_url(client.workspace, f"{platform}/connect/"))
    assert response.status_code == 302
    url = urlparse(response["Location"])
    return url, {k: v[0] for k, v in parse_qs(url.query).items()}


def come_back(client, platform, **params):
    """Meta redirects to the fixed URI, which forwards to the workspace callback; follow both."""
    response = client.get(f"/oauth/meta/{platform}/", params)
    assert response.status_code == 302, response
    forwarded = response["Location"]
    return client.get(forwarded, follow=True), forwarded


def mock_instagram_ok(user_id="17841400000000001", username="studio.lux"):
    responses.post(f"{IG_OAUTH}/oauth/access_token", json={"data": [{
        "access_token": "IGshortlivedSECRET", "user_id": "9001",
        "permissions": "instagram_business_basic,instagram_business_manage_messages"}]})
    responses.get(f"{IG_GRAPH}/access_token", json={"access_token": LONG_IG_TOKEN, "token_type": "bearer",
                                                    "expires_in": 5183944})
    responses.get(f"{IG_GRAPH}/v23.0/me", json={"user_id": user_id, "username": username, "id": "app-scoped-1"})
    responses.post(f"{IG_GRAPH}/v23.0/me/subscribed_apps", json={"success": True})


def mock_facebook_ok():
    responses.get(f"{FB_GRAPH}/v23.0/oauth/access_token", match=[
        responses.matchers.query_param_matcher({"client_id": "111", "client_secret": "meta-app-secret-for-tests",
                                                "redirect_uri": f"{SITE}/oauth/meta/messenger/", "code": "fbcode"})],
        json={"access_token": "EAAshortSECRET", "token_type": "bearer", "expires_in": 5000})
    responses.get(f"{FB_GRAPH}/v23.0/oauth/access_token", match=[
        responses.matchers.query_param_matcher({"grant_type": "fb_exchange_token", "client_id": "111",
                                                "client_secret": "meta-app-secret-for-tests",
                                                "fb_exchange_token": "EAAshortSECRET"})],
        json={"access_token": "EAAlonguserSECRET", "token_type": "bearer", "expires_in": 5183944})
    responses.get(f"{FB_GRAPH}/v23.0/me/accounts", json={"data": [
        {"id": "555", "name": "Studio Lux", "access_token": PAGE_TOKEN, "tasks": ["ANALYZE", "MESSAGING", "MODERATE"]},
        {"id": "666", "name": "Read-only Page", "access_token": "EAAother", "tasks": ["ANALYZE"]},
    ]})
    responses.post(f"{FB_GRAPH}/v23.0/555/subscribed_apps", json={"success": True})


# --- Instagram --------------------------------------------------------------------------------------

@responses.activate
def test_instagram_connect_happy_path(admin):
    url, query = start(admin, "instagram")
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{IG_OAUTH}/oauth/authorize"
    assert query["client_id"] == "222" and query["response_type"] == "code"
    assert query["scope"] == "instagram_business_basic,instagram_business_manage_messages"
    assert query["redirect_uri"] == f"{SITE}/oauth/meta/instagram/"
    mock_instagram_ok()

    response, forwarded = come_back(admin, "instagram", code="igcode", state=query["state"])
    assert forwarded.startswith(channels_url(admin.workspace, "instagram/callback/"))
    assert response.redirect_chain[-1][0] == channels_url(admin.workspace)
    assert any("Connected Instagram @studio.lux" in m for m in flash(response))

    channel = Channel.objects.get()
    assert (channel.workspace, channel.platform, channel.account_id, channel.name) == (
        admin.workspace, "instagram", "17841400000000001", "@studio.lux")
    assert channel.access_token == LONG_IG_TOKEN and channel.connected_by == admin.user
    assert timedelta(days=59) < channel.token_expires_at - timezone.now() <= timedelta(days=60)
    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token FROM integrations_channel WHERE id = %s", [channel.pk])
        assert "SECRET" not in cursor.fetchone()[0]

    exchange, long_lived, me, subscribe = (c.request for c in responses.calls)
    form = parse_qs(exchange.body)
    assert form == {"client_id": ["222"], "client_secret": ["instagram-app-secret-for-tests"],
                    "grant_type": ["authorization_code"], "redirect_uri": [f"{SITE}/oauth/meta/instagram/"],
                    "code": ["igcode"]}
    assert long_lived.params == {"grant_type": "ig_exchange_token", "client_secret": "instagram-app-secret-for-tests",
                                 "access_token": "IGshortlivedSECRET"}
    assert me.params["access_token"] == LONG_IG_TOKEN and "user_id" in me.params["fields"]
    assert "messages" in subscribe.params["subscribed_fields"].split(",")

    event = AuditEvent.objects.get(verb="channel.connected")
    assert event.data["via"] == "instagram_login" and event.actor == admin.user
    assert "SECRET" not in str(event.data)
    page = admin.get(channels_url(admin.workspace))
    assert LONG_IG_TOKEN not in page.content.decode()


@responses.activate
def test_instagram_reconnect_updates_the_existing_channel(admin):
    existing = ChannelFactory(workspace=admin.workspace, account_id="17841400000000001", status="reconnect_needed")
    _, query = start(admin, "instagram")
    mock_instagram_ok()
    come_back(admin, "instagram", code="c", state=query["state"])
    existing.refresh_from_db()
    assert existing.status == "active" and existing.access_token == LONG_IG_TOKEN
    assert Channel.objects.count() == 1 and AuditEvent.objects.filter(verb="channel.reconnected").exists()


@responses.activate
def test_instagram_consent_denied_connects_nothing(admin):
    _, query = start(admin, "instagram")
    response, _ = come_back(admin, "instagram", error="access_denied", error_reason="user_denied",
                            error_description="The user denied your request.", state=query["state"])
    assert any("permission was not granted" in m for m in flash(response))
    assert not Channel.objects.exists() and not responses.calls


@responses.activate
def test_instagram_expired_code_shows_metas_error(admin):
    _, query = start(admin, "instagram")
    responses.post(f"{IG_OAUTH}/oauth/access_token", status=400, json={
        "error_type": "OAuthException", "code": 400, "error_message": "This authorization code has expired"})
    response, _ = come_back(admin, "instagram", code="old", state=query["state"])
    assert any("authorization code has expired" in m for m in flash(response))
    assert not Channel.objects.exists() and len(responses.calls) == 1  # a code is never retried


@responses.activate
def test_instagram_without_the_messaging_permission_is_refused(admin):
    _, query = start(admin, "instagram")
    responses.post(f"{IG_OAUTH}/oauth/access_token", json={"data": [{
        "access_token": "IGshort", "user_id": "1", "permissions": "instagram_business_basic"}]})
    response, _ = come_back(admin, "instagram", code="c", state=query["state"])
    assert any("manage messages" in m for m in flash(response))
    assert not Channel.objects.exists()


@responses.activate
def test_instagram_webhook_subscription_failure_saves_nothing(admin):
    _, query = start(admin, "instagram")
    mock_instagram_ok()
    responses.replace(responses.POST, f"{IG_GRAPH}/v23.0/me/subscribed_apps", status=400, json={
        "error": {"message": "(#200) Permissions error", "type": "OAuthException", "code": 200}})
    response, _ = come_back(admin, "instagram", code="c", state=query["state"])
    assert any("subscribing the account to webhooks" in m and "Permissions error" in m for m in flash(response))
    assert not Channel.objects.exists() and not AuditEvent.objects.filter(verb__startswith="channel.").exists()


@responses.activate
def test_instagram_graph_outage_is_retried_then_reported(admin, no_backoff_sleep):
    _, query = start(admin, "instagram")
    mock_instagram_ok()
    responses.replace(responses.GET, f"{IG_GRAPH}/access_token", status=503, body="unavailable")
    response, _ = come_back(admin, "instagram", code="c", state=query["state"])
    assert any("could not be reached" in m for m in flash(response))
    assert len([c for c in responses.calls if c.request.url.startswith(f"{IG_GRAPH}/access_token")]) == 3
    assert not Channel.objects.exists()


@responses.activate
def test_instagram_account_of_another_workspace_is_refused_before_subscribing(admin):
    ChannelFactory(account_id="17841400000000001")  # another workspace
    _, query = start(admin, "instagram")
    mock_instagram_ok()
    response, _ = come_back(admin, "instagram", code="c", state=query["state"])
    assert any("another workspace" in m for m in flash(response))
    assert not any("subscribed_apps" in c.request.url for c in responses.calls)
    assert Channel.objects.filter(workspace=admin.workspace).count() == 0


# --- state ------------------------------------------------------------------------------------------

@responses.activate
def test_state_replay_is_refused(admin):
    _, query = start(admin, "instagram")
    mock_instagram_ok()
    _, forwarded = come_back(admin, "instagram", code="c", state=query["state"])
    calls = len(responses.calls)
    again = admin.get(forwarded, follow=True)
    assert any("already used" in m for m in flash(again))
    assert len(responses.calls) == calls


@responses.activate
def test_state_from_another_session_is_refused(admin):
    _, query = start(admin, "instagram")
    other = Client()  # same admin user, another browser: no pending flow in its session
    other.force_login(admin.user)
    response = other.get("/oauth/meta/instagram/", {"code": "c", "state": query["state"]})
    result = other.get(response["Location"], follow=True)
    assert any("does not belong to a connection started here" in m for m in flash(result))
    assert not responses.calls and not Channel.objects.exists()


@responses.activate
def test_state_of_another_workspace_is_refused(admin):
    second = AdminMembershipFactory(user=admin.user).workspace
    _, query = start(admin, "instagram")  # started in the first workspace
    result = admin.get(channels_url(second, "instagram/callback/"), {"code": "c", "state": query["state"]},
                       follow=True)
    assert any("does not belong" in m for m in flash(result))
    assert not responses.calls and not Channel.objects.exists()


@responses.activate
def test_tampered_or_missing_state_is_refused_at_the_fixed_uri(admin):
    _, query = start(admin, "instagram")
    for state in (query["state"][:-2] + "xx", "", "garbage"):
        response = admin.get("/oauth/meta/instagram/", {"code": "c", "state": state}, follow=True)
        assert any("could not be verified" in m for m in flash(response))
    # a state issued for Instagram does not work for Messenger
    response = admin.get("/oauth/meta/messenger/", {"code": "c", "state": query["state"]}, follow=True)
    assert any("could not be verified" in m for m in flash(response))
    assert not responses.calls


@responses.activate
def test_expired_state_is_refused(admin, monkeypatch, settings):
    _, query = start(admin, "instagram")
    import time

    later = time.time() + settings.META_OAUTH_STATE_MAX_AGE + 5
    monkeypatch.setattr("django.core.signing.time.time", lambda: later)
    result = admin.get(channels_url(admin.workspace, "instagram/callback/"), {"code": "c", "state": query["state"]},
                       follow=True)
    assert any("took too long" in m for m in flash(result))
    assert not responses.calls


# --- Messenger ----------------------------------------------------------------------------------------

@responses.activate
def test_messenger_connect_happy_path_with_page_choice(admin):
    url, query = start(admin, "messenger")
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{FB_DIALOG}/v23.0/dialog/oauth"
    assert query["client_id"] == "111" and query["redirect_uri"] == f"{SITE}/oauth/meta/messenger/"
    assert {"pages_messaging", "pages_manage_metadata", "pages_show_list"} <= set(query["scope"].split(","))
    mock_facebook_ok()

    response, _ = come_back(admin, "messenger", code="fbcode", state=query["state"])
    assert response.redirect_chain[-1][0] == channels_url(admin.workspace, "messenger/pages/")
    html = response.content.decode()
    assert "Studio Lux" in html and "Read-only Page" not in html  # no MESSAGING task
    assert "SECRET" not in str(dict(admin.session))  # the user token waits encrypted
    assert not Channel.objects.exists()

    result = admin.post(channels_url(admin.workspace, "messenger/pages/"), {"page": "555"}, follow=True)
    assert any("Connected the Facebook Page Studio Lux" in m for m in flash(result))
    channel = Channel.objects.get()
    assert (channel.platform, channel.account_id, channel.name, channel.token_expires_at) == (
        "messenger", "555", "Studio Lux", None)
    assert channel.access_token == PAGE_TOKEN
    subscribe = responses.calls[-1].request
    assert subscribe.method == "POST" and subscribe.url.startswith(f"{FB_GRAPH}/v23.0/555/subscribed_apps")
    assert subscribe.params["access_token"] == PAGE_TOKEN
    assert {"messages", "message_echoes", "messaging_postbacks"} <= set(subscribe.params["subscribed_fields"].split(","))
    assert AuditEvent.objects.get(verb="channel.connected").data["via"] == "facebook_login"
    assert SESSION_PAGES not in admin.session
    # the choice is used up
    again = admin.post(channels_url(admin.workspace, "messenger/pages/"), {"page": "555"}, follow=True)
    assert any("no Page choice waiting" in m for m in flash(again))


@responses.activate
def test_messenger_page_not_offered_is_rejected(admin):
    _, query = start(admin, "messenger")
    mock_facebook_ok()
    come_back(admin, "messenger", code="fbcode", state=query["state"])
    response = admin.post(channels_url(admin.workspace, "messenger/pages/"), {"page": "666"})
    assert response.status_code == 200 and "Choose one of the listed Pages" in response.content.decode()
    assert not Channel.objects.exists()


@responses.activate
def test_messenger_invalid_token_while_listing_pages(admin):
    _, query = start(admin, "messenger")
    mock_facebook_ok()
    responses.replace(responses.GET, f"{FB_GRAPH}/v23.0/me/accounts", status=400, json={
        "error": {"message": "Error validating access token", "type": "OAuthException", "code": 190,
                  "error_subcode": 460}})
    response, _ = come_back(admin, "messenger", code="fbcode", state=query["state"])
    assert any("(190/460)" in m and "validating access token" in m for m in flash(response))
    assert SESSION_PAGES not in admin.session and not Channel.objects.exists()


@responses.activate
def test_messenger_denied_and_subscription_failure(admin):
    _, query = start(admin, "messenger")
    response, _ = come_back(admin, "messenger", error="access_denied", error_reason="user_denied",
                            error_description="Permissions error", state=query["state"])
    assert any("Facebook permission was not granted" in m for m in flash(response))

    _, query = start(admin, "messenger")
    mock_facebook_ok()
    responses.replace(responses.POST, f"{FB_GRAPH}/v23.0/555/subscribed_apps", status=403, json={
        "error": {"message": "(#200) pages_manage_metadata missing", "code": 200}})
    come_back(admin, "messenger", code="fbcode", state=query["state"])
    result = admin.post(channels_url(admin.workspace, "messenger/pages/"), {"page": "555"}, follow=True)
    assert any("pages_manage_metadata missing" in m for m in flash(result))
    assert not Channel.objects.exists()


# --- access and configuration -------------------------------------------------------------------------

@pytest.mark.parametrize("method,suffix", [
    ("post", "instagram/connect/"), ("get", "instagram/callback/"), ("post", "messenger/connect/"),
    ("get", "messenger/callback/"), ("get", "messenger/pages/"), ("post", "messenger/pages/"),
])
def test_setters_get_403_and_other_workspaces_404(client, method, suffix):
    setter = MembershipFactory()
    client.force_login(setter.user)
    assert getattr(client, method)(channels_url(setter.workspace, suffix)).status_code == 403
    stranger_workspace = AdminMembershipFactory().workspace
    assert getattr(client, method)(channels_url(stranger_workspace, suffix)).status_code == 404


def test_setter_cannot_use_a_state_forwarded_by_the_fixed_uri(client, admin):
    _, query = start(admin, "instagram")
    setter = MembershipFactory(workspace=admin.workspace)
    client.force_login(setter.user)
    forwarded = client.get("/oauth/meta/instagram/", {"code": "c", "state": query["state"]})
    assert client.get(forwarded["Location"]).status_code == 403


def test_unconfigured_apps_explain_what_to_set(admin, settings):
    settings.INSTAGRAM_APP_ID = ""
    settings.META_APP_SECRET = ""
    html = admin.get(channels_url(admin.workspace)).content.decode()
    assert "INSTAGRAM_APP_ID" in html and "META_APP_ID" in html
    assert f"{SITE}/oauth/meta/instagram/" in html and "Connect Instagram" not in html
    response = admin.post(channels_url(admin.workspace, "instagram/connect/"), follow=True)
    assert any("not configured" in m for m in flash(response))


def test_configured_apps_show_the_buttons(admin):
    html = admin.get(channels_url(admin.workspace)).content.decode()
    assert "Connect Instagram" in html and "Connect a Facebook Page" in html


def test_connect_start_requires_post(admin):
    assert admin.get(channels_url(admin.workspace, "instagram/connect/")).status_code == 405


# --- the OAuth client ---------------------------------------------------------------------------------

@responses.activate
def test_client_errors_never_carry_secrets():
    responses.get(f"{IG_GRAPH}/access_token", body=requests.ConnectionError(
        f"failed {IG_GRAPH}/access_token?client_secret=instagram-app-secret-for-tests&access_token=IGshortSECRET"))
    with pytest.raises(GraphError) as error:
        oauth.instagram_long_lived_token(short_lived="IGshortSECRET")
    assert "instagram-app-secret-for-tests" not in str(error.value) and "IGshortSECRET" not in str(error.value)
    assert error.value.kind == "network"


@responses.activate
def test_page_listing_follows_paging_only_to_the_graph_api():
    responses.get(f"{FB_GRAPH}/v23.0/me/accounts", json={
        "data": [{"id": "1", "name": "A", "access_token": "t1"}],
        "paging": {"next": f"{FB_GRAPH}/v23.0/me/accounts?after=xyz&access_token=u"}})
    responses.get(f"{FB_GRAPH}/v23.0/me/accounts", json={
        "data": [{"id": "2", "name": "B", "access_token": "t2", "tasks": ["MESSAGING"]}]})
    assert [p.id for p in oauth.facebook_pages(user_token="u")] == ["1", "2"]
    assert responses.calls[1].request.url == f"{FB_GRAPH}/v23.0/me/accounts?after=xyz&access_token=u"
    responses.reset()
    responses.get(f"{FB_GRAPH}/v23.0/me/accounts", json={
        "data": [{"id": "2", "name": "B", "access_token": "t2"}], "paging": {"next": "https://evil.test/steal"}})
    assert [p.id for p in oauth.facebook_pages(user_token="u")] == ["2"]
    assert len(responses.calls) == 1  # the foreign "next" link was not followed
