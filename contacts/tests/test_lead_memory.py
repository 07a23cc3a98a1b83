"""Lead memory: retention purge, redaction by role, admin edits; contact state history."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from accounts.models import Role
from accounts.tests.factories import AdminMembershipFactory, MembershipFactory
from contacts.models import Contact, LeadMemory
from contacts.selectors import lead_memory_for
from contacts.services import lead_memory_delete, lead_memory_purge_expired, lead_memory_update

pytestmark = pytest.mark.django_db


@pytest.fixture
def contact(channel):
    return Contact.objects.create(workspace=channel.workspace, channel=channel, external_id="5001")


def remember(contact, text, kind="fact", **fields):
    return LeadMemory.objects.create(workspace=contact.workspace, contact=contact, kind=kind, text=text, **fields)


def test_new_memory_expires_after_90_days(contact):
    memory = remember(contact, "Prefers mornings", kind="preference")
    assert abs(memory.expires_at - (timezone.now() + timedelta(days=90))) < timedelta(minutes=1)


def test_purge_deletes_only_expired_entries(contact):
    now = timezone.now()
    remember(contact, "old", expires_at=now - timedelta(seconds=1))
    remember(contact, "exactly now", expires_at=now)
    kept = remember(contact, "fresh", expires_at=now + timedelta(seconds=1))
    assert lead_memory_purge_expired(now=now) == 2
    assert list(LeadMemory.objects.all()) == [kept]


def test_purge_beat_entry_exists_with_expiry():
    from sidekick_project.celery import app

    entry = app.conf.beat_schedule["purge-expired-lead-memory"]
    assert entry["task"] == "contacts.tasks.purge_expired_lead_memory" and entry["options"]["expires"]


def test_setters_see_redacted_memory_admins_see_it_all(contact):
    remember(contact, "Email dana@example.com, phone +44 7700 900123, lives at 221B Baker Street")
    remember(contact, "expired secret", expires_at=timezone.now() - timedelta(days=1))
    (for_setter,) = lead_memory_for(contact=contact, viewer_role=Role.SETTER)
    (for_admin,) = lead_memory_for(contact=contact, viewer_role=Role.ADMIN)
    assert "dana@example.com" not in for_setter.text and "7700" not in for_setter.text
    assert "Baker" not in for_setter.text and "[email]" in for_setter.text and for_setter.redacted
    assert "dana@example.com" in for_admin.text and not for_admin.redacted
    (unknown_role,) = lead_memory_for(contact=contact, viewer_role="")
    assert unknown_role.redacted  # anything but admin is redacted


def test_only_admins_edit_memory(contact):
    memory = remember(contact, "Budget around 500")
    admin = AdminMembershipFactory(workspace=contact.workspace).user
    setter = MembershipFactory(workspace=contact.workspace).user
    with pytest.raises(PermissionDenied):
        lead_memory_update(memory=memory, text="x", actor=setter)
    lead_memory_update(memory=memory, text="Budget around 600", actor=admin)
    assert LeadMemory.objects.get().text == "Budget around 600"
    with pytest.raises(PermissionDenied):
        lead_memory_delete(memory=memory, actor=setter)
    lead_memory_delete(memory=memory, actor=admin)
    assert not LeadMemory.objects.exists()


def test_state_history_and_stage_rules(contact):
    from contacts.selectors import contact_state_history
    from conversations.models import ReplyDraft, Thread
    from conversations.pipeline.record import contact_state_apply

    thread = Thread.objects.create(workspace=contact.workspace, channel=contact.channel, contact=contact)

    def assess(stage, sentiment="positive", score=50):
        draft = ReplyDraft.objects.create(workspace=contact.workspace, thread=thread, stage=stage,
                                          sentiment=sentiment, lead_score=score)
        return contact_state_apply(draft=draft, contact=contact)

    assert assess("engaged", score=40)
    assert not assess("engaged", score=40)  # no change, no history row
    assert assess("booked", score=90)
    assert assess("engaged", score=70)  # a booked lead never moves back ...
    assert contact.stage == "booked" and contact.lead_score == 70  # ... but the score still moves
    assert [(c.stage, c.lead_score) for c in contact_state_history(contact=contact)] == [
        ("engaged", 40), ("booked", 90), ("booked", 70)]
    # A long history keeps its newest changes, still oldest first.
    assert [c.lead_score for c in contact_state_history(contact=contact, limit=2)] == [90, 70]
