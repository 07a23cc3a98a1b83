import random

import pytest
from django.db import connection
from django.test import override_settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from knowledge import services
from knowledge.models import Chunk, KnowledgeSettings, VectorIndex
from knowledge.selectors import faq_match, knowledge_search, trigram_similarity, vector_candidates
from knowledge.tests.conftest import FAKE_DIM, FAKE_MODEL, fake_vector, use_fake_embeddings
from knowledge.tests.helpers import upload
from knowledge.vector_index import fts_index_ensure, vector_index_ensure

PRICES = """# Prices

## Drop-in

A single drop-in class costs 22 euros.

## Parking

The car park on Quay Street costs 2 euros per hour.
"""

VOCABULARY = ("class price parking yoga pilates membership freeze refund guest teacher shower towel mat "
              "studio booking cancel late beginner prenatal hot workshop gift card annual").split()


@pytest.mark.django_db
def test_lexical_search_without_embeddings_returns_citations(workspace, run_tasks):
    KnowledgeSettings.objects.create(workspace=workspace, embedding_provider="none")  # the default is local now
    document = upload(workspace, "prices.md", PRICES, run_tasks=run_tasks).document
    results = knowledge_search(workspace=workspace, query="How much is the parking?")
    assert results[0].section == "Prices › Parking" and results[0].document_title == "prices"
    top = results[0]
    assert top.lexical_rank == 1 and top.lexical_score > 0 and top.vector_rank is None and top.vector_distance is None
    assert top.score == pytest.approx(1 / 61, rel=1e-4)
    assert top.document_id == document.pk and top.revision_number == 1 and top.source == "document"
    assert top.citation()["chunk_id"] == top.chunk_id
    assert knowledge_search(workspace=workspace, query="the and of") == []
    assert knowledge_search(workspace=workspace, query="   ") == []


@pytest.mark.django_db
def test_hybrid_search_fuses_both_lists(workspace, run_tasks, fake_embeddings):
    use_fake_embeddings(workspace)
    upload(workspace, "prices.md", PRICES, run_tasks=run_tasks)
    results = knowledge_search(workspace=workspace, query="drop-in class costs")
    top = results[0]
    assert top.section == "Prices › Drop-in"
    assert top.lexical_rank == 1 and top.vector_rank == 1 and 0 <= top.vector_distance < 1
    assert top.score == pytest.approx(2 / 61, rel=1e-4)
    vector_only = knowledge_search(workspace=workspace, query="drop-in class costs", mode="vector")
    assert vector_only[0].lexical_rank is None and vector_only[0].vector_rank == 1


@pytest.mark.django_db
def test_embedding_failure_at_query_time_falls_back_to_lexical(workspace, run_tasks, fake_embeddings):
    use_fake_embeddings(workspace)
    upload(workspace, "prices.md", PRICES, run_tasks=run_tasks)
    fake_embeddings.status = 500
    results = knowledge_search(workspace=workspace, query="parking")
    assert results and results[0].vector_rank is None and results[0].lexical_rank == 1


@pytest.fixture
def three_tenants(db, fake_embeddings):
    """Three workspaces with overlapping vocabulary (and one identical text), embedded."""
    from accounts.tests.factories import WorkspaceFactory

    rng = random.Random(7)
    tenants = [WorkspaceFactory() for _ in range(3)]
    for workspace in tenants:
        use_fake_embeddings(workspace)
        for n in range(4):
            paragraphs = ["\n\n".join(" ".join(rng.choices(VOCABULARY, k=12)) + "." for _ in range(3))]
            paragraphs.append("Shared paragraph: the studio offers yoga classes.")
            services.document_upload(workspace=workspace, actor=None, upload=_file(f"doc{n}.txt", paragraphs))
            rev = workspace.knowledge_documents.get(filename=f"doc{n}.txt").revisions.get()
            services.document_revision_ingest(revision_id=rev.pk)
        services.faq_create(workspace=workspace, question="Do you sell gift cards?", answer="Yes, from 25 euros.",
                            actor=None)
        services.chunks_embed_pending(workspace_id=workspace.pk)
    return tenants


def _file(name, paragraphs):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, "\n\n".join(paragraphs).encode())


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=st.lists(st.sampled_from(VOCABULARY + ["shared", "gift", "quay", "zzz"]), min_size=1, max_size=6),
       tenant=st.integers(min_value=0, max_value=2), mode=st.sampled_from(["hybrid", "lexical", "vector"]),
       limit=st.integers(min_value=1, max_value=30))
def test_retrieval_never_returns_another_workspaces_chunks(three_tenants, words, tenant, mode, limit):
    workspace = three_tenants[tenant]
    results = knowledge_search(workspace=workspace, query=" ".join(words), limit=limit, mode=mode)
    assert len(results) <= limit
    ids = [r.chunk_id for r in results]
    assert set(Chunk.objects.filter(pk__in=ids).values_list("workspace_id", flat=True)) <= {workspace.pk}
    if mode != "lexical":
        # Vector search always fills the list from the workspace's own chunks.
        own = Chunk.objects.filter(workspace=workspace).count()
        assert len(results) == min(limit, own) or mode == "hybrid"


@pytest.mark.django_db
def test_identical_text_in_two_workspaces_is_only_found_in_its_own(three_tenants):
    for workspace in three_tenants:
        for mode in ("lexical", "vector", "hybrid"):
            results = knowledge_search(workspace=workspace, query="shared paragraph studio yoga", mode=mode, limit=50)
            shared = [r for r in results if "Shared paragraph" in r.text]
            assert shared
            assert Chunk.objects.filter(pk__in=[r.chunk_id for r in shared], workspace=workspace).count() == len(shared)


@pytest.mark.django_db(transaction=True)
def test_partial_hnsw_index_is_used_and_agrees_with_exact_search(fake_embeddings):
    from accounts.tests.factories import WorkspaceFactory

    big, small = WorkspaceFactory(), WorkspaceFactory()
    rng = random.Random(3)
    for workspace in (big, small):
        use_fake_embeddings(workspace)
        count = 300 if workspace is big else 30
        Chunk.objects.bulk_create([
            Chunk(workspace=workspace, faq=services.faq_create(
                workspace=workspace, question=f"q{n} {' '.join(rng.choices(VOCABULARY, k=3))}", answer="a",
                actor=None), key=f"k{n}", text=" ".join(rng.choices(VOCABULARY, k=8)),
                embedding=fake_vector(" ".join(rng.choices(VOCABULARY, k=8))), embedding_model=FAKE_MODEL,
                embedding_dimension=FAKE_DIM)
            for n in range(count)
        ])
    query = fake_vector("yoga class price")
    exact = vector_candidates(workspace_id=big.pk, model=FAKE_MODEL, dimension=FAKE_DIM, vector=query, limit=10)
    with override_settings(KNOWLEDGE_HNSW_MIN_CHUNKS=100):
        assert vector_index_ensure(workspace_id=small.pk, model=FAKE_MODEL, dimension=FAKE_DIM) is None
        name = vector_index_ensure(workspace_id=big.pk, model=FAKE_MODEL, dimension=FAKE_DIM)
        assert fts_index_ensure(workspace_id=small.pk) is None
        assert fts_index_ensure(workspace_id=big.pk) == f"kchunk_fts_w{big.pk}"
        assert fts_index_ensure(workspace_id=big.pk) == f"kchunk_fts_w{big.pk}"  # idempotent
    assert name and VectorIndex.objects.filter(workspace=big, name=name).exists()
    with connection.cursor() as cursor:
        # At 300 rows an exact sort is cheaper and the planner rightly prefers it; forbid the sort so
        # that the test shows the partial index matches the query (bench/retrieval.py shows it at scale).
        cursor.execute("ANALYZE knowledge_chunk")
        cursor.execute("SET enable_sort = off")
        cursor.execute(
            f"EXPLAIN SELECT id FROM knowledge_chunk WHERE workspace_id = {big.pk} AND embedding_model = "
            f"'{FAKE_MODEL}' AND embedding_dimension = {FAKE_DIM} ORDER BY (embedding::vector({FAKE_DIM})) <=> "
            f"'{query}'::vector({FAKE_DIM}) LIMIT 10")
        plan = "\n".join(row[0] for row in cursor.fetchall())
        approx = vector_candidates(workspace_id=big.pk, model=FAKE_MODEL, dimension=FAKE_DIM, vector=query, limit=10)
        cursor.execute("RESET enable_sort")
    assert name in plan
    assert len({i for i, _ in approx} & {i for i, _ in exact}) >= 9
    assert all(Chunk.objects.get(pk=i).workspace_id == big.pk for i, _ in approx)


@pytest.mark.django_db
def test_faq_match(workspace, other_workspace):
    faq = services.faq_create(workspace=workspace, question="Do you have parking near the studio?",
                              answer="Yes, on Quay Street.", actor=None)
    services.faq_create(workspace=other_workspace, question="Is there a student discount?", answer="20%.",
                        actor=None)
    assert faq_match(workspace=workspace, text="do you have PARKING near the studio") == (faq, 1.0)
    found, similarity = faq_match(workspace=workspace, text="Do you have parking near your studio??")
    assert found == faq and 0.75 <= similarity < 1
    assert faq_match(workspace=workspace, text="What time do you open?") is None
    assert faq_match(workspace=workspace, text="Is there a student discount?") is None  # other tenant's FAQ
    assert faq_match(workspace=workspace, text="") is None
    services.faq_delete(faq=faq, actor=None)
    assert faq_match(workspace=workspace, text="Do you have parking near the studio?") is None


def test_trigram_similarity_matches_pg_trgm_definition():
    assert trigram_similarity("word", "word") == 1.0
    # pg_trgm: similarity('word', 'two words') = 0.363636 (4 shared of 11 trigrams)
    assert trigram_similarity("word", "two words") == pytest.approx(0.363636, abs=1e-5)
    assert trigram_similarity("", "anything") == 0.0


@pytest.mark.django_db
def test_faq_and_document_chunks_carry_their_citation_fields(three_tenants):
    from knowledge.models import FaqEntry

    workspace = three_tenants[0]
    results = knowledge_search(workspace=workspace, query="Do you sell gift cards? shared paragraph", limit=50,
                               mode="lexical")
    faq = FaqEntry.objects.get(workspace=workspace)
    faq_hits = [r for r in results if r.source == "faq"]
    assert [(r.faq_id, r.document_id, r.document_title, r.revision_number, r.page) for r in faq_hits] == [
        (faq.pk, None, "FAQ", None, None)]
    documents = [r for r in results if r.source == "document"]
    assert documents and all(r.faq_id is None and r.revision_number == 1 and r.document_title.startswith("doc")
                             for r in documents)
    assert {r.document_id for r in documents} <= set(workspace.knowledge_documents.values_list("pk", flat=True))
