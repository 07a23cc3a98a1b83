"""Machine-readable exports: a ZIP with one JSON file per table and a README.md of the fields.

The tables are listed once below (`CONTACT_TABLES`, `USER_TABLES`): adding a model to an export is one
`Table(...)` line, and its README section is written from the model's own field definitions. Rows
are read with `.iterator()` and written into the ZIP entry one at a time, into a temporary file, so a
contact with a hundred thousand messages costs the worker one chunk of rows in memory, not the export.
"""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.postgres.search import SearchVectorField
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from pgvector.django import VectorField

from accounts.models import AuditEvent
from assistant.models import AssistantConversation, AssistantMessage, AssistantSuggestion
from changes.erasure import contact_operations
from changes.models import ChangeSet, Operation
from contacts.models import BookingEvent, Contact, ContactStateChange, FollowUpStrategy, LeadMemory, Person
from conversations.models import Escalation, FollowUpStepRun, Message, ReplyDraft, SidekickActionLog, Thread
from integrations.erasure import sandbox_sends_for, webhook_events_mentioning, webhook_items_for
from integrations.models import LLMUsage, SandboxSend, WebhookEvent
from privacy.subjects import ContactSubject, UserSubject

CHUNK = 200
# Columns that are machinery, not data about anyone (search documents, vectors, raw bytes).
SKIPPED_FIELDS = (SearchVectorField, VectorField, models.BinaryField)


@dataclass(frozen=True)
class Table:
    filename: str
    model: type[models.Model]
    rows: Callable[..., models.QuerySet]
    about: str
    # For tables whose stored form is not the useful one (a raw webhook body): row → dict, or None to skip.
    serialize: Callable[..., dict | None] | None = None
    extra_fields: tuple[tuple[str, str], ...] = ()


def _webhook_event(subject: ContactSubject, event: WebhookEvent) -> dict | None:
    items = webhook_items_for(body=event.body, account_id=subject.contact.channel.account_id,
                              external_id=subject.contact.external_id)
    if not items:
        return None
    return {"id": event.pk, "received_at": event.received_at, "signed_by": event.signed_by, "status": event.status,
            "items": items}


def _ops(s: ContactSubject):
    return contact_operations(workspace=s.workspace, contact_id=s.contact.pk, row_targets=s.row_targets)


CONTACT_TABLES: list[Table] = [
    Table("contact.json", Contact, lambda s: Contact.objects.filter(workspace=s.workspace, pk=s.contact.pk),
          "The contact's profile on its channel: Meta's id (PSID or IGSID), names, stage, score, booking state."),
    Table("person.json", Person, lambda s: Person.objects.filter(workspace=s.workspace, pk=s.contact.person_id),
          "The person this contact was linked to by an admin (the same human on another channel)."),
    Table("threads.json", Thread, lambda s: Thread.objects.filter(workspace=s.workspace, contact=s.contact),
          "The conversation with the contact on its channel."),
    Table("messages.json", Message, lambda s: Message.objects.filter(workspace=s.workspace, thread_id__in=s.thread_ids),
          "Every message in the contact's threads, inbound and outbound, with edits and reactions."),
    Table("lead_memory.json", LeadMemory, lambda s: LeadMemory.objects.filter(workspace=s.workspace, contact=s.contact),
          "What the contact told us, kept for the drafting model."),
    Table("state_changes.json", ContactStateChange,
          lambda s: ContactStateChange.objects.filter(workspace=s.workspace, contact=s.contact),
          "History of the contact's stage, sentiment and lead score."),
    Table("booking_events.json", BookingEvent,
          lambda s: BookingEvent.objects.filter(workspace=s.workspace, contact=s.contact),
          "Booking outcomes: booked, canceled, attended, no-show."),
    Table("follow_up_strategy.json", FollowUpStrategy,
          lambda s: FollowUpStrategy.objects.filter(workspace=s.workspace, contact=s.contact),
          "The follow-up plan saved on the contact: timed steps (from an assistant suggestion)."),
    Table("reply_drafts.json", ReplyDraft,
          lambda s: ReplyDraft.objects.filter(workspace=s.workspace, thread_id__in=s.thread_ids),
          "Each run of the reply pipeline for the contact's messages: the draft, its confidence and decision."),
    Table("escalations.json", Escalation,
          lambda s: Escalation.objects.filter(workspace=s.workspace, thread_id__in=s.thread_ids),
          "The contact's threads handed to a human, with why."),
    Table("action_log.json", SidekickActionLog,
          lambda s: SidekickActionLog.objects.filter(Q(contact=s.contact) | Q(thread_id__in=s.thread_ids),
                                                     workspace=s.workspace),
          "What Sidekick did in the contact's threads."),
    Table("follow_up_runs.json", FollowUpStepRun,
          lambda s: FollowUpStepRun.objects.filter(workspace=s.workspace, thread_id__in=s.thread_ids),
          "Follow-up steps drafted, sent or skipped for the contact."),
    Table("change_operations.json", Operation, _ops,
          "CRM changes that touched the contact or its rows, with the values before and after."),
    Table("change_sets.json", ChangeSet,
          lambda s: ChangeSet.objects.filter(workspace=s.workspace, pk__in=_ops(s).values("change_set_id")),
          "The change sets those operations belong to (who confirmed them, when)."),
    Table("webhook_events.json", WebhookEvent,
          lambda s: webhook_events_mentioning(external_id=s.contact.external_id),
          "Raw deliveries from Meta that mention the contact: only the items about the contact are included.",
          serialize=_webhook_event,
          extra_fields=(("id", "the stored delivery"), ("received_at", "when Meta delivered it"),
                        ("signed_by", "which app secret verified it"), ("status", "processing status"),
                        ("items", "the delivery's items about the contact, as Meta sent them"))),
    Table("sandbox_sends.json", SandboxSend,
          lambda s: sandbox_sends_for(channel_id=s.contact.channel_id, external_id=s.contact.external_id),
          "Messages the built-in Graph stand-in recorded for the contact (sandbox mode only)."),
    # Members' assistant conversations opened on the contact are erased with the contact but not exported:
    # they are private to their user, even from admins (README, "The assistant").
    Table("audit_events.json", AuditEvent,
          lambda s: AuditEvent.objects.filter(workspace=s.workspace, target__in=s.audit_targets),
          "Audit-log entries about the contact, its threads, memory and bookings."),
]

USER_TABLES: list[Table] = [
    Table("assistant_conversations.json", AssistantConversation,
          lambda s: AssistantConversation.objects.filter(workspace=s.workspace, user=s.user),
          "Your conversations with the assistant in this workspace."),
    Table("assistant_messages.json", AssistantMessage,
          lambda s: AssistantMessage.objects.filter(conversation__workspace=s.workspace, conversation__user=s.user),
          "Every question and answer of those conversations, with tokens, model and latency."),
    Table("assistant_suggestions.json", AssistantSuggestion,
          lambda s: AssistantSuggestion.objects.filter(message__conversation__workspace=s.workspace,
                                                       message__conversation__user=s.user),
          "Suggestions the assistant made in your conversations: their text, status and what each became."),
    Table("llm_usage.json", LLMUsage, lambda s: LLMUsage.objects.filter(workspace=s.workspace, user=s.user),
          "The usage ledger: one row per model call made for you (tokens, cost, outcome; no text)."),
]


def _fields(model) -> list[models.Field]:
    return [f for f in model._meta.concrete_fields if not isinstance(f, SKIPPED_FIELDS)]


def row_dict(obj: models.Model) -> dict:
    return {f.attname: f.value_from_object(obj) for f in _fields(type(obj))}


def _describe(field: models.Field) -> str:
    kind = "id of a " + field.related_model._meta.verbose_name if field.is_relation else field.get_internal_type()
    text = str(field.help_text or field.verbose_name)
    choices = f" One of: {', '.join(str(v) for v, _ in field.choices)}." if field.choices else ""
    return f"- `{field.attname}` ({kind}): {text}.{choices}"


def readme(tables: list[Table], *, title: str) -> str:
    lines = [f"# {title}", "", "One JSON file per table: a list of objects, one per row. Times are ISO 8601 "
             "in UTC; `*_id` fields are ids of rows in other files of this export (or of rows it does not "
             "include, such as members). Empty lists mean Sidekick holds no such row.", ""]
    for table in tables:
        lines += [f"## {table.filename}", "", table.about, ""]
        if table.extra_fields:
            lines += [f"- `{name}`: {text}." for name, text in table.extra_fields]
        else:
            lines += [_describe(f) for f in _fields(table.model)]
        lines.append("")
    return "\n".join(lines)


def export_write(*, tables: list[Table], subject: ContactSubject | UserSubject, title: str) -> tuple[tempfile._TemporaryFileWrapper, dict[str, int]]:
    """The ZIP in a temporary file (the caller saves and closes it), and the row count per file."""
    out = tempfile.TemporaryFile(suffix=".zip")
    counts = {}
    encoder = DjangoJSONEncoder(ensure_ascii=False)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.md", readme(tables, title=title))
        for table in tables:
            written = 0
            with archive.open(table.filename, "w", force_zip64=True) as entry:
                entry.write(b"[")
                for obj in table.rows(subject).order_by("pk").iterator(chunk_size=CHUNK):
                    data = table.serialize(subject, obj) if table.serialize else row_dict(obj)
                    if data is None:
                        continue
                    entry.write((b",\n" if written else b"\n") + encoder.encode(data).encode())
                    written += 1
                entry.write(b"\n]\n")
            counts[table.filename.removesuffix(".json")] = written
    out.seek(0)
    return out, counts
