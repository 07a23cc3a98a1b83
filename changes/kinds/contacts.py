"""Kinds owned by contacts: stage / sentiment / lead score, booking outcomes, lead memory, the follow-up
strategy.

Opt-out is deliberately not here: it only ever moves forward, by the contact's own word.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone

from changes.kinds.base import OperationKind, jsonable, parse_datetime_value, register
from contacts import services
from contacts.models import BookingEvent, Contact, FollowUpStrategy, LeadMemory, MemoryKind, Sentiment, Stage

BOOKING_HORIZON = timedelta(days=366)  # a booking further than this from today is a typo


class _ContactKind(OperationKind):
    model = Contact
    admin_only = False

    def describe(self, *, workspace, op):
        contact = self._target(workspace, op)
        return f"{self.label} of contact {contact}" if contact else self.label


@register
class ContactStateKind(_ContactKind):
    """Stage, sentiment and lead score set by a person; undo sets the before values back."""

    name = "contact.state"
    label = "Stage, sentiment and score"

    def clean(self, *, workspace, op, after):
        after = self._only(after, {"stage", "sentiment", "lead_score"})
        if "stage" in after and after["stage"] not in Stage.values:
            raise ValidationError(f"Unknown stage {after['stage']!r}.")
        if "sentiment" in after and after["sentiment"] not in Sentiment.values:
            raise ValidationError(f"Unknown sentiment {after['sentiment']!r}.")
        score = after.get("lead_score", 0)
        if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 100:
            raise ValidationError("The lead score is a whole number from 0 to 100.")
        return dict(after)

    def read(self, *, workspace, op):
        contact = self._target(workspace, op)
        return {name: getattr(contact, name) for name in op.after}

    def footprint(self, op):
        return {("contact", op.target_id, name) for name in op.after}

    def describe(self, *, workspace, op):
        contact = self._target(workspace, op)
        return f"contact {contact} ({', '.join(op.after)})"

    def apply(self, *, workspace, op, actor):
        services.contact_state_set(contact=self._target(workspace, op), actor=actor, **op.after)
        return {}

    def undo(self, *, workspace, op, actor):
        services.contact_state_set(contact=self._target(workspace, op), actor=actor, **op.before)

    # A bulk plan sets the stage of 100 leads: read, lock and write them as sets, not row by row.
    batched = True

    def lock_many(self, *, workspace, ops):
        list(Contact.objects.select_for_update().filter(workspace=workspace, pk__in=[op.target_id for op in ops])
             .order_by("pk").values_list("pk"))

    def read_many(self, *, workspace, ops):
        rows = {row["pk"]: row for row in Contact.objects.filter(
            workspace=workspace, pk__in=[op.target_id for op in ops]).values("pk", "stage", "sentiment", "lead_score")}
        return [{name: rows[op.target_id][name] for name in op.after} if op.target_id in rows else {} for op in ops]

    def apply_many(self, *, workspace, ops, actor):
        services.contact_states_set(workspace=workspace, changes=[(op.target_id, op.after) for op in ops], actor=actor)
        return [{} for _ in ops]

    def undo_many(self, *, workspace, ops, actor):
        services.contact_states_set(workspace=workspace, changes=[(op.target_id, op.before) for op in ops], actor=actor)


@register
class ContactBookingKind(_ContactKind):
    """A booking outcome (booked at a time, canceled, attended, no-show) through `contact_booking_record`; undo takes
    the event back and restores the contact's booking state and stage."""

    name = "contact.booking"
    label = "Booking"

    def clean(self, *, workspace, op, after):
        after = self._only(after, {"kind", "occurred_at", "note"})
        if after.get("kind") not in BookingEvent.Kind.values:
            raise ValidationError("A booking outcome is booked, canceled, attended or no-show.")
        occurred_at = parse_datetime_value(after.get("occurred_at") or timezone.now())
        if abs(occurred_at - timezone.now()) > BOOKING_HORIZON:
            raise ValidationError("The booking time is more than a year away; check the date.")
        note = str(after.get("note") or "").strip()[:500]
        return {"kind": after["kind"], "occurred_at": occurred_at.isoformat(), "note": note}

    def read(self, *, workspace, op):
        contact = self._target(workspace, op)
        return {"stage": contact.stage, "booked_at": jsonable(contact.booked_at),
                "booking_canceled_at": jsonable(contact.booking_canceled_at)}

    def unchanged(self, op):
        return False  # an outcome is an event: recording it is always a change

    def footprint(self, op):
        return {("contact", op.target_id, "stage"), ("contact", op.target_id, "booking")}

    def apply(self, *, workspace, op, actor):
        _, event = services.contact_booking_record(
            contact=self._target(workspace, op), kind=op.after["kind"], actor=actor, note=op.after["note"],
            occurred_at=parse_datetime_value(op.after["occurred_at"]))
        return {"event_id": event.pk}

    def _event(self, workspace, op):
        return BookingEvent.objects.filter(workspace=workspace, contact_id=op.target_id,
                                           pk=op.result.get("event_id")).first()

    def changed_since_apply(self, *, workspace, op):
        return super().changed_since_apply(workspace=workspace, op=op) or self._event(workspace, op) is None

    def undo(self, *, workspace, op, actor):
        services.contact_booking_revert(
            event=self._event(workspace, op), actor=actor, stage=op.before["stage"],
            booked_at=parse_datetime_value(op.before["booked_at"]),
            booking_canceled_at=parse_datetime_value(op.before["booking_canceled_at"]))


@register
class LeadMemoryAddKind(_ContactKind):
    """A new lead memory entry; undo takes it back while it still says what this change wrote."""

    name = "contact.memory_add"
    label = "Lead memory"

    def clean(self, *, workspace, op, after):
        after = self._only(after, {"kind", "text"})
        if after.get("kind") not in MemoryKind.values:
            raise ValidationError("A memory entry is a fact, preference, availability or objection.")
        text = " ".join(str(after.get("text") or "").split())[:500]
        if not text:
            raise ValidationError("A memory entry needs text.")
        return {"kind": after["kind"], "text": text}

    def read(self, *, workspace, op):
        if not op.result.get("memory_id"):
            return {}
        memory = LeadMemory.objects.filter(workspace=workspace, pk=op.result["memory_id"]).first()
        return {"kind": memory.kind, "text": memory.text} if memory else {"removed": True}

    def unchanged(self, op):
        return False

    def footprint(self, op):
        return {(self.name, op.target_id, op.position)}

    def apply(self, *, workspace, op, actor):
        memory = services.lead_memory_add(contact=self._target(workspace, op), kind=op.after["kind"],
                                          text=op.after["text"], actor=actor)
        return {"memory_id": memory.pk}

    def undo(self, *, workspace, op, actor):
        memory = LeadMemory.objects.get(workspace=workspace, pk=op.result["memory_id"])
        services.lead_memory_retract(memory=memory, actor=actor)


@register
class LeadMemoryRemoveKind(OperationKind):
    """Delete a lead memory entry (admins, as `lead_memory_delete`); undo writes it again."""

    name = "contact.memory_remove"
    label = "Remove lead memory"
    model = LeadMemory

    def clean(self, *, workspace, op, after):
        if after not in ({}, {"removed": True}, None):
            raise ValidationError("Removing a memory entry takes no values.")
        return {"removed": True}

    def read(self, *, workspace, op):
        memory = self._target(workspace, op)
        if memory is None:
            return {"removed": True}
        return {"contact_id": memory.contact_id, "kind": memory.kind, "text": memory.text,
                "expires_at": jsonable(memory.expires_at)}

    def unchanged(self, op):
        return op.before == {"removed": True}

    def describe(self, *, workspace, op):
        memory = self._target(workspace, op)
        return f"lead memory “{memory.text[:60]}” of contact {memory.contact}" if memory else self.label

    def apply(self, *, workspace, op, actor):
        services.lead_memory_delete(memory=self._target(workspace, op), actor=actor)
        return {}

    def undo(self, *, workspace, op, actor):
        contact = Contact.objects.get(workspace=workspace, pk=op.before["contact_id"])
        memory = services.lead_memory_add(contact=contact, kind=op.before["kind"], text=op.before["text"],
                                          actor=actor, expires_at=parse_datetime_value(op.before["expires_at"]))
        op.result = {**op.result, "restored_memory_id": memory.pk}


@register
class FollowUpStrategyKind(_ContactKind):
    """The contact's follow-up strategy (a checklist of timed steps), set or replaced; undo removes it,
    or puts back the one it replaced."""

    name = "contact.follow_up_strategy"
    label = "Follow-up strategy"

    def clean(self, *, workspace, op, after):
        after = self._only(after, {"title", "steps"})
        title, steps = services.follow_up_strategy_clean(title=after.get("title") or "", steps=after.get("steps"))
        return {"title": title, "steps": steps}

    def read(self, *, workspace, op):
        strategy = FollowUpStrategy.objects.filter(workspace=workspace, contact_id=op.target_id).first()
        return {"title": strategy.title, "steps": strategy.steps} if strategy else {}

    def footprint(self, op):
        return {("contact", op.target_id, "follow_up_strategy")}

    def apply(self, *, workspace, op, actor):
        strategy = services.follow_up_strategy_set(contact=self._target(workspace, op), title=op.after["title"],
                                                   steps=op.after["steps"], actor=actor)
        return {"strategy_id": strategy.pk, "contact_id": op.target_id}

    def undo(self, *, workspace, op, actor):
        contact = self._target(workspace, op)
        if op.before:
            services.follow_up_strategy_set(contact=contact, title=op.before["title"], steps=op.before["steps"],
                                            actor=actor)
        else:
            services.follow_up_strategy_clear(contact=contact, actor=actor)
