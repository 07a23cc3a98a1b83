"""AutoCRM, a skill of the assistant: a command → a previewed plan → confirm → undo (and redo).

Only the signed-in user's own chat text is an instruction. It is understood by the workspace's model
through the LLM gateway (`assistant.crm_llm`) when there is one, else (and whenever that call fails) by
the deterministic grammar (`assistant.crm_grammar`). Its target is resolved against this workspace
only: the page's contact for "her" / "this contact" (the conversation's context, checked again here),
or a name or @handle matched by `crm_contacts_match`.

A plan is a `changes` change set (source AutoCRM): every operation is turned into an operation spec
first, refusing what cannot be done with the reason (unknown memory entry, a booking in the past, no
conversation to pause…); the change set preview then checks roles (setters update, only admins edit
or remove lead memory or link people) and values (score 0–100, stages), and records each step's
before → after. Confirming applies it in one transaction, refused as a whole when a record moved since
the preview (the plan is then previewed again with the new before values). Undo goes through
`change_set_undo` — the whole plan or one step, refused with the reason when a record changed since,
unless the person chooses to overwrite — and redo applies the same steps again as a new change set.

The chat keeps the user's message and an assistant message whose metadata is {"skill": "crm", "intent",
"entities", "plan": change set id, "state", "specs", "history", "feedback"}.
"""

from __future__ import annotations

import difflib
import math
import zoneinfo
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Case, Exists, IntegerField, OuterRef, Q, Value, When
from django.utils import timezone

from accounts.models import Membership
from accounts.services import audit_event_record
from assistant.context import Context
from assistant.crm_grammar import BULK, CONTEXT, HANDLE, REDO, UNDO, UNSUPPORTED, Parsed, Target, crm_parse
from assistant.crm_grammar import when_parse as _when_parse
from assistant.crm_llm import crm_llm_parse, crm_llm_wanted
from assistant.models import AssistantConversation, AssistantMessage, Role
from changes.kinds.contacts import BOOKING_HORIZON
from changes.models import ChangeSet, Operation, Source, Status
from changes.selectors import operations_on
from changes.services import ChangeConflict, OperationSpec, change_set_apply, change_set_preview, change_set_undo
from contacts.models import BookingEvent, Contact, LeadMemory, MemoryKind
from contacts.services import STRATEGY_HOURS_MAX
from conversations.models import Direction, Message, Thread
from conversations.selectors import contact_latest_thread

SKILL = "crm"
MAX_CHOICES = 6
BULK_MAX = 100  # more matching leads than this: narrow the selection down instead
FEEDBACK_REASON_MAX = 500
RATE_LIMIT = (30, 60)  # commands per user per window of seconds (settings.AUTOCRM_RATE_LIMIT overrides)
# States of a plan message.
PREVIEWED, EXECUTED, UNDONE, REFUSED, AMBIGUOUS, NO_MATCH, UNSUPPORTED_STATE, FAILED, LIMITED, REPORTED = (
    "previewed", "executed", "undone", "refused", "ambiguous", "no_match", "unsupported", "failed", "limited",
    "reported")


class PlanRefused(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# --- resolution ---------------------------------------------------------------------------------------

def crm_contacts_match(*, workspace, target) -> list[Contact]:
    """Contacts of this workspace a name or @handle may mean, best first: an exact name or handle alone
    when there is one, else names and handles containing it (prefix matches before the rest), else the
    close spellings among this workspace's names (difflib: the embedded Postgres has no pg_trgm)."""
    value = target.value.strip()
    if not value:
        return []
    contacts = Contact.objects.filter(workspace=workspace)
    if target.kind == HANDLE:
        exact = list(contacts.filter(username__iexact=value)[:MAX_CHOICES])
        if exact:
            return exact
        return list(contacts.filter(username__icontains=value).order_by("username", "pk")[:MAX_CHOICES])
    # One query: exact names and handles rank first and, when there are any, are the only answer.
    rank = Case(When(Q(display_name__iexact=value) | Q(username__iexact=value.lstrip("@")), then=Value(0)),
                When(display_name__istartswith=value, then=Value(1)), When(username__istartswith=value, then=Value(2)),
                default=Value(3), output_field=IntegerField())
    found = list(contacts.filter(Q(display_name__icontains=value) | Q(username__icontains=value.lstrip("@")))
                 .annotate(rank=rank).order_by("rank", "display_name", "pk")[:MAX_CHOICES])
    exact = [c for c in found if c.rank == 0]
    return exact or found or _close_names(contacts=contacts, value=value)


def _close_names(*, contacts, value: str) -> list[Contact]:
    """A misspelt name ("Sarha"): the close first names or full names of this workspace's contacts."""
    wanted = value.lower()
    names = {}
    for pk, name in contacts.exclude(display_name="").values_list("pk", "display_name")[:5000]:
        for candidate in {name.lower(), name.lower().split()[0]}:
            names.setdefault(candidate, []).append(pk)
    close = difflib.get_close_matches(wanted, list(names), n=MAX_CHOICES, cutoff=0.75)
    ids = list(dict.fromkeys(pk for name in close for pk in names[name]))[:MAX_CHOICES]
    by_id = {c.pk: c for c in contacts.filter(pk__in=ids)}
    return [by_id[pk] for pk in ids if pk in by_id]


def _member(*, workspace, user, reference: str):
    """The member a reference names ("me", an email, a first or full name); None when none or several."""
    reference = reference.strip().lower()
    if reference in ("me", "myself", "mí", "mi"):
        return user
    members = [m.user for m in Membership.objects.filter(workspace=workspace).select_related("user")]
    exact = [u for u in members if reference in (u.email.lower(), (u.full_name or "").lower(),
                                                 u.email.lower().split("@")[0])]
    if len(exact) == 1:
        return exact[0]
    first = [u for u in members if (u.full_name or "").lower().split()[:1] == [reference]]
    return first[0] if len(first) == 1 else None


# --- operations → change set specs --------------------------------------------------------------------

def _workspace_now(workspace):
    try:
        return timezone.now().astimezone(zoneinfo.ZoneInfo(workspace.timezone or "UTC"))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return timezone.now()


def _memory(*, workspace, contact: Contact, match: str) -> LeadMemory:
    found = list(LeadMemory.objects.filter(workspace=workspace, contact=contact, text__icontains=match)[:2])
    if not found:
        raise ValidationError(f"{contact} has no lead memory about “{match}”.")
    if len(found) > 1:
        raise ValidationError(f"Several lead memory entries of {contact} mention “{match}”; quote more of it.")
    return found[0]


def _thread(*, workspace, contact: Contact) -> Thread:
    try:
        return contact_latest_thread(workspace=workspace, contact_id=contact.pk)
    except Thread.DoesNotExist:
        raise ValidationError(f"{contact} has no conversation yet.") from None


def _booking(*, workspace, value: dict) -> dict:
    kind = value.get("kind")
    if kind not in BookingEvent.Kind.values:
        raise ValidationError("A booking outcome is booked, canceled, attended or no-show.")
    now = _workspace_now(workspace)
    if kind != BookingEvent.Kind.BOOKED:
        return {"kind": kind, "occurred_at": now.isoformat(), "note": ""}
    if not value.get("when"):
        raise ValidationError("Say when the call is booked (“booked for Tuesday 3pm”).")
    try:
        at = _when_parse(value["when"], now=now)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
    # A call is booked in the future; an hour of grace for one being typed in as it starts.
    if at < now - timedelta(hours=1):
        raise ValidationError(f"{at:%a %d %b %H:%M} is in the past; a booking is for a call to come.")
    if at - now > BOOKING_HORIZON:
        raise ValidationError("The booking time is more than a year away; check the date.")
    return {"kind": kind, "occurred_at": at.isoformat(), "note": ""}


def _follow_up(*, workspace, value: dict) -> dict:
    now = _workspace_now(workspace)
    try:
        due = _when_parse(value.get("when") or "", now=now)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
    hours = math.ceil((due - now).total_seconds() / 3600)
    if hours < 1:
        raise ValidationError(f"{due:%a %d %b %H:%M} is not in the future; a follow-up is due later.")
    if hours > STRATEGY_HOURS_MAX:
        raise ValidationError("A follow-up is due within 60 days.")
    note = (value.get("note") or "").strip() or "Follow up"
    return {"title": f"Follow up by {due:%a %d %b %H:%M}", "steps": [{"after_hours": hours, "action": note}]}


def _specs(*, workspace, user, contact: Contact, operations) -> tuple[list[OperationSpec], list[str]]:
    """The change set's specs for one contact, and the reason for every operation that cannot be one.
    Stage, sentiment and score are one step (one history row), first."""
    state, specs, errors = {}, [], []
    for number, (name, value) in enumerate(operations, start=1):
        try:
            if name in ("stage", "sentiment", "lead_score"):
                state[name] = value
            elif name == "note":
                specs.append(OperationSpec("contact.memory_add", {"kind": MemoryKind.FACT, "text": value}, contact.pk))
            elif name == "memory_add":
                specs.append(OperationSpec("contact.memory_add", {"kind": value.get("kind"), "text": value.get("text")},
                                           contact.pk))
            elif name == "memory_edit":
                memory = _memory(workspace=workspace, contact=contact, match=value.get("match", ""))
                specs.append(OperationSpec("contact.memory_edit", {"text": value.get("text")}, memory.pk))
            elif name == "memory_remove":
                memory = _memory(workspace=workspace, contact=contact, match=value.get("match", ""))
                specs.append(OperationSpec("contact.memory_remove", {"removed": True}, memory.pk))
            elif name == "booking":
                specs.append(OperationSpec("contact.booking", _booking(workspace=workspace, value=value), contact.pk))
            elif name == "follow_up":
                specs.append(OperationSpec("contact.follow_up_strategy", _follow_up(workspace=workspace, value=value),
                                           contact.pk))
            elif name == "automation":
                if value not in ("pause", "resume"):
                    raise ValidationError("Automation is paused or resumed.")
                thread = _thread(workspace=workspace, contact=contact)
                specs.append(OperationSpec("conversation.automation", {"ai_paused": value == "pause"}, thread.pk))
            elif name == "assign":
                member = _member(workspace=workspace, user=user, reference=str(value))
                if member is None:
                    raise ValidationError(f"No single member of this workspace is “{value}”.")
                thread = _thread(workspace=workspace, contact=contact)
                specs.append(OperationSpec("conversation.assign", {"assigned_to": member.pk}, thread.pk))
            elif name == "link":
                others = crm_contacts_match(workspace=workspace, target=Target(value["kind"], value["value"]))
                others = [c for c in others if c.pk != contact.pk]
                if len(others) != 1:
                    shown = ("@" if value["kind"] == HANDLE else "") + value["value"]
                    raise ValidationError(f"I found {'no' if not others else 'several'} contacts “{shown}” to link.")
                specs.append(OperationSpec("contact.link", {"other_id": others[0].pk}, contact.pk))
            else:
                raise ValidationError(f"I can't do “{name}” yet.")
        except ValidationError as exc:
            errors.append(f"Step {number}: {' '.join(exc.messages)}")
    if state:
        specs.insert(0, OperationSpec("contact.state", state, contact.pk))
    return specs, errors


def _as_json(specs: list[OperationSpec]) -> list[dict]:
    return [{"kind": s.kind, "after": s.after, "target_id": s.target_id} for s in specs]


def _preview(*, workspace, actor, specs, title: str) -> tuple[ChangeSet | None, list[str]]:
    try:
        return change_set_preview(workspace=workspace, actor=actor, operations=specs, source=Source.AUTOCRM,
                                  title=title), []
    except PermissionDenied as exc:
        return None, [str(exc)]
    except ValidationError as exc:
        return None, exc.messages


# --- the chat --------------------------------------------------------------------------------------------

def _reply(conversation, content: str, **metadata) -> AssistantMessage:
    return AssistantMessage.objects.create(conversation=conversation, role=Role.ASSISTANT, content=content,
                                           metadata={"skill": SKILL, **metadata})


def _set_state(message: AssistantMessage, state: str, **extra) -> None:
    message.metadata = {**(message.metadata or {}), "state": state, **extra}
    message.save(update_fields=["metadata", "updated_at"])


def crm_rate_limited(*, user) -> bool:
    """True when the user sent more AutoCRM commands than allowed in the window (Redis, shared by every
    web process): each one may touch many records."""
    limit, window = getattr(settings, "AUTOCRM_RATE_LIMIT", RATE_LIMIT)
    key = f"autocrm:rate:{user.pk}"
    cache.add(key, 0, timeout=window)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window)
        count = 1
    return count > limit


def crm_understand(*, workspace, user, text: str, context: Context | None) -> tuple[Parsed | None, str]:
    """What the text asks and who understood it ("model" or "grammar"); None when it is no CRM command."""
    if crm_llm_wanted(workspace=workspace, user=user, text=text):
        parsed = crm_llm_parse(workspace=workspace, user=user, text=text, context=context)
        if parsed:
            return parsed, "model"
        # The model could not answer, its answer did not hold, or it saw no command: the grammar's rules
        # are exact, so a command they match is one.
    return crm_parse(text), "grammar"


def crm_handle(*, workspace, user, text: str, context: Context | None,
               conversation: AssistantConversation | None = None,
               contact_id: int | None = None) -> AssistantConversation | None:
    """Answer a CRM command with a plan card (stored as two messages), or None when the text is not one.
    `contact_id` is the user's pick among ambiguous choices (checked against the workspace)."""
    snapshot_context = context
    if conversation is not None and conversation.context:
        snapshot_context = Context(conversation.context_type, conversation.context)
    # The model is asked outside any transaction (the gateway's reservation commits first).
    parsed, understood_by = crm_understand(workspace=workspace, user=user, text=text, context=snapshot_context)
    if parsed is None:
        return None
    text = text.strip()
    limited = crm_rate_limited(user=user)
    with transaction.atomic():
        if conversation is None:
            context = context or Context("general", {"label": "General"})
            conversation = AssistantConversation.objects.create(
                workspace=workspace, user=user, title=" ".join(text.split())[:80], context_type=context.context_type,
                context=context.snapshot)
        else:
            conversation.save(update_fields=["updated_at"])
        AssistantMessage.objects.create(conversation=conversation, role=Role.USER, content=text)
        if limited:
            _reply(conversation, "You sent many CRM commands in a short time; wait a minute and try again.",
                   intent=parsed.intent, entities=parsed.entities(), state=LIMITED)
        else:
            _answer(workspace=workspace, user=user, conversation=conversation, parsed=parsed, text=text,
                    contact_id=contact_id, understood_by=understood_by)
    return conversation


def _answer(*, workspace, user, conversation, parsed: Parsed, text: str, contact_id: int | None,
            understood_by: str) -> AssistantMessage:
    base = {"intent": parsed.intent, "entities": parsed.entities(), "understood_by": understood_by}
    if parsed.intent in (UNDO, REDO):
        return _undo_or_redo_last(workspace=workspace, user=user, conversation=conversation, parsed=parsed, base=base)
    if parsed.intent == UNSUPPORTED:
        return _reply(conversation, f"I can't do that yet. {parsed.reason}".strip(), **base, state=UNSUPPORTED_STATE)
    if parsed.intent == BULK:
        return _bulk_answer(workspace=workspace, user=user, conversation=conversation, parsed=parsed, text=text,
                            base=base)
    if contact_id is not None:
        contacts = list(Contact.objects.filter(workspace=workspace, pk=contact_id))
    elif parsed.target is None or parsed.target.kind == CONTEXT:
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
    specs, errors = _specs(workspace=workspace, user=user, contact=contact, operations=parsed.operations)
    change_set = None
    if not errors:
        change_set, errors = _preview(workspace=workspace, actor=user, specs=specs,
                                      title=f"{text[:150]} ({contact})"[:200])
    if change_set is None:
        return _reply(conversation, f"I can't do that for {contact}.", **base, state=REFUSED, errors=errors,
                      specs=_as_json(specs))
    return _reply(conversation, f"Here is the plan for {contact}. Nothing changes until you confirm.", **base,
                  plan=change_set.pk, state=PREVIEWED, specs=_as_json(specs), history=[change_set.pk])


# --- bulk ----------------------------------------------------------------------------------------------

def crm_bulk_select(*, workspace, selection: dict, stage: str) -> list[Contact]:
    """This workspace's contacts a bulk ask means (at most BULK_MAX + 1, to tell "too many"): by the day
    they last wrote, by what an inbound message of theirs mentions, by stage; those already at the
    target stage are left out (nothing would change)."""
    contacts = Contact.objects.filter(workspace=workspace).exclude(stage=stage)
    now = _workspace_now(workspace)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    start, end = {
        "today": (today, today + timedelta(days=1)),
        "yesterday": (today - timedelta(days=1), today),
        "week": (today - timedelta(days=today.weekday()), today + timedelta(days=1)),
        "last_week": (today - timedelta(days=today.weekday() + 7), today - timedelta(days=today.weekday())),
    }.get(selection.get("period") or "", (None, None))
    if start is not None:
        contacts = contacts.filter(last_inbound_at__gte=start, last_inbound_at__lt=end)
    if selection.get("stage"):
        contacts = contacts.filter(stage=selection["stage"])
    if selection.get("topic"):
        asked = Message.objects.filter(workspace=workspace, thread__contact=OuterRef("pk"), direction=Direction.IN,
                                       text__icontains=selection["topic"])
        if start is not None:
            asked = asked.filter(created_at__gte=start, created_at__lt=end)
        contacts = contacts.filter(Exists(asked))
    return list(contacts.order_by("display_name", "pk")[:BULK_MAX + 1])


def _bulk_answer(*, workspace, user, conversation, parsed: Parsed, text: str, base: dict) -> AssistantMessage:
    stage = dict(parsed.operations)["stage"]
    contacts = crm_bulk_select(workspace=workspace, selection=parsed.selection or {}, stage=stage)
    if not contacts:
        return _reply(conversation, "No lead matches that (or they are all at that stage already).", **base,
                      state=NO_MATCH)
    if len(contacts) > BULK_MAX:
        return _reply(conversation, f"More than {BULK_MAX} leads match; narrow it down (a day, a topic, a stage).",
                      **base, state=REFUSED, errors=[f"More than {BULK_MAX} leads match."])
    specs = [OperationSpec("contact.state", {"stage": stage}, c.pk) for c in contacts]
    change_set, errors = _preview(workspace=workspace, actor=user, specs=specs, title=text[:200])
    if change_set is None:
        return _reply(conversation, "I can't do that.", **base, state=REFUSED, errors=errors)
    return _reply(conversation, f"{len(contacts)} leads match. Check the list; nothing changes until you confirm "
                                f"the count.", **base, plan=change_set.pk, state=PREVIEWED, specs=_as_json(specs),
                  history=[change_set.pk], bulk_count=len(contacts))


# --- confirm, undo, redo, feedback ------------------------------------------------------------------------

def _plan(message: AssistantMessage) -> ChangeSet:
    metadata = message.metadata or {}
    if metadata.get("skill") != SKILL or not metadata.get("plan"):
        raise PlanRefused("This message holds no plan.")
    return ChangeSet.objects.get(workspace=message.conversation.workspace, pk=metadata["plan"])


def _specs_of(message: AssistantMessage) -> list[OperationSpec]:
    return [OperationSpec(kind=s["kind"], after=s["after"], target_id=s["target_id"])
            for s in (message.metadata or {}).get("specs", [])]


def crm_plan_confirm(*, message: AssistantMessage, actor, confirmed_count: int | None = None) -> AssistantMessage:
    """Apply the plan in one transaction. A record that moved since the preview: nothing is applied,
    and the plan is previewed again (same steps, the new before values) for the user to confirm. A bulk
    plan needs its count typed back (`confirmed_count`)."""
    change_set = _plan(message)
    workspace = message.conversation.workspace
    if message.metadata.get("state") != PREVIEWED:
        raise PlanRefused("This plan is not waiting for a confirmation.")
    bulk_count = message.metadata.get("bulk_count")
    if bulk_count is not None and confirmed_count != bulk_count:
        raise PlanRefused(f"This changes {bulk_count} leads: confirm with that number.")
    try:
        change_set_apply(change_set=change_set, actor=actor)
    except ChangeConflict:
        fresh, errors = _preview(workspace=workspace, actor=actor, specs=_specs_of(message), title=change_set.title)
        if fresh is None:
            _set_state(message, REFUSED, errors=errors)
            raise PlanRefused("The contact changed since the preview, so nothing was applied; " + " ".join(errors)) from None
        _set_state(message, PREVIEWED, plan=fresh.pk, refreshed=True,
                   history=[*message.metadata.get("history", []), fresh.pk])
        raise PlanRefused("The contact changed since the preview, so nothing was applied. The plan below shows "
                          "the current values; confirm again if it is still right.") from None
    except PermissionDenied as exc:
        raise PlanRefused(str(exc)) from None
    except ValidationError as exc:
        _set_state(message, FAILED)
        raise PlanRefused(" ".join(exc.messages)) from None
    _set_state(message, EXECUTED, refreshed=False)
    return message


def crm_plan_undo(*, message: AssistantMessage, actor, step: int | None = None,
                  overwrite: bool = False) -> AssistantMessage:
    """Undo the executed plan, or only its step `step` (1-based, as the card numbers them). Refused with
    the reason when a record changed since (the card then offers "Undo anyway", `overwrite`)."""
    change_set = _plan(message)
    if message.metadata.get("state") != EXECUTED:
        raise PlanRefused("Only an executed plan can be undone.")
    positions = None
    if step is not None:
        if not 1 <= step <= change_set.operations.count():
            raise PlanRefused(f"This plan has no step {step}.")
        positions = [step - 1]
    try:
        change_set = change_set_undo(change_set=change_set, actor=actor, positions=positions, overwrite=overwrite)
    except ChangeConflict as exc:
        _set_state(message, EXECUTED, conflict=True)
        raise PlanRefused(" ".join(exc.messages) + " Undo anyway to overwrite the newer values.") from None
    except PermissionDenied as exc:
        raise PlanRefused(str(exc)) from None
    except ValidationError as exc:
        raise PlanRefused(" ".join(exc.messages)) from None
    _set_state(message, UNDONE if change_set.status == Status.UNDONE else EXECUTED, conflict=False)
    return message


def crm_plan_redo(*, message: AssistantMessage, actor) -> AssistantMessage:
    """Undo the undo: the same steps previewed from the current values and applied, as a new change set
    (recorded, and undoable, like the first)."""
    if (message.metadata or {}).get("skill") != SKILL or message.metadata.get("state") != UNDONE:
        raise PlanRefused("Only an undone plan can be redone.")
    workspace = message.conversation.workspace
    original = _plan(message)
    fresh, errors = _preview(workspace=workspace, actor=actor, specs=_specs_of(message),
                             title=f"Redo: {original.title}"[:200])
    if fresh is None:
        raise PlanRefused("It cannot be redone: " + " ".join(errors))
    try:
        change_set_apply(change_set=fresh, actor=actor)
    except PermissionDenied as exc:
        raise PlanRefused(str(exc)) from None
    except ValidationError as exc:
        raise PlanRefused(" ".join(exc.messages)) from None
    _set_state(message, EXECUTED, plan=fresh.pk, history=[*message.metadata.get("history", []), fresh.pk])
    return message


def _last_plan(*, workspace, user, state: str) -> AssistantMessage | None:
    return (AssistantMessage.objects.filter(conversation__workspace=workspace, conversation__user=user,
                                            role=Role.ASSISTANT, metadata__skill=SKILL, metadata__state=state,
                                            metadata__has_key="specs")
            .order_by("-updated_at", "-id").first())


def _undo_or_redo_last(*, workspace, user, conversation, parsed: Parsed, base: dict) -> AssistantMessage:
    redo = parsed.intent == REDO
    plan_message = _last_plan(workspace=workspace, user=user, state=UNDONE if redo else EXECUTED)
    if plan_message is None:
        what = "redo" if redo else "undo"
        return _reply(conversation, f"There is no change of yours to {what}.", **base, state=NO_MATCH)
    try:
        if redo:
            crm_plan_redo(message=plan_message, actor=user)
        else:
            crm_plan_undo(message=plan_message, actor=user, step=parsed.step, overwrite=parsed.overwrite)
    except PlanRefused as refusal:
        verb = "redo" if redo else "undo"
        return _reply(conversation, f"I could not {verb} it: {refusal.message}", **base,
                      plan=plan_message.metadata.get("plan"), state=REFUSED, errors=[refusal.message])
    plan_message.refresh_from_db()
    title = ChangeSet.objects.get(workspace=workspace, pk=plan_message.metadata["plan"]).title
    done = "Redone" if redo else (f"Undone step {parsed.step} of" if parsed.step else "Undone")
    # The answer only reports: the plan's own message holds the state (and its buttons).
    return _reply(conversation, f"{done}: {title}.", **base, plan=plan_message.metadata["plan"], state=REPORTED)


def crm_plan_feedback(*, message: AssistantMessage, actor, rating: str, reason: str = "") -> AssistantMessage:
    """A thumbs up or down (with an optional reason) on an executed plan, kept with it so the team can see
    where the assistant misunderstands. Given again, it replaces the earlier one."""
    metadata = message.metadata or {}
    if metadata.get("skill") != SKILL or not metadata.get("history"):
        raise PlanRefused("Feedback is for a plan that was executed.")
    if not ChangeSet.objects.filter(workspace=message.conversation.workspace, pk__in=metadata["history"],
                                    applied_at__isnull=False).exists():
        raise PlanRefused("Feedback is for a plan that was executed.")
    if rating not in ("up", "down"):
        raise PlanRefused("Feedback is a thumbs up or down.")
    reason = " ".join((reason or "").split())[:FEEDBACK_REASON_MAX]
    _set_state(message, metadata["state"], feedback={"rating": rating, "reason": reason, "by": actor.pk,
                                                     "at": timezone.now().isoformat()})
    # Also in the workspace's audit log, where admins see where the assistant misunderstands (the chat
    # itself stays private to its author).
    audit_event_record(verb="autocrm.feedback", workspace=message.conversation.workspace, actor=actor,
                       target=_plan(message), data={"rating": rating, "reason": reason,
                                                    "intent": metadata.get("intent"),
                                                    "understood_by": metadata.get("understood_by", "grammar")})
    return message


def crm_plans_for_contact(*, workspace, user, contact_id: int, limit: int = 10) -> list[AssistantMessage]:
    """The user's own executed or undone AutoCRM plans about one contact of this workspace, newest first
    (the contact page's AutoCRM history; assistant conversations are private, so only one's own)."""
    return list(AssistantMessage.objects.filter(
        conversation__workspace=workspace, conversation__user=user, role=Role.ASSISTANT, metadata__skill=SKILL,
        metadata__has_key="specs", metadata__entities__contact_id=contact_id,
        metadata__state__in=[EXECUTED, UNDONE]).select_related("conversation").order_by("-updated_at", "-id")[:limit])


def crm_changes_for_contact(*, workspace, contact, limit: int = 20) -> list[dict]:
    """Everyone's changes to this contact, its conversations and its lead memory made through change sets
    (AutoCRM plans, the assistant's suggestions), newest first: who, when, how, each field before →
    after, and whether it was undone. The contact's history for the whole team; the plans themselves
    (and their undo) stay in their author's private chat and in the section above."""
    targets = {Contact: [contact.pk],
               Thread: list(Thread.objects.filter(workspace=workspace, contact=contact).values_list("pk", flat=True)),
               LeadMemory: list(LeadMemory.objects.filter(contact=contact).values_list("pk", flat=True))}
    rows = []
    for op in operations_on(workspace=workspace, targets=targets, limit=limit):
        change_set = op.change_set
        fields = [{"field": name.replace("_", " "), "before": _shown(op.before.get(name)),
                   "after": _shown(op.after.get(name))} for name in sorted(set(op.before) | set(op.after))]
        rows.append({"at": change_set.applied_at, "by": change_set.applied_by, "source": change_set.get_source_display(),
                     "label": op.label, "fields": fields, "undone": op.state == "undone",
                     "undone_by": change_set.undone_by})
    return rows


# --- the card -------------------------------------------------------------------------------------------

def _shown(value) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "paused" if value else "running"
    return str(value)


def crm_plan_steps(*, message: AssistantMessage) -> list[dict]:
    """The plan's steps for the card: number, record, field, before → after, state."""
    metadata = message.metadata or {}
    if metadata.get("skill") != SKILL or not metadata.get("plan"):
        return []
    ops = list(Operation.objects.filter(change_set__workspace=message.conversation.workspace,
                                        change_set_id=metadata["plan"]).order_by("position"))
    steps = []
    for op in ops:
        # `several`: the plan has more than one step, so a step can be undone alone.
        row = {"number": op.position + 1, "record": op.label, "state": op.state, "first": True, "several": len(ops) > 1}
        if op.kind == "contact.state":
            for index, (name, after) in enumerate(op.after.items()):
                steps.append({**row, "first": index == 0, "field": name.replace("_", " "),
                              "before": _shown(op.before.get(name)), "after": _shown(after)})
            continue
        if op.kind == "contact.memory_add":
            row.update(field=f"lead memory ({op.after['kind']})", before="", after=op.after["text"])
        elif op.kind == "contact.memory_edit":
            row.update(field="lead memory", before=op.before.get("text", ""), after=op.after["text"])
        elif op.kind == "contact.memory_remove":
            row.update(field="lead memory", before=op.before.get("text", ""), after="(removed)")
        elif op.kind == "contact.booking":
            at = op.after["occurred_at"][:16].replace("T", " ")
            what = {"booked": f"booked for {at}", "canceled": "canceled", "attended": "attended",
                    "no_show": "no-show"}.get(op.after["kind"], op.after["kind"])
            row.update(field="booking", before=_shown(op.before.get("stage")), after=what)
        elif op.kind == "contact.follow_up_strategy":
            step = (op.after.get("steps") or [{}])[0]
            row.update(field="follow-up", before=op.before.get("title", ""),
                       after=f"{op.after.get('title')}: {step.get('action', '')}")
        elif op.kind == "conversation.automation":
            row.update(field="automation", before=_shown(op.before.get("ai_paused")),
                       after=_shown(op.after["ai_paused"]))
        elif op.kind == "conversation.assign":
            emails = dict(Membership.objects.filter(
                workspace=message.conversation.workspace,
                user_id__in=[op.before.get("assigned_to"), op.after.get("assigned_to")]).values_list(
                "user_id", "user__email"))
            row.update(field="assigned to", before=emails.get(op.before.get("assigned_to"), "nobody"),
                       after=emails.get(op.after.get("assigned_to"), "nobody"))
        elif op.kind == "contact.link":
            row.update(field="person", before="", after="linked as one person")
        else:
            row.update(field=op.kind, before="", after="")
        steps.append(row)
    return steps
