"""Meta's OAuth endpoints: Business Login for Instagram and Facebook Login (for Messenger Pages).

Endpoints, as documented by Meta (confirmed against developers.facebook.com):

Instagram (Business Login for Instagram)
- dialog:      GET  {INSTAGRAM_OAUTH_URL}/oauth/authorize?client_id&redirect_uri&response_type=code&scope&state
- code:        POST {INSTAGRAM_OAUTH_URL}/oauth/access_token (form: client_id, client_secret,
               grant_type=authorization_code, redirect_uri, code) -> short-lived token (1 h), user_id, permissions
- long-lived:  GET  {INSTAGRAM_GRAPH_URL}/access_token?grant_type=ig_exchange_token&client_secret&access_token
               -> access_token, expires_in (60 days)
- account:     GET  {INSTAGRAM_GRAPH_URL}/{version}/me?fields=user_id,username,name; `user_id` is the
               professional account id that webhooks carry as entry.id (`id` is app-scoped)
- webhooks:    POST {INSTAGRAM_GRAPH_URL}/{version}/me/subscribed_apps?subscribed_fields=...

Facebook Login
- dialog:      GET  {FACEBOOK_DIALOG_URL}/{version}/dialog/oauth?client_id&redirect_uri&state&scope&response_type=code
- code:        GET  {META_GRAPH_URL}/{version}/oauth/access_token?client_id&redirect_uri&client_secret&code
- long-lived:  GET  {META_GRAPH_URL}/{version}/oauth/access_token?grant_type=fb_exchange_token&client_id
               &client_secret&fb_exchange_token (about 60 days; Page tokens derived from it do not expire)
- pages:       GET  {META_GRAPH_URL}/{version}/me/accounts?fields=id,name,access_token,tasks
- webhooks:    POST {META_GRAPH_URL}/{version}/{page-id}/subscribed_apps?subscribed_fields=... (Page token)

Errors come back as `GraphError` with the same kinds as the messaging client (`client.classify`).
Nothing here retries a POST (a code is single-use); GETs are retried like the client's reads.
Secrets (app secret, code, tokens) are scrubbed from every error message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests
from django.conf import settings

from integrations.crypto import mask
from integrations.meta import client as graph
from integrations.meta.client import GraphError
from sidekick_project.backoff import backoff_delay

logger = logging.getLogger(__name__)

INSTAGRAM_SCOPES = ("instagram_business_basic", "instagram_business_manage_messages")
# pages_show_list: list the person's Pages; pages_manage_metadata: subscribe a Page to webhooks;
# pages_messaging: send and receive. business_management lets /me/accounts see Pages owned through
# a Business Manager.
FACEBOOK_SCOPES = ("pages_show_list", "pages_manage_metadata", "pages_messaging", "business_management")
# The webhook fields Sidekick normalises (META.md). Instagram Login apps subscribe the account;
# Facebook Login apps subscribe each Page. Only fields also enabled on the app in the App Dashboard
# are delivered. Instagram names its fields in the singular (message_edit, messaging_handover, as in
# Meta's Instagram webhooks reference), Messenger in the plural (message_edits, messaging_handovers);
# Instagram has no echo/delivery fields (echoes arrive under `messages`, reads under messaging_seen).
INSTAGRAM_WEBHOOK_FIELDS = ("messages", "messaging_postbacks", "messaging_seen", "message_reactions",
                            "message_edit", "messaging_handover", "standby")
MESSENGER_WEBHOOK_FIELDS = ("messages", "message_echoes", "message_deliveries", "message_reads",
                            "message_reactions", "message_edits", "messaging_postbacks", "messaging_handovers",
                            "standby")
MAX_PAGE_LISTINGS = 5  # /me/accounts pages of 100 results; nobody manages more than 500 Pages here


@dataclass(frozen=True)
class UserToken:
    access_token: str
    expires_in: int | None = None
    user_id: str = ""
    permissions: tuple[str, ...] = ()


@dataclass(frozen=True)
class InstagramAccount:
    user_id: str  # the professional account id (webhooks' entry.id)
    username: str
    name: str


@dataclass(frozen=True)
class FacebookPage:
    id: str
    name: str
    access_token: str
    tasks: tuple[str, ...]

    @property
    def can_message(self) -> bool:
        # Pages listed without tasks (older API answers) are offered; Meta refuses later if need be.
        return not self.tasks or "MESSAGING" in self.tasks or "MODERATE" in self.tasks


def instagram_configured() -> bool:
    return bool(settings.INSTAGRAM_APP_ID and settings.INSTAGRAM_APP_SECRET)


def facebook_configured() -> bool:
    return bool(settings.META_APP_ID and settings.META_APP_SECRET)


def instagram_authorize_url(*, redirect_uri: str, state: str) -> str:
    query = {"client_id": settings.INSTAGRAM_APP_ID, "redirect_uri": redirect_uri, "response_type": "code",
             "scope": ",".join(INSTAGRAM_SCOPES), "state": state}
    return f"{settings.INSTAGRAM_OAUTH_URL}/oauth/authorize?{urlencode(query)}"


def facebook_authorize_url(*, redirect_uri: str, state: str) -> str:
    query = {"client_id": settings.META_APP_ID, "redirect_uri": redirect_uri, "response_type": "code",
             "scope": ",".join(FACEBOOK_SCOPES), "state": state}
    return f"{settings.FACEBOOK_DIALOG_URL}/{settings.META_GRAPH_VERSION}/dialog/oauth?{urlencode(query)}"


# --- Instagram ---------------------------------------------------------------------------------------

def instagram_exchange_code(*, code: str, redirect_uri: str) -> UserToken:
    data = _call("POST", f"{settings.INSTAGRAM_OAUTH_URL}/oauth/access_token", secrets=[code], form={
        "client_id": settings.INSTAGRAM_APP_ID, "client_secret": settings.INSTAGRAM_APP_SECRET,
        "grant_type": "authorization_code", "redirect_uri": redirect_uri, "code": code,
    })
    # Business Login answers {"data": [{access_token, user_id, permissions}]}; the older reference
    # shows the object itself. Accept both.
    if isinstance(data.get("data"), list) and data["data"] and isinstance(data["data"][0], dict):
        data = data["data"][0]
    permissions = data.get("permissions") or ()
    if isinstance(permissions, str):
        permissions = tuple(p.strip() for p in permissions.split(",") if p.strip())
    return UserToken(access_token=_required_str(data, "access_token"), user_id=str(data.get("user_id") or ""),
                     permissions=tuple(str(p) for p in permissions if isinstance(p, str)))


def instagram_long_lived_token(*, short_lived: str) -> UserToken:
    data = _call("GET", f"{settings.INSTAGRAM_GRAPH_URL}/access_token", secrets=[short_lived], params={
        "grant_type": "ig_exchange_token", "client_secret": settings.INSTAGRAM_APP_SECRET,
        "access_token": short_lived,
    })
    return UserToken(access_token=_required_str(data, "access_token"), expires_in=_expires_in(data))


def instagram_account(*, token: str) -> InstagramAccount:
    data = _call("GET", f"{settings.INSTAGRAM_GRAPH_URL}/{settings.META_GRAPH_VERSION}/me", secrets=[token],
                 params={"fields": "user_id,username,name", "access_token": token})
    user_id = str(data.get("user_id") or data.get("id") or "")
    if not user_id:
        raise GraphError("the Instagram account answered without a user id", kind=graph.OTHER)
    return InstagramAccount(user_id=user_id[:64], username=str(data.get("username") or "")[:100],
                            name=str(data.get("name") or "")[:200])


def instagram_subscribe_webhooks(*, token: str) -> None:
    data = _call("POST", f"{settings.INSTAGRAM_GRAPH_URL}/{settings.META_GRAPH_VERSION}/me/subscribed_apps",
                 secrets=[token], params={"subscribed_fields": ",".join(INSTAGRAM_WEBHOOK_FIELDS),
                                          "access_token": token})
    if data.get("success") is not True:
        raise GraphError("Instagram did not confirm the webhook subscription", kind=graph.OTHER)


# --- Facebook Login (Messenger) ------------------------------------------------------------------------

def facebook_exchange_code(*, code: str, redirect_uri: str) -> UserToken:
    data = _call("GET", _facebook_url("oauth/access_token"), secrets=[code], retry=False, params={
        "client_id": settings.META_APP_ID, "client_secret": settings.META_APP_SECRET,
        "redirect_uri": redirect_uri, "code": code,
    })
    return UserToken(access_token=_required_str(data, "access_token"), expires_in=_expires_in(data))


def facebook_long_lived_token(*, short_lived: str) -> UserToken:
    data = _call("GET", _facebook_url("oauth/access_token"), secrets=[short_lived], params={
        "grant_type": "fb_exchange_token", "client_id": settings.META_APP_ID,
        "client_secret": settings.META_APP_SECRET, "fb_exchange_token": short_lived,
    })
    return UserToken(access_token=_required_str(data, "access_token"), expires_in=_expires_in(data))


def facebook_pages(*, user_token: str) -> list[FacebookPage]:
    """The Pages the person can act on, each with its Page access token."""
    pages: list[FacebookPage] = []
    url: str | None = _facebook_url("me/accounts")
    params: dict | None = {"fields": "id,name,access_token,tasks", "limit": 100, "access_token": user_token}
    for _ in range(MAX_PAGE_LISTINGS):
        if not url:
            break
        data = _call("GET", url, secrets=[user_token], params=params)
        for item in data.get("data") or []:
            if not isinstance(item, dict) or not item.get("id") or not item.get("access_token"):
                continue
            tasks = item.get("tasks") if isinstance(item.get("tasks"), list) else []
            pages.append(FacebookPage(id=str(item["id"])[:64], name=str(item.get("name") or item["id"])[:200],
                                      access_token=str(item["access_token"]),
                                      tasks=tuple(str(t) for t in tasks)))
        paging = data.get("paging") if isinstance(data.get("paging"), dict) else {}
        next_url = paging.get("next")
        # The next link repeats the token in its query string; only follow links back to the Graph API.
        url = next_url if isinstance(next_url, str) and next_url.startswith(settings.META_GRAPH_URL + "/") else None
        params = None
    return pages


def facebook_subscribe_page(*, page_id: str, page_token: str) -> None:
    data = _call("POST", _facebook_url(f"{page_id}/subscribed_apps"), secrets=[page_token], params={
        "subscribed_fields": ",".join(MESSENGER_WEBHOOK_FIELDS), "access_token": page_token,
    })
    if data.get("success") is not True:
        raise GraphError("Facebook did not confirm the Page's webhook subscription", kind=graph.OTHER)


# --- transport -----------------------------------------------------------------------------------------

def _facebook_url(path: str) -> str:
    return f"{settings.META_GRAPH_URL}/{settings.META_GRAPH_VERSION}/{path}"


def _required_str(data: dict, key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise GraphError(f"Meta answered without {key}", kind=graph.OTHER)
    return value


def _expires_in(data: dict) -> int | None:
    value = data.get("expires_in")
    return value if isinstance(value, int) and value > 0 else None


def _call(method: str, url: str, *, secrets: list[str], params: dict | None = None, form: dict | None = None,
          retry: bool | None = None) -> dict:
    """One OAuth call; typed errors. GETs are retried on transient failures unless retry=False."""
    scrub = [s for s in [*secrets, settings.INSTAGRAM_APP_SECRET, settings.META_APP_SECRET] if s]
    retry = method == "GET" if retry is None else retry
    attempts = settings.META_HTTP_MAX_ATTEMPTS if retry else 1
    for attempt in range(1, attempts + 1):
        try:
            return _call_once(method, url, params=params, form=form, scrub=scrub, idempotent=retry)
        except GraphError as exc:
            if exc.permanent or attempt >= attempts or (exc.retry_after or 0) > graph.INLINE_WAIT_MAX:
                raise
            wait = backoff_delay(attempt, base=graph.BACKOFF_BASE, cap=graph.BACKOFF_CAP)
            graph._sleep(max(wait, exc.retry_after or 0))
    raise AssertionError("unreachable")


def _call_once(method, url, *, params, form, scrub, idempotent) -> dict:
    def clean(text: str) -> str:
        for secret in scrub:
            text = text.replace(secret, mask(secret))
        return text[:500]

    try:
        response = graph.session().request(method, url, params=params, data=form,
                                           timeout=(graph.CONNECT_TIMEOUT, settings.META_HTTP_TIMEOUT))
    except requests.RequestException as exc:
        kind = graph.NETWORK if idempotent or isinstance(exc, requests.ConnectTimeout) else graph.AMBIGUOUS
        raise GraphError(clean(f"{type(exc).__name__}: {exc}"), kind=kind) from None
    try:
        data: Any = response.json()
    except ValueError:
        data = None
    if response.status_code < 400 and isinstance(data, dict) and "error" not in data:
        return data
    # Graph errors: {"error": {message, type, code, error_subcode}}; api.instagram.com also answers
    # {"error_type", "code", "error_message"}.
    body = data if isinstance(data, dict) else {}
    error = body.get("error") if isinstance(body.get("error"), dict) else body
    code = error.get("code") if isinstance(error.get("code"), int) else None
    subcode = error.get("error_subcode") if isinstance(error.get("error_subcode"), int) else None
    if code is not None and code == response.status_code and "error_type" in error:
        code = None  # api.instagram.com puts the HTTP status in `code`
    message = error.get("message") or error.get("error_message") or f"HTTP {response.status_code}"
    kind = graph.classify(code, subcode, response.status_code)
    retry_after = graph.usage_wait_seconds(response.headers) if kind == graph.RATE_LIMIT else None
    logger.info("meta oauth %s %s failed: %s", method, url.split("?")[0], clean(str(message)))
    raise GraphError(clean(str(message)), kind=kind, code=code, subcode=subcode, http_status=response.status_code,
                     retry_after=retry_after, fbtrace_id=str(error.get("fbtrace_id") or "")[:64])
