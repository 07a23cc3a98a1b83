"""People: an admin links contacts of several channels as one person, and can unlink them."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.models import AuditEvent
from accounts.tests.factories import UserFactory
from contacts import services
from contacts.models import Contact, Person
from contacts.tests.factories import ContactFactory
from integrations.tests.factories import ChannelFactory, MessengerChannelFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ig(workspace):
    return ContactFactory(channel=ChannelFactory(workspace=workspace))


@pytest.fixture
def fb(workspace):
    return ContactFactory(channel=MessengerChannelFactory(workspace=workspace))


def _person_of(contact):
    return Contact.objects.get(pk=contact.pk).person_id


def test_linking_two_contacts_makes_one_person_and_is_audited(ig, fb, admin):
    person = services.contact_link_as_person(contact=ig, other=fb, actor=admin)
    assert _person_of(ig) == _person_of(fb) == person.pk
    assert person.workspace_id == ig.workspace_id and person.created_by == admin
    event = AuditEvent.objects.get(verb="contact.person_linked")
    assert event.actor == admin and event.data["other"] == fb.pk
    # Linking again changes nothing.
    assert services.contact_link_as_person(contact=fb, other=ig, actor=admin) == person
    assert Person.objects.count() == 1


def test_a_third_contact_joins_and_two_people_merge(workspace, ig, fb, admin):
    third, fourth = ContactFactory(channel=ig.channel), ContactFactory(channel=fb.channel)
    first = services.contact_link_as_person(contact=ig, other=fb, actor=admin)
    services.contact_link_as_person(contact=third, other=ig, actor=admin)  # `third` joins ig's person
    assert _person_of(third) == first.pk
    second = services.contact_link_as_person(contact=fourth, other=ContactFactory(channel=ig.channel), actor=admin)
    services.contact_link_as_person(contact=ig, other=fourth, actor=admin)
    assert not Person.objects.filter(pk=second.pk).exists()
    assert Contact.objects.filter(person=first).count() == 5


def test_unlinking_leaves_the_rest_and_dissolves_a_person_of_one(workspace, ig, fb, admin):
    third = ContactFactory(channel=ig.channel)
    person = services.contact_link_as_person(contact=ig, other=fb, actor=admin)
    services.contact_link_as_person(contact=ig, other=third, actor=admin)
    assert services.contact_unlink_person(contact=third, actor=admin)
    assert _person_of(third) is None and _person_of(ig) == _person_of(fb) == person.pk
    assert services.contact_unlink_person(contact=fb, actor=admin)
    assert _person_of(ig) is None and not Person.objects.exists()
    assert not services.contact_unlink_person(contact=fb, actor=admin)
    assert AuditEvent.objects.filter(verb="contact.person_unlinked").count() == 2


def test_setters_may_not_link_or_unlink(ig, fb, admin, setter):
    with pytest.raises(PermissionDenied):
        services.contact_link_as_person(contact=ig, other=fb, actor=setter)
    services.contact_link_as_person(contact=ig, other=fb, actor=admin)
    with pytest.raises(PermissionDenied):
        services.contact_unlink_person(contact=ig, actor=setter)
    assert _person_of(ig) is not None


def test_no_link_across_workspaces_even_for_a_super_admin(ig, other_workspace):
    stranger = ContactFactory(channel=ChannelFactory(workspace=other_workspace))
    superadmin = UserFactory(email="root@sidekick.test")
    assert superadmin.is_superadmin
    with pytest.raises(ValidationError):
        services.contact_link_as_person(contact=ig, other=stranger, actor=superadmin)
    assert not Person.objects.exists()


def test_a_contact_cannot_be_linked_to_itself(ig, admin):
    with pytest.raises(ValidationError):
        services.contact_link_as_person(contact=ig, other=ig, actor=admin)
