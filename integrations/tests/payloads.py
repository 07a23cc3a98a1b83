"""Webhook bodies shaped like META.md's examples, for tests and `manage.py simulate_dm`-like use."""

from __future__ import annotations

import itertools
import time

_counter = itertools.count(1)


def now_ms() -> int:
    return int(time.time() * 1000)


def new_mid(prefix: str = "m") -> str:
    return f"{prefix}_{next(_counter):06d}_aWdfZAG1faXRlbToxOklH"


def envelope(channel, *items, standby_items=(), object_=None, entry_time=None) -> dict:
    entry = {"id": channel.account_id, "time": entry_time or now_ms(), "messaging": list(items)}
    if standby_items:
        entry["standby"] = list(standby_items)
    return {"object": object_ or ("instagram" if channel.platform == "instagram" else "page"), "entry": [entry]}


def batch(*envelopes_) -> dict:
    return {"object": envelopes_[0]["object"], "entry": [e for env in envelopes_ for e in env["entry"]]}


def _base(channel, sender, *, echo=False, ts=None):
    pair = {"sender": {"id": sender}, "recipient": {"id": channel.account_id}}
    if echo:
        pair = {"sender": {"id": channel.account_id}, "recipient": {"id": sender}}
    return {**pair, "timestamp": ts if ts is not None else now_ms()}


def text(channel, sender, body, *, mid=None, ts=None, **message):
    return {**_base(channel, sender, ts=ts), "message": {"mid": mid or new_mid(), "text": body, **message}}


def attachment(channel, sender, kind, url="https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1", *, mid=None):
    return {**_base(channel, sender), "message": {"mid": mid or new_mid(), "attachments": [
        {"type": kind, "payload": {"url": url}}]}}


def echo(channel, recipient, body, *, mid=None, app_id=None, ts=None):
    message = {"mid": mid or new_mid("echo"), "text": body, "is_echo": True}
    if app_id:
        message["app_id"] = app_id
    return {**_base(channel, recipient, echo=True, ts=ts), "message": message}


def deleted(channel, sender, mid):
    return {**_base(channel, sender), "message": {"mid": mid, "is_deleted": True}}


def unsupported(channel, sender, *, mid=None):
    return {**_base(channel, sender), "message": {"mid": mid or new_mid(), "is_unsupported": True}}


def edit(channel, sender, mid, body, num_edit=1):
    return {**_base(channel, sender), "message_edit": {"mid": mid, "text": body, "num_edit": num_edit}}


def reaction(channel, sender, mid, emoji="❤", action="react"):
    body = {"mid": mid, "action": action}
    if action == "react":
        body.update({"reaction": "love", "emoji": emoji})
    return {**_base(channel, sender), "reaction": body}


def postback(channel, sender, title, payload, *, mid=None):
    return {**_base(channel, sender), "postback": {"mid": mid or new_mid("pb"), "title": title, "payload": payload}}


def read(channel, sender, *, mid=None, watermark=None):
    body = {"mid": mid} if mid else {"watermark": watermark}
    return {**_base(channel, sender), "read": body}


def delivery(channel, sender, mids=(), watermark=None):
    body = {"mids": list(mids)}
    if watermark is not None:
        body["watermark"] = watermark
    return {**_base(channel, sender), "delivery": body}


def handover(channel, sender, kind):
    data = {"pass_thread_control": {"new_owner_app_id": "111", "previous_owner_app_id": "263902037430900",
                                    "metadata": "back to the bot"},
            "take_thread_control": {"previous_owner_app_id": "111", "new_owner_app_id": "263902037430900",
                                    "metadata": "a human took over"},
            "request_thread_control": {"requested_owner_app_id": "263902037430900", "metadata": "please"}}[kind]
    return {**_base(channel, sender), kind: data}
