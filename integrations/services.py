"""Writes for channels and the webhook inbox."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Membership, Role, User, Workspace
from accounts.services import audit_event_record
from integrations import relay
from integrations.meta.client import GraphClient, GraphError
from integrations.models import Channel, ChannelStatus, Platform, WebhookEvent, WebhookEventStatus

logger = logging.getLogger(__name__)

# --- webhook inbox ---------------------------------------------------------------------------------

# Every column of WebhookEvent, so the row is what a model save would write.
_EVENT_INSERT = (
    f"INSERT INTO {WebhookEvent._meta.db_table} "  # noqa: S608 - table name from the model, values bound
    "(body, signed_by, received_at, status, attempts, items_total, items_ignored, error, claimed_at, processed_at) "
    "VALUES (%b, %s, %s, %s, 0, 0, 0, %s, NULL, NULL) RETURNING id"
)


_PREPARE_ONLY_WHEN_ASKED = 2**31 - 1  # psycopg's automatic preparation after N runs, N never reached


def webhook_event_store(*, body: bytes, signed_by: str, error: str = "") -> int:
    """Keep a verified delivery durably; enqueue its processing once committed. Returns the event id.

    This is the hot path of intake (see BENCHMARKS.md), so it is one plain INSERT rather than a
    model save; the columns are those of `WebhookEvent`. The enqueue goes through the per-process
    relay (`integrations.relay`), off the request path; the sweeper covers anything the relay could
    not publish. A body that is not JSON is kept as `failed` for inspection: Meta must still get its 200.
    """
    status = WebhookEventStatus.FAILED if error else WebhookEventStatus.PENDING
    event_id = _event_insert([body, signed_by, timezone.now(), status, error])
    if status == WebhookEventStatus.PENDING:
        transaction.on_commit(lambda: relay.submit(event_id))
    return event_id


def _event_insert(params: list) -> int:
    """Run the INSERT on this thread's connection; in autocommit it is committed when this returns.

    Two costs of the ORM cursor are skipped, both once per delivery on a path that does nothing else:
    - The statement is prepared once per connection and then only bound and executed (server-side
      binding, the body sent as binary bytea): no parse or plan per INSERT, no hex-escaping.
    - No `SELECT 1` first. CONN_HEALTH_CHECKS spends a round trip per request on it; here a stale
      connection (the database restarted since the last request) shows up as an error on the INSERT
      itself, and it is retried once on a fresh connection. That retry is safe as long as
      the failed attempt cannot have committed; in the rare case where the server dies
      between committing and answering, the event is stored twice, which is what Meta's own retry
      after a 500 would do anyway: processing is idempotent (messages are keyed by mid).
    Errors still go through Django's wrapper, so a broken connection is closed at the end of the request.
    """
    import psycopg

    for attempt in (1, 2):
        reused = connection.connection is not None
        try:
            with connection.wrap_database_errors:
                connection.ensure_connection()
                raw = connection.connection
                if raw.prepare_threshold is None:
                    # Django turns preparation off (None), and then psycopg ignores prepare=True too.
                    # Django's own cursors bind client-side and never prepare whatever this says, so
                    # "only when asked" changes nothing for them.
                    raw.prepare_threshold = _PREPARE_ONLY_WHEN_ASKED
                with psycopg.Cursor(raw) as cursor:
                    cursor.execute(_EVENT_INSERT, params, prepare=True)
                    return cursor.fetchone()[0]
        except (OperationalError, InterfaceError):
            if attempt == 2 or not reused or connection.in_atomic_block:
                raise
            logger.info("webhook insert failed on a reused database connection; reconnecting once")
            connection.close()
    raise AssertionError("unreachable")


# --- channels --------------------------------------------------------------------------------------

@transaction.atomic
def channel_connect(*, workspace: Workspace, platform: str, account_id: str, token: str, name: str = "",
                    token_expires_at=None, actor: User | None = None, via: str = "token") -> Channel:
    """Connect (or reconnect with a new token) an account. An account serves one workspace at a time.

    `via` records how the token was obtained (token, instagram_login, facebook_login) in the audit log.
    """
    if platform not in Platform.values:
        raise ValueError(f"unknown platform {platform!r}")
    account_id = account_id.strip()
    if not account_id or not token:
        raise ValueError("an account id and a token are required")
    existing = Channel.objects.select_for_update().filter(platform=platform, account_id=account_id).first()
    if existing is not None and existing.workspace_id != workspace.pk:
        raise ValueError(f"this {platform} account is already connected to another workspace")
    channel = existing or Channel(workspace=workspace, platform=platform, account_id=account_id)
    channel.access_token = token
    channel.name = name or channel.name or account_id
    channel.token_expires_at = token_expires_at
    channel.token_refreshed_at = timezone.now()
    channel.status = ChannelStatus.ACTIVE
    channel.last_error = ""
    channel.connected_by = actor if actor and actor.pk else channel.connected_by
    channel.save()
    audit_event_record(verb="channel.reconnected" if existing else "channel.connected", workspace=workspace,
                       actor=actor, target=channel,
                       data={"platform": platform, "account_id": account_id, "token": channel.token_masked,
                             "via": via})
    return channel


def channel_record_graph_error(*, channel: Channel, error: GraphError) -> None:
    """Apply the channel-level consequence of a Graph error (META.md table)."""
    if error.kind == "token":
        channel_mark_reconnect_needed(channel=channel, reason=str(error))
    elif error.kind == "abusive":
        _channel_alert(channel=channel, verb="channel.blocked_abusive", reason=str(error))
    elif error.kind == "rate_limit" and error.retry_after:
        channel_throttle(channel=channel, seconds=error.retry_after)
    else:
        Channel.objects.filter(pk=channel.pk).update(last_error=str(error)[:2000], last_error_at=timezone.now())


def channel_throttle(*, channel: Channel, seconds: float) -> None:
    until = timezone.now() + timedelta(seconds=min(seconds, 24 * 3600))
    Channel.objects.filter(pk=channel.pk).filter(
        Q(rate_limited_until__isnull=True) | Q(rate_limited_until__lt=until)
    ).update(rate_limited_until=until)
    channel.rate_limited_until = until


def channel_mark_reconnect_needed(*, channel: Channel, reason: str) -> bool:
    """Stop using a dead token and tell the workspace admins, once (conditional update)."""
    changed = Channel.objects.filter(pk=channel.pk, status=ChannelStatus.ACTIVE).update(
        status=ChannelStatus.RECONNECT_NEEDED, last_error=reason[:2000], last_error_at=timezone.now(),
    )
    channel.status = ChannelStatus.RECONNECT_NEEDED
    if changed:
        _channel_alert(channel=channel, verb="channel.reconnect_needed", reason=reason)
    return bool(changed)


def _channel_alert(*, channel: Channel, verb: str, reason: str) -> None:
    Channel.objects.filter(pk=channel.pk).update(last_error=reason[:2000], last_error_at=timezone.now())
    audit_event_record(verb=verb, workspace=channel.workspace, target=channel,
                       data={"platform": channel.platform, "account_id": channel.account_id, "reason": reason[:500]})
    emails = list(Membership.objects.filter(workspace_id=channel.workspace_id, role=Role.ADMIN)
                  .values_list("user__email", flat=True))
    if not emails:
        return
    subject = f"Sidekick: {channel} needs attention"
    body = (f"{verb.replace('channel.', '').replace('_', ' ').capitalize()}: {channel} "
            f"in {channel.workspace.name}.\n\nMeta said: {reason[:500]}\n\n"
            f"Open {settings.SITE_URL}/w/{channel.workspace.slug}/settings/channels/ to reconnect or review it.\n")

    def send():
        try:
            send_mail(subject=subject, message=body, from_email=None, recipient_list=emails)
        except OSError:
            logger.warning("could not email admins about %s", channel)

    transaction.on_commit(send)


def channel_refresh_instagram_token(*, channel_id: int) -> Channel | None:
    """Exchange a long-lived Instagram token for a fresh one (60 more days)."""
    channel = Channel.objects.filter(pk=channel_id, platform=Platform.INSTAGRAM, status=ChannelStatus.ACTIVE).first()
    if channel is None or not channel.access_token:
        return None
    try:
        result = GraphClient.for_channel(channel).refresh_instagram_token()
    except GraphError as exc:
        channel_record_graph_error(channel=channel, error=exc)
        logger.warning("instagram token refresh failed for %r: %s", channel, exc)
        return channel
    now = timezone.now()
    channel.access_token = result.access_token
    channel.token_expires_at = now + timedelta(seconds=result.expires_in)
    channel.token_refreshed_at = now
    channel.save(update_fields=["access_token", "token_expires_at", "token_refreshed_at", "updated_at"])
    return channel


def channels_needing_token_refresh():
    """Instagram tokens at least 24 h old and within INSTAGRAM_TOKEN_REFRESH_DAYS of expiry."""
    now = timezone.now()
    return Channel.objects.filter(
        platform=Platform.INSTAGRAM, status=ChannelStatus.ACTIVE,
        token_expires_at__isnull=False, token_expires_at__gt=now,
        token_expires_at__lt=now + timedelta(days=settings.INSTAGRAM_TOKEN_REFRESH_DAYS),
    ).filter(Q(token_refreshed_at__isnull=True) | Q(token_refreshed_at__lt=now - timedelta(hours=24)))
