"""Apply one normalised webhook item (`integrations.meta.parser.Item`) to contacts, threads, messages.

Called by `conversations.intake.webhook_event_process` inside a transaction per item. Every
handler is idempotent, because Meta delivers duplicates and the worker may retry an event:
- messages are keyed by (channel, mid), so a second delivery finds the first row;
- thread and contact timestamps only move forward (GREATEST), counters only change on creation;
- edits, deletes and reactions are re-applied to the same end state.

Order is not guaranteed either. An edit or delete may arrive before the message it changes: a
placeholder row is created with the newest state and the original fills it in later without
undoing the edit or the deletion.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone

from contacts.models import Contact
from contacts.services import contact_get_or_create, contact_record_inbound
from conversations import replies
from conversations.escalations import thread_pause
from conversations.models import Direction, Message, MessageKind, SenderKind, SendStatus, Thread, ThreadStatus
from integrations.meta import parser
from integrations.meta.parser import Item

PLACEHOLDER = "placeholder"


def item_apply(*, channel, item: Item, received_at: datetime) -> str:
    """Apply ``item``; returns a short outcome label ("created", "duplicate", "ignored", ...)."""
    handler = _HANDLERS.get(item.kind)
    if handler is None or not item.contact_id:
        return "ignored"
    return handler(channel, item, item.timestamp or received_at)


def thread_get_or_create(*, channel, contact: Contact) -> Thread:
    thread, _ = Thread.objects.get_or_create(
        channel=channel, contact=contact, defaults={"workspace_id": channel.workspace_id},
    )
    return thread


def _participants(channel, item: Item) -> tuple[Contact, Thread]:
    contact, _ = contact_get_or_create(channel=channel, external_id=item.contact_id)
    return contact, thread_get_or_create(channel=channel, contact=contact)


def _touch_thread(thread: Thread, *, at: datetime, inbound: bool = False, outbound: bool = False,
                  unread: bool = False, standby: bool | None = None) -> None:
    updates: dict = {"last_message_at": Greatest("last_message_at", at)}
    if inbound:
        updates["last_inbound_at"] = Greatest("last_inbound_at", at)
        # The contact wrote again: a resolved or snoozed thread is open again (in the same statement).
        updates["status"], updates["snoozed_until"] = ThreadStatus.OPEN, None
    if outbound:
        updates["last_outbound_at"] = Greatest("last_outbound_at", at)
    if unread:
        updates["unread_count"] = F("unread_count") + 1
    if standby is not None:
        # Messages on the standby channel mean another app owns the thread; on the primary, we do.
        updates["app_has_control"] = not standby
    Thread.objects.filter(pk=thread.pk).update(**updates)


def _inbound_fields(item: Item) -> dict:
    extra = {}
    if item.referral:
        extra["referral"] = item.referral
    if item.title:
        extra["title"] = item.title
    if item.kind == parser.POSTBACK:
        kind = MessageKind.POSTBACK
    elif item.is_unsupported:
        kind = MessageKind.UNSUPPORTED
    else:
        kind = MessageKind.MESSAGE
    return {
        "kind": kind,
        "text": item.text or item.title,
        "attachments": item.attachments,
        "payload": item.quick_reply_payload or item.payload,
        "reply_to_mid": item.reply_to_mid,
        "extra": extra,
        "standby": item.standby,
    }


def _postback_mid(item: Item) -> str:
    """Older postbacks carry no mid: derive a stable one so redeliveries still deduplicate."""
    if item.mid:
        return item.mid
    stamp = int(item.timestamp.timestamp() * 1000) if item.timestamp else 0
    digest = hashlib.sha256(f"{item.contact_id}|{stamp}|{item.payload}|{item.title}".encode()).hexdigest()[:32]
    return f"postback:{digest}"


def _apply_inbound(channel, item: Item, at: datetime) -> str:
    contact, thread = _participants(channel, item)
    mid = _postback_mid(item) if item.kind == parser.POSTBACK else item.mid
    fields = _inbound_fields(item)
    message, created = Message.objects.get_or_create(
        channel=channel, mid=mid,
        defaults={"workspace_id": channel.workspace_id, "thread": thread, "direction": Direction.IN,
                  "sender_kind": SenderKind.CONTACT, "sent_at": at, **fields},
    )
    if not created:
        if not message.extra.get(PLACEHOLDER):
            return "duplicate"
        _fill_placeholder(message, fields, at)
    contact_record_inbound(contact=contact, at=at)
    _touch_thread(thread, at=at, inbound=True, unread=not message.is_deleted, standby=item.standby)
    if not message.is_deleted:
        message_id = message.pk
        transaction.on_commit(lambda: replies.reply_enqueue(message_id=message_id))
    return "created"


def _fill_placeholder(message: Message, fields: dict, at: datetime) -> None:
    """The original of a message whose edit or deletion arrived first."""
    message = Message.objects.select_for_update().get(pk=message.pk)
    message.extra = {k: v for k, v in {**fields["extra"], **message.extra}.items() if k != PLACEHOLDER}
    message.sent_at = at
    update = ["extra", "sent_at"]
    if not message.is_deleted:
        original = fields["text"]
        if message.num_edit and original != message.text:
            message.edit_history = [{"text": original, "replaced_at": None}, *message.edit_history]
        message.attachments = fields["attachments"]
        message.kind, message.payload, message.reply_to_mid = fields["kind"], fields["payload"], fields["reply_to_mid"]
        update += ["edit_history", "attachments", "kind", "payload", "reply_to_mid"]
    message.save(update_fields=update)


def _apply_echo(channel, item: Item, at: datetime) -> str:
    """A message the business sent: ours (match it, never duplicate) or from elsewhere (record it)."""
    contact, thread = _participants(channel, item)
    now = timezone.now()
    existing = Message.objects.select_for_update().filter(channel=channel, mid=item.mid).first()
    if existing is not None:
        if existing.direction == Direction.OUT and existing.echo_received_at is None:
            _confirm_sent(existing, at=now)
        return "duplicate"
    # The echo of our own send can beat the Send API's answer (the row has no mid yet), and it is the
    # evidence that settles a send whose outcome was unknown. Match by thread and exact text.
    ours = (
        Message.objects.select_for_update()
        .filter(thread=thread, direction=Direction.OUT, mid__isnull=True, text=item.text,
                send_status__in=[SendStatus.SENDING, SendStatus.UNKNOWN])
        .order_by("claimed_at", "pk").first()
    )
    if ours is not None:
        ours.mid = item.mid
        _confirm_sent(ours, at=now, extra_fields=["mid"])
        return "matched"
    Message.objects.create(
        workspace_id=channel.workspace_id, thread=thread, channel=channel, mid=item.mid,
        direction=Direction.OUT, sender_kind=SenderKind.META_INBOX, text=item.text, attachments=item.attachments,
        extra={"app_id": item.app_id} if item.app_id else {}, standby=item.standby, sent_at=at,
        echo_received_at=now,
    )
    _touch_thread(thread, at=at, outbound=True)
    if not _is_our_app(item.app_id):
        # Someone on the team answered from the Meta inbox (or another tool): they have the thread now.
        thread_pause(thread_id=thread.pk, reason="a setter replied outside Sidekick")
    return "created"


def _is_our_app(app_id: str) -> bool:
    ours = {settings.META_APP_ID, settings.INSTAGRAM_APP_ID} - {"", None}
    return bool(app_id) and app_id in ours


def _confirm_sent(message: Message, *, at: datetime, extra_fields: list[str] | None = None) -> None:
    message.echo_received_at = at
    fields = ["echo_received_at", *(extra_fields or [])]
    if message.send_status in (SendStatus.SENDING, SendStatus.UNKNOWN, SendStatus.PENDING):
        was_unknown = message.send_status == SendStatus.UNKNOWN
        message.send_status = SendStatus.SENT
        fields += ["send_status"]
        if was_unknown:
            Thread.objects.filter(pk=message.thread_id, needs_human_reason="send_unknown").update(
                needs_human=False, needs_human_reason="")
    message.save(update_fields=fields)


def _placeholder(channel, item: Item, thread: Thread, at: datetime, **fields) -> Message:
    direction = Direction.OUT if item.from_business else Direction.IN
    message, _ = Message.objects.get_or_create(
        channel=channel, mid=item.mid,
        defaults={"workspace_id": channel.workspace_id, "thread": thread, "direction": direction,
                  "sender_kind": SenderKind.META_INBOX if item.from_business else SenderKind.CONTACT,
                  "sent_at": at, "extra": {PLACEHOLDER: True}, **fields},
    )
    return message


def _apply_edit(channel, item: Item, at: datetime) -> str:
    contact, thread = _participants(channel, item)
    message = Message.objects.select_for_update().filter(channel=channel, mid=item.mid).first()
    if message is None:
        _placeholder(channel, item, thread, at, text=item.text, num_edit=max(item.num_edit, 1))
        return "created"
    if message.is_deleted or message.text == item.text or (item.num_edit and item.num_edit <= message.num_edit):
        return "duplicate"
    message.edit_history = [*message.edit_history, {"text": message.text, "replaced_at": at.isoformat()}]
    message.text = item.text
    message.num_edit = item.num_edit or message.num_edit + 1
    message.save(update_fields=["edit_history", "text", "num_edit"])
    return "updated"


def _apply_delete(channel, item: Item, at: datetime) -> str:
    contact, thread = _participants(channel, item)
    message = Message.objects.select_for_update().filter(channel=channel, mid=item.mid).first()
    if message is None:
        _placeholder(channel, item, thread, at, is_deleted=True, deleted_at=at)
        return "created"
    if message.is_deleted:
        return "duplicate"
    # The sender unsent it: keep the row (thread history, reactions) but not the content.
    message.is_deleted, message.deleted_at = True, at
    message.text, message.attachments, message.edit_history = "", [], []
    message.save(update_fields=["is_deleted", "deleted_at", "text", "attachments", "edit_history"])
    if message.direction == Direction.IN:
        Thread.objects.filter(pk=thread.pk, unread_count__gt=0).update(unread_count=F("unread_count") - 1)
    return "updated"


def _apply_reaction(channel, item: Item, at: datetime) -> str:
    message = Message.objects.select_for_update().filter(channel=channel, mid=item.mid).first()
    if message is None:
        return "ignored"  # a reaction to a message we never stored (e.g. older than the connection)
    reactor = item.contact_id if not item.from_business else channel.account_id
    reactions = dict(message.reactions)
    if item.reaction_action == "react":
        reactions[reactor] = item.emoji or "?"
    else:
        reactions.pop(reactor, None)
    if reactions == message.reactions:
        return "duplicate"
    message.reactions = reactions
    message.save(update_fields=["reactions"])
    return "updated"


def _apply_read(channel, item: Item, at: datetime) -> str:
    thread = Thread.objects.filter(channel=channel, contact__external_id=item.contact_id).first()
    if thread is None:
        return "ignored"
    until = item.watermark
    if until is None and item.mid:
        target = Message.objects.filter(channel=channel, mid=item.mid).values_list("sent_at", flat=True).first()
        until = target
    if until is None:
        until = at
    outbound = Message.objects.filter(thread=thread, direction=Direction.OUT, sent_at__lte=until)
    outbound.filter(read_at__isnull=True).update(read_at=at)
    outbound.filter(delivered_at__isnull=True).update(delivered_at=at)
    Thread.objects.filter(pk=thread.pk).update(contact_read_at=Greatest("contact_read_at", until))
    return "updated"


def _apply_delivery(channel, item: Item, at: datetime) -> str:
    condition = Q(mid__in=item.mids) if item.mids else Q(pk__in=[])
    if item.watermark is not None:
        thread = Thread.objects.filter(channel=channel, contact__external_id=item.contact_id).first()
        if thread is not None:
            condition |= Q(thread=thread, sent_at__lte=item.watermark)
    Message.objects.filter(condition, channel=channel, direction=Direction.OUT, delivered_at__isnull=True).update(
        delivered_at=at)
    return "updated"


def _apply_handover(channel, item: Item, at: datetime) -> str:
    contact, thread = _participants(channel, item)
    if item.handover == "pass_thread_control":
        Thread.objects.filter(pk=thread.pk).update(app_has_control=True)
    elif item.handover == "take_thread_control":
        Thread.objects.filter(pk=thread.pk).update(app_has_control=False)
    else:  # request_thread_control: another app asks for the thread; a human decides
        Thread.objects.filter(pk=thread.pk).update(
            needs_human=True, needs_human_reason="control_requested", needs_human_at=timezone.now())
    return "updated"


_HANDLERS = {
    parser.MESSAGE: _apply_inbound,
    parser.POSTBACK: _apply_inbound,
    parser.ECHO: _apply_echo,
    parser.EDIT: _apply_edit,
    parser.DELETE: _apply_delete,
    parser.REACTION: _apply_reaction,
    parser.READ: _apply_read,
    parser.DELIVERY: _apply_delivery,
    parser.HANDOVER: _apply_handover,
}
