"""Connecting a channel through Meta's OAuth: Business Login for Instagram, Facebook Login for Pages.

The flow is started by a workspace admin, leaves for Meta's dialog, and comes back to one fixed
redirect URI per platform (Meta matches redirect URIs exactly, so they cannot carry the workspace);
that URI forwards to the workspace's own callback, which finishes here.

`state` is signed (Django signing, salted, time-limited) and names the workspace and platform; its
nonce must also match the one kept in the session that started the flow, and is consumed on first
use, so a state from another browser, another workspace, or a replay is refused.

Every HTTP call to Meta happens before anything is written: an error at any step leaves no channel
behind. The Messenger flow stops half-way for the admin to choose a Page; meanwhile the long-lived
user token waits in the (server-side) session, Fernet-encrypted, and is dropped once used.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from accounts.models import User, Workspace
from integrations import crypto
from integrations.meta import oauth
from integrations.meta.client import GraphError
from integrations.models import Channel, Platform
from integrations.services import channel_connect

STATE_SALT = "integrations.channel_oauth.state"
SESSION_FLOW = "meta_oauth_flow"
SESSION_PAGES = "meta_oauth_pages"
REQUIRED_INSTAGRAM_PERMISSION = "instagram_business_manage_messages"


class ConnectError(Exception):
    """A connect flow failed; the message is meant for the admin on the channels page."""


@dataclass(frozen=True)
class PageChoice:
    id: str
    name: str


# --- state ------------------------------------------------------------------------------------------

def redirect_uri(platform: str) -> str:
    """The fixed URI registered in the Meta app (see docs/meta-setup.md)."""
    return settings.SITE_URL + reverse(f"integrations:oauth_return_{platform}")


def oauth_flow_start(*, session, workspace: Workspace, platform: str) -> str:
    """Remember a new flow in the session and return the URL of Meta's consent dialog."""
    nonce = secrets.token_urlsafe(24)
    session[SESSION_FLOW] = {"nonce": nonce, "workspace": workspace.slug, "platform": platform}
    state = signing.dumps({"n": nonce, "w": workspace.slug, "p": platform}, salt=STATE_SALT, compress=True)
    uri = redirect_uri(platform)
    if platform == Platform.INSTAGRAM:
        return oauth.instagram_authorize_url(redirect_uri=uri, state=state)
    return oauth.facebook_authorize_url(redirect_uri=uri, state=state)


def oauth_state_workspace(*, state: str, platform: str) -> str | None:
    """The workspace slug a state names, if it is authentic and fresh (for the fixed redirect URI)."""
    try:
        data = signing.loads(state, salt=STATE_SALT, max_age=settings.META_OAUTH_STATE_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("p") != platform or not isinstance(data.get("w"), str):
        return None
    return data["w"]


def oauth_state_consume(*, session, state: str, workspace: Workspace, platform: str) -> None:
    """Check the state against this session's pending flow and end that flow (one use only)."""
    pending = session.pop(SESSION_FLOW, None)
    try:
        data = signing.loads(state or "", salt=STATE_SALT, max_age=settings.META_OAUTH_STATE_MAX_AGE)
    except signing.SignatureExpired:
        raise ConnectError("The connection attempt took too long. Please start again.") from None
    except signing.BadSignature:
        raise ConnectError("The answer from Meta could not be verified (invalid state). Please start again.") from None
    valid = (
        isinstance(pending, dict) and isinstance(data, dict)
        and data.get("w") == workspace.slug == pending.get("workspace")
        and data.get("p") == platform == pending.get("platform")
        and hmac.compare_digest(str(data.get("n", "")), str(pending.get("nonce", "")))
    )
    if not valid:
        raise ConnectError("This answer from Meta does not belong to a connection started here, or was "
                           "already used. Please start again.")


def consent_error(*, platform: str, error: str, reason: str, description: str) -> ConnectError:
    label = "Instagram" if platform == Platform.INSTAGRAM else "Facebook"
    if error == "access_denied" or reason == "user_denied":
        return ConnectError(f"{label} permission was not granted, so nothing was connected.")
    return ConnectError(f"{label} refused the connection: {(description or error)[:200]}")


def _graph_message(step: str, exc: GraphError) -> ConnectError:
    if exc.kind in {"network", "server", "temporary", "ambiguous"}:
        return ConnectError(f"Meta could not be reached while {step}; nothing was connected. Try again in a minute.")
    if exc.kind == "rate_limit":
        return ConnectError(f"Meta is rate-limiting this app while {step}; nothing was connected. Try again later.")
    return ConnectError(f"Meta refused the request while {step} ({exc.code_label}): {exc.message}")


def _ensure_not_elsewhere(*, workspace: Workspace, platform: str, account_id: str) -> None:
    if Channel.objects.filter(platform=platform, account_id=account_id).exclude(workspace=workspace).exists():
        raise ConnectError(f"This {Platform(platform).label} account is already connected to another workspace.")


# --- Instagram ----------------------------------------------------------------------------------------

def instagram_connect_finish(*, workspace: Workspace, actor: User, code: str) -> Channel:
    """code → short-lived token → 60-day token → account → webhook subscription → Channel."""
    if not code:
        raise ConnectError("Instagram answered without an authorization code. Please start again.")
    try:
        short = oauth.instagram_exchange_code(code=code, redirect_uri=redirect_uri(Platform.INSTAGRAM))
    except GraphError as exc:
        raise _graph_message("exchanging the authorization code", exc) from None
    if short.permissions and REQUIRED_INSTAGRAM_PERMISSION not in short.permissions:
        raise ConnectError("Sidekick needs the permission to manage messages; please connect again and allow it.")
    try:
        long_lived = oauth.instagram_long_lived_token(short_lived=short.access_token)
        account = oauth.instagram_account(token=long_lived.access_token)
    except GraphError as exc:
        raise _graph_message("getting a long-lived Instagram token", exc) from None
    _ensure_not_elsewhere(workspace=workspace, platform=Platform.INSTAGRAM, account_id=account.user_id)
    try:
        oauth.instagram_subscribe_webhooks(token=long_lived.access_token)
    except GraphError as exc:
        raise _graph_message("subscribing the account to webhooks", exc) from None
    expires_in = long_lived.expires_in or 60 * 24 * 3600
    try:
        return channel_connect(
            workspace=workspace, platform=Platform.INSTAGRAM, account_id=account.user_id,
            token=long_lived.access_token, name=f"@{account.username}" if account.username else account.name,
            token_expires_at=timezone.now() + timedelta(seconds=expires_in), actor=actor,
            via="instagram_login",
        )
    except ValueError as exc:
        raise ConnectError(str(exc)) from None


# --- Messenger ----------------------------------------------------------------------------------------

def messenger_pages_fetch(*, session, workspace: Workspace, code: str) -> list[PageChoice]:
    """code → user token → long-lived user token → Pages; keeps the token for the Page choice."""
    if not code:
        raise ConnectError("Facebook answered without an authorization code. Please start again.")
    try:
        short = oauth.facebook_exchange_code(code=code, redirect_uri=redirect_uri(Platform.MESSENGER))
        long_lived = oauth.facebook_long_lived_token(short_lived=short.access_token)
        pages = oauth.facebook_pages(user_token=long_lived.access_token)
    except GraphError as exc:
        raise _graph_message("reading your Facebook Pages", exc) from None
    choices = [PageChoice(id=p.id, name=p.name) for p in pages if p.can_message]
    if not choices:
        raise ConnectError("No Facebook Page you can send messages for was shared with Sidekick. Connect again "
                           "and select the Page, or ask for the Messaging task on it.")
    session[SESSION_PAGES] = {
        "workspace": workspace.slug, "issued": int(time.time()),
        "token": crypto.encrypt(long_lived.access_token),
        "pages": [{"id": c.id, "name": c.name} for c in choices],
    }
    return choices


def messenger_pages_pending(*, session, workspace: Workspace) -> list[PageChoice] | None:
    """The Pages offered by an unfinished Messenger flow of this workspace, or None."""
    pending = session.get(SESSION_PAGES)
    if not isinstance(pending, dict) or pending.get("workspace") != workspace.slug:
        return None
    if time.time() - pending.get("issued", 0) > settings.META_OAUTH_STATE_MAX_AGE:
        session.pop(SESSION_PAGES, None)
        return None
    return [PageChoice(id=p["id"], name=p["name"]) for p in pending.get("pages", [])]


def messenger_page_connect(*, session, workspace: Workspace, actor: User, page_id: str) -> Channel:
    """Connect the chosen Page: fresh Page token, webhook subscription, Channel. Ends the flow."""
    pending = session.get(SESSION_PAGES)
    offered = messenger_pages_pending(session=session, workspace=workspace)
    if offered is None or not isinstance(pending, dict):
        raise ConnectError("The Page choice expired. Please connect Messenger again.")
    if page_id not in {p.id for p in offered}:
        raise ConnectError("Choose one of the listed Pages.")
    session.pop(SESSION_PAGES, None)
    try:
        user_token = crypto.decrypt(pending["token"])
    except (crypto.DecryptionError, KeyError):
        raise ConnectError("The Page choice expired. Please connect Messenger again.") from None
    _ensure_not_elsewhere(workspace=workspace, platform=Platform.MESSENGER, account_id=page_id)
    try:
        page = next((p for p in oauth.facebook_pages(user_token=user_token) if p.id == page_id), None)
        if page is None:
            raise ConnectError("That Page is no longer available to your Facebook account.")
        oauth.facebook_subscribe_page(page_id=page.id, page_token=page.access_token)
    except GraphError as exc:
        raise _graph_message("subscribing the Page to webhooks", exc) from None
    try:
        # Page tokens derived from a long-lived user token do not expire (they can be revoked: 190).
        return channel_connect(workspace=workspace, platform=Platform.MESSENGER, account_id=page.id,
                               token=page.access_token, name=page.name, token_expires_at=None, actor=actor,
                               via="facebook_login")
    except ValueError as exc:
        raise ConnectError(str(exc)) from None
