"""Deleting a workspace drops its partial indexes (DDL the cascade cannot reach), and only its own."""

import pytest
from django.db import connection

from accounts.tests.factories import WorkspaceFactory
from knowledge.models import Chunk, Document, VectorIndex
from knowledge.tasks import knowledge_sweep
from knowledge.tests.conftest import FAKE_DIM, FAKE_MODEL
from knowledge.vector_index import fts_index_ensure, vector_index_ensure, workspace_partial_indexes


def _index_names() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'knowledge_chunk'")
        return {row[0] for row in cursor.fetchall()}


def _workspace_with_indexes():
    workspace = WorkspaceFactory()
    document = Document.objects.create(workspace=workspace, filename="a.txt", title="A", status="ready")
    Chunk.objects.create(workspace=workspace, document=document, key="k", text="yoga", embedding=[0.1] * FAKE_DIM,
                         embedding_model=FAKE_MODEL, embedding_dimension=FAKE_DIM)
    names = {vector_index_ensure(workspace_id=workspace.pk, model=FAKE_MODEL, dimension=FAKE_DIM, force=True),
             fts_index_ensure(workspace_id=workspace.pk, force=True)}
    assert names <= _index_names() and None not in names
    return workspace, names


@pytest.mark.django_db(transaction=True)
def test_deleting_a_workspace_drops_its_partial_indexes_and_keeps_the_others(eager_celery):
    doomed, doomed_names = _workspace_with_indexes()
    kept, kept_names = _workspace_with_indexes()
    doomed_id = doomed.pk
    doomed.delete()  # the on-commit hook runs the clean-up task (eagerly here)
    remaining = _index_names()
    assert not doomed_names & remaining
    assert kept_names <= remaining
    assert not VectorIndex.objects.filter(workspace_id=doomed_id).exists()
    assert VectorIndex.objects.filter(workspace=kept).exists()
    assert doomed_id not in workspace_partial_indexes() and kept.pk in workspace_partial_indexes()


@pytest.mark.django_db(transaction=True)
def test_the_sweeper_drops_indexes_whose_clean_up_was_lost(eager_celery, monkeypatch):
    doomed, doomed_names = _workspace_with_indexes()
    kept, kept_names = _workspace_with_indexes()
    monkeypatch.setattr("knowledge.tasks.workspace_indexes_drop.delay",
                        lambda *a: (_ for _ in ()).throw(ConnectionError("broker down")))
    doomed.delete()  # enqueue fails: logged, the deletion still succeeds
    assert doomed_names <= _index_names()
    monkeypatch.undo()
    knowledge_sweep()
    assert not doomed_names & _index_names() and kept_names <= _index_names()
