"""Outbound messages: create a row, then send it at most once.

How a send stays at-most-once
-----------------------------
1. `outbound_message_create` writes the row first (`send_status=pending`) with a unique
   `idempotency_key`; creating twice with the same key returns the same row. The send task is
   enqueued after commit (and the sweeper re-enqueues pending rows if that is lost). The reply
   pipeline instead sends inline, in its own task right after its commit (`enqueue=False`); a
   crash between that commit and the send leaves the row `pending`, which the same sweeper picks up.
2. `message_send` claims the row with a conditional update `pending → sending` (recording
   `claimed_at` and the attempt). Zero rows updated means another worker has it or it is settled:
   return. Only the claimant makes the HTTP call, and only after the claim is committed.
3. The outcome is written back: `sent` with Meta's message id in `mid`; `pending` again with
   `next_attempt_at` when Meta answered with a retryable error (it answered, so nothing went out);
   `failed` for permanent errors.
4. If the worker dies between claim and outcome, the row stays `sending`. We cannot know whether
   Meta got the request, so the sweeper never re-sends it: after META_SEND_STUCK_SECONDS it marks
   the row `unknown` and flags the thread for a human. The same happens when the request may have
   left but no answer came back (read timeout, connection dropped). Meta's echo of the message
   settles the doubt: `conversations.ingest` matches an echo without a known mid to a
   `sending`/`unknown` row of the same thread with the same text and marks it `sent`. A human can
   re-queue an `unknown` row explicitly (`outbound_message_retry`) after checking the thread.

We chose "unknown + echo" over blind retry because a duplicate DM to a lead is visible and
embarrassing, while a delayed one after a worker crash is rare and gets a human's attention.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import CharField, DateTimeField, F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from conversations import escalations
from conversations.action_log import SETTLED_ACTIONS, action_log_settle
from conversations.models import Direction, Disposition, Message, SenderKind, SendStatus, Thread
from integrations.meta import client as graph
from integrations.meta.client import GraphClient, GraphError
from integrations.meta.limits import fit_text, send_window
from integrations.services import channel_record_graph_error, channel_throttle
from sidekick_project.backoff import backoff_delay
from sidekick_project.db import savepoint_if_in_transaction
from sidekick_project.enqueue import task_enqueue

logger = logging.getLogger(__name__)

SEND_BACKOFF_BASE = 30  # seconds; doubled per attempt, with jitter, between sweeper retries
SEND_BACKOFF_CAP = 15 * 60


class SendRefused(ValueError):
    """The message cannot be created (empty text, wrong sender kind)."""


def outbound_message_create(*, thread: Thread, text: str, sender_kind: str, sent_by=None,
                            disposition: str | None = None, idempotency_key: str | None = None,
                            enqueue: bool = True) -> Message:
    """Create an outbound row (text cut to the platform limit) and enqueue its send after commit.

    ``idempotency_key`` makes creation idempotent: the reply pipeline passes e.g.
    ``f"reply:{inbound_message_id}"`` so a retried pipeline step cannot create a second reply.
    ``enqueue=False``: no send task; the caller calls `message_send` itself once the row is committed
    (the reply pipeline does, in the same task). If it never gets there, `outbound_messages_sweep`
    enqueues the row when it is 30 s old.
    """
    if sender_kind not in (SenderKind.AI, SenderKind.SETTER):
        raise SendRefused(f"Sidekick sends as ai or setter, not {sender_kind!r}")
    if disposition is not None and (sender_kind != SenderKind.SETTER or disposition not in Disposition.values):
        raise SendRefused("a disposition is only for setter-sent AI drafts (approved or edited)")
    channel = thread.channel
    text = fit_text(text or "", channel.platform)
    if not text:
        raise SendRefused("nothing to send")
    key = idempotency_key or f"msg:{uuid.uuid4().hex}"
    # Insert first, look up on conflict: the usual case (a new key) is one statement, not get_or_create's
    # SELECT, INSERT and savepoints. In autocommit the INSERT is its own transaction, so the send is
    # enqueued at once; inside a caller's transaction, on its commit.
    try:
        with savepoint_if_in_transaction():
            message = Message.objects.create(
                idempotency_key=key, workspace_id=thread.workspace_id, thread=thread, channel=channel,
                direction=Direction.OUT, sender_kind=sender_kind, sent_by=sent_by, disposition=disposition,
                text=text, send_status=SendStatus.PENDING,
            )
    except IntegrityError:
        existing = Message.objects.filter(idempotency_key=key).first()
        if existing is None:
            raise  # another constraint
        return existing
    if enqueue:
        transaction.on_commit(lambda: outbound_message_enqueue(message_id=message.pk))
    return message


def outbound_message_enqueue(*, message_id: int) -> bool:
    from conversations.tasks import send_message  # the task module imports this one

    return task_enqueue(send_message, args=[message_id])  # broker down: the sweeper re-enqueues pending rows


def _is_human(message: Message) -> bool:
    """A setter's own words. An AI draft approved unchanged is still automated content."""
    return message.sender_kind == SenderKind.SETTER and message.disposition != Disposition.APPROVED


def message_send(*, message_id: int, loaded: Message | None = None) -> Message | None:
    """Claim and send one outbound message (see the module docstring). Returns it, or None if not ours.

    The outcome is copied onto Sidekick's action log (result, Meta's message id): for a sent message
    in the same transaction that records the send, otherwise right after.

    ``loaded``: the row as its creator just committed it, with its channel, thread and contact read in
    that transaction (the reply pipeline reads them under the thread's row lock). It spares the re-read
    after the claim; the claim itself still decides, so a row sent or claimed meanwhile is left alone.
    """
    message = _message_send(message_id, loaded)
    if message is not None and message.send_status != SendStatus.SENT:
        action_log_settle(message)
        _draft_decision_settle(message)
    return message


def _draft_decision_settle(message: Message) -> None:
    """A draft decided "send" whose send then failed or went into doubt must not read `sent`.

    The decision commits before the send (the reply goes out from the same task, after the commit), so
    it is corrected here: `escalated` when a human was flagged (window closed, token, 551, unknown),
    `blocked` otherwise (opted out, paused, another app in control), with the send's error as the reason.
    """
    from conversations.models import Decision, ReplyDraft

    if message.send_status not in (SendStatus.FAILED, SendStatus.UNKNOWN):
        return
    escalated = getattr(message, "escalated_for", None)  # set by _fail / _mark_unknown
    reason = escalated or message.error_code or "send_failed"
    ReplyDraft.objects.filter(outbound_message_id=message.pk, decision__in=[Decision.SENT, Decision.FAQ_ANSWERED]
                              ).update(decision=Decision.ESCALATED if escalated else Decision.BLOCKED,
                                       reason_code=reason[:40])


def _message_send(message_id: int, loaded: Message | None = None) -> Message | None:
    now = timezone.now()
    claimed = Message.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
        pk=message_id, direction=Direction.OUT, send_status=SendStatus.PENDING,
    ).update(send_status=SendStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    if not claimed:
        return None
    if loaded is not None and loaded.pk == message_id:
        message = loaded  # what the claim just wrote, applied to the caller's copy
        message.send_status, message.claimed_at, message.attempts = SendStatus.SENDING, now, message.attempts + 1
    else:
        # Not the thread's search document (every word of the conversation, unused here).
        message = (Message.objects.select_related("channel", "thread__contact").defer("thread__search_vector")
                   .get(pk=message_id))
    channel, thread = message.channel, message.thread
    contact = thread.contact

    # Checks before any HTTP: failing here can never double-send.
    if not channel.can_send:
        return _fail(message, code="channel_inactive", error=f"channel is {channel.get_status_display().lower()}",
                     escalate="channel_inactive")
    if channel.rate_limited_until and channel.rate_limited_until > now:
        return _defer(message, until=channel.rate_limited_until, error="channel rate-limited", count_attempt=False)
    if contact.opted_out:  # whoever writes it: the contact asked for no more messages
        return _fail(message, code="opted_out", error="the contact opted out of messages", escalate=None)
    if message.sender_kind == SenderKind.AI:
        blocked = ("ai_paused" if thread.ai_paused else "other_app_in_control" if not thread.app_has_control else "")
        if blocked:
            return _fail(message, code=blocked, error=f"automatic send blocked: {blocked}", escalate=None)
    window = send_window(platform=channel.platform, last_inbound_at=thread.last_inbound_at, now=now,
                         human=_is_human(message), human_agent_enabled=channel.human_agent_enabled)
    if not window.allowed:
        return _fail(message, code="window_closed", error=window.reason, escalate="window_closed")

    client = GraphClient.for_channel(channel)
    try:
        result = client.send_text(recipient_id=contact.external_id, text=message.text, tag=window.tag)
    except GraphError as exc:
        return _handle_error(message, exc)
    finally:
        if client.throttle_seconds:
            channel_throttle(channel=channel, seconds=client.throttle_seconds)
    return _record_sent(message, mid=result.message_id,
                        messaging_type=f"MESSAGE_TAG:{window.tag}" if window.tag else "RESPONSE")


def _record_sent(message: Message, *, mid: str, messaging_type: str) -> Message:
    """Record Meta's answer, the thread's activity and the action log's outcome, all or nothing.

    No row lock: the only other writer of this row meanwhile is the echo matcher in ingest, which may
    already have set `mid` and `echo_received_at`; the update keeps what it set (COALESCE).
    The usual case (no other row holds this mid) is one statement; the rest in `_record_sent_contested`.
    """
    now = timezone.now()
    settled_mid = _record_sent_at_once(message, mid=mid, messaging_type=messaging_type, now=now)
    if settled_mid is None:
        return _record_sent_contested(message, mid=mid, messaging_type=messaging_type, now=now)
    message.mid = settled_mid
    message.send_status, message.messaging_type, message.sent_at = SendStatus.SENT, messaging_type, now
    message.last_error = message.error_code = ""
    return message


def _record_sent_at_once(message: Message, *, mid: str, messaging_type: str, now) -> str | None:
    """The message, its thread and its action log rows in one statement (one round trip on the reply's hot
    path instead of BEGIN, three UPDATEs and COMMIT). Returns the stored mid, or None when another row
    already holds `mid` (nothing is written then)."""
    from conversations.models import SidekickActionLog

    qn = connection.ops.quote_name
    messages, threads = qn(Message._meta.db_table), qn(Thread._meta.db_table)
    logs = qn(SidekickActionLog._meta.db_table)
    # A setter's own send also marks the thread read (as _record_sent_contested does).
    unread = ", unread_count = 0" if message.sender_kind == SenderKind.SETTER else ""
    with connection.cursor() as cursor:
        cursor.execute(f"""
            WITH sent AS (
                UPDATE {messages} SET mid = COALESCE(mid, %(mid)s), send_status = %(sent)s,
                       messaging_type = %(messaging_type)s, sent_at = %(now)s, last_error = '', error_code = ''
                WHERE id = %(id)s AND NOT EXISTS (
                    SELECT 1 FROM {messages} other WHERE other.channel_id = %(channel)s AND other.mid = %(mid)s
                                                         AND other.id <> %(id)s)
                RETURNING id, thread_id, mid
            ), thread AS (
                UPDATE {threads} SET last_message_at = %(now)s, last_outbound_at = %(now)s{unread}
                WHERE id IN (SELECT thread_id FROM sent)
            ), log AS (
                UPDATE {logs} SET result = 'sent', graph_message_id = sent.mid FROM sent
                WHERE {logs}.message_id = sent.id AND {logs}.action = ANY(%(actions)s)
            )
            SELECT mid FROM sent
        """, {"mid": mid, "sent": SendStatus.SENT, "messaging_type": messaging_type, "now": now,  # noqa: S608
              "id": message.pk, "channel": message.channel_id, "actions": list(SETTLED_ACTIONS)})
        row = cursor.fetchone()
    return row[0] if row else None


@transaction.atomic
def _record_sent_contested(message: Message, *, mid: str, messaging_type: str, now) -> Message:
    """Another row holds Meta's mid for this send: fold it in if it is our own echo, else keep ours mid-less."""
    fields = {"send_status": SendStatus.SENT, "messaging_type": messaging_type, "sent_at": now, "last_error": "",
              "error_code": ""}
    echo_at = None
    # If the echo beat this answer and could not be matched (text differed), it was stored as a
    # message from outside Sidekick: it is this one, so fold it in.
    duplicate = Message.objects.filter(channel_id=message.channel_id, mid=mid).exclude(pk=message.pk).first()
    if duplicate is not None and duplicate.sender_kind == SenderKind.META_INBOX and duplicate.idempotency_key is None:
        echo_at = duplicate.echo_received_at
        duplicate.delete()
    elif duplicate is not None:
        logger.error("message %s: Meta returned mid %s already held by message %s", message.pk, mid, duplicate.pk)
        mid = None
    Message.objects.filter(pk=message.pk).update(
        mid=Coalesce("mid", Value(mid, output_field=CharField())), **fields,
        echo_received_at=Coalesce("echo_received_at", Value(echo_at, output_field=DateTimeField())),
    )
    message.mid = message.mid or mid
    message.send_status, message.messaging_type, message.sent_at = SendStatus.SENT, messaging_type, now
    message.last_error = message.error_code = ""
    message.echo_received_at = message.echo_received_at or echo_at
    Thread.objects.filter(pk=message.thread_id).update(
        last_message_at=now, last_outbound_at=now,
        **({"unread_count": 0} if message.sender_kind == SenderKind.SETTER else {}),
    )
    action_log_settle(message)
    return message


def _handle_error(message: Message, exc: GraphError) -> Message:
    channel = message.channel
    if exc.kind in (graph.TOKEN, graph.ABUSIVE, graph.RATE_LIMIT):
        channel_record_graph_error(channel=channel, error=exc)
    if exc.kind == graph.AMBIGUOUS:
        return _mark_unknown(message, error=str(exc))
    if exc.kind == graph.RATE_LIMIT and exc.retry_after:
        return _defer(message, until=timezone.now() + timedelta(seconds=exc.retry_after), error=str(exc),
                      code=exc.code_label)
    if not exc.permanent:
        return _defer(message, until=timezone.now() + _backoff(message.attempts), error=str(exc), code=exc.code_label)
    if exc.kind == graph.THREAD_CONTROL:
        Thread.objects.filter(pk=message.thread_id).update(app_has_control=False)
    escalate = {graph.WINDOW: "window_closed", graph.TOKEN: "channel_inactive", graph.THREAD_CONTROL: None,
                graph.CANNOT_RECEIVE: None}.get(exc.kind, "send_failed")
    if exc.code == 551:  # "this person isn't available right now": someone should try later or elsewhere
        escalate = "recipient_unavailable"
    return _fail(message, code=exc.code_label, error=str(exc), escalate=escalate)


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=backoff_delay(attempts, base=SEND_BACKOFF_BASE, cap=SEND_BACKOFF_CAP, jitter="equal"))


def _defer(message: Message, *, until, error: str, code: str = "", count_attempt: bool = True) -> Message:
    if count_attempt and message.attempts >= settings.META_SEND_MAX_ATTEMPTS:
        return _fail(message, code=code or "retries_exhausted", error=f"gave up after {message.attempts} attempts: {error}",
                     escalate="send_failed")
    Message.objects.filter(pk=message.pk, send_status=SendStatus.SENDING).update(
        send_status=SendStatus.PENDING, next_attempt_at=until, last_error=error[:2000], error_code=code[:40],
        **({} if count_attempt else {"attempts": F("attempts") - 1}),
    )
    message.refresh_from_db()
    return message


def _fail(message: Message, *, code: str, error: str, escalate: str | None) -> Message:
    Message.objects.filter(pk=message.pk, send_status__in=[SendStatus.SENDING, SendStatus.UNKNOWN]).update(
        send_status=SendStatus.FAILED, last_error=error[:2000], error_code=code[:40])
    message.refresh_from_db()
    message.escalated_for = escalate
    if escalate:
        thread_flag_for_human(thread_id=message.thread_id, reason=escalate, message_id=message.pk)
    return message


def _mark_unknown(message: Message, *, error: str) -> Message:
    updated = Message.objects.filter(pk=message.pk, send_status=SendStatus.SENDING).update(
        send_status=SendStatus.UNKNOWN, last_error=error[:2000], error_code="unknown")
    if updated:
        thread_flag_for_human(thread_id=message.thread_id, reason="send_unknown", message_id=message.pk)
    message.refresh_from_db()
    message.escalated_for = "send_unknown"
    return message


def thread_flag_for_human(*, thread_id: int, reason: str, message_id: int | None = None) -> None:
    """Raise the thread's needs-human flag and open an escalation (after commit)."""
    Thread.objects.filter(pk=thread_id).update(needs_human=True, needs_human_reason=reason[:200],
                                               needs_human_at=timezone.now())
    transaction.on_commit(lambda: escalations.escalation_open_after_send(
        thread_id=thread_id, reason=reason, message_id=message_id))


def outbound_message_retry(*, message: Message, actor) -> bool:
    """A human decided an `unknown` or `failed` message was not delivered: send it again."""
    updated = Message.objects.filter(pk=message.pk, send_status__in=[SendStatus.UNKNOWN, SendStatus.FAILED]).update(
        send_status=SendStatus.PENDING, next_attempt_at=None, last_error="", error_code="", attempts=0)
    if updated:
        transaction.on_commit(lambda: outbound_message_enqueue(message_id=message.pk))
    return bool(updated)


def outbound_messages_sweep(*, limit: int = 500) -> dict:
    """Re-enqueue due pending sends; mark sends stuck in `sending` as `unknown` (never re-send them)."""
    now = timezone.now()
    stuck_ids = list(Message.objects.filter(
        send_status=SendStatus.SENDING, claimed_at__lt=now - timedelta(seconds=settings.META_SEND_STUCK_SECONDS),
    ).values_list("pk", flat=True)[:limit])
    for message_id in stuck_ids:
        message = Message.objects.get(pk=message_id)
        _mark_unknown(message, error="the worker stopped after claiming this send; delivery is unknown")
        _draft_decision_settle(message)
    due = list(Message.objects.filter(
        Q(next_attempt_at__lte=now) | Q(next_attempt_at__isnull=True, created_at__lt=now - timedelta(seconds=30)),
        send_status=SendStatus.PENDING,
    ).order_by("created_at").values_list("pk", flat=True)[:limit])
    enqueued = sum(1 for message_id in due if outbound_message_enqueue(message_id=message_id))
    return {"enqueued": enqueued, "unknown": len(stuck_ids)}
