"""Writes for contacts."""

from __future__ import annotations

import logging
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models.functions import Greatest
from django.utils import timezone

from accounts.services import audit_event_record
from accounts.tenancy import require_workspace_admin
from contacts.models import (
    BookingEvent,
    Contact,
    ContactStateChange,
    LeadMemory,
    MemoryKind,
    Person,
    Sentiment,
    Stage,
)
from integrations.meta.client import GraphClient, GraphError
from integrations.services import channel_record_graph_error
from sidekick_project.enqueue import task_enqueue_on_commit

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
        from contacts.tasks import fetch_contact_profile  # the task module imports this one

        # A profile is a nicety: a lost enqueue never fails ingestion.
        task_enqueue_on_commit(fetch_contact_profile, args=[contact.pk])
    return contact, created


def contact_name_set(*, workspace, channel_id: int, external_id: str, name: str) -> int:
    """Name a contact by hand (the sandbox's typed name). The profile counts as fetched, so Meta's
    lookup (`contact_fetch_profile`) does not replace it. Returns how many contacts changed (0 or 1)."""
    name = (name or "").strip()[:200]
    if not name:
        return 0
    return Contact.objects.filter(workspace=workspace, channel_id=channel_id, external_id=external_id).update(
        display_name=name, profile_fetched_at=timezone.now())


def contact_record_inbound(*, contact: Contact, at: datetime) -> None:
    """Move `last_inbound_at` forward only (deliveries arrive in any order)."""
    Contact.objects.filter(pk=contact.pk).update(last_inbound_at=Greatest("last_inbound_at", at))


def contact_fetch_profile(*, contact_id: int) -> Contact | None:
    """Fetch name/username once per contact. Failures are left for a later attempt by hand."""
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
    require_workspace_admin(workspace_id=workspace_id, actor=actor, message="Only workspace admins can edit lead memory.")


@transaction.atomic
def lead_memory_update(*, memory, text: str, actor):
    """Admins correct what Sidekick remembered (setters only ever see redacted text)."""
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
    _require_admin(workspace_id=memory.workspace_id, actor=actor)
    audit_event_record(verb="contacts.lead_memory_deleted", workspace=memory.workspace, actor=actor, target=memory,
                       data={"kind": memory.kind})
    memory.delete()


# --- changes a setter makes on the contact page -------------------------------------------------

@transaction.atomic
def contact_stage_set(*, contact: Contact, stage: str, actor) -> bool:
    """Set the pipeline stage by hand (the reply engine may move it again later). True if it changed."""
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
    A later booking clears an earlier cancellation. Attended and no-show are history only: the call's
    outcome, with the booking state and stage as they are (a person moves the stage on if they wish).
    """
    if kind not in BookingEvent.Kind.values:
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
    elif kind == BookingEvent.Kind.CANCELED:
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
    """A change made by hand, in the stage history the contact page charts."""
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
def contact_states_set(*, workspace, changes: list[tuple[int, dict]], actor) -> int:
    """`contact_state_set` for many contacts at once (a bulk AutoCRM plan and its undo): the rows locked
    in id order, one UPDATE, one history row and one audit event per contact that changed, each written
    in one statement. `changes` is [(contact id, {stage, sentiment, lead_score})]. Returns how many changed."""
    from accounts.services import audit_events_record
    from contacts.models import Sentiment, Stage

    for _, values in changes:
        if set(values) - {"stage", "sentiment", "lead_score"}:
            raise ValueError("only stage, sentiment and lead_score are set here")
        if values.get("stage") is not None and values["stage"] not in Stage.values:
            raise ValueError(f"unknown stage {values['stage']!r}")
        if values.get("sentiment") is not None and values["sentiment"] not in Sentiment.values:
            raise ValueError(f"unknown sentiment {values['sentiment']!r}")
        score = values.get("lead_score")
        if score is not None and not (isinstance(score, int) and 0 <= score <= 100):
            raise ValueError("the lead score is a whole number from 0 to 100")
    rows = {c.pk: c for c in Contact.objects.select_for_update().filter(
        workspace=workspace, pk__in=[contact_id for contact_id, _ in changes]).order_by("pk").only(
        "pk", "workspace_id", "stage", "sentiment", "lead_score")}
    now = timezone.now()
    changed, events = [], []
    for contact_id, values in changes:
        contact = rows[contact_id]
        diff = {name: value for name, value in values.items() if value is not None and getattr(contact, name) != value}
        if not diff:
            continue
        events.append({"verb": "contact.state_set", "workspace": workspace, "actor": actor, "target": contact,
                       "data": {name: {"from": getattr(contact, name), "to": value} for name, value in diff.items()}})
        for name, value in diff.items():
            setattr(contact, name, value)
        contact.updated_at = now
        changed.append(contact)
    # One UPDATE per distinct set of values (a bulk plan sets one stage on all: one statement); Django's
    # bulk_update builds a CASE per row and field, which costs more in Python than the rows in SQL.
    groups: dict[tuple, list[int]] = {}
    for contact_id, values in changes:
        if rows[contact_id] in changed:
            key = tuple(sorted((name, value) for name, value in values.items() if value is not None))
            groups.setdefault(key, []).append(contact_id)
    for key, ids in groups.items():
        Contact.objects.filter(pk__in=ids).update(**dict(key), updated_at=now)
    ContactStateChange.objects.bulk_create([
        ContactStateChange(workspace_id=c.workspace_id, contact=c, stage=c.stage, sentiment=c.sentiment,
                           lead_score=c.lead_score, changed_by=actor) for c in changed])
    audit_events_record(events=events)
    return len(changed)


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


# --- the reply engine's assessment, lead memory and opt-out --------------------------------------------

_STAGE_ORDER = [Stage.NEW, Stage.ENGAGED, Stage.QUALIFIED, Stage.BOOKED, Stage.CUSTOMER]


def _next_stage(current: str, proposed: str) -> str:
    """The model may move a lead forward or mark it lost; it never moves a booked lead or a customer
    back, and never calls a contact who just wrote 'ghosted'."""
    if proposed not in Stage.values or proposed == Stage.GHOSTED:
        return current
    if current in _STAGE_ORDER and proposed in _STAGE_ORDER:
        if _STAGE_ORDER.index(current) >= _STAGE_ORDER.index(Stage.BOOKED) > _STAGE_ORDER.index(proposed):
            return current
    return proposed


def contact_assessment_apply(*, contact: Contact, stage: str, sentiment: str, lead_score: int | None,
                             source_draft_id: int | None) -> bool:
    """Apply a drafting model's assessment (stage, sentiment, score) and keep the history. True if changed.

    `contact` carries the state it was read with; the reply engine reads it under the row lock. The
    write is conditional on that state, so a change made since (a setter's `contact_stage_set`) is
    never overwritten: then the row is re-read under a lock and the assessment merged again.
    """
    for attempt in (1, 2):
        new_stage = _next_stage(contact.stage, stage) if stage else contact.stage
        new_sentiment = sentiment if sentiment in Sentiment.values else contact.sentiment
        new_score = contact.lead_score if lead_score is None else max(0, min(100, lead_score))
        if (new_stage, new_sentiment, new_score) == (contact.stage, contact.sentiment, contact.lead_score):
            return False
        if _assessment_write(contact=contact, stage=new_stage, sentiment=new_sentiment, score=new_score,
                             source_draft_id=source_draft_id):
            contact.stage, contact.sentiment, contact.lead_score = new_stage, new_sentiment, new_score
            return True
        if attempt == 2:
            break
        with transaction.atomic():
            current = Contact.objects.select_for_update().only("stage", "sentiment", "lead_score").get(pk=contact.pk)
            contact.stage, contact.sentiment, contact.lead_score = current.stage, current.sentiment, current.lead_score
    raise AssertionError("the contact row changed under its own lock")


def _assessment_write(*, contact: Contact, stage: str, sentiment: str, score: int | None,
                      source_draft_id: int | None) -> bool:
    """One statement for the new state and its history row (on the reply's hot path: one round trip and
    one ORM compilation fewer than an UPDATE and an INSERT). False if the row no longer holds the state
    `contact` was read with."""
    qn = connection.ops.quote_name
    contact_table, history_table = qn(Contact._meta.db_table), qn(ContactStateChange._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"""
            WITH changed AS (
                UPDATE {contact_table} SET stage = %(stage)s, sentiment = %(sentiment)s, lead_score = %(score)s,
                       updated_at = %(now)s
                WHERE id = %(contact)s AND stage IS NOT DISTINCT FROM %(was_stage)s
                      AND sentiment IS NOT DISTINCT FROM %(was_sentiment)s
                      AND lead_score IS NOT DISTINCT FROM %(was_score)s
                RETURNING id, workspace_id
            )
            INSERT INTO {history_table} (workspace_id, contact_id, stage, sentiment, lead_score, source_draft_id,
                                         changed_by_id, created_at)
            SELECT workspace_id, id, %(stage)s, %(sentiment)s, %(score)s, %(draft)s, NULL, %(now)s FROM changed
        """, {"stage": stage, "sentiment": sentiment, "score": score, "now": timezone.now(),  # noqa: S608
              "contact": contact.pk, "draft": source_draft_id, "was_stage": contact.stage,
              "was_sentiment": contact.sentiment, "was_score": contact.lead_score})
        return cursor.rowcount == 1


def lead_memory_record(*, contact: Contact, writes: list[dict], source_message_id: int | None) -> list[LeadMemory]:
    """Store what the contact stated (the drafting model's `memory_writes`); exact repeats are skipped."""
    current = set(LeadMemory.objects.filter(contact=contact, expires_at__gt=timezone.now())
                  .values_list("kind", "text"))
    rows = []
    for write in writes[:10]:
        kind, text = write.get("kind"), " ".join(str(write.get("text", "")).split())[:500]
        if kind not in MemoryKind.values or not text or (kind, text) in current:
            continue
        current.add((kind, text))
        rows.append(LeadMemory(workspace_id=contact.workspace_id, contact=contact, kind=kind, text=text,
                               source_message_id=source_message_id))
    return LeadMemory.objects.bulk_create(rows)


def contact_opt_out(*, contact_id: int, at: datetime) -> None:
    """The contact asked for no more messages: every send path checks `opted_out` (see conversations.sending)."""
    Contact.objects.filter(pk=contact_id).update(opted_out=True, opted_out_at=at)


# --- people: one human's contacts on several channels, linked by an admin ------------------------

def _require_same_workspace_admin(*, contact: Contact, other: Contact | None, actor) -> None:
    if other is not None and other.workspace_id != contact.workspace_id:
        # Never a link across tenants, whoever asks (a super-admin included).
        raise ValidationError("Contacts of different workspaces cannot be the same person.")
    require_workspace_admin(workspace_id=contact.workspace_id, actor=actor,
                            message="Only workspace admins can link or unlink contacts as one person.")


@transaction.atomic
def contact_link_as_person(*, contact: Contact, other: Contact, actor) -> Person:
    """Link `other` to `contact` as the same person (admins only). Returns the person.

    Neither linked yet: a new person holds both. One linked: the other joins that person. Both linked
    to different people: the two people merge into `contact`'s (the other person row is deleted).
    Already the same person: nothing changes. Bookings then credit messages on any of the person's
    channels (see docs/insights.md).
    """
    _require_same_workspace_admin(contact=contact, other=other, actor=actor)
    if contact.pk == other.pk:
        raise ValidationError("A contact is already its own person.")
    # Lock both rows (in id order, so two admins linking the same pair cannot deadlock).
    rows = {c.pk: c for c in Contact.objects.select_for_update().filter(
        pk__in=[contact.pk, other.pk], workspace_id=contact.workspace_id).order_by("pk")}
    if len(rows) != 2:
        raise ValidationError("That contact no longer exists.")
    mine, theirs = rows[contact.pk].person_id, rows[other.pk].person_id
    if mine is not None and mine == theirs:
        return Person.objects.get(pk=mine)
    if mine is None and theirs is None:
        person = Person.objects.create(workspace_id=contact.workspace_id, created_by=actor)
        ids = [contact.pk, other.pk]
    elif mine is None:
        person = Person.objects.get(pk=theirs)
        ids = [contact.pk]
    else:
        person = Person.objects.get(pk=mine)
        ids = [other.pk] if theirs is None else list(
            Contact.objects.select_for_update().filter(person_id=theirs).values_list("pk", flat=True))
    Contact.objects.filter(pk__in=ids).update(person=person, updated_at=timezone.now())
    if mine is not None and theirs is not None:
        Person.objects.filter(pk=theirs).delete()
    contact.person, other.person = person, person
    audit_event_record(verb="contact.person_linked", workspace=contact.workspace, actor=actor, target=contact,
                       data={"other": other.pk, "person": person.pk, "merged_person": theirs if mine else None})
    return person


@transaction.atomic
def contact_unlink_person(*, contact: Contact, actor) -> bool:
    """Take the contact out of its person (admins only); it is its own person again. True if it changed.

    A person of one contact means nothing, so unlinking the second-to-last contact dissolves it.
    """
    _require_same_workspace_admin(contact=contact, other=None, actor=actor)
    person_id = Contact.objects.select_for_update().values_list("person_id", flat=True).get(pk=contact.pk)
    if person_id is None:
        return False
    Contact.objects.filter(pk=contact.pk).update(person=None, updated_at=timezone.now())
    remaining = list(Contact.objects.select_for_update().filter(person_id=person_id).values_list("pk", flat=True))
    if len(remaining) < 2:
        Contact.objects.filter(pk__in=remaining).update(person=None, updated_at=timezone.now())
        Person.objects.filter(pk=person_id).delete()
    contact.person = None
    audit_event_record(verb="contact.person_unlinked", workspace=contact.workspace, actor=actor, target=contact,
                       data={"person": person_id, "dissolved": len(remaining) < 2})
    return True


# --- follow-up strategy (a checklist of timed steps on the contact) --------------------------------------

STRATEGY_STEPS_MAX = 8
STRATEGY_HOURS_MAX = 24 * 60  # 60 days: a plan further out than that is a typo or a different plan
STRATEGY_ACTION_MAX = 300


def follow_up_strategy_clean(*, title: str, steps) -> tuple[str, list[dict]]:
    """The normalised title and steps ({after_hours, action} in time order); raises ValidationError.
    Also used by the change kind at preview, so the preview shows what will be stored."""
    if not isinstance(steps, list | tuple) or not steps:
        raise ValidationError("A follow-up strategy needs at least one step.")
    if len(steps) > STRATEGY_STEPS_MAX:
        raise ValidationError(f"At most {STRATEGY_STEPS_MAX} steps.")
    cleaned = []
    for number, step in enumerate(steps, start=1):
        if not isinstance(step, dict):
            raise ValidationError(f"Step {number} is not a step.")
        hours, action = step.get("after_hours"), " ".join(str(step.get("action") or "").split())
        if isinstance(hours, bool) or not isinstance(hours, int) or not 0 <= hours <= STRATEGY_HOURS_MAX:
            raise ValidationError(f"Step {number}: the delay is a whole number of hours from 0 to {STRATEGY_HOURS_MAX}.")
        if not action:
            raise ValidationError(f"Step {number} says nothing to do.")
        cleaned.append({"after_hours": hours, "action": action[:STRATEGY_ACTION_MAX]})
    cleaned.sort(key=lambda s: s["after_hours"])
    return " ".join(str(title or "").split())[:200], cleaned


@transaction.atomic
def follow_up_strategy_set(*, contact: Contact, title: str, steps, actor):
    """Save (or replace) the contact's follow-up strategy (setters and admins). Raises ValidationError."""
    from contacts.models import FollowUpStrategy

    title, steps = follow_up_strategy_clean(title=title, steps=steps)
    strategy, _ = FollowUpStrategy.objects.select_for_update().update_or_create(
        contact=contact, defaults={"workspace_id": contact.workspace_id, "title": title, "steps": steps,
                                   "created_by": actor})
    audit_event_record(verb="contacts.follow_up_strategy_set", workspace=contact.workspace, actor=actor,
                       target=contact, data={"steps": len(steps)})
    return strategy


@transaction.atomic
def follow_up_strategy_clear(*, contact: Contact, actor) -> bool:
    """Remove the contact's follow-up strategy; False when there was none."""
    from contacts.models import FollowUpStrategy

    deleted, _ = FollowUpStrategy.objects.filter(contact=contact, workspace_id=contact.workspace_id).delete()
    if deleted:
        audit_event_record(verb="contacts.follow_up_strategy_cleared", workspace=contact.workspace, actor=actor,
                           target=contact)
    return bool(deleted)
