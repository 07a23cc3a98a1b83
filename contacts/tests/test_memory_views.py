"""Lead memory on the contact page (redacted for setters, edited and deleted by admins) and score history."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.tests.factories import AdminMembershipFactory, MembershipFactory
from contacts.models import ContactStateChange, LeadMemory, Sentiment, Stage
from contacts.tests.factories import ContactFactory
from integrations.tests.factories import ChannelFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def team():
    admin = AdminMembershipFactory()
    setter = MembershipFactory(workspace=admin.workspace)
    contact = ContactFactory(channel=ChannelFactory(workspace=admin.workspace), display_name="Dana")
    memory = LeadMemory.objects.create(workspace=admin.workspace, contact=contact, kind="fact",
                                       text="Email me at dana@example.com")
    return admin, setter, contact, memory


def detail(client, contact):
    return client.get(reverse("contacts:detail", args=[contact.workspace.slug, contact.pk]))


def test_setters_see_redacted_memory_without_edit_controls(client, team):
    _, setter, contact, _ = team
    client.force_login(setter.user)
    html = detail(client, contact).content.decode()
    assert "Email me at [email]" in html and "dana@example.com" not in html and "(redacted)" in html
    assert "Edit or delete" not in html


def test_admins_see_full_memory_and_edit_it(client, team):
    admin, _, contact, memory = team
    client.force_login(admin.user)
    assert "dana@example.com" in detail(client, contact).content.decode()
    edit = reverse("contacts:memory_edit", args=[contact.workspace.slug, contact.pk, memory.pk])
    html = client.post(edit, {"text": "Prefers Fridays"}, **HTMX).content.decode()
    assert html.lstrip().startswith('<article id="lead-memory"') and "Prefers Fridays" in html
    memory.refresh_from_db()
    assert memory.text == "Prefers Fridays"
    delete = reverse("contacts:memory_delete", args=[contact.workspace.slug, contact.pk, memory.pk])
    assert "Nothing remembered." in client.post(delete, **HTMX).content.decode()
    assert not LeadMemory.objects.filter(pk=memory.pk).exists()


def test_memory_of_another_contact_is_404(client, team):
    admin, _, contact, memory = team
    other_contact = ContactFactory(channel=contact.channel)
    client.force_login(admin.user)
    edit = reverse("contacts:memory_edit", args=[contact.workspace.slug, other_contact.pk, memory.pk])
    assert client.post(edit, {"text": "x"}).status_code == 404


def _history(contact, n):
    for i in range(n):
        ContactStateChange.objects.create(workspace=contact.workspace, contact=contact, stage=Stage.ENGAGED,
                                          sentiment=Sentiment.POSITIVE, lead_score=i)


def test_score_history_chart_data_and_constant_queries(client, team):
    admin, _, contact, _ = team
    client.force_login(admin.user)
    _history(contact, 5)
    response = detail(client, contact)
    assert response.context["score_chart"]["scores"] == [0, 1, 2, 3, 4]
    assert 'id="score-chart-data"' in response.content.decode()

    def count():
        with CaptureQueriesContext(connection) as ctx:
            detail(client, contact)
        return len(ctx.captured_queries)

    few = count()
    _history(contact, 45)
    assert count() == few
