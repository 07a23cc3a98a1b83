"""AutoCRM's deterministic skill in the assistant: a parsed command → a previewed plan → confirm → undo.

The user's own chat text is parsed (`assistant.crm_grammar`); nothing else is. Its target is resolved
against this workspace only: the page's contact for "her" / "this contact" (the conversation's context,
checked again here), or a name or @handle matched by `crm_contacts_match`. A plan is a `changes` change
set (source AutoCRM): the preview records each step's before → after and refuses invalid values and
roles with the reason; confirming applies it in one transaction, refused as a whole when a record
moved since the preview (the plan is then previewed again with the new before values); undo goes
through `change_set_undo`. The chat keeps the user's message and an assistant message whose metadata
is {"skill": "crm", "intent", "entities", "plan": change set id, "state"}. No model is called.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Case, IntegerField, Q, Value, When

from assistant.context import Context
from assistant.crm_grammar import CONTEXT, HANDLE, UNDO, UNSUPPORTED, Parsed, crm_parse
from assistant.models import AssistantConversation, AssistantMessage, Role
from changes.models import ChangeSet, Source
from changes.services import ChangeConflict, OperationSpec, change_set_apply, change_set_preview, change_set_undo
from contacts.models import Contact, MemoryKind

SKILL = "crm"
MAX_CHOICES = 6
# States of a plan message.
PREVIEWED, EXECUTED, UNDONE, REFUSED, AMBIGUOUS, NO_MATCH, UNSUPPORTED_STATE, FAILED = (
    "previewed", "executed", "undone", "refused", "ambiguous", "no_match", "unsupported", "failed")


def crm_contacts_match(*, workspace, target) -> list[Contact]:
    """Contacts of this workspace a name or @handle may mean, best first: an exact name or handle alone
    when there is one, else names and handles containing it (prefix matches before the rest). The
    embedded Postgres has no pg_trgm, so this is icontains, ranked."""
    value = target.value.strip()
    if not value:
        return []
    contacts = Contact.objects.filter(workspace=workspace)
    if target.kind == HANDLE:
        exact = list(contacts.filter(username__iexact=value)[:MAX_CHOICES])
        if exact:
            return exact
        return list(contacts.filter(username__icontains=value).order_by("username", "pk")[:MAX_CHOICES])
    exact = list(contacts.filter(Q(display_name__iexact=value) | Q(username__iexact=value.lstrip("@")))[:MAX_CHOICES])
    if exact:
        return exact
    rank = Case(When(display_name__istartswith=value, then=Value(0)), When(username__istartswith=value, then=Value(1)),
                default=Value(2), output_field=IntegerField())
    return list(contacts.filter(Q(display_name__icontains=value) | Q(username__icontains=value))
                .annotate(rank=rank).order_by("rank", "display_name", "pk")[:MAX_CHOICES])


def _spec(contact_id: int, operations) -> list[OperationSpec]:
    state, specs = {}, []
    for name, value in operations:
        if name == "note":
            specs.append(OperationSpec(kind="contact.memory_add", target_id=contact_id,
                                       after={"kind": MemoryKind.FACT, "text": value}))
        else:
            state[name] = value
    if state:
        specs.insert(0, OperationSpec(kind="contact.state", target_id=contact_id, after=state))
    return specs


def _reply(conversation, content: str, **metadata) -> AssistantMessage:
    return AssistantMessage.objects.create(conversation=conversation, role=Role.ASSISTANT, content=content,
                                           metadata={"skill": SKILL, **metadata})


def _preview(*, workspace, actor, contact_id: int, operations, title: str) -> tuple[ChangeSet | None, list[str]]:
    try:
        return change_set_preview(workspace=workspace, actor=actor, operations=_spec(contact_id, operations),
                                  source=Source.AUTOCRM, title=title), []
    except PermissionDenied as exc:
        return None, [str(exc)]
    except ValidationError as exc:
        return None, exc.messages


def _last_executed(*, workspace, user) -> AssistantMessage | None:
    return (AssistantMessage.objects.filter(conversation__workspace=workspace, conversation__user=user,
                                            role=Role.ASSISTANT, metadata__skill=SKILL, metadata__state=EXECUTED)
            .order_by("-updated_at", "-id").first())


def _undo_last(*, workspace, user, conversation, parsed: Parsed) -> AssistantMessage:
    plan_message = _last_executed(workspace=workspace, user=user)
    base = {"intent": UNDO, "entities": parsed.entities()}
    if plan_message is None:
        return _reply(conversation, "There is no change of yours to undo.", **base, state=NO_MATCH)
    change_set = ChangeSet.objects.get(workspace=workspace, pk=plan_message.metadata["plan"])
    try:
        change_set_undo(change_set=change_set, actor=user)
    except (ValidationError, PermissionDenied) as exc:
        reason = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        return _reply(conversation, f"I could not undo it: {reason}", **base, plan=change_set.pk, state=REFUSED)
    _set_state(plan_message, UNDONE)
    return _reply(conversation, f"Undone: {change_set.title}.", **base, plan=change_set.pk, state=UNDONE)


def _set_state(message: AssistantMessage, state: str, **extra) -> None:
    message.metadata = {**(message.metadata or {}), "state": state, **extra}
    message.save(update_fields=["metadata", "updated_at"])


def crm_handle(*, workspace, user, text: str, context: Context | None,
               conversation: AssistantConversation | None = None,
               contact_id: int | None = None) -> AssistantConversation | None:
    """Answer a CRM command with a plan card (stored as two messages), or None when the text is not one.
    `contact_id` is the user's pick among ambiguous choices (checked against the workspace)."""
    parsed = crm_parse(text)
    if parsed is None:
        return None
    text = text.strip()
    with transaction.atomic():
        if conversation is None:
            context = context or Context("general", {"label": "General"})
            conversation = AssistantConversation.objects.create(
                workspace=workspace, user=user, title=" ".join(text.split())[:80], context_type=context.context_type,
                context=context.snapshot)
        else:
            conversation.save(update_fields=["updated_at"])
        AssistantMessage.objects.create(conversation=conversation, role=Role.USER, content=text)
        _answer(workspace=workspace, user=user, conversation=conversation, parsed=parsed, text=text,
                contact_id=contact_id)
    return conversation


def _answer(*, workspace, user, conversation, parsed: Parsed, text: str, contact_id: int | None) -> AssistantMessage:
    base = {"intent": parsed.intent, "entities": parsed.entities()}
    if parsed.intent == UNDO:
        return _undo_last(workspace=workspace, user=user, conversation=conversation, parsed=parsed)
    if parsed.intent == UNSUPPORTED:
        return _reply(conversation, f"I can't do that yet. {parsed.reason}", **base, state=UNSUPPORTED_STATE)
    if contact_id is not None:
        contacts = list(Contact.objects.filter(workspace=workspace, pk=contact_id))
    elif parsed.target.kind == CONTEXT:
        snapshot_id = (conversation.context or {}).get("contact_id")
        contacts = list(Contact.objects.filter(workspace=workspace, pk=snapshot_id)) if snapshot_id else []
        if not contacts:
            return _reply(conversation, "Who do you mean? Open the contact or name them (“move Sarah to booked”).",
                          **base, state=NO_MATCH)
    else:
        contacts = crm_contacts_match(workspace=workspace, target=parsed.target)
    if not contacts:
        shown = ("@" if parsed.target.kind == HANDLE else "") + parsed.target.value
        return _reply(conversation, f"I found no contact “{shown}” in this workspace.", **base, state=NO_MATCH)
    if len(contacts) > 1:
        return _reply(conversation, "Which contact do you mean?", **base, state=AMBIGUOUS, text=text,
                      choices=[{"id": c.pk, "label": str(c)[:120], "username": c.username} for c in contacts])
    contact = contacts[0]
    base["entities"]["contact_id"] = contact.pk
    change_set, errors = _preview(workspace=workspace, actor=user, contact_id=contact.pk,
                                  operations=parsed.operations, title=f"{text[:150]} ({contact})"[:200])
    if change_set is None:
        return _reply(conversation, f"I can't do that for {contact}.", **base, state=REFUSED, errors=errors,
                      operations=[list(op) for op in parsed.operations])
    return _reply(conversation, f"Here is the plan for {contact}. Nothing changes until you confirm.", **base,
                  plan=change_set.pk, state=PREVIEWED, operations=[list(op) for op in parsed.operations])


class PlanRefused(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _plan(message: AssistantMessage) -> ChangeSet:
    metadata = message.metadata or {}
    if metadata.get("skill") != SKILL or not metadata.get("plan"):
        raise PlanRefused("This message holds no plan.")
    return ChangeSet.objects.get(workspace=message.conversation.workspace, pk=metadata["plan"])


def crm_plan_confirm(*, message: AssistantMessage, actor) -> AssistantMessage:
    """Apply the plan in one transaction. A record that moved since the preview: nothing is applied,
    and the plan is previewed again (same steps, the new before values) for the user to confirm."""
    change_set = _plan(message)
    workspace = message.conversation.workspace
    if message.metadata.get("state") != PREVIEWED:
        raise PlanRefused("This plan is not waiting for a confirmation.")
    try:
        change_set_apply(change_set=change_set, actor=actor)
    except ChangeConflict:
        fresh, errors = _preview(workspace=workspace, actor=actor, contact_id=message.metadata["entities"]["contact_id"],
                                 operations=[tuple(op) for op in message.metadata.get("operations", [])],
                                 title=change_set.title)
        if fresh is None:
            _set_state(message, REFUSED, errors=errors)
            raise PlanRefused("The contact changed since the preview, so nothing was applied; " + " ".join(errors)) from None
        _set_state(message, PREVIEWED, plan=fresh.pk, refreshed=True)
        raise PlanRefused("The contact changed since the preview, so nothing was applied. The plan below shows "
                          "the current values; confirm again if it is still right.") from None
    except PermissionDenied as exc:
        raise PlanRefused(str(exc)) from None
    except ValidationError as exc:
        _set_state(message, FAILED)
        raise PlanRefused(" ".join(exc.messages)) from None
    _set_state(message, EXECUTED, refreshed=False)
    return message


def crm_plan_undo(*, message: AssistantMessage, actor) -> AssistantMessage:
    change_set = _plan(message)
    if message.metadata.get("state") != EXECUTED:
        raise PlanRefused("Only an executed plan can be undone.")
    try:
        change_set_undo(change_set=change_set, actor=actor)
    except PermissionDenied as exc:
        raise PlanRefused(str(exc)) from None
    except ValidationError as exc:
        raise PlanRefused(" ".join(exc.messages)) from None
    _set_state(message, UNDONE)
    return message


def crm_plan_steps(*, message: AssistantMessage) -> list[dict]:
    """The plan's steps for the card: record, field, before → after, state."""
    metadata = message.metadata or {}
    if metadata.get("skill") != SKILL or not metadata.get("plan"):
        return []
    change_set = ChangeSet.objects.filter(workspace=message.conversation.workspace, pk=metadata["plan"]).first()
    if change_set is None:
        return []
    steps = []
    for op in change_set.operations.order_by("position"):
        for name, after in op.after.items():
            if op.kind == "contact.memory_add":
                if name != "text":
                    continue
                steps.append({"record": op.label, "field": "lead memory (fact)", "before": "", "after": after,
                              "state": op.state})
            else:
                steps.append({"record": op.label, "field": name.replace("_", " "), "before": op.before.get(name),
                              "after": after, "state": op.state})
    return steps

