"""The prompt editor: live preview, revisions with author and note, diff (escaped), restore; roles."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from conversations import services
from conversations.models import PromptRevision
from conversations.prompt_views import diff_lines

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def url(name, workspace, *args):
    return reverse(f"conversations:{name}", args=[workspace.slug, *args])


def test_admin_saves_a_revision_with_author_and_note(client, llm_workspace):
    client.force_login(llm_workspace.admin_user)
    response = client.post(url("prompt_save", llm_workspace), {"text": "Be brief. We are {business}.",
                                                               "note": "shorter"})
    assert response.status_code == 302
    revision = PromptRevision.objects.get(workspace=llm_workspace)
    assert (revision.number, revision.author, revision.note) == (1, llm_workspace.admin_user, "shorter")
    html = client.get(url("prompt", llm_workspace)).content.decode()
    assert "Be brief. We are {business}." in html and "shorter" in html and "Restore" not in html


def test_empty_prompt_is_refused(client, llm_workspace):
    client.force_login(llm_workspace.admin_user)
    response = client.post(url("prompt_save", llm_workspace), {"text": "   ", "note": ""})
    assert response.status_code == 400 and not PromptRevision.objects.exists()


def test_preview_is_the_full_system_prompt_and_escaped(client, llm_workspace):
    client.force_login(llm_workspace.setter_user)
    html = client.post(url("prompt_preview", llm_workspace), {"text": "Hello from {business} <b>bold</b>"},
                       **HTMX).content.decode()
    assert f"Hello from {llm_workspace.name}" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold" not in html
    assert "Rules that always apply" in html and "SOURCES (cite by id)" in html and "LEAD MEMORY" in html


def test_setters_read_the_prompt_but_cannot_edit(client, llm_workspace):
    services.prompt_revision_create(workspace=llm_workspace, text="Version one", actor=llm_workspace.admin_user)
    client.force_login(llm_workspace.setter_user)
    html = client.get(url("prompt", llm_workspace)).content.decode()
    assert "Version one" in html and "readonly" in html and "Only admins can change the prompt." in html
    assert client.post(url("prompt_save", llm_workspace), {"text": "Mine"}).status_code == 403


def test_diff_against_previous_revision_is_escaped(client, llm_workspace):
    admin = llm_workspace.admin_user
    services.prompt_revision_create(workspace=llm_workspace, text="line one\nline two", actor=admin)
    second = services.prompt_revision_create(workspace=llm_workspace, text="line one\n<script>alert(1)</script>",
                                             actor=admin)
    client.force_login(llm_workspace.setter_user)
    html = client.get(url("prompt_diff", llm_workspace, second.pk), **HTMX).content.decode()
    assert "against revision 1" in html
    assert '<span class="diff-del">-line two</span>' in html
    assert '<span class="diff-add">+&lt;script&gt;alert(1)&lt;/script&gt;</span>' in html
    assert "<script>alert" not in html


def test_diff_lines():
    assert diff_lines("a\nb", "a\nc") == [("hunk", "@@ -1,2 +1,2 @@"), ("same", " a"), ("del", "-b"), ("add", "+c")]
    assert diff_lines("same", "same") == []


def test_restore_makes_a_new_revision(client, llm_workspace):
    admin = llm_workspace.admin_user
    first = services.prompt_revision_create(workspace=llm_workspace, text="Original", actor=admin)
    services.prompt_revision_create(workspace=llm_workspace, text="Changed", actor=admin)
    client.force_login(admin)
    assert client.post(url("prompt_restore", llm_workspace, first.pk)).status_code == 302
    latest = PromptRevision.objects.filter(workspace=llm_workspace).order_by("-number").first()
    assert (latest.number, latest.text, latest.restored_from) == (3, "Original", first)


def test_revisions_of_another_workspace_are_404(client, llm_workspace):
    from accounts.tests.factories import AdminMembershipFactory

    revision = services.prompt_revision_create(workspace=llm_workspace, text="Secret", actor=llm_workspace.admin_user)
    other = AdminMembershipFactory()
    client.force_login(other.user)
    assert client.get(url("prompt_diff", other.workspace, revision.pk)).status_code == 404
    assert client.post(url("prompt_restore", other.workspace, revision.pk)).status_code == 404


def test_editor_queries_do_not_grow_with_history(client, llm_workspace):
    admin = llm_workspace.admin_user
    client.force_login(admin)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url("prompt", llm_workspace)).status_code == 200
        return len(ctx.captured_queries)

    for i in range(5):
        services.prompt_revision_create(workspace=llm_workspace, text=f"v{i}", actor=admin)
    count()
    few = count()
    for i in range(45):
        services.prompt_revision_create(workspace=llm_workspace, text=f"w{i}", actor=admin)
    assert count() == few
