"""Meta webhook payload → normalised items. Pure functions: no database, no settings, no I/O.

The parser is total: whatever JSON comes in, it returns a list of `Item`s and never raises (a
property test holds it to that). Shapes it does not recognise become `unknown` items, which the
worker counts and ignores. It is defensive about what Meta documents loosely:
- ids may be numbers or strings (and large numbers may come as floats);
- timestamps may be numbers or strings, in milliseconds or seconds;
- strings may contain NUL or lone surrogates, which Postgres refuses: they are scrubbed here;
- lengths are bounded to what the columns hold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

MESSAGE = "message"
ECHO = "echo"
EDIT = "edit"
DELETE = "delete"
REACTION = "reaction"
POSTBACK = "postback"
READ = "read"
DELIVERY = "delivery"
HANDOVER = "handover"
UNKNOWN = "unknown"

OBJECT_PLATFORM = {"instagram": "instagram", "page": "messenger"}
HANDOVER_KEYS = ("pass_thread_control", "take_thread_control", "request_thread_control")

MAX_ID = 255  # message ids
MAX_ACCOUNT_ID = 64  # page / account / user ids (Contact.external_id, Channel.account_id)
MAX_TEXT = 20_000
MAX_PAYLOAD = 1000
MAX_ATTACHMENTS = 20
MAX_JSON_DEPTH = 8
# Seconds-vs-milliseconds: 1e11 s is the year 5138, 1e11 ms is 1973.
MS_THRESHOLD = 100_000_000_000
MIN_TS = datetime(2000, 1, 1, tzinfo=UTC).timestamp()
MAX_TS = datetime(2100, 1, 1, tzinfo=UTC).timestamp()


@dataclass(frozen=True)
class Item:
    kind: str
    platform: str | None = None
    account_id: str | None = None
    # The person on the other side: sender for what they do, recipient for echoes of our messages.
    contact_id: str | None = None
    timestamp: datetime | None = None
    standby: bool = False
    # Sent by the business account (echoes, the business editing or unsending its own message).
    from_business: bool = False
    mid: str = ""
    text: str = ""
    attachments: list[dict] = field(default_factory=list)
    quick_reply_payload: str = ""
    payload: str = ""
    title: str = ""
    reply_to_mid: str = ""
    referral: dict | None = None
    is_unsupported: bool = False
    app_id: str = ""
    num_edit: int = 0
    emoji: str = ""
    reaction_action: str = ""
    watermark: datetime | None = None
    mids: tuple[str, ...] = ()
    handover: str = ""
    handover_data: dict = field(default_factory=dict)
    reason: str = ""


# --- scalar helpers -------------------------------------------------------------------------------

def clean_str(value: Any, limit: int = MAX_TEXT) -> str:
    """A string Postgres accepts (no NUL, no lone surrogates), at most ``limit`` characters.

    A NUL becomes a space (it separated two words: "nul\\0inside" is "nul inside"). A lone surrogate
    (half of an emoji's escape) is dropped: it stands for no character, and a "?" in its place was
    answered by the AI as a question."""
    if not isinstance(value, str):
        return ""
    value = value.replace("\x00", " ")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "ignore").decode("utf-8")
    return value[:limit]


def clean_json(value: Any, depth: int = 0) -> Any:
    """A JSON value safe for a jsonb column: strings scrubbed, depth and size bounded."""
    if depth > MAX_JSON_DEPTH:
        return None
    if isinstance(value, str):
        return clean_str(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**63 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {clean_str(k, 200): clean_json(v, depth + 1) for k, v in list(value.items())[:100]}
    if isinstance(value, list):
        return [clean_json(v, depth + 1) for v in value[:100]]
    return None


def parse_id(value: Any, limit: int = MAX_ID) -> str | None:
    """Meta ids arrive as strings or numbers; floats only when they are whole. None if over ``limit``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        value = int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, str):
        value = clean_str(value.strip(), limit + 1)
        return value if 0 < len(value) <= limit else None
    return None


def parse_timestamp(value: Any) -> datetime | None:
    """Milliseconds or seconds since the epoch, as a number or a numeric string; None if implausible."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, int | float):
        return None
    try:
        seconds = float(value)
    except OverflowError:
        return None
    if not math.isfinite(seconds):
        return None
    if abs(seconds) >= MS_THRESHOLD:
        seconds /= 1000.0
    if not MIN_TS <= seconds <= MAX_TS:
        return None
    return datetime.fromtimestamp(seconds, tz=UTC)


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _int(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(0, min(value, 10_000))
    if isinstance(value, str) and value.strip().isdigit():
        return min(int(value.strip()[:6]), 10_000)
    return 0


# --- payload structure ----------------------------------------------------------------------------

def parse_payload(data: Any) -> list[Item]:
    """Every item in one webhook body, in payload order (callers must not rely on that order)."""
    if not isinstance(data, dict):
        return [Item(UNKNOWN, reason="body is not a JSON object")]
    platform = OBJECT_PLATFORM.get(data.get("object")) if isinstance(data.get("object"), str) else None
    entries = data.get("entry")
    if not isinstance(entries, list):
        return [Item(UNKNOWN, platform=platform, reason="no entry list")]
    items: list[Item] = []
    for entry in entries:
        items.extend(parse_entry(entry, platform))
    return items


def parse_entry(entry: Any, platform: str | None) -> list[Item]:
    if not isinstance(entry, dict):
        return [Item(UNKNOWN, platform=platform, reason="entry is not an object")]
    account_id = parse_id(entry.get("id"), MAX_ACCOUNT_ID)
    items = []
    for key, standby in (("messaging", False), ("standby", True)):
        for raw in _list(entry.get(key)):
            items.append(parse_messaging(raw, platform=platform, account_id=account_id, standby=standby))
    # Field-style webhooks (comments, mentions, ...) are not DMs: kept in the raw event, ignored.
    for change in _list(entry.get("changes")):
        field_name = clean_str(_dict(change).get("field"), 64)
        items.append(Item(UNKNOWN, platform=platform, account_id=account_id, reason=f"change:{field_name}"))
    if not items:
        items.append(Item(UNKNOWN, platform=platform, account_id=account_id, reason="entry without messaging"))
    return items


def parse_messaging(raw: Any, *, platform: str | None, account_id: str | None, standby: bool = False) -> Item:
    if not isinstance(raw, dict):
        return Item(UNKNOWN, platform=platform, account_id=account_id, standby=standby,
                    reason="messaging item is not an object")
    sender = parse_id(_dict(raw.get("sender")).get("id"), MAX_ACCOUNT_ID)
    recipient = parse_id(_dict(raw.get("recipient")).get("id"), MAX_ACCOUNT_ID)
    if account_id is None:
        account_id = recipient
    message = raw.get("message")
    is_echo = isinstance(message, dict) and message.get("is_echo") is True
    # The contact is whichever participant is not the business account.
    from_business = is_echo or (sender is not None and sender == account_id)
    contact_id = recipient if from_business else sender
    base = {
        "platform": platform, "account_id": account_id, "contact_id": contact_id, "standby": standby,
        "from_business": from_business,
        "timestamp": parse_timestamp(raw.get("timestamp")),
    }

    if isinstance(message, dict):
        return _parse_message(message, is_echo=is_echo, base=base)
    if isinstance(raw.get("message_edit"), dict):
        edit = raw["message_edit"]
        mid = parse_id(edit.get("mid"))
        if not mid:
            return Item(UNKNOWN, **base, reason="message_edit without mid")
        return Item(EDIT, **base, mid=mid, text=clean_str(edit.get("text")), num_edit=_int(edit.get("num_edit")))
    if isinstance(raw.get("reaction"), dict):
        reaction = raw["reaction"]
        mid = parse_id(reaction.get("mid"))
        action = reaction.get("action")
        if not mid or action not in ("react", "unreact"):
            return Item(UNKNOWN, **base, reason="reaction without mid or action")
        emoji = clean_str(reaction.get("emoji"), 32) or clean_str(reaction.get("reaction"), 32)
        return Item(REACTION, **base, mid=mid, reaction_action=action, emoji=emoji)
    if isinstance(raw.get("postback"), dict):
        postback = raw["postback"]
        return Item(
            POSTBACK, **base, mid=parse_id(postback.get("mid")) or "", title=clean_str(postback.get("title"), 1000),
            payload=clean_str(postback.get("payload"), MAX_PAYLOAD),
            referral=clean_json(postback["referral"]) if isinstance(postback.get("referral"), dict) else None,
        )
    if isinstance(raw.get("read"), dict):
        read = raw["read"]
        return Item(READ, **base, mid=parse_id(read.get("mid")) or "", watermark=parse_timestamp(read.get("watermark")))
    if isinstance(raw.get("delivery"), dict):
        delivery = raw["delivery"]
        mids = tuple(m for m in (parse_id(x) for x in _list(delivery.get("mids"))[:1000]) if m)
        return Item(DELIVERY, **base, mids=mids, watermark=parse_timestamp(delivery.get("watermark")))
    for key in HANDOVER_KEYS:
        if isinstance(raw.get(key), dict):
            return Item(HANDOVER, **base, handover=key, handover_data=clean_json(raw[key]))
    keys = ",".join(sorted(clean_str(k, 40) for k in raw if k not in ("sender", "recipient", "timestamp")))
    return Item(UNKNOWN, **base, reason=f"unhandled item: {keys[:200]}")


def _parse_message(message: dict, *, is_echo: bool, base: dict) -> Item:
    mid = parse_id(message.get("mid"))
    if not mid:
        return Item(UNKNOWN, **base, reason="message without mid")
    if message.get("is_deleted") is True:
        return Item(DELETE, **base, mid=mid)
    quick_reply = _dict(message.get("quick_reply"))
    reply_to = _dict(message.get("reply_to"))
    return Item(
        ECHO if is_echo else MESSAGE,
        **base,
        mid=mid,
        text=clean_str(message.get("text")),
        attachments=parse_attachments(message.get("attachments")),
        quick_reply_payload=clean_str(quick_reply.get("payload"), MAX_PAYLOAD),
        reply_to_mid=parse_id(reply_to.get("mid")) or "",
        referral=clean_json(message["referral"]) if isinstance(message.get("referral"), dict) else None,
        is_unsupported=message.get("is_unsupported") is True,
        app_id=parse_id(message.get("app_id")) or "",
    )


def parse_attachments(value: Any) -> list[dict]:
    """Attachments as {"type", "url", "title", "payload"}; `url` is None for kinds without one."""
    found = []
    for raw in _list(value)[:MAX_ATTACHMENTS]:
        if not isinstance(raw, dict):
            continue
        payload = _dict(raw.get("payload"))
        url = payload.get("url")
        found.append({
            "type": clean_str(raw.get("type"), 32) or "unknown",
            "url": clean_str(url, 4000) if isinstance(url, str) else None,
            "title": clean_str(raw.get("title") or payload.get("title"), 500) or None,
            "payload": clean_json(payload),
        })
    return found
