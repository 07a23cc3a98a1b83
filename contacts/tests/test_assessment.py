"""The reply engine's assessment goes through contacts.services, the one writer of contact state."""

import pytest

from accounts.tests.factories import MembershipFactory
from contacts.models import Contact, ContactStateChange
from contacts.services import contact_assessment_apply, contact_opt_out, contact_stage_set, lead_memory_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def contact(channel):
    return Contact.objects.create(workspace=channel.workspace, channel=channel, external_id="5001")


def test_a_setters_change_since_the_read_is_not_overwritten(contact):
    """The engine read the contact before a setter marked it a customer; its 'engaged' must not undo that."""
    stale = Contact.objects.get(pk=contact.pk)
    setter = MembershipFactory(workspace=contact.workspace).user
    assert contact_stage_set(contact=contact, stage="customer", actor=setter)
    assert contact_assessment_apply(contact=stale, stage="engaged", sentiment="positive", lead_score=70,
                                    source_draft_id=None)
    row = Contact.objects.get(pk=contact.pk)
    assert (row.stage, row.sentiment, row.lead_score) == ("customer", "positive", 70)
    assert (stale.stage, stale.lead_score) == ("customer", 70)
    assert ContactStateChange.objects.filter(contact=contact).count() == 2  # the setter's and the engine's


def test_an_unchanged_assessment_writes_nothing(contact):
    assert contact_assessment_apply(contact=contact, stage="engaged", sentiment="", lead_score=40, source_draft_id=None)
    assert not contact_assessment_apply(contact=contact, stage="engaged", sentiment="", lead_score=40,
                                        source_draft_id=None)
    assert ContactStateChange.objects.filter(contact=contact).count() == 1


def test_memory_and_opt_out(contact):
    rows = lead_memory_record(contact=contact, writes=[{"kind": "fact", "text": "Budget  500"},
                                                       {"kind": "fact", "text": "Budget 500"},
                                                       {"kind": "nonsense", "text": "x"}], source_message_id=None)
    assert [(r.kind, r.text) for r in rows] == [("fact", "Budget 500")]
    contact_opt_out(contact_id=contact.pk, at=contact.created_at)
    assert Contact.objects.get(pk=contact.pk).opted_out
