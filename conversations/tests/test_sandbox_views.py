"""The sandbox panel (META_SANDBOX=1): a message typed as a contact goes through the real intake."""

import pytest
from django.urls import reverse

from accounts.tests.factories import AdminMembershipFactory
from conversations.models import Direction, Message, Thread
from integrations.tests.factories import ChannelFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def admin(client):
    membership = AdminMembershipFactory()
    client.force_login(membership.user)
    return membership


def _url(admin, name, *args):
    return reverse(f"conversations:{name}", args=[admin.workspace.slug, *args])


def test_sandbox_is_404_when_off(client, admin, settings):
    settings.META_SANDBOX = False
    assert client.get(_url(admin, "sandbox")).status_code == 404
    assert client.post(_url(admin, "sandbox_send")).status_code == 404


def test_sandbox_message_goes_through_intake_into_the_inbox(client, admin, settings):
    settings.META_SANDBOX = True
    channel = ChannelFactory(workspace=admin.workspace)
    page = client.get(_url(admin, "sandbox"))
    assert page.status_code == 200 and "Send as contact" in page.content.decode()
    response = client.post(_url(admin, "sandbox_send"), {
        "channel": channel.pk, "sender": "sandbox-contact-1", "text": "Hi, how much is coaching?"}, **HTMX)
    html = response.content.decode()
    assert "Hi, how much is coaching?" in html and 'id="thread-live"' in html
    thread = Thread.objects.get(workspace=admin.workspace, contact__external_id="sandbox-contact-1")
    message = Message.objects.get(thread=thread)
    assert message.direction == Direction.IN and thread.unread_count == 1
    inbox = client.get(reverse("conversations:inbox", args=[admin.workspace.slug])).content.decode()
    assert "Hi, how much is coaching?" in inbox


def test_sandbox_refuses_a_channel_of_another_workspace(client, admin, settings):
    settings.META_SANDBOX = True
    ChannelFactory(workspace=admin.workspace)
    other = ChannelFactory()
    client.post(_url(admin, "sandbox_send"), {"channel": other.pk, "sender": "x1", "text": "hi"}, **HTMX)
    assert not Message.objects.exists()
