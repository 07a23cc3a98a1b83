"""Saved replies: canned answers admins write and setters insert from the composer with "/".

The variables are replaced by plain string substitution, never by a template engine: the values are
contact names, which come from outside (a name like "{{ secret }}" or "{name}" stays just text).
The assistant's suggestions (#16) create rows through `saved_reply_create` like the settings page.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from accounts.services import audit_event_record
from accounts.tenancy import require_workspace_admin
from conversations.models import SavedReply

# What each variable becomes; shown on the saved replies page so admins know what they can use.
VARIABLES = {
    "{first_name}": "the contact's first name (\"there\" when the name is unknown)",
    "{name}": "the contact's full name (\"there\" when the name is unknown)",
}
FALLBACK_NAME = "there"


def saved_replies_for(*, workspace, q: str = "") -> QuerySet[SavedReply]:
    """The workspace's saved replies by title, narrowed by a search over title, shortcut and body."""
    found = SavedReply.objects.filter(workspace=workspace)
    q = q.strip().lstrip("/")
    if q:
        found = found.filter(Q(title__icontains=q) | Q(shortcut__icontains=q) | Q(body__icontains=q))
    return found


def saved_reply_get(*, workspace, saved_reply_id: int) -> SavedReply | None:
    return SavedReply.objects.filter(workspace=workspace, pk=saved_reply_id).first()


def _names(contact) -> tuple[str, str]:
    full = " ".join((getattr(contact, "display_name", "") or "").split())
    if not full:
        return FALLBACK_NAME, FALLBACK_NAME
    return full.split(" ")[0], full


def saved_reply_render(*, saved_reply: SavedReply, contact) -> str:
    """The body with `{first_name}` and `{name}` replaced in one left-to-right pass (so a name that
    itself contains "{name}" is not substituted again). Other braces are left as they are."""
    first, full = _names(contact)
    values = {"{first_name}": first, "{name}": full}
    body, out, i = saved_reply.body, [], 0
    while i < len(body):
        for token, value in values.items():
            if body.startswith(token, i):
                out.append(value)
                i += len(token)
                break
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


def saved_reply_normalise(*, title: str, body: str, shortcut: str) -> tuple[str, str, str]:
    """The stripped title, body and shortcut, or ValidationError (empty or too long). Also used by the
    `conversation.saved_reply` change kind to check at preview; the shortcut's form and uniqueness are
    checked on save."""
    title, body, shortcut = title.strip(), body.strip(), shortcut.strip().lstrip("/").lower()
    if not title or not body:
        raise ValidationError("A saved reply needs a title and a text.")
    # The composer takes 4,000 characters; a longer text could never be sent as it is.
    if len(title) > 100 or len(body) > 4000:
        raise ValidationError("Keep the title under 100 characters and the text under 4,000.")
    return title, body, shortcut


def _save(saved_reply: SavedReply) -> SavedReply:
    try:
        with transaction.atomic():
            saved_reply.full_clean(exclude=["workspace", "created_by", "updated_by"], validate_constraints=False)
            saved_reply.save()
    except IntegrityError as exc:
        raise ValidationError({"shortcut": "Another saved reply already uses this shortcut."}) from exc
    return saved_reply


def saved_reply_create(*, workspace, title: str, body: str, shortcut: str = "", actor) -> SavedReply:
    """A new saved reply (admins only). Raises ValidationError on empty fields or a taken shortcut."""
    require_workspace_admin(workspace_id=workspace.pk, actor=actor, message="Only workspace admins manage saved replies.")
    title, body, shortcut = saved_reply_normalise(title=title, body=body, shortcut=shortcut)
    saved_reply = _save(SavedReply(workspace=workspace, title=title, body=body, shortcut=shortcut,
                                   created_by=actor, updated_by=actor))
    audit_event_record(verb="saved_reply.created", workspace=workspace, actor=actor, target=saved_reply,
                       data={"title": title})
    return saved_reply


def saved_reply_update(*, saved_reply: SavedReply, title: str, body: str, shortcut: str = "", actor) -> SavedReply:
    require_workspace_admin(workspace_id=saved_reply.workspace_id, actor=actor,
                            message="Only workspace admins manage saved replies.")
    saved_reply.title, saved_reply.body, saved_reply.shortcut = saved_reply_normalise(title=title, body=body,
                                                                                      shortcut=shortcut)
    saved_reply.updated_by = actor
    _save(saved_reply)
    audit_event_record(verb="saved_reply.updated", workspace=saved_reply.workspace, actor=actor, target=saved_reply,
                       data={"title": saved_reply.title})
    return saved_reply


def saved_reply_delete(*, saved_reply: SavedReply, actor) -> None:
    require_workspace_admin(workspace_id=saved_reply.workspace_id, actor=actor,
                            message="Only workspace admins manage saved replies.")
    audit_event_record(verb="saved_reply.deleted", workspace=saved_reply.workspace, actor=actor, target=saved_reply,
                       data={"title": saved_reply.title})
    saved_reply.delete()
