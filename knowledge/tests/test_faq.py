import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from knowledge import services
from knowledge.models import Chunk, FaqRevision
from knowledge.selectors import knowledge_search
from knowledge.tests.conftest import use_fake_embeddings

pytestmark = pytest.mark.django_db


def test_create_edit_delete_restore_keeps_every_revision(workspace, admin):
    faq = services.faq_create(workspace=workspace, question="Do you have showers?", answer="Yes, four.", actor=admin)
    first_chunk = Chunk.objects.get(faq=faq)
    assert first_chunk.text == "Q: Do you have showers?\nA: Yes, four." and first_chunk.search_vector
    faq = services.faq_update(faq=faq, question="Do you have showers?", answer="Yes, six.", actor=admin)
    assert faq.revision_number == 2 and Chunk.objects.get(faq=faq).text.endswith("six.")
    assert not Chunk.objects.filter(pk=first_chunk.pk).exists()
    same = services.faq_update(faq=faq, question="Do you have showers?", answer="Yes, six.", actor=admin)
    assert same.revision_number == 2  # no change, no revision
    faq = services.faq_delete(faq=faq, actor=admin)
    assert not faq.is_active and not Chunk.objects.filter(faq=faq).exists()
    assert knowledge_search(workspace=workspace, query="showers") == []

    revisions = list(faq.revisions.order_by("number"))
    assert [(r.number, r.action, r.answer, r.is_active) for r in revisions] == [
        (1, "created", "Yes, four.", True), (2, "edited", "Yes, six.", True), (3, "deleted", "Yes, six.", False)]
    faq = services.faq_revision_restore(revision=revisions[0], actor=admin)
    assert faq.is_active and faq.answer == "Yes, four." and faq.revision_number == 4
    latest = faq.revisions.get(number=4)
    assert latest.action == FaqRevision.Action.RESTORED and latest.restored_from == revisions[0]
    assert knowledge_search(workspace=workspace, query="showers")[0].faq_id == faq.pk
    # Restoring the "deleted" revision deletes again.
    faq = services.faq_revision_restore(revision=revisions[2], actor=admin)
    assert not faq.is_active and not Chunk.objects.filter(faq=faq).exists()


def test_faq_needs_question_and_answer(workspace):
    with pytest.raises(ValidationError):
        services.faq_create(workspace=workspace, question="  ", answer="x", actor=None)


def test_faq_edit_schedules_embedding(workspace, run_tasks, fake_embeddings):
    use_fake_embeddings(workspace)
    with run_tasks():
        faq = services.faq_create(workspace=workspace, question="Is there parking?", answer="Yes.", actor=None)
    chunk = Chunk.objects.get(faq=faq)
    assert chunk.embedding_model == "fake-embed" and len(chunk.embedding) == 32


def csv_file(text: str):
    return SimpleUploadedFile("faq.csv", text.encode())


def test_csv_import_creates_updates_and_skips_unchanged(workspace, admin):
    services.faq_create(workspace=workspace, question="Do you have showers?", answer="Yes.", actor=admin)
    services.faq_create(workspace=workspace, question="Is there parking?", answer="Yes.", actor=admin)
    result = services.faq_import_csv(workspace=workspace, actor=admin, upload=csv_file(
        "Question,Answer\n"
        "do you have showers,\"Yes, four showers.\"\n"
        "Is there parking?,Yes.\n"
        "What are your hours?,06:30 to 21:30\n"
        ",\n"))
    assert (result.created, result.updated, result.unchanged) == (1, 1, 1)
    assert workspace.knowledge_faqs.count() == 3
    assert workspace.knowledge_faqs.get(question_normalized="do you have showers").answer == "Yes, four showers."


@pytest.mark.parametrize("content, message", [
    ("q,a\nx,y\n", "header row"),
    ("question,answer\nOnly a question,\n", "line 2"),
    ("question,answer\n", "no rows"),
])
def test_csv_import_rejects_bad_files_entirely(workspace, content, message):
    with pytest.raises(ValidationError) as info:
        services.faq_import_csv(workspace=workspace, actor=None, upload=csv_file(content))
    assert message in " ".join(info.value.messages)
    assert workspace.knowledge_faqs.count() == 0


def test_csv_import_must_be_utf8(workspace):
    with pytest.raises(ValidationError):
        services.faq_import_csv(workspace=workspace, actor=None,
                                upload=SimpleUploadedFile("faq.csv", "question,answer\ncafé,oui\n".encode("utf-16")))
