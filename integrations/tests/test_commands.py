from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import AuditEvent
from accounts.tests.factories import WorkspaceFactory
from conversations.intake import webhook_event_process
from conversations.models import Message, SendStatus, Thread
from integrations.meta import client as graph
from integrations.models import Channel, SandboxSend, WebhookEvent

pytestmark = pytest.mark.django_db


def test_connect_channel_stores_encrypted_token_and_never_prints_it():
    workspace = WorkspaceFactory(slug="acme")
    out = StringIO()
    call_command("connect_channel", "--workspace", "acme", "--platform", "instagram", "--account-id", "17841",
                 "--token", "IGAAsupersecrettoken123456", "--name", "Acme IG", stdout=out)
    channel = Channel.objects.get()
    assert (channel.workspace, channel.platform, channel.account_id, channel.name) == (workspace, "instagram", "17841", "Acme IG")
    assert channel.access_token == "IGAAsupersecrettoken123456"
    assert "supersecret" not in out.getvalue()
    raw = Channel.objects.filter(pk=channel.pk).values_list("access_token", flat=True)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token FROM integrations_channel WHERE id = %s", [channel.pk])
        stored = cursor.fetchone()[0]
    assert "supersecret" not in stored and raw  # encrypted at rest
    assert timedelta(days=59) < channel.token_expires_at - timezone.now() <= timedelta(days=60)
    event = AuditEvent.objects.get(verb="channel.connected")
    assert "supersecret" not in str(event.data)


def test_connect_channel_refuses_an_account_of_another_workspace():
    WorkspaceFactory(slug="one")
    WorkspaceFactory(slug="two")
    args = ["--platform", "messenger", "--account-id", "999", "--token", "EAAtokentokentoken"]
    call_command("connect_channel", "--workspace", "one", *args, stdout=StringIO())
    with pytest.raises(CommandError, match="another workspace"):
        call_command("connect_channel", "--workspace", "two", *args, stdout=StringIO())


@pytest.mark.django_db(transaction=True)
def test_simulate_dm_posts_a_signed_payload_to_the_running_webhook(live_server, channel):
    out = StringIO()
    call_command("simulate_dm", "--workspace", channel.workspace.slug, "--platform", "instagram", "--from", "5001",
                 "--text", "Hola 👋 any slots?", "--times", "3", "--url", live_server.url + "/webhooks/meta/",
                 stdout=out)
    events = list(WebhookEvent.objects.all())
    assert len(events) == 3
    for event in events:
        webhook_event_process(event_id=event.pk)
    message = Message.objects.get()  # three deliveries, one message
    assert message.text == "Hola 👋 any slots?" and message.thread.contact.external_id == "5001"


@pytest.fixture
def sandbox(settings):
    settings.META_SANDBOX = True
    graph._session = None
    yield
    graph._session = None


def test_sandbox_records_sends_without_network(sandbox, channel):
    from contacts.models import Contact
    from conversations.sending import message_send, outbound_message_create

    contact = Contact.objects.create(workspace=channel.workspace, channel=channel, external_id="5001")
    thread = Thread.objects.create(workspace=channel.workspace, channel=channel, contact=contact,
                                   last_inbound_at=timezone.now())
    message = outbound_message_create(thread=thread, text="Hi from the sandbox", sender_kind="ai")
    message_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.send_status == SendStatus.SENT and message.mid.startswith("sandbox-mid-")
    record = SandboxSend.objects.get(kind="message")
    assert (record.channel, record.recipient_id, record.payload["message"]["text"]) == (channel, "5001",
                                                                                         "Hi from the sandbox")
    # The error trigger exercises the real error path.
    failing = outbound_message_create(thread=thread, text="boom [sandbox:error=190]", sender_kind="ai")
    message_send(message_id=failing.pk)
    failing.refresh_from_db()
    channel.refresh_from_db()
    assert failing.send_status == SendStatus.FAILED and channel.status == "reconnect_needed"


def test_seed_demo_connects_sandbox_channels(sandbox):
    call_command("seed_demo", stdout=StringIO())
    call_command("seed_demo", stdout=StringIO())  # idempotent
    assert sorted(Channel.objects.filter(workspace__slug="demo").values_list("platform", flat=True)) == [
        "instagram", "messenger"]


def test_channel_page_is_admin_only_and_masks_tokens(client, channel):
    from accounts.tests.factories import AdminMembershipFactory, MembershipFactory

    admin = AdminMembershipFactory(workspace=channel.workspace)
    setter = MembershipFactory(workspace=channel.workspace)
    url = f"/w/{channel.workspace.slug}/settings/channels/"
    client.force_login(setter.user)
    assert client.get(url).status_code == 403
    client.force_login(admin.user)
    response = client.get(url)
    assert response.status_code == 200
    assert channel.account_id.encode() in response.content
    assert channel.access_token.encode() not in response.content
    assert channel.access_token[-4:].encode() in response.content  # the masked tail
