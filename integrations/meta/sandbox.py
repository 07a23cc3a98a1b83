"""META_SANDBOX=1: an in-process stand-in for the Graph API, mounted on the client's session.

The real client code runs unchanged (URL building, headers, JSON, error handling); only the
transport answers locally. Every call is recorded as a `SandboxSend` row, which the channel page
shows. A message text containing ``[sandbox:error=CODE/SUBCODE]`` answers with that Graph error, so
the error paths can be tried by hand.
"""

from __future__ import annotations

import json
import re
import uuid
from urllib.parse import parse_qs, urlsplit

import requests
from requests.adapters import BaseAdapter

SANDBOX_URL = "https://graph.sandbox.invalid"
_ERROR_TRIGGER = re.compile(r"\[sandbox:error=(\d+)(?:/(\d+))?\]")


class SandboxAdapter(BaseAdapter):
    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        parts = urlsplit(request.url)
        segments = [s for s in parts.path.split("/") if s]
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        body = {}
        if request.body:
            try:
                body = json.loads(request.body)
            except ValueError:
                body = {}
        status, payload = self._answer(request.method, segments, query, body)
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(payload).encode()
        response.headers["Content-Type"] = "application/json"
        response.url = request.url
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self):
        pass

    def _answer(self, method: str, segments: list[str], query: dict, body: dict) -> tuple[int, dict]:
        # segments: [facebook|instagram, version, object, edge?] or [instagram, refresh_access_token]
        if len(segments) >= 2 and segments[1] == "refresh_access_token":
            _record(account_id="", recipient_id="", kind="token_refresh", payload={}, message_id="")
            return 200, {"access_token": "sandbox-" + uuid.uuid4().hex, "token_type": "bearer",
                         "expires_in": 60 * 24 * 3600}
        if len(segments) == 4 and segments[3] == "messages" and method == "POST":
            account_id = segments[2]
            recipient_id = str(body.get("recipient", {}).get("id", ""))
            if "sender_action" in body:
                _record(account_id=account_id, recipient_id=recipient_id, kind="sender_action", payload=body,
                        message_id="")
                return 200, {"recipient_id": recipient_id}
            text = str(body.get("message", {}).get("text", ""))
            trigger = _ERROR_TRIGGER.search(text)
            if trigger:
                code, subcode = int(trigger.group(1)), int(trigger.group(2) or 0) or None
                return 400, {"error": {"message": "sandbox error on request", "type": "OAuthException",
                                       "code": code, "error_subcode": subcode, "fbtrace_id": "sandbox"}}
            message_id = "sandbox-mid-" + uuid.uuid4().hex
            _record(account_id=account_id, recipient_id=recipient_id, kind="message", payload=body,
                    message_id=message_id)
            return 200, {"recipient_id": recipient_id, "message_id": message_id}
        if len(segments) == 3 and method == "GET":
            user_id = segments[2]
            return 200, {"id": user_id, "name": f"Sandbox Contact {user_id[-4:]}", "username": f"sandbox_{user_id[-6:]}"}
        return 404, {"error": {"message": "unknown sandbox endpoint", "type": "GraphMethodException", "code": 100}}


def _record(*, account_id: str, recipient_id: str, kind: str, payload: dict, message_id: str) -> None:
    from integrations.models import Channel, SandboxSend

    channel = Channel.objects.filter(account_id=account_id).first() if account_id else None
    SandboxSend.objects.create(channel=channel, account_id=account_id, recipient_id=recipient_id[:64],
                               kind=kind, payload=payload, message_id=message_id)


def dm_payload(*, channel, sender_id: str, text: str) -> dict:
    """The webhook body Meta sends for one text DM to `channel` (used by simulate_dm and the sandbox panel)."""
    import time

    now = int(time.time() * 1000)
    return {
        "object": "instagram" if channel.platform == "instagram" else "page",
        "entry": [{"id": channel.account_id, "time": now, "messaging": [{
            "sender": {"id": sender_id}, "recipient": {"id": channel.account_id}, "timestamp": now,
            "message": {"mid": f"sim_{uuid.uuid4().hex}", "text": text},
        }]}],
    }
