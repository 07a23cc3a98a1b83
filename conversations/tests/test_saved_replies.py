"""Saved replies: services (admins only, unique shortcuts, audited), the plain substitution of variables,
the admins' page, and the composer's picker (scoped to the workspace, filled in for the contact)."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from accounts.models import AuditEvent
from contacts.tests.factories import ContactFactory
from conversations.models import SavedReply
from conversations.saved_replies import (
    saved_replies_for,
    saved_reply_create,
    saved_reply_delete,
    saved_reply_render,
    saved_reply_update,
)
from conversations.tests.factories import ThreadFactory
from integrations.tests.factories import ChannelFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def reply(workspace, admin):
    return saved_reply_create(workspace=workspace, actor=admin, title="Prices",
                              body="Hi {first_name}! The evening group is £89 a month.", shortcut="price")


def _contact(workspace, **fields):
    return ContactFactory(channel=ChannelFactory(workspace=workspace), **fields)


# --- services ---------------------------------------------------------------------------------------

def test_create_records_authors_and_an_audit_event(reply, admin, workspace):
    assert (reply.created_by, reply.updated_by, reply.workspace) == (admin, admin, workspace)
    assert AuditEvent.objects.filter(workspace=workspace, verb="saved_reply.created", actor=admin).exists()


def test_a_setter_cannot_create_update_or_delete(reply, workspace, setter):
    with pytest.raises(PermissionDenied):
        saved_reply_create(workspace=workspace, actor=setter, title="T", body="B")
    with pytest.raises(PermissionDenied):
        saved_reply_update(saved_reply=reply, actor=setter, title="T", body="B")
    with pytest.raises(PermissionDenied):
        saved_reply_delete(saved_reply=reply, actor=setter)
    reply.refresh_from_db()
    assert reply.title == "Prices"


def test_shortcut_is_unique_per_workspace_only(reply, workspace, admin, other_workspace):
    with pytest.raises(ValidationError, match="already uses this shortcut"):
        saved_reply_create(workspace=workspace, actor=admin, title="Other", body="x", shortcut="/Price")
    from accounts.tests.factories import AdminMembershipFactory

    other_admin = AdminMembershipFactory(workspace=other_workspace).user
    saved_reply_create(workspace=other_workspace, actor=other_admin, title="Prices", body="x", shortcut="price")
    # Several replies without a shortcut are fine.
    saved_reply_create(workspace=workspace, actor=admin, title="A", body="a")
    saved_reply_create(workspace=workspace, actor=admin, title="B", body="b")
    assert SavedReply.objects.filter(workspace=workspace).count() == 3


def test_empty_title_or_body_is_refused(workspace, admin):
    with pytest.raises(ValidationError):
        saved_reply_create(workspace=workspace, actor=admin, title="  ", body="text")
    with pytest.raises(ValidationError):
        saved_reply_create(workspace=workspace, actor=admin, title="Title", body=" ")
    with pytest.raises(ValidationError, match="under 4,000"):
        saved_reply_create(workspace=workspace, actor=admin, title="Title", body="x" * 4001)
    assert not SavedReply.objects.filter(workspace=workspace).exists()


def test_update_and_delete(reply, admin, setter, workspace):
    saved_reply_update(saved_reply=reply, actor=admin, title="Price list", body="New", shortcut="")
    reply.refresh_from_db()
    assert (reply.title, reply.body, reply.shortcut, reply.updated_by) == ("Price list", "New", "", admin)
    saved_reply_delete(saved_reply=reply, actor=admin)
    assert not SavedReply.objects.filter(pk=reply.pk).exists()
    assert AuditEvent.objects.filter(workspace=workspace, verb="saved_reply.deleted").exists()


# --- rendering --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("display_name", "expected"), [
    ("Maria Fernanda Lopez", "Hi Maria (Maria Fernanda Lopez), welcome."),
    ("  Ana   ", "Hi Ana (Ana), welcome."),
    ("", "Hi there (there), welcome."),
])
def test_render_fills_names_with_a_fallback(workspace, display_name, expected):
    contact = _contact(workspace, display_name=display_name)
    reply = SavedReply(workspace=workspace, title="t", body="Hi {first_name} ({name}), welcome.")
    assert saved_reply_render(saved_reply=reply, contact=contact) == expected


def test_render_never_evaluates_what_a_contact_wrote(workspace):
    contact = _contact(workspace, display_name="{name} {{ settings.SECRET_KEY }} %s {0}")
    reply = SavedReply(workspace=workspace, title="t", body="Hello {first_name}! {unknown} {{ braces }} stay.")
    assert saved_reply_render(saved_reply=reply, contact=contact) == "Hello {name}! {unknown} {{ braces }} stay."
    reply.body = "{name}"
    assert saved_reply_render(saved_reply=reply, contact=contact) == "{name} {{ settings.SECRET_KEY }} %s {0}"


def test_search_matches_title_shortcut_and_body(reply, workspace, admin):
    saved_reply_create(workspace=workspace, actor=admin, title="Opening hours", body="We open at 9.")
    assert [r.title for r in saved_replies_for(workspace=workspace, q="/pri")] == ["Prices"]
    assert [r.title for r in saved_replies_for(workspace=workspace, q="open at")] == ["Opening hours"]
    assert len(saved_replies_for(workspace=workspace)) == 2


# --- pages ------------------------------------------------------------------------------------------

def test_admin_page_lists_adds_and_documents_variables(client, admin, workspace, reply):
    client.force_login(admin)
    url = reverse("conversations:saved_replies", args=[workspace.slug])
    html = client.get(url).content.decode()
    assert "Prices" in html and "/price" in html and "{first_name}" in html and "{name}" in html
    response = client.post(url, {"title": "Hours", "shortcut": "hours", "body": "9 to 6, {first_name}."})
    assert response.status_code == 302
    assert SavedReply.objects.get(workspace=workspace, shortcut="hours").created_by == admin
    response = client.post(url, {"title": "Dup", "shortcut": "hours", "body": "x"})
    assert response.status_code == 400 and "already uses this shortcut" in response.content.decode()


def test_admin_edits_and_deletes(client, admin, workspace, reply):
    client.force_login(admin)
    edit = reverse("conversations:saved_reply_edit", args=[workspace.slug, reply.pk])
    assert client.post(edit, {"title": "Prices 2026", "shortcut": "price", "body": "£95"}).status_code == 302
    reply.refresh_from_db()
    assert (reply.title, reply.body) == ("Prices 2026", "£95")
    assert client.post(reverse("conversations:saved_reply_delete", args=[workspace.slug, reply.pk])).status_code == 302
    assert not SavedReply.objects.filter(pk=reply.pk).exists()


def test_setters_cannot_open_the_admin_page(client, setter, workspace, reply):
    client.force_login(setter)
    assert client.get(reverse("conversations:saved_replies", args=[workspace.slug])).status_code == 403
    edit = reverse("conversations:saved_reply_edit", args=[workspace.slug, reply.pk])
    assert client.post(edit, {"title": "x", "body": "y"}).status_code == 403
    delete = reverse("conversations:saved_reply_delete", args=[workspace.slug, reply.pk])
    assert client.post(delete).status_code == 403
    assert SavedReply.objects.filter(pk=reply.pk, title="Prices").exists()


def test_another_workspaces_reply_is_not_found(client, other_workspace, reply):
    from accounts.tests.factories import AdminMembershipFactory

    client.force_login(AdminMembershipFactory(workspace=other_workspace).user)
    assert client.get(reverse("conversations:saved_reply_edit", args=[other_workspace.slug, reply.pk])).status_code == 404


def test_picker_returns_replies_filled_in_for_the_threads_contact(client, setter, workspace, reply):
    thread = ThreadFactory(contact=_contact(workspace, display_name="Maria Lopez"))
    client.force_login(setter)
    url = reverse("conversations:saved_reply_picker", args=[workspace.slug, thread.pk])
    results = client.get(url, {"q": "pri"}).json()["results"]
    assert results == [{"id": reply.pk, "title": "Prices", "shortcut": "price",
                        "text": "Hi Maria! The evening group is £89 a month."}]
    assert client.get(url, {"q": "nothing-like-this"}).json()["results"] == []


def test_picker_is_scoped_to_the_workspace(client, setter, workspace, other_workspace, reply):
    foreign = ThreadFactory(contact=_contact(other_workspace))
    client.force_login(setter)
    assert client.get(reverse("conversations:saved_reply_picker", args=[workspace.slug, foreign.pk])).status_code == 404
    assert client.get(reverse("conversations:saved_reply_picker", args=[other_workspace.slug, foreign.pk])).status_code == 404


def test_thread_composer_offers_the_picker(client, setter, workspace):
    thread = ThreadFactory(contact=_contact(workspace))
    client.force_login(setter)
    html = client.get(reverse("conversations:thread", args=[workspace.slug, thread.pk])).content.decode()
    assert reverse("conversations:saved_reply_picker", args=[workspace.slug, thread.pk]) in html
    assert "saved-reply-picker" in html
