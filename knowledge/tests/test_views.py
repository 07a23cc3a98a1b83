import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.tests.factories import MembershipFactory
from knowledge import services
from knowledge.models import Document, FaqEntry, KnowledgeSettings
from knowledge.tests.helpers import upload

pytestmark = pytest.mark.django_db


def login(client, user):
    # force_login: Client.login() calls authenticate() without a request, which the axes backend refuses.
    client.force_login(user)
    return client


def url(name, workspace, *args):
    return reverse(f"knowledge:{name}", args=[workspace.slug, *args])


def test_setter_can_view_and_test(client, workspace, setter, run_tasks):
    document = upload(workspace, "prices.md", "# Prices\n\nA class costs 22 euros.", run_tasks=run_tasks).document
    faq = services.faq_create(workspace=workspace, question="Is there parking?", answer="Yes.", actor=None)
    login(client, setter)
    page = client.get(url("home", workspace))
    assert page.status_code == 200 and b"prices" in page.content and b'type="file"' not in page.content
    assert client.get(url("document", workspace, document.pk)).status_code == 200
    assert client.get(url("faq_list", workspace)).status_code == 200
    assert client.get(url("faq_detail", workspace, faq.pk)).status_code == 200
    result = client.get(url("test", workspace), {"q": "how much is a class"})
    assert result.status_code == 200 and b"22 euros" in result.content and b"ts_rank" in result.content
    fragment = client.get(url("test", workspace), {"q": "Is there parking?"}, HTTP_HX_REQUEST="true")
    assert b"<html" not in fragment.content and b"near-exact match" in fragment.content
    assert client.get(url("settings", workspace)).status_code == 403


@pytest.mark.parametrize("name, args, data", [
    ("upload", [], {}), ("faq_create", [], {"question": "q", "answer": "a"}), ("faq_import", [], {}),
    ("settings", [], {"embedding_provider": "none", "fts_language": "english"}),
])
def test_setter_cannot_post_admin_endpoints(client, workspace, setter, name, args, data):
    login(client, setter)
    assert client.post(url(name, workspace, *args), data).status_code == 403


def test_setter_cannot_edit_delete_or_restore(client, workspace, setter, run_tasks):
    document = upload(workspace, "a.md", "# A\n\ntext", run_tasks=run_tasks).document
    faq = services.faq_create(workspace=workspace, question="Q?", answer="A.", actor=None)
    login(client, setter)
    assert client.post(url("faq_detail", workspace, faq.pk), {"question": "x", "answer": "y"}).status_code == 403
    assert client.post(url("faq_delete", workspace, faq.pk)).status_code == 403
    assert client.post(url("faq_restore", workspace, faq.revisions.get().pk)).status_code == 403
    assert client.post(url("document_delete", workspace, document.pk)).status_code == 403
    assert client.post(url("document_restore", workspace, document.revisions.get().pk)).status_code == 403
    assert FaqEntry.objects.get(pk=faq.pk).answer == "A." and Document.objects.filter(pk=document.pk).exists()


def test_other_workspace_is_404(client, workspace, other_workspace, run_tasks):
    document = upload(other_workspace, "a.md", "# A\n\ntext", run_tasks=run_tasks).document
    faq = services.faq_create(workspace=other_workspace, question="Q?", answer="A.", actor=None)
    admin = MembershipFactory(workspace=workspace, role="admin").user
    login(client, admin)
    assert client.get(url("home", other_workspace)).status_code == 404
    # Ids of another workspace's objects under one's own workspace are 404 too.
    assert client.get(url("document", workspace, document.pk)).status_code == 404
    assert client.get(url("faq_detail", workspace, faq.pk)).status_code == 404
    assert client.post(url("faq_delete", workspace, faq.pk)).status_code == 404
    assert client.post(url("document_restore", workspace, document.revisions.get().pk)).status_code == 404
    assert client.post(url("upload", workspace), {"document": document.pk,
                                                  "file": SimpleUploadedFile("a.md", b"x")}).status_code == 404


def test_admin_uploads_and_sees_progress_polling(client, workspace, admin):
    login(client, admin)
    response = client.post(url("upload", workspace), {"file": SimpleUploadedFile("guide.md", b"# Guide\n\nHello.")})
    assert response.status_code == 302
    document = Document.objects.get(workspace=workspace)
    assert document.status == "queued"
    rows = client.get(url("home", workspace), HTTP_HX_REQUEST="true")
    assert b'hx-trigger="every 2s"' in rows.content and b"<progress" in rows.content and b"<html" not in rows.content
    services.document_revision_ingest(revision_id=document.revisions.get().pk)
    rows = client.get(url("home", workspace), HTTP_HX_REQUEST="true")
    assert b"every 2s" not in rows.content and b"Ready" in rows.content


def test_admin_sees_rejection_message(client, workspace, admin):
    login(client, admin)
    response = client.post(url("upload", workspace), {"file": SimpleUploadedFile("deck.pptx", b"PK..")}, follow=True)
    assert b"Unsupported file type .pptx" in response.content


def test_admin_edits_faq_and_restores(client, workspace, admin):
    login(client, admin)
    client.post(url("faq_create", workspace), {"question": "Do you have showers?", "answer": "Yes."})
    faq = FaqEntry.objects.get(workspace=workspace)
    client.post(url("faq_detail", workspace, faq.pk), {"question": "Do you have showers?", "answer": "Four."})
    faq.refresh_from_db()
    assert faq.answer == "Four." and faq.revision_number == 2
    client.post(url("faq_restore", workspace, faq.revisions.get(number=1).pk))
    faq.refresh_from_db()
    assert faq.answer == "Yes." and faq.revision_number == 3
    page = client.get(url("faq_detail", workspace, faq.pk))
    assert b"Restored" in page.content and b"(from r1)" in page.content
    response = client.post(url("faq_import", workspace), {
        "file": SimpleUploadedFile("faq.csv", b"question,answer\nIs there parking?,Yes\n")}, follow=True)
    assert b"1 new" in response.content


def test_settings_store_an_encrypted_key_and_show_it_masked(client, workspace, admin):
    # From no embeddings, so the new configuration applies at once (from the default local model it
    # would be a background switch: test_local_embeddings.py).
    KnowledgeSettings.objects.create(workspace=workspace, embedding_provider="none")
    login(client, admin)
    response = client.post(url("settings", workspace), {
        "embedding_provider": "openai_compatible", "embedding_model": "text-embedding-3-small",
        "embedding_dimension": 1536, "embedding_base_url": "https://api.openai.com/v1",
        "embedding_api_key": "sk-live-abcdefghijklmnop", "fts_language": "french"})
    assert response.status_code == 302
    ks = KnowledgeSettings.objects.get(workspace=workspace)
    assert ks.embedding_api_key == "sk-live-abcdefghijklmnop" and ks.fts_language == "french"
    from django.db import connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT embedding_api_key FROM knowledge_knowledgesettings WHERE id = %s", [ks.pk])
        assert "sk-live" not in cursor.fetchone()[0]
    page = client.get(url("settings", workspace))
    assert b"sk-live-abcdefghijklmnop" not in page.content and "••••••••mnop".encode() in page.content
    # Saving without a key keeps the stored one.
    client.post(url("settings", workspace), {
        "embedding_provider": "openai_compatible", "embedding_model": "text-embedding-3-small",
        "embedding_dimension": 1536, "embedding_base_url": "https://api.openai.com/v1", "fts_language": "french"})
    assert KnowledgeSettings.objects.get(workspace=workspace).embedding_api_key == "sk-live-abcdefghijklmnop"
    bad = client.post(url("settings", workspace), {"embedding_provider": "openai_compatible", "fts_language": "english"})
    assert bad.status_code == 400


def test_sidebar_links_to_knowledge(client, workspace, setter):
    login(client, setter)
    page = client.get(reverse("insights:overview", args=[workspace.slug]))
    assert url("home", workspace).encode() in page.content


def test_test_a_question_shows_the_answer_and_sources_with_scores_behind_a_toggle(client, workspace, setter, run_tasks):
    """#18: the answer Sidekick would give and where it comes from, in plain words; the raw scores stay
    available behind "Details"."""
    upload(workspace, "prices.md", "# Prices\n\nA class costs 22 euros.", run_tasks=run_tasks)
    services.faq_create(workspace=workspace, question="Is there parking?", answer="Yes, behind the studio.", actor=None)
    login(client, setter)
    html = client.get(url("test", workspace), {"q": "Is there parking?"}).content.decode()
    assert "Sidekick's answer" in html and "Yes, behind the studio." in html
    assert "From the FAQ entry" in html
    html = client.get(url("test", workspace), {"q": "how much is a class"}).content.decode()
    assert "Sources Sidekick would answer from" in html and "22 euros" in html
    details = html[html.index("<details"):]
    assert "ts_rank" in details and "ts_rank" not in html[:html.index("<details")]
    html = client.get(url("test", workspace), {"q": "zebra xylophone quantum"}).content.decode()
    assert "Sidekick would hand it to a person" in html
    # The local model's nearest passages are still listed, apart, as too far from the question.
    assert "Loosely related passages" in html and "Sources Sidekick would answer from" not in html


def test_knowledge_counts_have_thousands_separators(client, workspace, setter, run_tasks):
    document = upload(workspace, "prices.md", "# Prices\n\nA class costs 22 euros.", run_tasks=run_tasks).document
    Document.objects.filter(pk=document.pk).update(chunk_count=12345)
    login(client, setter)
    assert "12,345" in client.get(url("home", workspace)).content.decode()
    assert "12,345 chunks" in client.get(url("document", workspace, document.pk)).content.decode()


def test_empty_knowledge_says_what_to_do(client, workspace, admin):
    login(client, admin)
    html = client.get(url("home", workspace)).content.decode()
    assert "No documents yet" in html and url("faq_list", workspace) in html
