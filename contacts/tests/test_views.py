"""Contacts list and detail: search, filters, stage changes by setters, booking outcomes with history."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from accounts.tests.factories import MembershipFactory
from contacts.models import BookingEvent, Contact, ContactStateChange, Stage
from contacts.tests.factories import ContactFactory
from integrations.tests.factories import ChannelFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def setter(client):
    membership = MembershipFactory(workspace__timezone="Europe/Berlin")
    client.force_login(membership.user)
    return membership


@pytest.fixture
def channel(setter):
    return ChannelFactory(workspace=setter.workspace)


def _list(client, setter, **params):
    return client.get(reverse("contacts:list", args=[setter.workspace.slug]), params)


def _detail_url(setter, contact, name="contacts:detail"):
    return reverse(name, args=[setter.workspace.slug, contact.pk])


def test_list_search_stage_filter_and_score_sort(client, setter, channel):
    ContactFactory(channel=channel, display_name="Alma Low", lead_score=10, stage=Stage.NEW)
    ContactFactory(channel=channel, display_name="Bea High", lead_score=90, stage=Stage.QUALIFIED)
    ContactFactory(channel=ChannelFactory(), display_name="Not Mine")
    html = _list(client, setter, sort="score").content.decode()
    assert html.index("Bea High") < html.index("Alma Low") and "Not Mine" not in html
    assert "Bea" not in _list(client, setter, q="alma").content.decode()
    assert "Alma" not in _list(client, setter, stage="qualified").content.decode()
    fragment = client.get(reverse("contacts:list", args=[setter.workspace.slug]), {"q": "bea"}, **HTMX)
    assert fragment.content.decode().lstrip().startswith('<div id="contact-rows"')


def test_list_pages(client, setter, channel):
    for i in range(55):
        ContactFactory(channel=channel, lead_score=i)
    first = _list(client, setter, sort="score").context["page"]
    second = _list(client, setter, sort="score", page=2).context["page"]
    assert len(first.contacts) == 50 and first.has_next
    assert len(second.contacts) == 5 and not second.has_next


def _queries(fn):
    fn()
    with CaptureQueriesContext(connection) as ctx:
        assert fn().status_code == 200
    return len(ctx.captured_queries)


def test_list_and_detail_query_counts_do_not_grow_with_rows(client, setter, channel):
    contacts = [ContactFactory(channel=channel) for _ in range(5)]
    few = _queries(lambda: _list(client, setter))
    detail_few = _queries(lambda: client.get(_detail_url(setter, contacts[0])))
    for _ in range(45):
        ContactFactory(channel=channel)
    for _ in range(20):
        BookingEvent.objects.create(workspace=setter.workspace, contact=contacts[0], kind="booked",
                                    occurred_at=timezone.now())
    assert _queries(lambda: _list(client, setter)) == few
    assert _queries(lambda: client.get(_detail_url(setter, contacts[0]))) == detail_few


def test_contact_of_another_workspace_is_404(client, setter):
    other = ContactFactory()
    assert client.get(_detail_url(setter, other)).status_code == 404
    assert client.post(_detail_url(setter, other, "contacts:stage"), {"stage": "lost"}).status_code == 404


def test_setter_changes_the_stage(client, setter, channel):
    contact = ContactFactory(channel=channel)
    response = client.post(_detail_url(setter, contact, "contacts:stage"), {"stage": "qualified"}, **HTMX)
    assert response.status_code == 200 and 'id="contact-status"' in response.content.decode()
    contact.refresh_from_db()
    assert contact.stage == Stage.QUALIFIED
    assert AuditEvent.objects.get(verb="contact.stage_set").data == {"from": "new", "to": "qualified"}
    client.post(_detail_url(setter, contact, "contacts:stage"), {"stage": "nonsense"}, **HTMX)
    client.post(_detail_url(setter, contact, "contacts:stage"), {"stage": "qualified"}, **HTMX)  # unchanged
    contact.refresh_from_db()
    assert contact.stage == Stage.QUALIFIED
    # The hand-made change is in the stage history the contact page charts, with who made it.
    change = ContactStateChange.objects.get(contact=contact)
    assert (change.stage, change.sentiment, change.lead_score, change.changed_by_id, change.source_draft_id) == (
        Stage.QUALIFIED, contact.sentiment, contact.lead_score, setter.user_id, None)


def test_booking_booked_then_canceled_keeps_history(client, setter, channel):
    contact = ContactFactory(channel=channel, stage=Stage.QUALIFIED)
    url = _detail_url(setter, contact, "contacts:booking")
    client.post(url, {"kind": "booked", "occurred_at": "2026-12-01T15:30", "note": "Discovery call"}, **HTMX)
    contact.refresh_from_db()
    # Entered in the workspace's time zone (Berlin, UTC+1 in December).
    assert contact.booked_at == datetime(2026, 12, 1, 14, 30, tzinfo=UTC)
    assert contact.stage == Stage.BOOKED
    client.post(url, {"kind": "canceled", "occurred_at": "2026-11-28T09:00"}, **HTMX)
    contact.refresh_from_db()
    assert contact.booking_canceled_at is not None and contact.stage == Stage.QUALIFIED
    assert list(BookingEvent.objects.filter(contact=contact).values_list("kind", flat=True)) == ["booked", "canceled"]
    page = client.get(_detail_url(setter, contact)).content.decode()
    assert "Discovery call" in page and "Canceled" in page and "1 Dec 2026 15:30" in page
    assert AuditEvent.objects.filter(verb__startswith="contact.booking_").count() == 2
    assert list(ContactStateChange.objects.filter(contact=contact).order_by("pk").values_list("stage", "changed_by")
                ) == [(Stage.BOOKED, setter.user_id), (Stage.QUALIFIED, setter.user_id)]


def test_booking_rejects_bad_input(client, setter, channel):
    contact = ContactFactory(channel=channel)
    response = client.post(_detail_url(setter, contact, "contacts:booking"), {"kind": "attended", "occurred_at": "x"},
                           **HTMX)
    assert "Choose booked or canceled" in response.content.decode()
    assert not BookingEvent.objects.exists()
    assert Contact.objects.get(pk=contact.pk).booked_at is None


def test_customer_stays_customer_when_booked(client, setter, channel):
    contact = ContactFactory(channel=channel, stage=Stage.CUSTOMER)
    at = (timezone.localtime() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    client.post(_detail_url(setter, contact, "contacts:booking"), {"kind": "booked", "occurred_at": at})
    contact.refresh_from_db()
    assert contact.stage == Stage.CUSTOMER and contact.booked_at is not None
