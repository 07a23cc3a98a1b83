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


def test_a_reload_keeps_the_contact_and_the_typed_name_is_its_name(client, admin, settings):
    settings.META_SANDBOX = True
    ChannelFactory(workspace=admin.workspace)
    channel = ChannelFactory(workspace=admin.workspace, name="Second IG")
    client.post(_url(admin, "sandbox_send"), {"channel": channel.pk, "sender": "maria-7", "name": "Maria Lopez",
                                              "text": "Do you run evening classes?"}, **HTMX)
    thread = Thread.objects.get(workspace=admin.workspace, contact__external_id="maria-7")
    assert thread.contact.display_name == "Maria Lopez"
    thread.contact.refresh_from_db()
    assert thread.contact.profile_fetched_at is not None  # Meta's lookup will not rename her

    page = client.get(_url(admin, "sandbox"))  # a reload
    form = page.context["form"]
    assert (form["channel"].value(), form["sender"].value(), form["name"].value()) == (channel.pk, "maria-7",
                                                                                         "Maria Lopez")
    assert page.context["thread"] == thread and "Do you run evening classes?" in page.content.decode()
    assert "Maria Lopez" in client.get(reverse("conversations:inbox", args=[admin.workspace.slug])).content.decode()


def test_the_sandbox_poll_does_not_mark_the_thread_read(client, admin, settings):
    settings.META_SANDBOX = True
    channel = ChannelFactory(workspace=admin.workspace)
    response = client.post(_url(admin, "sandbox_send"), {"channel": channel.pk, "sender": "u1",
                                                         "text": "hello?"}, **HTMX)
    assert f'hx-get="{_url(admin, "sandbox")}"' in response.content.decode()  # the panel polls itself
    poll = client.get(_url(admin, "sandbox"), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="thread-live")
    assert poll.content.decode().lstrip().startswith('<div id="thread-live"') and "hello?" in poll.content.decode()
    thread = Thread.objects.get(contact__external_id="u1")
    assert thread.unread_count == 1
    client.get(_url(admin, "sandbox"))
    thread.refresh_from_db()
    assert thread.unread_count == 1
    client.get(reverse("conversations:thread", args=[admin.workspace.slug, thread.pk]))  # a setter opens it
    thread.refresh_from_db()
    assert thread.unread_count == 0
