"""People links on the contact page: admins link and unlink, setters only see, suggestions stay in the workspace."""

import pytest
from django.urls import reverse

from accounts.tests.factories import AdminMembershipFactory
from contacts import selectors, services
from contacts.models import Contact, LeadMemory, MemoryKind, Person
from contacts.tests.factories import ContactFactory
from integrations.tests.factories import ChannelFactory, MessengerChannelFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ig(workspace):
    return ContactFactory(channel=ChannelFactory(workspace=workspace), display_name="Ana Ruiz", username="ana.ig")


@pytest.fixture
def fb(workspace):
    return ContactFactory(channel=MessengerChannelFactory(workspace=workspace), display_name="Ana R.", username="")


def _url(name, contact):
    return reverse(f"contacts:{name}", kwargs={"workspace_slug": contact.workspace.slug, "contact_id": contact.pk})


def _person_of(contact):
    return Contact.objects.get(pk=contact.pk).person_id


def _remember(contact, text):
    return LeadMemory.objects.create(workspace_id=contact.workspace_id, contact=contact, kind=MemoryKind.FACT,
                                     text=text)


def test_an_admin_links_and_unlinks_from_the_contact_page(client, admin, ig, fb):
    client.force_login(admin)
    response = client.post(_url("person_link", ig), {"other": fb.pk}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and b'id="people"' in response.content
    assert _person_of(ig) == _person_of(fb) is not None
    # Both pages now show the other contact.
    assert _url("detail", fb).encode() in client.get(_url("detail", ig)).content
    response = client.post(_url("person_unlink", ig), {"other": fb.pk})
    assert response.status_code == 302
    assert _person_of(ig) is None and _person_of(fb) is None and not Person.objects.exists()


def test_an_admin_unlinks_the_contact_itself(client, admin, ig, fb):
    services.contact_link_as_person(contact=ig, other=fb, actor=admin)
    client.force_login(admin)
    assert client.post(_url("person_unlink", fb), HTTP_HX_REQUEST="true").status_code == 200
    assert _person_of(fb) is None and _person_of(ig) is None


def test_unlinking_a_contact_that_is_not_linked_with_this_one_is_404(client, admin, ig, fb, workspace):
    third = ContactFactory(channel=ig.channel)
    services.contact_link_as_person(contact=ig, other=fb, actor=admin)
    client.force_login(admin)
    assert client.post(_url("person_unlink", third), {"other": fb.pk}).status_code == 404
    assert _person_of(fb) is not None


def test_setters_see_the_links_but_cannot_change_them(client, setter, admin, ig, fb):
    services.contact_link_as_person(contact=ig, other=fb, actor=admin)
    _remember(ig, "mail ana@example.com")
    other = ContactFactory(channel=ig.channel)
    _remember(other, "ANA@example.com")
    client.force_login(setter)
    page = client.get(_url("detail", ig)).content.decode()
    assert _url("detail", fb) in page  # the linked contact, read-only
    assert _url("person_unlink", ig) not in page and _url("person_link", ig) not in page
    assert "Suggested links" not in page  # suggestions reveal contact details: admins only
    person = _person_of(ig)
    assert client.post(_url("person_unlink", ig), {"other": fb.pk}).status_code == 403
    assert client.post(_url("person_link", ig), {"other": other.pk}).status_code == 403
    assert client.get(_url("person_search", ig), {"q": "Ana"}).status_code == 403
    assert _person_of(ig) == _person_of(fb) == person and _person_of(other) is None


def test_the_search_finds_contacts_of_this_workspace_only(client, admin, ig, fb, other_workspace):
    stranger = ContactFactory(channel=ChannelFactory(workspace=other_workspace), display_name="Ana Stranger")
    client.force_login(admin)
    response = client.get(_url("person_search", ig), {"q": "ana"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Ana R." in body and "Ana Stranger" not in body and f'value="{ig.pk}"' not in body
    assert selectors.person_link_candidates(contact=ig, q="@ana.ig") == []  # itself excluded
    assert [c.pk for c in selectors.person_link_candidates(contact=fb, q="@ana.ig")] == [ig.pk]
    assert stranger.pk not in [c.pk for c in selectors.person_link_candidates(contact=ig, q="Stranger")]


def test_linking_a_contact_of_another_workspace_is_refused(client, admin, ig, other_workspace):
    stranger = ContactFactory(channel=ChannelFactory(workspace=other_workspace))
    client.force_login(admin)
    assert client.post(_url("person_link", ig), {"other": stranger.pk}).status_code == 404
    assert client.post(_url("person_link", ig), {"other": "x"}).status_code == 404
    assert _person_of(ig) is None and _person_of(stranger) is None
    # An admin of both workspaces (or a super-admin) is refused by the service too.
    AdminMembershipFactory(workspace=other_workspace, user=admin)
    with pytest.raises(Exception, match="different workspaces"):
        services.contact_link_as_person(contact=ig, other=stranger, actor=admin)
    assert not Person.objects.exists()


def test_suggestions_match_normalised_email_and_phone(admin, ig, fb, workspace):
    _remember(ig, "Her email is Ana.Ruiz@Example.com and phone +34 600 12 34 56")
    _remember(fb, "write to ana.ruiz@example.COM")
    by_phone = ContactFactory(channel=ig.channel)
    _remember(by_phone, "call (34) 600-123-456")
    nothing = ContactFactory(channel=ig.channel)
    _remember(nothing, "free on 2026-03-02, email bob@example.com, phone 600 999 888")
    suggestions = {s.contact.pk: s.kinds for s in selectors.person_link_suggestions(contact=ig)}
    assert suggestions == {fb.pk: ("email",), by_phone.pk: ("phone",)}
    # Once linked, a contact is no longer suggested.
    services.contact_link_as_person(contact=ig, other=fb, actor=admin)
    ig.refresh_from_db()
    assert [s.contact.pk for s in selectors.person_link_suggestions(contact=ig)] == [by_phone.pk]


def test_a_date_is_not_a_phone_number(ig, fb):
    _remember(ig, "Available 2026-03-02")
    _remember(fb, "Available 2026-03-02 too")
    assert selectors.person_link_suggestions(contact=ig) == []


def test_suggestions_never_come_from_another_workspace(client, admin, ig, other_workspace):
    _remember(ig, "ana@example.com, +34 600 123 456")
    stranger = ContactFactory(channel=ChannelFactory(workspace=other_workspace))
    _remember(stranger, "ana@example.com, +34 600 123 456")
    assert selectors.person_link_suggestions(contact=ig) == []
    client.force_login(admin)
    page = client.get(_url("detail", ig)).content.decode()
    assert "Suggested links" not in page and str(stranger.pk) not in page.split('id="people"')[1].split("</article>")[0]


def test_the_admin_page_shows_suggestions_with_a_link_button(client, admin, ig, fb):
    _remember(ig, "ana@example.com")
    _remember(fb, "ana@example.com")
    client.force_login(admin)
    page = client.get(_url("detail", ig)).content.decode()
    assert "Suggested links" in page and f'name="other" value="{fb.pk}"' in page
