"""Kinds owned by conversations: the system prompt (revisions), Sidekick settings, a suggested draft,
and a new saved reply."""

from __future__ import annotations

from datetime import time

from django.core.exceptions import ValidationError

from changes.kinds.base import OperationKind, jsonable, register
from conversations import assisted_drafts, saved_replies, services
from conversations.models import (
    BusinessHoursPolicy,
    DraftKind,
    PromptRevision,
    ReplyDraft,
    SavedReply,
    SidekickSettings,
    Thread,
)
from conversations.selectors import prompt_text_current, sidekick_settings_for, thread_pending_draft

PROMPT_MAX_CHARS = 20000  # as `conversations.services.prompt_revision_create`, which checks again


def _settings_lock(workspace) -> None:
    # The prompt service numbers revisions under this same lock, so taking it first keeps the order.
    SidekickSettings.objects.select_for_update().filter(pk=sidekick_settings_for(workspace=workspace).pk).exists()


@register
class PromptRevisionKind(OperationKind):
    """A new prompt revision. Undo is another new revision with the previous text (revisions are
    never edited), refused once the current revision is no longer the one this change created."""

    name = "prompt.revision"
    label = "System prompt"
    target_key = "prompt"

    def clean(self, *, workspace, op, after):
        after = self._only(after, {"text"})
        text = str(after.get("text") or "").strip()
        if not text:
            raise ValidationError("The prompt cannot be empty.")
        if len(text) > PROMPT_MAX_CHARS:
            raise ValidationError("Keep the prompt under 20,000 characters.")
        return {"text": text}

    def read(self, *, workspace, op):
        text, revision = prompt_text_current(workspace=workspace)
        return {"revision_id": revision.pk if revision else None, "text": text}

    def lock(self, *, workspace, op):
        _settings_lock(workspace)

    def apply(self, *, workspace, op, actor):
        revision = services.prompt_revision_create(workspace=workspace, text=op.after["text"], actor=actor,
                                                   note=(op.change_set.title or f"Change set {op.change_set_id}"))
        return {"revision_id": revision.pk, "number": revision.number}

    def undo(self, *, workspace, op, actor):
        previous = None
        if op.before.get("revision_id"):
            previous = PromptRevision.objects.filter(workspace=workspace, pk=op.before["revision_id"]).first()
        services.prompt_revision_create(workspace=workspace, text=op.before["text"], actor=actor,
                                        note=f"Undo of change set {op.change_set_id}", restored_from=previous)


def _bool(value, name):
    if not isinstance(value, bool):
        raise ValidationError(f"{name} is on or off (true or false).")
    return value


def _int(value, name, low, high):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(f"{name} is a whole number from {low} to {high}.")
    return value


def _threshold(value, name):
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= float(value) <= 1.0:
        raise ValidationError("The threshold is between 0.0 and 1.0.")
    return float(value)


def _strings(value, name):
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        raise ValidationError(f"{name} is a list of texts.")
    return [item.strip() for item in value if item.strip()]


def _blacklist(value, name):
    # The same normalisation as the service, so that the preview shows what will be stored.
    return [item[:200] for item in _strings(value, name)][:500]


def _language(value, name):
    if not isinstance(value, str) or not 1 <= len(value.strip()) <= 8:
        raise ValidationError("The language is a code of at most 8 characters.")
    return value.strip()


def _policy(value, name):
    if value not in BusinessHoursPolicy.values:
        raise ValidationError("Unknown business hours policy.")
    return value


def _days(value, name):
    if not isinstance(value, list | tuple) or not all(isinstance(d, int) and 0 <= d <= 6 for d in value):
        raise ValidationError("Business days are 0 (Monday) to 6 (Sunday).")
    return sorted(set(value))


def _time(value, name):
    try:
        return (value if isinstance(value, time) else time.fromisoformat(str(value))).isoformat()
    except ValueError:
        raise ValidationError(f"{name} must be a time of day (HH:MM).") from None


SETTINGS_FIELDS = {
    "enabled": _bool, "auto_send": _bool, "use_human_agent_tag": _bool, "threshold": _threshold,
    "blacklist": _blacklist, "language": _language, "business_hours_policy": _policy, "business_days": _days,
    "opens_at": _time, "closes_at": _time, "escalation_emails": _strings,
    "debounce_seconds": lambda v, n: _int(v, n, 0, 120), "follow_up_after_hours": lambda v, n: _int(v, n, 1, 720),
}
_TIME_FIELDS = {"opens_at", "closes_at"}


def _to_python(values: dict) -> dict:
    return {name: time.fromisoformat(value) if name in _TIME_FIELDS else value for name, value in values.items()}


@register
class SidekickSettingsKind(OperationKind):
    """Fields of the workspace's Sidekick settings, through `sidekick_settings_update` (which
    validates and audits as the settings form does). Undo restores the before values."""

    name = "sidekick.settings"
    label = "Sidekick settings"
    target_key = "sidekick_settings"

    def clean(self, *, workspace, op, after):
        after = self._only(after, SETTINGS_FIELDS)
        return {name: SETTINGS_FIELDS[name](value, name) for name, value in after.items()}

    def read(self, *, workspace, op):
        cfg = sidekick_settings_for(workspace=workspace)
        return {name: jsonable(getattr(cfg, name)) for name in op.after}

    def footprint(self, op):
        return {(self.name, name) for name in op.after}

    def describe(self, *, workspace, op):
        return f"Sidekick settings ({', '.join(op.after)})"

    def lock(self, *, workspace, op):
        _settings_lock(workspace)

    def apply(self, *, workspace, op, actor):
        services.sidekick_settings_update(workspace=workspace, actor=actor, **_to_python(op.after))
        return {}

    def undo(self, *, workspace, op, actor):
        services.sidekick_settings_update(workspace=workspace, actor=actor, **_to_python(op.before))


@register
class ReplyDraftKind(OperationKind):
    """A reply or follow-up text made the thread's pending draft (never sent by the change: a setter
    approves it as any draft). Undo withdraws it and brings back the draft it superseded, refused once
    the thread's pending draft is no longer this one (approved, discarded, or a newer draft)."""

    name = "conversation.draft"
    label = "Draft on a conversation"
    model = Thread
    admin_only = False

    def clean(self, *, workspace, op, after):
        after = self._only(after, {"text", "kind"})
        text = str(after.get("text") or "").strip()
        kind = after.get("kind") or DraftKind.REPLY
        if not text:
            raise ValidationError("The draft is empty.")
        if len(text) > assisted_drafts.TEXT_MAX:
            raise ValidationError(f"Keep a draft under {assisted_drafts.TEXT_MAX:,} characters.")
        if kind not in DraftKind.values:
            raise ValidationError(f"Unknown draft kind {kind!r}.")
        return {"text": text, "kind": kind}

    def read(self, *, workspace, op):
        draft = thread_pending_draft(thread=self._target(workspace, op))
        return {"pending_draft_id": draft.pk if draft else None}

    def unchanged(self, op):
        return False  # a new draft is always a change

    def describe(self, *, workspace, op):
        thread = self._queryset(workspace).select_related("contact").filter(pk=op.target_id).first()
        what = "Follow-up draft" if op.after.get("kind") == DraftKind.FOLLOW_UP else "Reply draft"
        return f"{what} on the conversation with {thread.contact}" if thread else what

    def apply(self, *, workspace, op, actor):
        draft = assisted_drafts.reply_draft_suggest(thread=self._target(workspace, op), text=op.after["text"],
                                                    kind=op.after["kind"], actor=actor,
                                                    note=op.change_set.title or f"Change set {op.change_set_id}")
        return {"draft_id": draft.pk, "thread_id": op.target_id, "decision": draft.decision,
                "reason_code": draft.reason_code}

    def undo(self, *, workspace, op, actor):
        draft = ReplyDraft.objects.get(workspace=workspace, thread_id=op.target_id, pk=op.result["draft_id"])
        assisted_drafts.reply_draft_withdraw(draft=draft, actor=actor)


@register
class SavedReplyKind(OperationKind):
    """A new saved reply (admins only, as the saved replies page), through `saved_reply_create`,
    which validates again and audits. Undo deletes it through `saved_reply_delete`, refused once it
    was edited (or deleted) since: the snapshot of its title, text and shortcut no longer matches."""

    name = "conversation.saved_reply"
    label = "Saved reply"
    model = SavedReply
    target_optional = True

    def resolve(self, *, workspace, op, target_id):
        if target_id is not None:  # editing one stays on the saved replies page
            raise ValidationError("A saved reply change only adds a new one.")
        super().resolve(workspace=workspace, op=op, target_id=None)

    def clean(self, *, workspace, op, after):
        after = self._only(after, {"title", "body", "shortcut"})
        # The service's own normalisation and limits, so the preview shows what will be stored. The body
        # is kept as written: `{first_name}` and `{name}` are filled in only when it is inserted.
        title, body, shortcut = saved_replies.saved_reply_normalise(
            title=str(after.get("title") or ""), body=str(after.get("body") or ""),
            shortcut=str(after.get("shortcut") or ""))
        return {"title": title, "body": body, "shortcut": shortcut}

    def read(self, *, workspace, op):
        saved_reply = self._target(workspace, op)
        if saved_reply is None:
            return {}
        return {"title": saved_reply.title, "body": saved_reply.body, "shortcut": saved_reply.shortcut}

    def footprint(self, op):
        return {(self.name, f"new:{op.position}")}

    def describe(self, *, workspace, op):
        return f"New saved reply “{op.after.get('title', '')[:80]}”"

    def apply(self, *, workspace, op, actor):
        saved_reply = saved_replies.saved_reply_create(workspace=workspace, title=op.after["title"],
                                                       body=op.after["body"], shortcut=op.after["shortcut"],
                                                       actor=actor)
        op.target_id = saved_reply.pk
        return {"saved_reply_id": saved_reply.pk}

    def undo(self, *, workspace, op, actor):
        saved_replies.saved_reply_delete(saved_reply=self._target(workspace, op), actor=actor)
