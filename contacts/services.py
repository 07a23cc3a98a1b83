"""Writes for contacts."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.db.models.functions import Greatest
from django.utils import timezone

from contacts.models import Contact

logger = logging.getLogger(__name__)


def contact_get_or_create(*, channel, external_id: str) -> tuple[Contact, bool]:
    """The contact for a platform-scoped id; a new one gets its profile fetched after commit.

    Safe under concurrency: the unique (channel, external_id) constraint decides, get_or_create
    re-reads on a conflict.
    """
    contact, created = Contact.objects.get_or_create(
        channel=channel, external_id=external_id, defaults={"workspace_id": channel.workspace_id},
    )
    if created:
        from contacts.tasks import fetch_contact_profile

        transaction.on_commit(lambda: _enqueue_quietly(fetch_contact_profile, contact.pk))
    return contact, created


def _enqueue_quietly(task, *args) -> None:
    try:
        task.apply_async(args=list(args), retry=False)
    except Exception as exc:  # noqa: BLE001 - a profile is a nicety; never fail ingestion over it
        logger.warning("%s not enqueued: %s", task.name, exc)


def contact_record_inbound(*, contact: Contact, at: datetime) -> None:
    """Move `last_inbound_at` forward only (deliveries arrive in any order)."""
    Contact.objects.filter(pk=contact.pk).update(last_inbound_at=Greatest("last_inbound_at", at))


def contact_fetch_profile(*, contact_id: int) -> Contact | None:
    """Fetch name/username once per contact. Failures are left for a later attempt by hand."""
    from integrations.meta.client import GraphClient, GraphError
    from integrations.services import channel_record_graph_error

    contact = Contact.objects.select_related("channel").filter(pk=contact_id, profile_fetched_at=None).first()
    if contact is None or not contact.channel.can_send:
        return None
    try:
        profile = GraphClient.for_channel(contact.channel).fetch_profile(user_id=contact.external_id)
    except GraphError as exc:
        if exc.kind == "token":
            channel_record_graph_error(channel=contact.channel, error=exc)
        logger.info("profile of contact %s not fetched: %s", contact_id, exc)
        if exc.permanent and exc.kind != "token":
            # Meta will not tell us (privacy settings, deleted account): do not ask again.
            Contact.objects.filter(pk=contact_id).update(profile_fetched_at=timezone.now())
        return None
    Contact.objects.filter(pk=contact_id).update(
        display_name=profile.name, username=profile.username, profile_fetched_at=timezone.now(),
    )
    contact.refresh_from_db()
    return contact


def lead_memory_purge_expired(*, now=None, batch: int = 5000) -> int:
    """Delete lead memory past `expires_at` (the 90-day retention), in batches. Returns the count."""
    from contacts.models import LeadMemory

    now = now or timezone.now()
    total = 0
    while True:
        ids = list(LeadMemory.objects.filter(expires_at__lte=now).values_list("pk", flat=True)[:batch])
        if not ids:
            break
        total += LeadMemory.objects.filter(pk__in=ids).delete()[0]
    if total:
        logger.info("lead memory: %s expired entries purged", total)
    return total


def _require_admin(*, workspace_id: int, actor) -> None:
    from accounts.tenancy import require_workspace_admin

    require_workspace_admin(workspace_id=workspace_id, actor=actor, message="Only workspace admins can edit lead memory.")


@transaction.atomic
def lead_memory_update(*, memory, text: str, actor):
    """Admins correct what Sidekick remembered (setters only ever see redacted text)."""
    from django.core.exceptions import ValidationError

    from accounts.services import audit_event_record

    _require_admin(workspace_id=memory.workspace_id, actor=actor)
    text = " ".join((text or "").split())[:500]
    if not text:
        raise ValidationError("A memory entry needs text; delete it instead.")
    memory.text = text
    memory.save(update_fields=["text"])
    audit_event_record(verb="contacts.lead_memory_edited", workspace=memory.workspace, actor=actor, target=memory)
    return memory


@transaction.atomic
def lead_memory_delete(*, memory, actor) -> None:
    from accounts.services import audit_event_record

    _require_admin(workspace_id=memory.workspace_id, actor=actor)
    audit_event_record(verb="contacts.lead_memory_deleted", workspace=memory.workspace, actor=actor, target=memory,
                       data={"kind": memory.kind})
    memory.delete()


# --- changes a setter makes on the contact page -------------------------------------------------

@transaction.atomic
def contact_stage_set(*, contact: Contact, stage: str, actor) -> bool:
    """Set the pipeline stage by hand (the reply engine may move it again later). True if it changed."""
    from accounts.services import audit_event_record
    from contacts.models import Stage

    if stage not in Stage.values:
        raise ValueError(f"unknown stage {stage!r}")
    # Locked: the reply engine may be applying its own assessment to this row right now.
    current = Contact.objects.select_for_update().only("stage", "sentiment", "lead_score").get(pk=contact.pk)
    previous = current.stage
    if previous == stage:
        return False
    Contact.objects.filter(pk=contact.pk).update(stage=stage, updated_at=timezone.now())
    contact.stage, contact.sentiment, contact.lead_score = stage, current.sentiment, current.lead_score
    _state_change_record(contact=contact, actor=actor)
    audit_event_record(verb="contact.stage_set", workspace=contact.workspace, actor=actor, target=contact,
                       data={"from": previous, "to": stage})
    return True


@transaction.atomic
def contact_booking_record(*, contact: Contact, kind: str, occurred_at: datetime, actor, note: str = ""):
    """Record a booking outcome as history (BookingEvent) and as the contact's current state.

    Booked: `booked_at` is the time of the call and the stage becomes booked (a customer stays a
    customer). Canceled: `booking_canceled_at` is set and a booked contact goes back to qualified.
    A later booking clears an earlier cancellation.
    """
    from accounts.services import audit_event_record
    from contacts.models import BookingEvent, Stage

    if kind not in (BookingEvent.Kind.BOOKED, BookingEvent.Kind.CANCELED):
        raise ValueError(f"unsupported booking outcome {kind!r}")
    workspace = contact.workspace
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    contact.workspace = workspace
    event = BookingEvent.objects.create(workspace_id=contact.workspace_id, contact=contact, kind=kind,
                                        occurred_at=occurred_at, note=note[:500])
    fields = ["updated_at"]
    if kind == BookingEvent.Kind.BOOKED:
        contact.booked_at, contact.booking_canceled_at = occurred_at, None
        fields += ["booked_at", "booking_canceled_at"]
        if contact.stage != Stage.CUSTOMER:
            contact.stage = Stage.BOOKED
            fields.append("stage")
    else:
        contact.booking_canceled_at = occurred_at
        fields.append("booking_canceled_at")
        if contact.stage == Stage.BOOKED:
            contact.stage = Stage.QUALIFIED
            fields.append("stage")
    contact.save(update_fields=fields)
    if "stage" in fields:
        _state_change_record(contact=contact, actor=actor)
    audit_event_record(verb=f"contact.booking_{kind}", workspace=workspace, actor=actor, target=contact,
                       data={"at": occurred_at.isoformat(), "note": note[:200]})
    return contact, event


def _state_change_record(*, contact: Contact, actor) -> None:
    """A change made by hand, in the stage history the contact page charts (the engine writes its own)."""
    from contacts.models import ContactStateChange

    ContactStateChange.objects.create(workspace_id=contact.workspace_id, contact=contact, stage=contact.stage,
                                      sentiment=contact.sentiment, lead_score=contact.lead_score, changed_by=actor)


# --- by-hand changes the `changes` mechanism applies and undoes ---------------------------------

@transaction.atomic
def contact_state_set(*, contact: Contact, actor, stage: str | None = None, sentiment: str | None = None,
                      lead_score: int | None = None) -> bool:
    """Set stage, sentiment and/or lead score by hand, as one history row. True if anything changed.

    Unlike the reply engine's assessment, any stage may be set (a person may move a lead back).
    """
    from accounts.services import audit_event_record
    from contacts.models import Sentiment, Stage

    if stage is not None and stage not in Stage.values:
        raise ValueError(f"unknown stage {stage!r}")
    if sentiment is not None and sentiment not in Sentiment.values:
        raise ValueError(f"unknown sentiment {sentiment!r}")
    if lead_score is not None and not (isinstance(lead_score, int) and 0 <= lead_score <= 100):
        raise ValueError("the lead score is a whole number from 0 to 100")
    current = Contact.objects.select_for_update().only("stage", "sentiment", "lead_score").get(pk=contact.pk)
    wanted = {"stage": stage, "sentiment": sentiment, "lead_score": lead_score}
    changes = {name: value for name, value in wanted.items() if value is not None and getattr(current, name) != value}
    contact.stage, contact.sentiment, contact.lead_score = current.stage, current.sentiment, current.lead_score
    if not changes:
        return False
    Contact.objects.filter(pk=contact.pk).update(**changes, updated_at=timezone.now())
    for name, value in changes.items():
        setattr(contact, name, value)
    _state_change_record(contact=contact, actor=actor)
    audit_event_record(verb="contact.state_set", workspace=contact.workspace, actor=actor, target=contact,
                       data={name: {"from": getattr(current, name), "to": value} for name, value in changes.items()})
    return True


@transaction.atomic
def contact_booking_revert(*, event, actor, stage: str, booked_at: datetime | None,
                           booking_canceled_at: datetime | None):
    """Take back a booking outcome recorded by mistake: the event goes, the contact's booking state
    and stage return to the given values (what they were before the event). The audit log keeps a
    trace. The caller checks that nothing else changed the contact since."""
    from accounts.services import audit_event_record
    from contacts.models import Stage

    if stage not in Stage.values:
        raise ValueError(f"unknown stage {stage!r}")
    contact = Contact.objects.select_for_update().get(pk=event.contact_id)
    fields = {"booked_at": booked_at, "booking_canceled_at": booking_canceled_at, "stage": stage}
    stage_changed = contact.stage != stage
    for name, value in fields.items():
        setattr(contact, name, value)
    contact.save(update_fields=[*fields, "updated_at"])
    if stage_changed:
        _state_change_record(contact=contact, actor=actor)
    audit_event_record(verb=f"contact.booking_{event.kind}_reverted", workspace=contact.workspace, actor=actor,
                       target=contact, data={"at": event.occurred_at.isoformat(), "event": event.pk})
    event.delete()
    return contact


@transaction.atomic
def lead_memory_add(*, contact: Contact, kind: str, text: str, actor, expires_at: datetime | None = None):
    """A fact, preference, availability or objection told to a person (setters and admins)."""
    from django.core.exceptions import ValidationError

    from accounts.services import audit_event_record
    from contacts.models import LeadMemory, MemoryKind

    if kind not in MemoryKind.values:
        raise ValidationError(f"Unknown memory kind {kind!r}.")
    text = " ".join((text or "").split())[:500]
    if not text:
        raise ValidationError("A memory entry needs text.")
    extra = {"expires_at": expires_at} if expires_at is not None else {}
    memory = LeadMemory.objects.create(workspace_id=contact.workspace_id, contact=contact, kind=kind, text=text,
                                       created_by=actor, **extra)
    audit_event_record(verb="contacts.lead_memory_added", workspace=contact.workspace, actor=actor, target=memory,
                       data={"kind": kind})
    return memory


@transaction.atomic
def lead_memory_retract(*, memory, actor) -> None:
    """Undo of `lead_memory_add`: setters may take back an entry a person added; what the reply
    pipeline remembered is deleted only by admins (`lead_memory_delete`)."""
    from django.core.exceptions import PermissionDenied

    from accounts.services import audit_event_record

    if memory.created_by_id is None:
        raise PermissionDenied("Only admins can delete what Sidekick remembered.")
    audit_event_record(verb="contacts.lead_memory_retracted", workspace=memory.workspace, actor=actor,
                       target=memory, data={"kind": memory.kind})
    memory.delete()
