"""Hybrid search with the vector side on a helper thread (knowledge.search_workers).

Transactional tests (``transaction=True``) exercise the concurrent path as production runs it
(autocommit); the ordinary ``django_db`` tests run inside a transaction, where the search must stay
sequential to see the test's uncommitted rows.
"""

import threading
import time

import pytest
from django.db import OperationalError, connection, transaction
from django.test.utils import CaptureQueriesContext

from knowledge import search_workers, selectors, services
from knowledge.models import Chunk
from knowledge.selectors import knowledge_search, vector_candidates
from knowledge.tests.conftest import FAKE_DIM, FAKE_MODEL, fake_vector, use_fake_embeddings
from knowledge.tests.helpers import upload
from knowledge.tests.test_retrieval import PRICES, three_tenants  # noqa: F401 - a fixture


@pytest.fixture(autouse=True)
def fresh_workers():
    search_workers.search_workers_stop()
    yield
    search_workers.search_workers_stop()


@pytest.fixture
def vector_side_threads(monkeypatch):
    """Records (thread name, private_connection) of every vector side that runs."""
    seen = []
    original = selectors._vector_side

    def spy(**kwargs):
        seen.append((threading.current_thread().name, kwargs.get("private_connection", False)))
        return original(**kwargs)

    monkeypatch.setattr(selectors, "_vector_side", spy)
    return seen


def _parts(results):
    return [(r.chunk_id, r.lexical_rank, r.vector_rank, r.score) for r in results]


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_vector_side_runs_on_a_helper_and_fuses_the_same(
        workspace, run_tasks, fake_embeddings, vector_side_threads, settings):
    use_fake_embeddings(workspace)
    upload(workspace, "prices.md", PRICES, run_tasks=run_tasks)
    assert not connection.in_atomic_block

    concurrent = knowledge_search(workspace=workspace, query="drop-in class costs")
    assert len(vector_side_threads) == 1
    assert vector_side_threads[0][0].startswith("knowledge-search-") and vector_side_threads[0][1] is True
    top = concurrent[0]
    assert top.section == "Prices › Drop-in" and top.lexical_rank == 1 and top.vector_rank == 1

    settings.KNOWLEDGE_SEARCH_THREADS = 0
    sequential = knowledge_search(workspace=workspace, query="drop-in class costs")
    assert vector_side_threads[-1] == (threading.current_thread().name, False)
    assert _parts(concurrent) == _parts(sequential)


@pytest.mark.django_db
def test_inside_a_transaction_the_search_stays_in_the_caller_and_sees_uncommitted_chunks(
        workspace, run_tasks, fake_embeddings, vector_side_threads):
    use_fake_embeddings(workspace)
    upload(workspace, "prices.md", PRICES, run_tasks=run_tasks)  # uncommitted: the test's transaction
    assert connection.in_atomic_block
    results = knowledge_search(workspace=workspace, query="drop-in class costs")
    assert vector_side_threads == [(threading.current_thread().name, False)]
    assert results[0].vector_rank == 1 and results[0].lexical_rank == 1


@pytest.mark.django_db(transaction=True)
def test_with_autocommit_off_the_search_stays_in_the_caller(workspace, run_tasks, fake_embeddings,
                                                            vector_side_threads):
    use_fake_embeddings(workspace)
    transaction.set_autocommit(False)
    try:
        document = upload(workspace, "prices.md", PRICES).document  # not committed: only this connection sees it
        services.document_revision_ingest(revision_id=document.revisions.get().pk)
        services.chunks_embed_pending(workspace_id=workspace.pk)
        results = knowledge_search(workspace=workspace, query="drop-in class costs")
    finally:
        transaction.rollback()
        transaction.set_autocommit(True)
    assert vector_side_threads == [(threading.current_thread().name, False)]
    assert results[0].vector_rank == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_hybrid_search_never_crosses_workspaces(three_tenants, vector_side_threads):  # noqa: F811
    for workspace in three_tenants:
        results = knowledge_search(workspace=workspace, query="shared paragraph studio yoga gift", limit=50)
        assert results and any(r.vector_rank for r in results)
        ids = [r.chunk_id for r in results]
        assert set(Chunk.objects.filter(pk__in=ids).values_list("workspace_id", flat=True)) == {workspace.pk}
    assert all(name.startswith("knowledge-search-") for name, _ in vector_side_threads)


@pytest.mark.django_db(transaction=True)
def test_busy_helpers_mean_the_caller_runs_the_vector_side_itself(
        workspace, run_tasks, fake_embeddings, vector_side_threads, settings):
    settings.KNOWLEDGE_SEARCH_THREADS = 1
    use_fake_embeddings(workspace)
    upload(workspace, "prices.md", PRICES, run_tasks=run_tasks)
    release = threading.Event()
    blocker = search_workers.search_workers().try_submit(lambda: release.wait(10))
    assert blocker is not None
    try:
        assert search_workers.search_workers().try_submit(lambda: None) is None  # no queueing
        results = knowledge_search(workspace=workspace, query="drop-in class costs")
    finally:
        release.set()
    blocker.result(timeout=10)
    assert vector_side_threads == [(threading.current_thread().name, False)]
    assert results[0].vector_rank == 1


@pytest.mark.django_db(transaction=True)
def test_a_database_error_on_the_helper_is_retried_in_the_caller(
        workspace, run_tasks, fake_embeddings, monkeypatch, caplog):
    use_fake_embeddings(workspace)
    upload(workspace, "prices.md", PRICES, run_tasks=run_tasks)
    original = selectors.vector_candidates

    def flaky(**kwargs):
        if kwargs.get("private_connection"):
            raise OperationalError("server closed the connection unexpectedly")
        return original(**kwargs)

    monkeypatch.setattr(selectors, "vector_candidates", flaky)
    results = knowledge_search(workspace=workspace, query="drop-in class costs")
    assert results[0].vector_rank == 1 and results[0].lexical_rank == 1
    assert "retrying" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_embedding_failure_on_the_helper_falls_back_to_lexical(workspace, run_tasks, fake_embeddings,
                                                               vector_side_threads):
    use_fake_embeddings(workspace)
    upload(workspace, "prices.md", PRICES, run_tasks=run_tasks)
    fake_embeddings.status = 500
    results = knowledge_search(workspace=workspace, query="parking")
    assert vector_side_threads and vector_side_threads[0][0].startswith("knowledge-search-")
    assert results and results[0].vector_rank is None and results[0].lexical_rank == 1


@pytest.mark.django_db(transaction=True)
def test_helper_connections_follow_conn_max_age(workspace, run_tasks, fake_embeddings, monkeypatch):
    """The tests run with CONN_MAX_AGE 0: a helper closes its connection after each search."""
    use_fake_embeddings(workspace)
    upload(workspace, "prices.md", PRICES, run_tasks=run_tasks)
    helper_backends = []
    original = selectors.vector_candidates

    def record_backend(**kwargs):
        found = original(**kwargs)
        helper_backends.append(connection.connection.info.backend_pid)  # the helper thread's connection
        return found

    monkeypatch.setattr(selectors, "vector_candidates", record_backend)

    def alive():
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [helper_backends[0]])
            return cursor.fetchone()[0]

    assert knowledge_search(workspace=workspace, query="drop-in class costs")[0].vector_rank == 1
    assert len(helper_backends) == 1 and helper_backends[0] != connection.connection.info.backend_pid
    deadline = time.monotonic() + 5
    while alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert alive() == 0


@pytest.mark.django_db(transaction=True)
def test_private_connection_sets_ef_search_once_per_session(workspace, settings):
    """One statement per query on a helper's connection, and a new session gets the setting again."""
    use_fake_embeddings(workspace)
    faq = services.faq_create(workspace=workspace, question="yoga?", answer="yes", actor=None)
    Chunk.objects.create(workspace=workspace, faq=faq, key="k", text="yoga", embedding=fake_vector("yoga"),
                         embedding_model=FAKE_MODEL, embedding_dimension=FAKE_DIM)
    settings.KNOWLEDGE_HNSW_EF_SEARCH = 123
    query = dict(workspace_id=workspace.pk, model=FAKE_MODEL, dimension=FAKE_DIM, vector=fake_vector("yoga"),
                 limit=5, private_connection=True)

    def ef_search():
        with connection.cursor() as cursor:
            cursor.execute("SHOW hnsw.ef_search")
            return cursor.fetchone()[0]

    for _ in range(2):  # a fresh session, then the same session again after a reconnect
        connection.close()
        with CaptureQueriesContext(connection) as first:
            assert vector_candidates(**query)
        assert [q["sql"].startswith("SET hnsw.ef_search = 123") for q in first.captured_queries] == [True, False]
        assert ef_search() == "123"
        with CaptureQueriesContext(connection) as second:
            assert vector_candidates(**query)
        assert len(second.captured_queries) == 1
    settings.KNOWLEDGE_HNSW_EF_SEARCH = 150
    vector_candidates(**query)
    assert ef_search() == "150"
