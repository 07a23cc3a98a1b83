"""The by-hand writes the `changes` mechanism goes through: refusals and the history they keep."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.tests.factories import MembershipFactory
from contacts import services
from contacts.models import ContactStateChange, LeadMemory
from contacts.tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def contact():
    return ContactFactory()


@pytest.fixture
def setter(contact):
    return MembershipFactory(workspace=contact.workspace).user


@pytest.mark.parametrize("fields", [{"stage": "vip"}, {"sentiment": "angry"}, {"lead_score": 101},
                                    {"lead_score": "80"}])
def test_contact_state_set_refuses_invalid_values(contact, setter, fields):
    with pytest.raises(ValueError):
        services.contact_state_set(contact=contact, actor=setter, **fields)
    assert not ContactStateChange.objects.exists()


def test_contact_state_set_keeps_one_history_row_and_skips_no_change(contact, setter):
    assert services.contact_state_set(contact=contact, actor=setter, sentiment="positive", lead_score=40)
    assert not services.contact_state_set(contact=contact, actor=setter, lead_score=40)
    row = ContactStateChange.objects.get(contact=contact)
    assert (row.stage, row.sentiment, row.lead_score, row.changed_by) == ("new", "positive", 40, setter)


def test_booking_revert_restores_the_contact_and_removes_the_event(contact, setter):
    _, event = services.contact_booking_record(contact=contact, kind="booked", occurred_at=timezone.now(),
                                               actor=setter)
    services.contact_booking_revert(event=event, actor=setter, stage="new", booked_at=None,
                                    booking_canceled_at=None)
    contact.refresh_from_db()
    assert (contact.stage, contact.booked_at) == ("new", None) and not contact.booking_events.exists()
    assert ContactStateChange.objects.filter(contact=contact).first().stage == "new"


@pytest.mark.parametrize("kind, text", [("rumour", "x"), ("fact", "   ")])
def test_lead_memory_add_refuses_bad_input(contact, setter, kind, text):
    with pytest.raises(ValidationError):
        services.lead_memory_add(contact=contact, kind=kind, text=text, actor=setter)
    assert not LeadMemory.objects.exists()


def test_lead_memory_retract_refuses_what_the_pipeline_remembered(contact, setter):
    remembered = LeadMemory.objects.create(workspace=contact.workspace, contact=contact, kind="fact", text="vegan")
    with pytest.raises(PermissionDenied):
        services.lead_memory_retract(memory=remembered, actor=setter)
    added = services.lead_memory_add(contact=contact, kind="fact", text="  likes   yoga ", actor=setter)
    assert added.text == "likes yoga"
    services.lead_memory_retract(memory=added, actor=setter)
    assert list(LeadMemory.objects.values_list("text", flat=True)) == ["vegan"]
