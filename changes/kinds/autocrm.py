"""Kinds AutoCRM plans need beyond the first ones: editing a lead memory entry, pausing or resuming the
AI on a thread, assigning a thread, and linking two contacts as one person. Each writes only through
its owning app's service (contacts, conversations), which checks roles and audits again."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from accounts.models import Membership
from changes.kinds.base import OperationKind, register
from contacts import services as contact_services
from contacts.models import Contact, LeadMemory
from conversations import services as conversation_services
from conversations.models import Thread


@register
class LeadMemoryEditKind(OperationKind):
    """Correct a lead memory entry's text (admins, as `lead_memory_update`); undo writes the old text back."""

    name = "contact.memory_edit"
    label = "Edit lead memory"
    model = LeadMemory

    def clean(self, *, workspace, op, after):
        after = self._only(after, {"text"})
        text = " ".join(str(after.get("text") or "").split())[:500]
        if not text:
            raise ValidationError("A memory entry needs text; remove it instead.")
        return {"text": text}

    def read(self, *, workspace, op):
        memory = self._target(workspace, op)
        return {"text": memory.text} if memory else {"removed": True}

    def describe(self, *, workspace, op):
        memory = self._target(workspace, op)
        return f"lead memory ({memory.kind}) of contact {memory.contact}" if memory else self.label

    def apply(self, *, workspace, op, actor):
        contact_services.lead_memory_update(memory=self._target(workspace, op), text=op.after["text"], actor=actor)
        return {}

    def undo(self, *, workspace, op, actor):
        contact_services.lead_memory_update(memory=self._target(workspace, op), text=op.before["text"], actor=actor)


class _ThreadKind(OperationKind):
    model = Thread
    admin_only = False

    def describe(self, *, workspace, op):
        thread = self._queryset(workspace).select_related("contact").filter(pk=op.target_id).first()
        return f"{self.label} of the conversation with {thread.contact}" if thread else self.label


@register
class ThreadAutomationKind(_ThreadKind):
    """Pause the AI on a thread (a takeover) or hand it back (`thread_resume_ai`); undo does the opposite.
    Resuming also resolves the thread's open escalations, which an undo does not reopen."""

    name = "conversation.automation"
    label = "Automation"

    def clean(self, *, workspace, op, after):
        after = self._only(after, {"ai_paused"})
        if not isinstance(after["ai_paused"], bool):
            raise ValidationError("Automation is paused or resumed.")
        return dict(after)

    def read(self, *, workspace, op):
        return {"ai_paused": self._target(workspace, op).ai_paused}

    def _set(self, *, workspace, op, actor, paused: bool):
        thread = self._target(workspace, op)
        if paused:
            conversation_services.thread_takeover(thread=thread, actor=actor)
        else:
            conversation_services.thread_resume_ai(thread=thread, actor=actor)

    def apply(self, *, workspace, op, actor):
        self._set(workspace=workspace, op=op, actor=actor, paused=op.after["ai_paused"])
        return {}

    def undo(self, *, workspace, op, actor):
        self._set(workspace=workspace, op=op, actor=actor, paused=op.before["ai_paused"])


@register
class ThreadAssignKind(_ThreadKind):
    """Give a thread to a member (or to nobody) through `thread_assign`; undo gives it back."""

    name = "conversation.assign"
    label = "Assignee"

    def clean(self, *, workspace, op, after):
        after = self._only(after, {"assigned_to"})
        user_id = after["assigned_to"]
        if user_id is not None and not Membership.objects.filter(workspace=workspace, user_id=user_id).exists():
            raise ValidationError("Threads can only be assigned to members of this workspace.")
        return {"assigned_to": user_id}

    def read(self, *, workspace, op):
        return {"assigned_to": self._target(workspace, op).assigned_to_id}

    def _assign(self, *, workspace, op, actor, user_id):
        assignee = None
        if user_id is not None:
            membership = Membership.objects.select_related("user").filter(workspace=workspace, user_id=user_id).first()
            if membership is None:
                raise ValidationError("That member left the workspace.")
            assignee = membership.user
        try:
            conversation_services.thread_assign(thread=self._target(workspace, op), assignee=assignee, actor=actor)
        except conversation_services.AssignmentRefused as exc:
            raise ValidationError(str(exc)) from None

    def apply(self, *, workspace, op, actor):
        self._assign(workspace=workspace, op=op, actor=actor, user_id=op.after["assigned_to"])
        return {}

    def undo(self, *, workspace, op, actor):
        self._assign(workspace=workspace, op=op, actor=actor, user_id=op.before["assigned_to"])


@register
class ContactLinkKind(OperationKind):
    """Link another contact to this one as the same person (admins, as `contact_link_as_person`). Undo
    unlinks the contact that joined. Two contacts that already belong to two different people are not
    merged from here: that merge deletes a person and cannot be undone exactly."""

    name = "contact.link"
    label = "Link as one person"
    model = Contact
    admin_only = True

    def clean(self, *, workspace, op, after):
        after = self._only(after, {"other_id"})
        other = Contact.objects.filter(workspace=workspace, pk=after["other_id"]).first()
        if other is None:
            raise ValidationError("No such contact in this workspace.")
        if other.pk == op.target_id:
            raise ValidationError("A contact is already its own person.")
        contact = self._target(workspace, op)
        if contact.person_id and other.person_id and contact.person_id != other.person_id:
            raise ValidationError("Both contacts already belong to different people; merge them on the contact page.")
        return {"other_id": other.pk}

    def read(self, *, workspace, op):
        rows = dict(Contact.objects.filter(workspace=workspace, pk__in=[op.target_id, op.after["other_id"]])
                    .values_list("pk", "person_id"))
        return {"person_id": rows.get(op.target_id), "other_person_id": rows.get(op.after["other_id"])}

    def unchanged(self, op):
        return op.before["person_id"] is not None and op.before["person_id"] == op.before["other_person_id"]

    def footprint(self, op):
        return {("contact", op.target_id, "person"), ("contact", op.after["other_id"], "person")}

    def describe(self, *, workspace, op):
        names = {c.pk: str(c) for c in Contact.objects.filter(workspace=workspace,
                                                              pk__in=[op.target_id, op.after["other_id"]])}
        return f"contact {names.get(op.target_id)} and {names.get(op.after['other_id'])} as one person"

    def lock(self, *, workspace, op):
        list(Contact.objects.select_for_update().filter(workspace=workspace, pk__in=sorted(
            [op.target_id, op.after["other_id"]])).values_list("pk"))

    def apply(self, *, workspace, op, actor):
        contact = self._target(workspace, op)
        other = Contact.objects.get(workspace=workspace, pk=op.after["other_id"])
        person = contact_services.contact_link_as_person(contact=contact, other=other, actor=actor)
        return {"person_id": person.pk}

    def undo(self, *, workspace, op, actor):
        # Unlink whoever was not in the person before; with two, unlinking one dissolves the person.
        joined = op.after["other_id"] if op.before["person_id"] is not None else op.target_id
        contact_services.contact_unlink_person(contact=Contact.objects.get(workspace=workspace, pk=joined), actor=actor)
