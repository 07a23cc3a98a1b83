import pytest
from django.test import override_settings

from knowledge import services
from knowledge.models import Chunk, Document, DocumentRevision, DocumentStatus, RevisionStatus
from knowledge.samples import build_pdf, encrypt_pdf
from knowledge.services import documents
from knowledge.tests.conftest import use_fake_embeddings
from knowledge.tests.helpers import upload

pytestmark = pytest.mark.django_db

MARKDOWN = """# Prices

## Drop-in

A single class costs 22 euros. Mats are free.

## Memberships

Unlimited is 129 euros per month with a three month minimum.
"""


def chunks_of(document):
    return list(Chunk.objects.filter(document=document).order_by("position"))


def test_markdown_upload_is_indexed_with_sections(workspace, admin, run_tasks):
    outcome = upload(workspace, "prices.md", MARKDOWN, run_tasks=run_tasks, actor=admin)
    document = outcome.document
    assert outcome.created and document.status == DocumentStatus.READY and document.progress == 100
    assert document.kind == "markdown" and document.title == "prices" and document.error == ""
    chunks = chunks_of(document)
    assert [c.section for c in chunks] == ["Prices › Drop-in", "Prices › Memberships"]
    assert chunks[0].context == "prices › Prices › Drop-in"
    assert all(c.search_vector for c in chunks) and all(c.workspace_id == workspace.pk for c in chunks)
    assert document.indexed_revision.status == RevisionStatus.INDEXED
    assert document.chunk_count == 2


def test_plain_text_upload(workspace, run_tasks):
    text = "Opening hours\n\nWe open at 06:30 on weekdays.\n\nParking\n\nThe car park is next door."
    document = upload(workspace, "info.txt", text, run_tasks=run_tasks).document
    assert document.status == DocumentStatus.READY and document.kind == "text"
    assert [(c.section, c.text) for c in chunks_of(document)] == [
        ("Opening hours", "We open at 06:30 on weekdays."), ("Parking", "The car park is next door.")]


def test_pdf_upload_keeps_page_numbers(workspace, run_tasks):
    pdf = build_pdf([["Welcome", "The studio is at 14 Quay Street."], ["Teachers", "All teachers are certified."]])
    document = upload(workspace, "guide.pdf", pdf, run_tasks=run_tasks).document
    assert document.status == DocumentStatus.READY and document.page_count == 2
    chunks = chunks_of(document)
    assert [(c.page, c.section) for c in chunks] == [(1, "Welcome"), (2, "Teachers")]
    assert "14 Quay Street" in chunks[0].text


def bad_files():
    good = build_pdf([["Some text that is long enough to count as a text layer."]])
    return {
        "encrypted": ("locked.pdf", encrypt_pdf(good), "password-protected"),
        "image-only": ("scan.pdf", build_pdf([[], []]), "no text layer"),
        "corrupt": ("broken.pdf", b"%PDF-1.4\n garbage without objects", "damaged or not readable"),
        "empty": ("empty.txt", b"", "The file is empty"),
        "whitespace": ("blank.md", b"   \n\n  ", "The file is empty"),
        "unsupported": ("slides.pptx", b"PK\x03\x04 zip", "Unsupported file type .pptx"),
        "fake-pdf": ("notes.pdf", b"just text", "not a PDF"),
        "binary-text": ("data.txt", b"abc\x00\x01\x02", "binary data"),
    }


@pytest.mark.parametrize("case", list(bad_files()))
def test_bad_files_fail_with_a_clear_message_and_nothing_indexed(workspace, run_tasks, case):
    name, content, message = bad_files()[case]
    outcome = upload(workspace, name, content, run_tasks=run_tasks)
    document = outcome.document
    assert document.status == DocumentStatus.FAILED
    assert message in document.error
    assert document.indexed_revision is None and document.progress == 0
    assert not Chunk.objects.filter(workspace=workspace).exists()
    revision = document.revisions.get()
    assert revision.status == RevisionStatus.FAILED and message in revision.error


@override_settings(KNOWLEDGE_MAX_UPLOAD_MB=1)
def test_over_the_size_limit_is_rejected_without_storing_bytes(workspace, run_tasks):
    outcome = upload(workspace, "big.txt", b"word " * 220_000, run_tasks=run_tasks)
    assert outcome.rejected
    assert "the limit is 1 MB" in outcome.document.error and "1.0 MB" in outcome.document.error
    revision = outcome.document.revisions.get()
    assert revision.content is None and revision.status == RevisionStatus.FAILED


def test_same_file_again_is_a_no_op(workspace, run_tasks):
    first = upload(workspace, "prices.md", MARKDOWN, run_tasks=run_tasks)
    ids = [c.pk for c in chunks_of(first.document)]
    again = upload(workspace, "prices.md", MARKDOWN, run_tasks=run_tasks)
    assert again.unchanged and again.document.pk == first.document.pk
    assert DocumentRevision.objects.filter(document=first.document).count() == 1
    assert [c.pk for c in chunks_of(first.document)] == ids


def test_changed_file_replaces_chunks_and_keeps_unchanged_ones(workspace, run_tasks):
    first = upload(workspace, "prices.md", MARKDOWN, run_tasks=run_tasks).document
    before = {c.section: c.pk for c in chunks_of(first)}
    changed = MARKDOWN.replace("129 euros", "139 euros")
    second = upload(workspace, "prices.md", changed, run_tasks=run_tasks)
    assert not second.created and second.revision.number == 2
    document = second.document
    after = {c.section: c.pk for c in chunks_of(document)}
    assert after["Prices › Drop-in"] == before["Prices › Drop-in"]  # unchanged text keeps its id
    assert after["Prices › Memberships"] != before["Prices › Memberships"]
    assert not Chunk.objects.filter(pk=before["Prices › Memberships"]).exists()
    assert "139 euros" in Chunk.objects.get(pk=after["Prices › Memberships"]).text
    assert document.indexed_revision.number == 2
    assert Chunk.objects.filter(document=document).count() == 2


def test_bad_replacement_keeps_serving_the_previous_revision(workspace, run_tasks):
    document = upload(workspace, "guide.pdf", build_pdf([["Welcome", "Some text for the guide here."]]),
                      run_tasks=run_tasks).document
    ids = [c.pk for c in chunks_of(document)]
    locked = encrypt_pdf(build_pdf([["Welcome", "New text for the guide here."]]))
    outcome = upload(workspace, "guide.pdf", locked, run_tasks=run_tasks)
    document.refresh_from_db()
    outcome.revision.refresh_from_db()
    assert document.status == DocumentStatus.READY
    assert "Revision 2 (guide.pdf) was not indexed" in document.error and "Revision 1 is still in use" in document.error
    assert document.indexed_revision.number == 1 and outcome.revision.status == RevisionStatus.FAILED
    assert [c.pk for c in chunks_of(document)] == ids


def test_restore_an_earlier_revision(workspace, admin, run_tasks):
    document = upload(workspace, "prices.md", MARKDOWN, run_tasks=run_tasks).document
    upload(workspace, "prices.md", MARKDOWN.replace("22 euros", "25 euros"), run_tasks=run_tasks)
    first = document.revisions.get(number=1)
    with run_tasks():
        restored = services.document_revision_restore(revision=first, actor=admin)
    document.refresh_from_db()
    assert restored.number == 3 and restored.restored_from == first and restored.sha256 == first.sha256
    assert document.indexed_revision == restored
    assert any("22 euros" in c.text for c in chunks_of(document))
    assert not any("25 euros" in c.text for c in chunks_of(document))


def test_ingest_task_is_idempotent_and_superseded_revisions_are_skipped(workspace):
    first = upload(workspace, "prices.md", MARKDOWN)  # queued, no task run
    second = upload(workspace, "prices.md", MARKDOWN + "\nMore.")
    assert services.document_revision_ingest(revision_id=first.revision.pk) == RevisionStatus.SUPERSEDED
    assert services.document_revision_ingest(revision_id=second.revision.pk) == RevisionStatus.INDEXED
    assert services.document_revision_ingest(revision_id=second.revision.pk) == "not-claimed"
    document = Document.objects.get(pk=first.document.pk)
    assert document.indexed_revision_id == second.revision.pk


def test_progress_is_reported_while_ingesting(workspace, monkeypatch):
    seen = []
    original = documents._Progress.set

    def spy(self, value):
        original(self, value)
        seen.append(Document.objects.get(pk=self.document_id).progress)

    monkeypatch.setattr(documents._Progress, "set", spy)
    pages = [[f"Page {n}", f"Text on page number {n} of the handbook."] for n in range(1, 21)]
    outcome = upload(workspace, "handbook.pdf", build_pdf(pages))
    assert Document.objects.get(pk=outcome.document.pk).status == DocumentStatus.QUEUED
    services.document_revision_ingest(revision_id=outcome.revision.pk)
    assert len(seen) >= 10 and seen == sorted(seen) and seen[0] < 10 and 40 <= seen[-1] < 100
    assert Document.objects.get(pk=outcome.document.pk).progress == 100


def test_embeddings_are_stored_with_model_and_dimension(workspace, run_tasks, fake_embeddings):
    use_fake_embeddings(workspace)
    document = upload(workspace, "prices.md", MARKDOWN, run_tasks=run_tasks).document
    chunks = chunks_of(document)
    assert all(c.embedding_model == "fake-embed" and c.embedding_dimension == 32 for c in chunks)
    assert len(chunks[0].embedding) == 32
    calls = fake_embeddings.texts
    upload(workspace, "prices.md", MARKDOWN.replace("129 euros", "139 euros"), run_tasks=run_tasks)
    assert fake_embeddings.texts == calls + 1  # only the changed chunk is embedded again


def test_embedding_outage_indexes_full_text_and_fills_vectors_later(workspace, run_tasks, fake_embeddings):
    use_fake_embeddings(workspace)
    fake_embeddings.status = 503
    document = upload(workspace, "prices.md", MARKDOWN, run_tasks=None).document
    services.document_revision_ingest(revision_id=document.revisions.get().pk)
    document.refresh_from_db()
    assert document.status == DocumentStatus.READY and "full-text search only" in document.error
    assert all(c.embedding is None for c in chunks_of(document))
    fake_embeddings.status = 200
    assert services.chunks_embed_pending(workspace_id=workspace.pk) == 0
    document.refresh_from_db()
    assert document.error == "" and all(c.embedding_model == "fake-embed" for c in chunks_of(document))


def test_changing_the_model_re_embeds_in_the_background(workspace, admin, run_tasks, fake_embeddings):
    use_fake_embeddings(workspace)
    document = upload(workspace, "prices.md", MARKDOWN, run_tasks=run_tasks).document
    with run_tasks():
        services.knowledge_settings_update(
            workspace=workspace, actor=admin, embedding_provider="openai_compatible", embedding_model="fake-embed",
            embedding_dimension=16, embedding_base_url="http://embeddings.test/v1", fts_language="english")
        fake_embeddings.dimension = 16
    assert {c.embedding_dimension for c in chunks_of(document)} == {16}


def test_deleting_a_document_removes_its_chunks(workspace, admin, run_tasks):
    document = upload(workspace, "prices.md", MARKDOWN, run_tasks=run_tasks).document
    services.document_delete(document=document, actor=admin)
    assert not Chunk.objects.filter(workspace=workspace).exists()
