"""Erasing a contact's traces in the outside-world tables (GDPR), by the ids Meta gave us.

This app knows no contact: callers pass the channel's account id and the contact's PSID / IGSID.
Webhook events are kept as rows (the intake's history and counts stay true) but their bodies lose
every item that mentions the contact; sandbox sends to the contact are deleted.
"""

from __future__ import annotations

import json

from django.db import transaction
from django.db.models import Q
from django.db.models.expressions import RawSQL

from integrations.models import LLMUsage, SandboxSend, WebhookEvent

ERASED_NOTE = "erased: items of an erased contact were removed"


def webhook_events_mentioning(*, external_id: str):
    """Events whose raw body contains the id anywhere (a byte search: bodies are stored as sent)."""
    return WebhookEvent.objects.filter(
        pk__in=RawSQL("SELECT id FROM integrations_webhookevent WHERE position(convert_to(%s, 'UTF8') in body) > 0",
                      [external_id]))


def _entries(data) -> list:
    entries = data.get("entry") if isinstance(data, dict) else None
    return entries if isinstance(entries, list) else []


def webhook_items_for(*, body: bytes, account_id: str, external_id: str) -> list[dict]:
    """The items (messaging, standby, changes...) of `account_id`'s entries that mention the contact."""
    try:
        data = json.loads(bytes(body))
    except ValueError:
        return []
    found = []
    for entry in _entries(data):
        if not isinstance(entry, dict) or str(entry.get("id")) != account_id:
            continue
        for value in entry.values():
            if isinstance(value, list):
                found += [item for item in value if external_id in json.dumps(item, ensure_ascii=False)]
    return found


def _without_contact(body: bytes, *, account_id: str, external_id: str) -> bytes:
    try:
        data = json.loads(bytes(body))
    except ValueError:
        return b""  # unreadable: nothing in it can be kept safely
    for entry in _entries(data):
        if not isinstance(entry, dict) or str(entry.get("id")) != account_id:
            continue
        for key, value in list(entry.items()):
            if isinstance(value, list):
                entry[key] = [item for item in value if external_id not in json.dumps(item, ensure_ascii=False)]
    return json.dumps(data, ensure_ascii=False).encode()


def webhook_events_redact(*, account_id: str, external_id: str) -> int:
    """Remove the contact's items from every stored event of the channel; returns how many changed.

    Only entries of the contact's own channel are touched: a PSID means nothing on another Page, so an
    equal string there belongs to someone else. Processed or not, the rest of the batch stays, so other
    contacts' pending messages are still ingested. Precondition: inside the erasure's transaction."""
    assert transaction.get_connection().in_atomic_block, "runs inside the erasure's transaction"
    changed = 0
    for event in webhook_events_mentioning(external_id=external_id).select_for_update().only("pk", "body", "error"):
        if not webhook_items_for(body=event.body, account_id=account_id, external_id=external_id):
            continue
        event.body = _without_contact(event.body, account_id=account_id, external_id=external_id)
        # An error text may quote the body; it says what happened instead.
        event.error = ERASED_NOTE if event.error else ""
        event.save(update_fields=["body", "error"])
        changed += 1
    return changed


def sandbox_sends_for(*, channel_id: int, external_id: str):
    return SandboxSend.objects.filter(Q(recipient_id=external_id) | Q(payload__recipient__id=external_id),
                                      channel_id=channel_id)


def sandbox_sends_erase(*, channel_id: int, external_id: str) -> int:
    return sandbox_sends_for(channel_id=channel_id, external_id=external_id).delete()[0]


def llm_usage_pseudonymise(*, workspace_id: int, user_id: int) -> int:
    """A user's ledger rows lose anything but numbers (error texts may quote a prompt).

    The rows keep `user_id`: the quota sums of the current day and month count by it
    (`integrations.llm.quotas.usage_totals`), and an erasure must not give a user a fresh quota; the id
    is the account's, not a name, and with the assistant's messages deleted nothing links a row to
    any text."""
    return LLMUsage.objects.filter(workspace_id=workspace_id, user_id=user_id).exclude(error_message="").update(
        error_message="")
