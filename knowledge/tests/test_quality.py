"""Retrieval quality on the shipped samples. Floors guard against regressions; the exact figures
are reported by `manage.py knowledge_eval` (see BENCHMARKS.md)."""

import pytest

from knowledge.evaluation import evaluate, labelled_questions, samples_load
from knowledge.models import Document, KnowledgeSettings

pytestmark = pytest.mark.django_db


def test_samples_ingest_cleanly(workspace):
    samples_load(workspace=workspace)
    documents = Document.objects.filter(workspace=workspace)
    assert [d.status for d in documents] == ["ready"] * 3 and all(d.error == "" for d in documents)
    assert documents.get(filename="harbor-studio-first-visit.pdf").page_count == 2
    assert workspace.knowledge_faqs.count() == 8
    assert len(labelled_questions()) >= 30


def test_lexical_hit_at_5(workspace):
    samples_load(workspace=workspace)
    result = evaluate(workspace=workspace, mode="lexical")
    assert result.hit_rate >= 0.6, result.misses


def test_vector_and_hybrid_hit_at_5_with_the_default_local_model(workspace):
    samples_load(workspace=workspace)  # no settings saved: the deployment default, the local model
    assert not KnowledgeSettings.objects.filter(workspace=workspace).exists()
    vector = evaluate(workspace=workspace, mode="vector")
    hybrid = evaluate(workspace=workspace, mode="hybrid")
    assert vector.hit_rate >= 0.8, vector.misses
    assert hybrid.hit_rate >= 0.8, hybrid.misses
